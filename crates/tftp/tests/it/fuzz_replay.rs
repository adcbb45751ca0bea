//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the
//! fuzz targets' own checks, so every seed and every saved crash runs in an
//! ordinary `cargo test`, without cargo-fuzz or a nightly compiler.

use std::fs;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

// The target bodies, compiled here as a module; the cargo-fuzz binaries call
// the same file through the `phoneprov_fuzz` library (see its header). Only
// the TFTP half: the cisco targets are replayed by phoneprov-cisco's tests,
// since this crate may not depend on phoneprov-cisco.
#[path = "../../../../fuzz/src/tftp.rs"]
mod targets;

/// Runs every input of one target's corpus, and fails naming each input that
/// fails, or when the corpus is missing or empty (so it cannot pass silently).
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus directory entry").path())
        // libFuzzer's leftovers (.tmp*) are not part of the corpus.
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the corpus {} is empty", dir.display());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let input =
                fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            catch_unwind(|| check(&input)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs fail: {failed:#?}",
        failed.len(),
        inputs.len()
    );
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
