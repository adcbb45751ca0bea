//! Replays the committed corpus of the `sip_message` and `sip_registrar`
//! fuzz targets (`fuzz/corpus/sip_*/`) through the targets' own checks, so
//! every seed and every saved crash runs in an ordinary `cargo test`,
//! without cargo-fuzz or a nightly compiler.

// The target bodies, compiled here as a module; the cargo-fuzz binaries
// call the same file through the `phoneprov_fuzz` library (see its header).
#[path = "../../../../fuzz/src/sip.rs"]
mod targets;

#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn sip_message_corpus() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "sip_message",
        targets::sip_message,
    );
}

#[test]
fn sip_registrar_corpus() {
    replay::replay(
        env!("CARGO_MANIFEST_DIR"),
        "sip_registrar",
        targets::sip_registrar,
    );
}
