mod check_sync;
mod corpus;
mod fuzz_replay;
mod properties;
mod proxy;
mod registrar;
mod support;
