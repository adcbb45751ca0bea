//! The corpus-replay loop shared by the crates' `tests/it/fuzz_replay.rs`,
//! which include this file with `#[path]` next to their half of the target
//! bodies. Not a module of the `phoneprov_fuzz` library.

use std::fs;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

/// Runs every input of one target's corpus (`fuzz/corpus/<target>/`, found
/// from the crate's manifest directory) through `check`, and fails naming
/// each input that fails, or when the corpus is missing or empty (so it
/// cannot pass silently).
pub fn replay(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let dir = Path::new(manifest_dir)
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
