mod fuzz_replay;
mod lossy;
mod scenarios;
