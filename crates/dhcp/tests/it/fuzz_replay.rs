//! Replays the committed corpus of the `dhcp_engine` fuzz target
//! (`fuzz/corpus/dhcp_engine/`) through the target's own checks, so every
//! seed and every saved crash runs in an ordinary `cargo test`, without
//! cargo-fuzz or a nightly compiler.

// The target body, compiled here as a module; the cargo-fuzz binary calls
// the same file through the `phoneprov_fuzz` library (see its header).
#[path = "../../../../fuzz/src/dhcp.rs"]
mod targets;

#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn dhcp_engine_corpus() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "dhcp_engine",
        targets::dhcp_engine,
    );
}
