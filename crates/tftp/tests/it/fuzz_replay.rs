//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the
//! fuzz targets' own checks, so every seed and every saved crash runs in an
//! ordinary `cargo test`, without cargo-fuzz or a nightly compiler.

// The target bodies, compiled here as a module; the cargo-fuzz binaries call
// the same file through the `phoneprov_fuzz` library (see its header). Only
// the TFTP half: the cisco targets are replayed by phoneprov-cisco's tests,
// since this crate may not depend on phoneprov-cisco.
#[path = "../../../../fuzz/src/tftp.rs"]
mod targets;

#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

/// Replays one target's corpus (see `fuzz/src/replay.rs`).
fn replay(target: &str, check: fn(&[u8])) {
    replay::replay(env!("CARGO_MANIFEST_DIR"), target, check);
}

#[test]
fn tftp_packet_corpus() {
    replay("tftp_packet", targets::tftp_packet);
}

#[test]
fn tftp_server_corpus() {
    replay("tftp_server", targets::tftp_server);
}

#[test]
fn tftp_client_corpus() {
    replay("tftp_client", targets::tftp_client);
}
