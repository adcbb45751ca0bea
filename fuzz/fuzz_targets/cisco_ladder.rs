#![no_main]
//! The checks live in `src/cisco.rs`, shared with the corpus replay test.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phoneprov_fuzz::cisco_ladder(data));
