//! Replays the committed fuzz corpus of the phoneprov-cisco targets
//! (`fuzz/corpus/cisco_*/`) through the fuzz targets' own checks, so every
//! seed and every saved crash runs in an ordinary `cargo test`, without
//! cargo-fuzz or a nightly compiler.
//!
//! The TFTP targets are replayed by `crates/tftp/tests/it/fuzz_replay.rs`.
//! The fuzz crate keeps the two halves in separate files (`fuzz/src/tftp.rs`,
//! `fuzz/src/cisco.rs`) because phoneprov-tftp must not depend on
//! phoneprov-cisco, so its tests cannot compile the cisco checks; each crate
//! includes only its own half.

// The target bodies, compiled here as a module; the cargo-fuzz binaries call
// the same file through the `phoneprov_fuzz` library (see its header).
#[path = "../../../../fuzz/src/cisco.rs"]
mod targets;

#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

/// Replays one target's corpus (see `fuzz/src/replay.rs`).
fn replay(target: &str, check: fn(&[u8])) {
    replay::replay(env!("CARGO_MANIFEST_DIR"), target, check);
}

#[test]
fn cisco_cnf_corpus() {
    replay("cisco_cnf", targets::cisco_cnf);
}

#[test]
fn cisco_load_name_corpus() {
    replay("cisco_load_name", targets::cisco_load_name);
}

#[test]
fn cisco_mac_and_files_corpus() {
    replay("cisco_mac_and_files", targets::cisco_mac_and_files);
}

#[test]
fn cisco_params_corpus() {
    replay("cisco_params", targets::cisco_params);
}

#[test]
fn cisco_ladder_corpus() {
    replay("cisco_ladder", targets::cisco_ladder);
}
