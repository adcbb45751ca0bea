//! Real TFTP clients against the real binary: tftp-hpa (no options, as a
//! phone asks), atftp (blksize, tsize, timeout, windowsize), curl (with and
//! without --tftp-blksize) and busybox tftp, over files of 0, 511, 512, 513
//! bytes, 1 MiB and 40 MiB (81 921 blocks at 512 bytes, so block numbers roll
//! over past 65 535). Every download is compared with its source byte for
//! byte: tftp-hpa exits 0 even when the server said "File not found".

use std::path::Path;
use std::process::Output;

use crate::harness::{
    arg, assert_contains, assert_exit, assert_file, assert_sent_count, curl_args, curl_get,
    parallel_downloads, require, run_client, tftp_hpa_get, Files, Server, Tree,
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

/// What the server prints for a name it has no file for.
const NOT_FOUND: &str = "NOT FOUND (no file of that name, in any case)";

/// A client's download of a name into a path.
type Get = fn(&Server, &str, &Path) -> Output;

/// `atftp [OPTIONS] -g -r NAME -l OUT 127.0.0.1 PORT`.
fn atftp_get(server: &Server, options: &[&str], name: &str, out: &Path) -> Output {
    let port = server.port().to_string();
    let mut args = options.to_vec();
    args.extend(["-g", "-r", name, "-l", arg(out), "127.0.0.1", &port]);
    run_client("atftp", &args)
}

/// `busybox tftp -g -r NAME -l OUT [-b BLKSIZE] 127.0.0.1 PORT`.
fn busybox_get(server: &Server, blksize: Option<&str>, name: &str, out: &Path) -> Output {
    let port = server.port().to_string();
    let mut args = vec!["tftp", "-g", "-r", name, "-l", arg(out)];
    args.extend(blksize.map(|b| ["-b", b]).into_iter().flatten());
    args.extend(["127.0.0.1", &port]);
    run_client("busybox", &args)
}

/// Blocks in the file as sent at `blksize` (the final short or empty one included).
fn blocks(len: usize, blksize: usize) -> usize {
    len / blksize + 1
}

/// A server on a tree holding every file of [`SIZES`].
struct Sized {
    tree: Tree,
    files: Files,
    server: Server,
}

impl Sized {
    /// The tree and its server, if `program` is installed (see [`require`]).
    fn start(program: &str) -> Option<Sized> {
        if !require(program) {
            return None;
        }
        let (tree, files) = Tree::with_random_files(SIZES);
        let server = Server::start(&tree.root(), &[]);
        Some(Sized {
            tree,
            files,
            server,
        })
    }

    /// Downloads every file with `get(name, content, out)` into
    /// `{out_prefix}-{name}`: each exits 0 with an exact copy ("{what} get
    /// NAME"), and the server's line for it counts its blocks at `blksize`;
    /// `check` looks further at that line.
    fn fetch_each(
        &self,
        out_prefix: &str,
        what: &str,
        blksize: usize,
        get: impl Fn(&str, &[u8], &Path) -> Output,
        check: impl Fn(&str, &[u8]),
    ) {
        for (name, content) in &self.files {
            let out = self.tree.out(&format!("{out_prefix}-{name}"));
            let mark = self.server.mark();
            let output = get(name, content, &out);
            let what = format!("{what} get {name}");
            assert_exit(&output, 0, &what);
            assert_file(&out, content, &what);
            let line = self.server.wait_request(mark, name, "sent ");
            let n = blocks(content.len(), blksize);
            let expected = format!(" in {n} block{},", if n == 1 { "" } else { "s" });
            assert!(line.contains(&expected), "{line:?} lacks {expected:?}");
            check(&line, content);
        }
    }
}

#[test]
fn tftp_hpa_without_options_fetches_every_size() {
    let Some(sized) = Sized::start("tftp") else {
        return;
    };
    sized.fetch_each(
        "hpa",
        "tftp-hpa",
        512,
        |name, _, out| tftp_hpa_get(&sized.server, "binary", name, out),
        // No options asked, none granted: a phone's plain RFC 1350 transfer.
        |line, _| {
            assert!(
                !line.contains('['),
                "options granted without being asked: {line}"
            );
        },
    );
    sized.server.stop();
}

#[test]
fn atftp_fetches_every_size_with_and_without_options() {
    let Some(sized) = Sized::start("atftp") else {
        return;
    };
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
        sized.fetch_each(
            &format!("atftp-{label}"),
            &format!("atftp ({label})"),
            blksize,
            |name, _, out| atftp_get(&sized.server, options, name, out),
            |line, content| {
                if !options.is_empty() {
                    let size = format!("tsize {}", content.len());
                    for granted in ["blksize 1428", &size, "timeout 1", "windowsize 8"] {
                        assert!(line.contains(granted), "{line:?} lacks {granted:?}");
                    }
                }
            },
        );
    }
    sized.server.stop();
}

#[test]
fn curl_fetches_every_size_with_and_without_blksize() {
    let Some(sized) = Sized::start("curl") else {
        return;
    };
    for (blksize, label) in [(None, "default"), (Some("1428"), "1428")] {
        sized.fetch_each(
            &format!("curl-{label}"),
            &format!("curl (blksize {label})"),
            // The empty file is one block at any size.
            blksize.map_or(512, |b| b.parse().unwrap()),
            |name, content, out| {
                let options = if content.is_empty() {
                    // curl 7.88 always asks for tsize and then refuses an OACK
                    // granting "tsize 0" ("invalid tsize value in OACK", exit 71),
                    // against tftpd-hpa just the same; so the empty file goes
                    // without options.
                    vec!["--tftp-no-options"]
                } else {
                    blksize.map_or(vec![], |b| vec!["--tftp-blksize", b])
                };
                curl_get(&sized.server, "100", &options, name, out)
            },
            |_, _| {},
        );
    }
    sized.server.stop();
}

#[test]
fn busybox_fetches_every_size_at_two_block_sizes() {
    let Some(sized) = Sized::start("busybox") else {
        return;
    };
    for blksize in ["512", "1428"] {
        sized.fetch_each(
            &format!("busybox-{blksize}"),
            &format!("busybox tftp -b {blksize}"),
            blksize.parse().unwrap(),
            |name, _, out| busybox_get(&sized.server, Some(blksize), name, out),
            |_, _| {},
        );
    }
    sized.server.stop();
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
    let output = tftp_hpa_get(&server, "netascii", "text.txt", &out);
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
    let curl: Get = |server, name, out| curl_get(server, "30", &[], name, out);
    let hpa: Get = |server, name, out| tftp_hpa_get(server, "binary", name, out);

    // By curl, then as a phone asks: tftp-hpa, no options.
    let hpa_out = tree.out("hpa.xml");
    for (client, get, asked, out) in [
        ("curl", curl, "xmldefault.CNF.XML", tree.out("curl.xml")),
        ("tftp-hpa", hpa, "xmlDEFAULT.cnf.xml", hpa_out.clone()),
    ] {
        let mark = server.mark();
        let what = format!("{client} get {asked}");
        assert_exit(&get(&server, asked, &out), 0, &what);
        assert_file(&out, &content, &what);
        let line = server.wait_request(mark, asked, "sent ");
        assert!(line.ends_with(warning), "{line:?} lacks the case warning");
    }

    // The exact name is served without a warning.
    let mark = server.mark();
    let output = curl(&server, "XMLDefault.cnf.xml", &hpa_out);
    assert_exit(&output, 0, "curl get XMLDefault.cnf.xml");
    let line = server.wait_request(mark, "XMLDefault.cnf.xml", "sent ");
    assert!(!line.contains("WARNING"), "{line:?}");
    server.stop();
}

/// How one client reports a missing file.
struct Missing {
    program: &'static str,
    /// The name it asks for.
    name: &'static str,
    get: Get,
    code: i32,
    what: &'static str,
    /// What it prints.
    says: &'static [&'static str],
}

/// "File not found" as each client reports it. tftp-hpa exits 0 anyway,
/// which is why every other test compares contents.
#[test]
fn missing_file_is_reported_by_every_client() {
    let tree = Tree::new();
    let server = Server::start(&tree.root(), &[]);
    let out = tree.out("missing");
    let clients = [
        Missing {
            program: "curl",
            name: "SIP0018B9FFFFFF.cnf",
            get: |server, name, out| curl_get(server, "30", &[], name, out),
            code: 68,
            what: "curl get of a missing file",
            says: &[],
        },
        Missing {
            program: "tftp",
            name: "missing-hpa",
            get: |server, name, out| tftp_hpa_get(server, "binary", name, out),
            code: 0,
            what: "tftp-hpa get of a missing file (it exits 0)",
            says: &["Error code 1: File not found"],
        },
        Missing {
            program: "atftp",
            name: "missing-atftp",
            get: |server, name, out| atftp_get(server, &[], name, out),
            code: 255,
            what: "atftp get of a missing file",
            says: &["<File not found>"],
        },
        Missing {
            program: "busybox",
            name: "missing-busybox",
            get: |server, name, out| busybox_get(server, None, name, out),
            code: 1,
            what: "busybox tftp get of a missing file",
            says: &[],
        },
    ];
    for client in clients {
        if require(client.program) {
            let mark = server.mark();
            let output = (client.get)(&server, client.name, &out);
            let printed = assert_exit(&output, client.code, client.what);
            assert_contains(&printed, client.says);
            server.wait_request(mark, client.name, NOT_FOUND);
        }
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
    parallel_downloads(
        &tree,
        "curl",
        50,
        |out| curl_args(&server, "100", &[], "1M.bin", out),
        &content,
        "parallel curl",
    );
    assert_sent_count(&server.stop(), "1M.bin", 50);
}
