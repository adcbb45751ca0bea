#![no_main]
//! The checks live in `src/tftp.rs`, shared with the corpus replay test.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phoneprov_fuzz::tftp_packet(data));
