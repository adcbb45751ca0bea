#![no_main]
//! The checks live in `src/sip.rs`, shared with the corpus replay test.

libfuzzer_sys::fuzz_target!(|data: &[u8]| phoneprov_fuzz::sip_message(data));
