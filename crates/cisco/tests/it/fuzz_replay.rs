//! Replays the committed fuzz corpus of the phoneprov-cisco targets
//! (`fuzz/corpus/cisco_*/`) through the fuzz targets' own checks, so every
//! seed and every saved crash runs in an ordinary `cargo test`, without
//! cargo-fuzz or a nightly compiler.
//!
//! The TFTP targets are replayed by `crates/tftp/tests/it/fuzz_replay.rs`.
//! The fuzz crate keeps the two halves in separate files (`fuzz/src/tftp.rs`,
//! `fuzz/src/cisco.rs`) because phoneprov-tftp must not depend on
//! phoneprov-cisco, so its tests cannot compile the cisco checks; each crate
//! includes only its own half. `replay` below is a copy of the TFTP one.

use std::fs;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

// The target bodies, compiled here as a module; the cargo-fuzz binaries call
// the same file through the `phoneprov_fuzz` library (see its header).
#[path = "../../../../fuzz/src/cisco.rs"]
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
