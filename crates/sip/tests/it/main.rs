mod check_sync;
mod corpus;
mod properties;
mod proxy;
mod registrar;
mod support;
