//! Real TFTP clients against the real binary: tftp-hpa (no options, as a
//! phone asks), atftp (blksize, tsize, timeout, windowsize), curl (with and
//! without --tftp-blksize) and busybox tftp, over files of 0, 511, 512, 513
//! bytes, 1 MiB and 40 MiB (81 921 blocks at 512 bytes, so block numbers roll
//! over past 65 535). Every download is compared with its source byte for
//! byte: tftp-hpa exits 0 even when the server said "File not found".

use crate::harness::{
    assert_exit, assert_file, client, printed, require, run_client, Server, Tree,
};

/// The sizes every client fetches.
const SIZES: &[(&str, usize)] = &[
    ("empty.bin", 0),
    ("511.bin", 511),
    ("512.bin", 512),
    ("513.bin", 513),
    ("1M.bin", 1 << 20),
    ("40M.bin", 40 << 20),
];

/// A tree holding every file of [`SIZES`], with their contents.
fn sized_tree() -> (Tree, Vec<(&'static str, Vec<u8>)>) {
    let tree = Tree::new();
    let files = SIZES
        .iter()
        .map(|&(name, len)| (name, tree.random(name, len)))
        .collect();
    (tree, files)
}

/// Blocks in the file as sent at `blksize` (the final short or empty one included).
fn blocks(len: usize, blksize: usize) -> usize {
    len / blksize + 1
}

/// Checks the server's line for one finished download.
fn assert_sent_line(server: &Server, mark: usize, name: &str, len: usize, blksize: usize) {
    let line = server.wait_request(mark, name, "sent ");
    let n = blocks(len, blksize);
    let expected = format!(" in {n} block{},", if n == 1 { "" } else { "s" });
    assert!(line.contains(&expected), "{line:?} lacks {expected:?}");
}

#[test]
fn tftp_hpa_without_options_fetches_every_size() {
    if !require("tftp") {
        return;
    }
    let (tree, files) = sized_tree();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    for (name, content) in &files {
        let out = tree.out(&format!("hpa-{name}"));
        let mark = server.mark();
        let output = run_client(
            "tftp",
            &[
                "-m",
                "binary",
                "127.0.0.1",
                &port,
                "-c",
                "get",
                name,
                out.to_str().unwrap(),
            ],
        );
        assert_exit(&output, 0, &format!("tftp-hpa get {name}"));
        assert_file(&out, content, &format!("tftp-hpa get {name}"));
        // No options asked, none granted: a phone's plain RFC 1350 transfer.
        let line = server.wait_request(mark, name, "sent ");
        assert!(
            !line.contains('['),
            "options granted without being asked: {line}"
        );
        assert_sent_line(&server, mark, name, content.len(), 512);
    }
    server.stop();
}

#[test]
fn atftp_fetches_every_size_with_and_without_options() {
    if !require("atftp") {
        return;
    }
    let (tree, files) = sized_tree();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    let with_options: &[&str] = &[
        "--option",
        "blksize 1428",
        "--option",
        "tsize 0",
        "--option",
        "timeout 1",
        "--option",
        "windowsize 8",
    ];
    for (options, blksize, label) in [(&[][..], 512, "plain"), (with_options, 1428, "options")] {
        for (name, content) in &files {
            let out = tree.out(&format!("atftp-{label}-{name}"));
            let mark = server.mark();
            let mut args = options.to_vec();
            args.extend([
                "-g",
                "-r",
                name,
                "-l",
                out.to_str().unwrap(),
                "127.0.0.1",
                &port,
            ]);
            let output = run_client("atftp", &args);
            let what = format!("atftp ({label}) get {name}");
            assert_exit(&output, 0, &what);
            assert_file(&out, content, &what);
            assert_sent_line(&server, mark, name, content.len(), blksize);
            if !options.is_empty() {
                let line = server.wait_request(mark, name, "sent ");
                let size = format!("tsize {}", content.len());
                for granted in ["blksize 1428", &size, "timeout 1", "windowsize 8"] {
                    assert!(line.contains(granted), "{line:?} lacks {granted:?}");
                }
            }
        }
    }
    server.stop();
}

#[test]
fn curl_fetches_every_size_with_and_without_blksize() {
    if !require("curl") {
        return;
    }
    let (tree, files) = sized_tree();
    let server = Server::start(&tree.root(), &[]);
    for (blksize, label) in [(None, "default"), (Some("1428"), "1428")] {
        for (name, content) in &files {
            let out = tree.out(&format!("curl-{label}-{name}"));
            let url = format!("tftp://127.0.0.1:{}/{name}", server.port());
            let mut args = vec!["-sS", "--max-time", "100", "-o", out.to_str().unwrap()];
            if content.is_empty() {
                // curl 7.88 always asks for tsize and then refuses an OACK
                // granting "tsize 0" ("invalid tsize value in OACK", exit 71),
                // against tftpd-hpa just the same; so the empty file goes
                // without options.
                args.push("--tftp-no-options");
            } else if let Some(blksize) = blksize {
                args.extend(["--tftp-blksize", blksize]);
            }
            args.push(&url);
            let mark = server.mark();
            let output = run_client("curl", &args);
            let what = format!("curl (blksize {label}) get {name}");
            assert_exit(&output, 0, &what);
            assert_file(&out, content, &what);
            let size: usize = blksize
                .filter(|_| !content.is_empty())
                .map_or(512, |b| b.parse().unwrap());
            assert_sent_line(&server, mark, name, content.len(), size);
        }
    }
    server.stop();
}

#[test]
fn busybox_fetches_every_size_at_two_block_sizes() {
    if !require("busybox") {
        return;
    }
    let (tree, files) = sized_tree();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    for blksize in ["512", "1428"] {
        for (name, content) in &files {
            let out = tree.out(&format!("busybox-{blksize}-{name}"));
            let mark = server.mark();
            let output = run_client(
                "busybox",
                &[
                    "tftp",
                    "-g",
                    "-r",
                    name,
                    "-l",
                    out.to_str().unwrap(),
                    "-b",
                    blksize,
                    "127.0.0.1",
                    &port,
                ],
            );
            let what = format!("busybox tftp -b {blksize} get {name}");
            assert_exit(&output, 0, &what);
            assert_file(&out, content, &what);
            assert_sent_line(&server, mark, name, content.len(), blksize.parse().unwrap());
        }
    }
    server.stop();
}

/// netascii: the server sends LF as CR LF and a bare CR as CR NUL; tftp-hpa
/// turns that back, so what it writes must equal the source exactly. The
/// text is built so that a CR LF pair straddles the first block boundary
/// and a CR NUL pair the second.
#[test]
fn tftp_hpa_netascii_fetch_round_trips_exactly() {
    if !require("tftp") {
        return;
    }
    let tree = Tree::new();
    let mut text = vec![b'a'; 511];
    text.push(b'\n'); // wire bytes 511 (CR) and 512 (LF): split across blocks 1 and 2
    text.extend(std::iter::repeat_n(b'b', 510));
    text.push(b'\r'); // wire bytes 1023 (CR) and 1024 (NUL): split across blocks 2 and 3
    text.extend_from_slice(b"line one\nline two\r\nbare\rcr\0nul\n\0");
    let content = tree.write("text.txt", &text);
    let wire = phoneprov_tftp::netascii::encode(&content);
    // Block boundaries of the encoded text fall inside a CR LF and a CR NUL.
    assert_eq!(&wire[511..513], b"\r\n");
    assert_eq!(&wire[1023..1025], b"\r\0");
    let server = Server::start(&tree.root(), &[]);
    let out = tree.out("text.txt");
    let mark = server.mark();
    let output = run_client(
        "tftp",
        &[
            "-m",
            "netascii",
            "127.0.0.1",
            &server.port().to_string(),
            "-c",
            "get",
            "text.txt",
            out.to_str().unwrap(),
        ],
    );
    assert_exit(&output, 0, "tftp-hpa netascii get");
    assert_file(&out, &content, "tftp-hpa netascii get");
    // The line counts the bytes on the wire, after conversion.
    let line = server.wait_request(mark, "text.txt", "sent ");
    let sent = format!(
        "sent {:.1} KiB in {} blocks",
        wire.len() as f64 / 1024.0,
        blocks(wire.len(), 512)
    );
    assert!(line.contains(&sent), "{line:?} lacks {sent:?}");
    server.stop();
}

#[test]
fn case_insensitive_match_is_served_with_a_warning() {
    if !require("curl") || !require("tftp") {
        return;
    }
    let tree = Tree::new();
    let content = tree.write(
        "XMLDefault.cnf.xml",
        b"<Default><callManagerGroup/></Default>\n",
    );
    let server = Server::start(&tree.root(), &[]);
    let warning = "WARNING: served XMLDefault.cnf.xml, whose name differs in case";

    let out = tree.out("curl.xml");
    let mark = server.mark();
    let url = format!("tftp://127.0.0.1:{}/xmldefault.CNF.XML", server.port());
    let output = run_client(
        "curl",
        &["-sS", "--max-time", "30", "-o", out.to_str().unwrap(), &url],
    );
    assert_exit(&output, 0, "curl get xmldefault.CNF.XML");
    assert_file(&out, &content, "curl get xmldefault.CNF.XML");
    let line = server.wait_request(mark, "xmldefault.CNF.XML", "sent ");
    assert!(line.ends_with(warning), "{line:?} lacks the case warning");

    // As a phone asks: tftp-hpa, no options.
    let out = tree.out("hpa.xml");
    let mark = server.mark();
    let output = run_client(
        "tftp",
        &[
            "-m",
            "binary",
            "127.0.0.1",
            &server.port().to_string(),
            "-c",
            "get",
            "xmlDEFAULT.cnf.xml",
            out.to_str().unwrap(),
        ],
    );
    assert_exit(&output, 0, "tftp-hpa get xmlDEFAULT.cnf.xml");
    assert_file(&out, &content, "tftp-hpa get xmlDEFAULT.cnf.xml");
    let line = server.wait_request(mark, "xmlDEFAULT.cnf.xml", "sent ");
    assert!(line.ends_with(warning), "{line:?} lacks the case warning");

    // The exact name is served without a warning.
    let mark = server.mark();
    let output = run_client(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "-o",
            out.to_str().unwrap(),
            &format!("tftp://127.0.0.1:{}/XMLDefault.cnf.xml", server.port()),
        ],
    );
    assert_exit(&output, 0, "curl get XMLDefault.cnf.xml");
    let line = server.wait_request(mark, "XMLDefault.cnf.xml", "sent ");
    assert!(!line.contains("WARNING"), "{line:?}");
    server.stop();
}

/// "File not found" as each client reports it. tftp-hpa exits 0 anyway,
/// which is why every other test compares contents.
#[test]
fn missing_file_is_reported_by_every_client() {
    let tree = Tree::new();
    let server = Server::start(&tree.root(), &[]);
    let port = server.port().to_string();
    let not_found = "NOT FOUND (no file of that name, in any case)";
    let out = tree.out("missing");
    let out = out.to_str().unwrap();

    if require("curl") {
        let mark = server.mark();
        let url = format!("tftp://127.0.0.1:{port}/SIP0018B9FFFFFF.cnf");
        let output = run_client("curl", &["-sS", "--max-time", "30", "-o", out, &url]);
        assert_exit(&output, 68, "curl get of a missing file");
        server.wait_request(mark, "SIP0018B9FFFFFF.cnf", not_found);
    }
    if require("tftp") {
        let mark = server.mark();
        let output = run_client(
            "tftp",
            &[
                "-m",
                "binary",
                "127.0.0.1",
                &port,
                "-c",
                "get",
                "missing-hpa",
                out,
            ],
        );
        assert_exit(&output, 0, "tftp-hpa get of a missing file (it exits 0)");
        assert!(
            printed(&output).contains("Error code 1: File not found"),
            "{}",
            printed(&output)
        );
        server.wait_request(mark, "missing-hpa", not_found);
    }
    if require("atftp") {
        let mark = server.mark();
        let output = run_client(
            "atftp",
            &["-g", "-r", "missing-atftp", "-l", out, "127.0.0.1", &port],
        );
        assert_exit(&output, 255, "atftp get of a missing file");
        assert!(
            printed(&output).contains("<File not found>"),
            "{}",
            printed(&output)
        );
        server.wait_request(mark, "missing-atftp", not_found);
    }
    if require("busybox") {
        let mark = server.mark();
        let output = run_client(
            "busybox",
            &[
                "tftp",
                "-g",
                "-r",
                "missing-busybox",
                "-l",
                out,
                "127.0.0.1",
                &port,
            ],
        );
        assert_exit(&output, 1, "busybox tftp get of a missing file");
        server.wait_request(mark, "missing-busybox", not_found);
    }
    server.stop();
}

#[test]
fn fifty_parallel_curl_fetches_are_identical() {
    if !require("curl") {
        return;
    }
    let tree = Tree::new();
    let content = tree.random("1M.bin", 1 << 20);
    let server = Server::start_alone(&tree.root(), &[]);
    let url = format!("tftp://127.0.0.1:{}/1M.bin", server.port());
    let outs: Vec<_> = (0..50)
        .map(|i| tree.out(&format!("curl-{i}.bin")))
        .collect();
    let children: Vec<_> = outs
        .iter()
        .map(|out| {
            client(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "100",
                    "-o",
                    out.to_str().unwrap(),
                    &url,
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting curl")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_exit(&output, 0, &format!("parallel curl #{i}"));
    }
    for (i, out) in outs.iter().enumerate() {
        assert_file(out, &content, &format!("parallel curl #{i}"));
    }
    let lines = server.stop();
    let sent = lines
        .iter()
        .filter(|l| l.starts_with("127.0.0.1  1M.bin  sent "))
        .count();
    assert_eq!(sent, 50, "expected 50 sent lines:\n{}", lines.join("\n"));
}
