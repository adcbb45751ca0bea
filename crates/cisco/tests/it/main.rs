mod fuzz_replay;
