//! The scenarios of atftp's `test/test.sh`, re-expressed with the atftp
//! client against our server: its file sizes, block sizes from 8 to 65464,
//! the out-of-range refusals with atftpd's exact message, the tsize check,
//! the windowsize runs with their packet counts, and 200 clients at once.
//! (test.sh's 101 MiB file is left out: the 40 MiB file of `clients.rs`
//! already rolls block numbers over. Its put tests do not apply: we are
//! read-only.)

use crate::harness::{
    assert_exit, assert_file, client, printed, require, run_client, Server, Tree,
};

/// test.sh's sizes (51 111 B is its READ_BIG).
const SIZES: &[(&str, usize)] = &[
    ("0.bin", 0),
    ("511.bin", 511),
    ("512.bin", 512),
    ("2K.bin", 2048),
    ("51111.bin", 51_111),
    ("128K.bin", 128 << 10),
    ("1M.bin", 1 << 20),
];

fn tree() -> (Tree, Vec<(&'static str, Vec<u8>)>) {
    let tree = Tree::new();
    let files = SIZES
        .iter()
        .map(|&(name, len)| (name, tree.random(name, len)))
        .collect();
    (tree, files)
}

fn content<'a>(files: &'a [(&str, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| *n == name).unwrap().1
}

/// `atftp [options] --get` of `name` into the out folder; checks the exit
/// code is 0 and the copy is exact; returns the client's output.
fn get(server: &Server, tree: &Tree, options: &[&str], name: &str, expected: &[u8]) -> String {
    let out = tree.out(&format!(
        "{name}-{}",
        options.join("_").replace([' ', '"'], "")
    ));
    let port = server.port().to_string();
    let mut args: Vec<&str> = options.to_vec();
    args.extend([
        "--get",
        "--remote-file",
        name,
        "--local-file",
        out.to_str().unwrap(),
        "127.0.0.1",
        &port,
    ]);
    let output = run_client("atftp", &args);
    let what = format!("atftp {} --get {name}", options.join(" "));
    assert_exit(&output, 0, &what);
    assert_file(&out, expected, &what);
    printed(&output)
}

#[test]
fn get_every_size() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let server = Server::start(&tree.root(), &[]);
    for (name, content) in &files {
        get(&server, &tree, &[], name, content);
    }
    server.stop();
}

#[test]
fn blksize_8_to_65464_succeed() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let server = Server::start(&tree.root(), &[]);
    // (file, asked, granted): asks above the default maximum of 1468 are
    // lowered to it, and atftp accepts the lower value.
    let runs = [
        ("51111.bin", "8", "8"),
        ("51111.bin", "256", "256"),
        ("1M.bin", "1428", "1428"),
        ("1M.bin", "1533", "1468"),
        ("1M.bin", "16000", "1468"),
        ("1M.bin", "40000", "1468"),
        ("1M.bin", "65464", "1468"),
    ];
    for (name, asked, granted) in runs {
        let mark = server.mark();
        let option = format!("blksize {asked}");
        get(
            &server,
            &tree,
            &["--option", &option],
            name,
            content(&files, name),
        );
        let line = server.wait_request(mark, name, "sent ");
        assert!(line.contains(&format!("[blksize {granted}]")), "{line}");
    }
    server.stop();
}

/// With `--max-blksize 65464` the largest block RFC 2348 allows is really
/// granted: 17 DATA packets of 65 464 bytes on loopback for 1 MiB.
#[test]
fn blksize_65464_granted_in_full() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let server = Server::start(&tree.root(), &["--max-blksize", "65464"]);
    let mark = server.mark();
    get(
        &server,
        &tree,
        &["--option", "blksize 65464"],
        "1M.bin",
        content(&files, "1M.bin"),
    );
    let line = server.wait_request(mark, "1M.bin", "sent 1.0 MiB in 17 blocks");
    assert!(line.contains("[blksize 65464]"), "{line}");
    server.stop();
}

/// test.sh's rollover run: 1 MiB at blksize 8 is 131 073 blocks, so block
/// numbers wrap past 65 535 (to 0, as atftp expects); the trace shows exactly one
/// DATA per block, none sent twice.
#[test]
fn blksize_8_rolls_block_numbers_over() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let server = Server::start(&tree.root(), &[]);
    let trace = get(
        &server,
        &tree,
        &["--option", "blksize 8", "--trace"],
        "1M.bin",
        content(&files, "1M.bin"),
    );
    assert_eq!(trace.matches("DATA <block:").count(), 131_073);
    // atftp 0.8's trace counts blocks past 65535 itself (the wire number
    // wraps to 0): the last one is the empty block 131073.
    assert!(
        trace.contains("DATA <block: 131073, size 0>"),
        "the final empty block did not arrive"
    );
    server.wait_text(0, "1M.bin  sent 1.0 MiB in 131073 blocks");
    server.stop();
}

#[test]
fn out_of_range_options_fail_to_negotiate() {
    if !require("atftp") {
        return;
    }
    let (tree, _files) = tree();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    for (option, reason) in [
        ("blksize 7", "option blksize 7 is outside 8-65464"),
        ("blksize 65465", "option blksize 65465 is outside 8-65464"),
        ("timeout 0", "option timeout 0 is outside 1-255"),
        ("timeout 256", "option timeout 256 is outside 1-255"),
    ] {
        let mark = server.mark();
        let output = run_client(
            "atftp",
            &[
                "--option",
                option,
                "--trace",
                "--get",
                "-r",
                "2K.bin",
                "-l",
                "/dev/null",
                "127.0.0.1",
                &port,
            ],
        );
        assert_exit(&output, 255, &format!("atftp --option {option:?}"));
        let text = printed(&output);
        assert!(
            text.contains("<Failure to negotiate RFC2347 options>"),
            "{option}: {text}"
        );
        server.wait_request(mark, "2K.bin", &format!("REFUSED OPTIONS ({reason})"));
    }
    // And atftp's not-found check.
    let output = run_client(
        "atftp",
        &[
            "--trace",
            "--get",
            "-r",
            "thisfiledoesntexist",
            "-l",
            "/dev/null",
            "127.0.0.1",
            &port,
        ],
    );
    assert_exit(&output, 255, "atftp get of a missing file");
    assert!(
        printed(&output).contains("<File not found>"),
        "{}",
        printed(&output)
    );
    server.stop();
}

/// test.sh strips every non-digit from the client's `OACK <tsize: N, >`
/// line: the OACK must carry tsize alone, with the real size.
#[test]
fn tsize_reports_the_real_size() {
    if !require("atftp") {
        return;
    }
    let (tree, _files) = tree();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    for (name, len) in [("2K.bin", 2048), ("1M.bin", 1 << 20), ("0.bin", 0)] {
        let output = run_client(
            "atftp",
            &[
                "--option",
                "tsize",
                "--trace",
                "--get",
                "-r",
                name,
                "-l",
                "/dev/null",
                "127.0.0.1",
                &port,
            ],
        );
        assert_exit(&output, 0, &format!("atftp tsize {name}"));
        let text = printed(&output);
        let line = text
            .lines()
            .find(|l| l.contains("OACK <tsize:"))
            .unwrap_or_else(|| panic!("no OACK line:\n{text}"));
        let digits: String = line.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, len.to_string(), "{line}");
    }
    server.stop();
}

/// test.sh's windowsize runs with `--trace`: exactly tsize/blksize + 1 DATA
/// and tsize/(blksize*windowsize) + 1 ACKs (ACK 0 aside). An extra DATA
/// would be a resend, an extra ACK a window answered twice.
#[test]
fn windowsize_runs_send_each_block_once() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let server = Server::start(&tree.root(), &[]);
    let runs = [
        ("2K.bin", 1, 1024),
        ("2K.bin", 2, 512),
        ("2K.bin", 4, 256),
        ("128K.bin", 8, 1024),
        ("128K.bin", 16, 512),
        ("1M.bin", 5, 1428),
        ("1M.bin", 8, 512),
        ("1M.bin", 64, 1468),
    ];
    for (name, window, blksize) in runs {
        let windowsize = format!("windowsize {window}");
        let block = format!("blksize {blksize}");
        let options = [
            "--option",
            "tsize 0",
            "--option",
            &windowsize,
            "--option",
            &block,
            "--trace",
        ];
        let mark = server.mark();
        let trace = get(&server, &tree, &options, name, content(&files, name));
        let size = content(&files, name).len();
        let what = format!("{name} windowsize {window} blksize {blksize}");
        assert_eq!(
            trace.matches("DATA <block:").count(),
            size / blksize + 1,
            "DATA count, {what}"
        );
        let acks =
            trace.matches("ACK <block:").count() - trace.matches("sent ACK <block: 0>").count();
        assert_eq!(acks, size / (blksize * window) + 1, "ACK count, {what}");
        let line = server.wait_request(mark, name, "sent ");
        assert!(!line.contains("resent"), "{what}: {line}");
    }
    server.stop();
}

/// test.sh's high-load test, with contents compared: 200 atftp clients
/// fetch 1 MiB at once. They all come from 127.0.0.1, and the default cap
/// of 64 transfers per client address would silently drop the excess
/// requests (a phone retries; atftp gives up), so the cap is raised to 250.
#[test]
fn two_hundred_parallel_clients() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = tree();
    let expected = content(&files, "1M.bin");
    let server = Server::start_alone(&tree.root(), &["--max-per-client", "250"]);
    let port = server.port().to_string();
    let outs: Vec<_> = (0..200)
        .map(|i| tree.out(&format!("load-{i}.bin")))
        .collect();
    let children: Vec<_> = outs
        .iter()
        .map(|out| {
            client(
                "atftp",
                &[
                    "--get",
                    "-r",
                    "1M.bin",
                    "-l",
                    out.to_str().unwrap(),
                    "127.0.0.1",
                    &port,
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting atftp")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_exit(&output, 0, &format!("atftp client #{i}"));
        // test.sh: any output but a retry notice is a failure.
        let text = printed(&output);
        assert!(
            text.lines()
                .all(|l| l.trim().is_empty() || l.contains("timeout: retrying")),
            "atftp client #{i} said:\n{text}"
        );
    }
    for (i, out) in outs.iter().enumerate() {
        assert_file(out, expected, &format!("atftp client #{i}"));
    }
    let lines = server.stop();
    let sent = lines
        .iter()
        .filter(|l| l.starts_with("127.0.0.1  1M.bin  sent "))
        .count();
    assert_eq!(sent, 200);
}
