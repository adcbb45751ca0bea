//! `phoneprov firmware import` and `firmware list` through the real binary,
//! on synthetic packages with Cisco's names, structure and sizes (noise for
//! content: never a real Cisco image).

use std::io::{Cursor, Write};
use std::path::Path;

use crate::harness::{assert_contains, assert_exit, random_bytes, run_binary, Tree};

/// SIP 8.12 as Cisco ships it: these files in the tar `P0S3-8-12-00.tar`.
const SIP_8_12: [(&str, usize); 5] = [
    ("P003-8-12-00.bin", 130_552),
    ("P003-8-12-00.sbn", 130_956),
    ("P0S3-8-12-00.loads", 458),
    ("P0S3-8-12-00.sb2", 756_524),
    ("OS79XX.TXT", 15),
];

/// SCCP 8.1(2), sizes as 8.1(2)SR2.
const SCCP_8_1_2: [(&str, usize); 4] = [
    ("P00308010200.bin", 130_552),
    ("P00308010200.loads", 458),
    ("P00308010200.sb2", 708_460),
    ("P00308010200.sbn", 130_956),
];

fn tar_of(files: &[(&str, usize)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, len) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(*len as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, &random_bytes(*len, name)[..])
            .unwrap();
    }
    tar.into_inner().unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Writes a source file beside the served root and returns its path.
fn source(tree: &Tree, name: &str, content: &[u8]) -> String {
    let path = tree.out(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

fn firmware(args: &[&str], dir: &Path) -> std::process::Output {
    let dir = dir.display().to_string();
    let mut all = vec!["firmware"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dir", &dir]);
    run_binary(&all)
}

#[test]
fn import_cisco_packages_then_list() {
    let tree = Tree::new();
    let dir = tree.root().join("firmware");
    let sip = source(
        &tree,
        "sip-8-12.zip",
        &zip_of(&[("P0S3-8-12-00.tar", &tar_of(&SIP_8_12))]),
    );
    let sccp = source(&tree, "sccp-8-1-2.tar", &tar_of(&SCCP_8_1_2));

    let output = firmware(&["import", &sip, &sccp], &dir);
    assert_contains(
        &assert_exit(&output, 0, "import"),
        &[
            "P0S3-8-12-00.sb2        756524 B  added",
            "OS79XX.TXT                  15 B  skipped: phoneprov writes OS79XX.TXT itself",
            "P0S3-8-12-00 (SIP 8.12): complete",
            "P003-8-12-00 (loader 8.12): complete",
            "P00308010200 (SCCP 8.1(2)): complete",
        ],
    );
    for (name, len) in &SIP_8_12[..4] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            random_bytes(*len, name),
            "{name}"
        );
    }

    let output = firmware(&["list"], &dir);
    assert_contains(
        &assert_exit(&output, 0, "list"),
        &[
            "LOAD          PROTOCOL  VERSION  ERA  SIGNED  STATUS",
            "P00308010200  SCCP      8.1(2)   UAL  yes     complete",
            "P0S3-8-12-00  SIP       8.12     UAL  yes     complete (loader P003-8-12-00)",
            "    P0S3-8-12-00.sb2          756524 B",
        ],
    );

    // Importing again changes nothing and says so.
    let output = firmware(&["import", &sip], &dir);
    assert_contains(
        &assert_exit(&output, 0, "second import"),
        &["already there, same content"],
    );
}

#[test]
fn incomplete_loads_and_overwrites() {
    let tree = Tree::new();
    let dir = tree.root().join("firmware");
    let app = source(&tree, "P0S3-8-12-00.sb2", &random_bytes(756_524, "app"));
    let output = firmware(&["import", &app], &dir);
    assert_contains(
        &assert_exit(&output, 0, "loose import"),
        &["P0S3-8-12-00 (SIP 8.12): incomplete, missing P0S3-8-12-00.loads, P003-8-12-00.sbn"],
    );

    std::fs::create_dir_all(tree.out("other")).unwrap();
    let other = source(
        &tree,
        "other/P0S3-8-12-00.sb2",
        &random_bytes(756_524, "other"),
    );
    let output = firmware(&["import", &other], &dir);
    assert_contains(&assert_exit(&output, 1, "conflicting import"), &["--force"]);
    assert_eq!(
        std::fs::read(dir.join("P0S3-8-12-00.sb2")).unwrap(),
        random_bytes(756_524, "app")
    );
    let output = firmware(&["import", "--force", &other], &dir);
    assert_contains(&assert_exit(&output, 0, "forced import"), &["replaced"]);
}

#[test]
fn malicious_and_invalid_archives_are_refused() {
    let tree = Tree::new();
    let dir = tree.root().join("firmware");
    let slip = source(
        &tree,
        "slip.zip",
        &zip_of(&[
            ("P0S3-8-12-00.loads", &random_bytes(458, "x")),
            ("../outside/secret.txt", b"overwritten"),
        ]),
    );
    let broken = source(&tree, "broken.zip", b"PK\x03\x04 not really a zip");
    let good = source(&tree, "P0S3-8-12-00.loads", &random_bytes(458, "loads"));

    let output = firmware(&["import", &slip, &broken, &good], &dir);
    assert_contains(
        &assert_exit(&output, 1, "import with bad archives"),
        &[
            "entry \"../outside/secret.txt\" refused: its path climbs out of the folder",
            "broken.zip is not a valid zip archive",
            "2 of 3 files were not imported",
            "P0S3-8-12-00.loads         458 B  added",
        ],
    );
    // The good file went in; nothing from the refused archives did.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["P0S3-8-12-00.loads"]);
    let secret = std::fs::read_to_string(tree.outside().join("secret.txt")).unwrap();
    assert!(secret.starts_with(crate::harness::SECRET));
}

#[test]
fn list_explains_a_missing_or_empty_folder() {
    let tree = Tree::new();
    let output = firmware(&["list"], &tree.root().join("nothing"));
    assert_contains(
        &assert_exit(&output, 1, "list of a missing folder"),
        &["does not exist yet"],
    );
    let output = firmware(&["list"], &tree.root());
    assert_contains(
        &assert_exit(&output, 0, "list of an empty folder"),
        &["No firmware yet"],
    );
}
