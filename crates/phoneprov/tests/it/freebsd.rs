//! The scenarios of FreeBSD's tftpd functional tests
//! (`libexec/tftpd/tests/functional.c`), re-expressed as our own raw-UDP
//! tests against our server, with the same files and exact packets.
//! Where our semantics differ, the test says so and why.
//!
//! FreeBSD's harness blocks until a packet comes (its server resends after
//! about 5 s). Ours runs the server with a short retransmission timeout so
//! the cases that wait for a resend are quick; the cases that require an
//! exact packet sequence use 1 s, so a loaded machine pausing the test for a
//! moment does not produce a legitimate but unexpected early resend.

use std::net::SocketAddr;

use crate::harness::{assert_same, require, wire, Raw, Server, Tree};

/// Retransmission timeout for cases that wait for a resend.
const SHORT: &str = "0.2";
/// Retransmission timeout for cases that check an exact packet sequence.
const STRICT: &str = "1";

/// `small\0`
const SMALL: &[u8] = b"small\0";
/// The 13-byte file of the netascii case, and its 16 bytes on the wire.
const UNIX: &[u8] = b"foo\nbar\rbaz\n\0";
const UNIX_ON_WIRE: &[u8] = b"foo\r\nbar\r\0baz\r\n\0";

/// `count` native-endian u32s 0, 1, 2, ... (FreeBSD's medium and rfc7440 files).
fn counting(count: u32) -> Vec<u8> {
    (0..count).flat_map(u32::to_le_bytes).collect()
}

fn medium() -> Vec<u8> {
    counting(192) // 768 bytes: a 512-byte block and a 256-byte one
}

fn rfc7440() -> Vec<u8> {
    let mut content = counting(13 * 128);
    content.truncate(13 * 512 - 4); // 12 full blocks, then 508 bytes
    content
}

/// Block `n` (1-based) of `content` at 512 bytes.
fn block(content: &[u8], n: usize) -> &[u8] {
    let start = (n - 1) * 512;
    &content[start.min(content.len())..(start + 512).min(content.len())]
}

/// The FreeBSD test files, and a server on them.
fn setup(timeout: &str) -> (Tree, Server) {
    let tree = Tree::new();
    tree.write("small.txt", SMALL);
    tree.write("medium.txt", &medium());
    tree.write("rfc7440.txt", &rfc7440());
    tree.write("unix.txt", UNIX);
    tree.write("empty.txt", b"");
    tree.write("abspath.txt", b"");
    std::fs::create_dir(tree.root().join("subdir")).unwrap();
    let server = Server::start(&tree.root(), &["--timeout", timeout]);
    (tree, server)
}

/// Receives one packet that must be exactly `expected`, from `from` when
/// given; returns its source (the transfer's TID).
fn expect(raw: &Raw, from: Option<SocketAddr>, expected: &[u8]) -> SocketAddr {
    let (got, source) = raw.recv();
    assert_same(
        &got,
        expected,
        &format!(
            "expected {}, got {}",
            wire::show(expected),
            wire::show(&got)
        ),
    );
    if let Some(from) = from {
        assert_eq!(source, from, "the packet came from another port");
    }
    source
}

/// Sends an RRQ and expects exactly `reply` back; returns the server's
/// line mark from before the request.
fn rrq_reply(server: &Server, name: &[u8], mode: &str, reply: &[u8]) -> usize {
    let mark = server.mark();
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(name, mode, &[]));
    expect(&raw, None, reply);
    mark
}

/// RRQ, then DATA 1 with all of `content` (< 512 bytes), ACK 1.
fn one_block_transfer(server: &Server, name: &[u8], mode: &str, on_wire: &[u8]) {
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(name, mode, &[]));
    let tid = expect(&raw, None, &wire::data(1, on_wire));
    raw.send_to(tid, &wire::ack(1));
}

/// A whole one-block case on a fresh server: `name` in `mode` comes as one
/// DATA of `on_wire`; when `sent` is given, the server's line for `name`
/// starts with it.
fn one_block_case(name: &str, mode: &str, on_wire: &[u8], sent: Option<&str>) {
    let (_tree, server) = setup(SHORT);
    let mark = server.mark();
    one_block_transfer(&server, name.as_bytes(), mode, on_wire);
    if let Some(sent) = sent {
        server.wait_request(mark, name, sent);
    }
    server.stop();
}

/// A read driven packet by packet from one client socket.
struct Transfer<'a> {
    server: &'a Server,
    name: &'a str,
    content: Vec<u8>,
    raw: Raw,
    /// The transfer's port on the server.
    tid: SocketAddr,
    /// The server's lines before the request.
    mark: usize,
}

impl<'a> Transfer<'a> {
    /// Sends an octet RRQ for `name`, whose file holds `content`, with
    /// `options`; expects exactly DATA 1 back, or with options an OACK of
    /// exactly them.
    fn start(
        server: &'a Server,
        name: &'a str,
        content: Vec<u8>,
        options: &[(&str, &str)],
    ) -> Transfer<'a> {
        let raw = Raw::new(server.addr);
        let mark = server.mark();
        raw.send(&wire::rrq(name.as_bytes(), "octet", options));
        let first = if options.is_empty() {
            wire::data(1, block(&content, 1))
        } else {
            wire::oack(options)
        };
        let tid = expect(&raw, None, &first);
        Transfer {
            server,
            name,
            content,
            raw,
            tid,
            mark,
        }
    }

    /// [`Transfer::start`] of medium.txt without options.
    fn medium(server: &'a Server) -> Transfer<'a> {
        Transfer::start(server, "medium.txt", medium(), &[])
    }

    /// Expects exactly DATA `n` from the transfer's port.
    fn data(&self, n: usize) {
        expect(
            &self.raw,
            Some(self.tid),
            &wire::data(n as u16, block(&self.content, n)),
        );
    }

    fn ack(&self, n: u16) {
        self.raw.send_to(self.tid, &wire::ack(n));
    }

    /// The server's line for the transfer, which must start with `outcome`.
    fn line(&self, outcome: &str) -> String {
        self.server.wait_request(self.mark, self.name, outcome)
    }

    /// Like [`Transfer::line`], for a transfer that had to resend: the line
    /// must say so.
    fn line_with_resends(&self, outcome: &str) {
        let line = self.line(outcome);
        assert!(line.contains(" resent"), "{line}");
    }
}

#[test]
fn abspath() {
    // FreeBSD serves an absolute path that lies inside its directory. Ours
    // strips one leading "/" (a phone's empty locale folder) and looks the
    // rest up inside the root, so a host path is never a path on the host:
    // <root>/abspath.txt is not found. Phones never send host paths.
    let (tree, server) = setup(SHORT);
    let name = format!("{}/abspath.txt", tree.root().display());
    let mark = rrq_reply(&server, name.as_bytes(), "octet", &wire::not_found());
    server.wait_request(mark, &name, "NOT FOUND");
    server.stop();
}

#[test]
fn dotdot() {
    let (_tree, server) = setup(SHORT);
    for name in [&b"../disallowed.txt"[..], b"subdir/../../disallowed.txt"] {
        rrq_reply(&server, name, "octet", &wire::access_violation());
    }
    // FreeBSD answers ERROR 2 for /etc/passwd (outside its directory). Ours
    // looks etc/passwd up inside the root (see abspath): ERROR 1, and the
    // real /etc/passwd is never read (the harness checks every reply).
    let mark = rrq_reply(&server, b"/etc/passwd", "octet", &wire::not_found());
    server.wait_request(mark, "/etc/passwd", "NOT FOUND");
    server.stop();
}

#[test]
fn s_flag() {
    // With chroot (-s) a leading "/" means the served directory: ours always.
    one_block_case("/small.txt", "octet", SMALL, Some("sent 6 B in 1 block"));
}

#[test]
fn rrq_dropped_ack() {
    let (_tree, server) = setup(SHORT);
    let transfer = Transfer::start(&server, "small.txt", SMALL.to_vec(), &[]);
    // No ACK: the server's timeout resends the same DATA 1 from the same port.
    transfer.data(1);
    transfer.ack(1);
    transfer.line_with_resends("sent 6 B in 1 block");
    server.stop();
}

#[test]
fn rrq_dropped_data() {
    let (_tree, server) = setup(SHORT);
    let transfer = Transfer::medium(&server);
    transfer.ack(1);
    transfer.data(2); // "lost"
    transfer.ack(1);
    // FreeBSD may answer the repeated ACK at once; ours waits for its
    // timeout (no Sorcerer's Apprentice). Either way DATA 2 comes again.
    transfer.data(2);
    transfer.ack(2);
    transfer.line("sent 768 B in 2 blocks");
    server.stop();
}

#[test]
fn rrq_duped_ack() {
    let (_tree, server) = setup(STRICT);
    let transfer = Transfer::medium(&server);
    transfer.ack(1);
    transfer.ack(1);
    // FreeBSD resends DATA 2 for the duplicate ACK. Ours ignores duplicate
    // ACKs (RFC 1123 4.2.3.1) and the second DATA 2 is its timeout resend;
    // the packets are the same, nothing comes between them.
    transfer.data(2);
    transfer.data(2);
    transfer.ack(2);
    transfer.line_with_resends("sent 768 B in 2 blocks");
    server.stop();
}

/// The other half of rrq_duped_ack: a duplicate ACK alone never makes the
/// server send. With a 30 s timeout nothing may come after three duplicate
/// ACKs, and the server's line counts no resent block.
#[test]
fn duplicate_ack_gets_no_immediate_resend() {
    let (_tree, server) = setup("30");
    let transfer = Transfer::medium(&server);
    transfer.ack(1);
    transfer.data(2);
    for _ in 0..3 {
        transfer.ack(1);
    }
    transfer.raw.expect_silence("DATA after duplicate ACKs");
    transfer.ack(2);
    let line = transfer.line("sent 768 B in 2 blocks");
    assert!(!line.contains("resent"), "{line}");
    server.stop();
}

#[test]
fn rrq_eaccess() {
    // FreeBSD refuses a file of mode 0000 with ERROR 2. The tests run as
    // root, whom file modes do not stop, so as root the server runs as
    // nobody (setpriv): then the kernel really refuses the read.
    let tree = Tree::new();
    tree.write("empty.txt", b"");
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: std::path::PathBuf, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(tree.root().join("empty.txt"), 0o000);
    mode(tree.base().to_path_buf(), 0o755);
    mode(tree.root(), 0o755);
    let as_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let server = if as_root {
        if !require("setpriv") {
            return;
        }
        let wrapper = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        let probe = std::process::Command::new(wrapper[0])
            .args(&wrapper[1..])
            .args([crate::harness::BIN, "--version"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "SKIPPED: user nobody cannot run {} (a folder on its path is closed)",
                crate::harness::BIN
            );
            return;
        }
        Server::start_wrapped(&wrapper, &tree.root(), &["--timeout", SHORT])
    } else {
        Server::start(&tree.root(), &["--timeout", SHORT])
    };
    let mark = rrq_reply(&server, b"empty.txt", "octet", &wire::access_violation());
    server.wait_request(
        mark,
        "empty.txt",
        "DENIED (empty.txt is not readable by phoneprov (permission denied))",
    );
    server.stop();
}

#[test]
fn rrq_empty() {
    one_block_case("empty.txt", "octet", b"", Some("sent 0 B in 1 block"));
}

#[test]
fn rrq_medium() {
    let (_tree, server) = setup(SHORT);
    let transfer = Transfer::medium(&server);
    transfer.ack(1);
    transfer.data(2);
    transfer.ack(2);
    server.stop();
}

#[test]
fn rrq_medium_window() {
    let (_tree, server) = setup(STRICT);
    // The OACK holds exactly what was asked: no tsize, no blksize.
    let transfer = Transfer::start(&server, "medium.txt", medium(), &[("windowsize", "2")]);
    transfer.ack(0);
    transfer.data(1);
    transfer.data(2);
    transfer.ack(2);
    transfer.line("sent 768 B in 2 blocks");
    server.stop();
}

#[test]
fn rrq_netascii() {
    // LF becomes CR LF, a bare CR becomes CR NUL, the final NUL passes: 13 → 16 bytes.
    one_block_case(
        "unix.txt",
        "netascii",
        UNIX_ON_WIRE,
        Some("sent 16 B in 1 block"),
    );
}

#[test]
fn rrq_nonexistent() {
    let (_tree, server) = setup(SHORT);
    rrq_reply(&server, b"nonexistent.txt", "octet", &wire::not_found());
    server.stop();
}

#[test]
fn rrq_path_max() {
    // FreeBSD answers a 1028-character name with ERROR 4 (the request is
    // longer than its 512-byte buffer). Ours reads any datagram size and
    // refuses names over 255 bytes as an access violation: ERROR 2. What
    // both guarantee: never "File not found" for an impossible name.
    let (_tree, server) = setup(SHORT);
    let mut name = b"AReallyBigFileName".to_vec();
    name.resize(1024, b'X');
    name.extend_from_slice(b".txt");
    assert_eq!(name.len(), 1028);
    let mark = rrq_reply(&server, &name, "octet", &wire::access_violation());
    server.wait_text(
        mark,
        "DENIED (the name is 1028 bytes long; the limit is 255)",
    );
    server.stop();
}

#[test]
fn rrq_small() {
    one_block_case("small.txt", "octet", SMALL, None);
}

/// RFC 7440's loss example, packet for packet.
#[test]
fn rrq_window_rfc7440() {
    let (_tree, server) = setup(STRICT);
    let transfer = Transfer::start(&server, "rfc7440.txt", rfc7440(), &[("windowsize", "4")]);
    let window = |blocks: std::ops::RangeInclusive<usize>| blocks.for_each(|n| transfer.data(n));
    transfer.ack(0);
    window(1..=4);
    transfer.ack(4);
    window(5..=8);
    // As if 6, 7 and 8 were lost: the server rewinds to 6 at once.
    transfer.ack(5);
    window(6..=9);
    transfer.ack(9);
    window(10..=13);
    assert_eq!(block(&transfer.content, 13).len(), 508);
    // The final window goes unacknowledged: the timeout resends all of it.
    window(10..=13);
    transfer.ack(13);
    transfer.line_with_resends("sent 6.5 KiB in 13 blocks");
    server.stop();
}

#[test]
fn unknown_modes() {
    let (_tree, server) = setup(SHORT);
    for mode in ["ascii", "binary", "en_US.UTF-8", "mail"] {
        rrq_reply(&server, b"foo.txt", mode, &wire::illegal());
    }
    server.stop();
}

#[test]
fn unknown_opcode() {
    let (_tree, server) = setup(SHORT);
    let raw = Raw::new(server.addr);
    raw.send(b"\x00\x07foo.txt\x00octet\x00");
    expect(&raw, Some(server.addr), &wire::illegal());
    server.stop();
}

/// FreeBSD's write cases (w_flag, wrq_*). Ours is read-only by design, so
/// every one is an ERROR 2 from the listening port, with no ACK 0 and no
/// OACK first, whatever the file's state; DATA sent afterwards is ignored
/// and no file is created or changed. (FreeBSD's wrq_nonexistent expects
/// ERROR 1; ours says "read-only" before looking at any name.)
#[test]
fn wrq_cases_are_all_refused() {
    let (tree, server) = setup(SHORT);
    let snapshot = || {
        let mut names: Vec<_> = std::fs::read_dir(tree.root())
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let content = std::fs::read(&path).ok();
                (path, content)
            })
            .collect();
        names.sort();
        names
    };
    let before = snapshot();
    let refused = wire::error(2, b"Read-only server");
    type Case<'a> = (&'a str, &'a [u8], &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        ("w_flag", b"new-small.txt", "octet", &[]),
        ("wrq_dropped_ack", b"medium.txt", "octet", &[]),
        ("wrq_dropped_data", b"small.txt", "octet", &[]),
        ("wrq_duped_data", b"medium.txt", "octet", &[]),
        ("wrq_eaccess", b"empty.txt", "octet", &[]),
        ("wrq_medium", b"medium.txt", "octet", &[]),
        (
            "wrq_medium_window",
            b"medium.txt",
            "octet",
            &[("windowsize", "2")],
        ),
        ("wrq_netascii", b"unix.txt", "netascii", &[]),
        ("wrq_nonexistent", b"nonexistent.txt", "octet", &[]),
        ("wrq_small", b"small.txt", "octet", &[]),
        ("wrq_truncate", b"small.txt", "octet", &[]),
        (
            "wrq_window_rfc7440",
            b"rfc7440.txt",
            "octet",
            &[("windowsize", "4")],
        ),
    ];
    let mut clients = Vec::new();
    for (case, name, mode, options) in cases {
        let raw = Raw::new(server.addr);
        raw.send(&wire::wrq(name, mode, options));
        let (reply, from) = raw.recv();
        assert_same(&reply, &refused, case);
        assert_eq!(
            from, server.addr,
            "{case}: the refusal should come from the listening port"
        );
        raw.send(&wire::data(1, b""));
        raw.send(&wire::data(1, SMALL));
        clients.push((case, raw));
    }
    // The DATA packets get no answer. The listener takes datagrams in
    // order, so once the last client has heard nothing for the silence
    // window, an answer to any earlier one would already be queued.
    let (_, last) = clients.last().unwrap();
    last.expect_silence("DATA to the listening port after a refused WRQ");
    for (case, raw) in &clients {
        assert_eq!(
            raw.drain(),
            0,
            "{case}: DATA after the refused WRQ was answered"
        );
    }
    assert_eq!(snapshot(), before, "a WRQ changed the served folder");
    server.stop();
}

/// short_packet1/2/3: FreeBSD's one-shot tftpd exits 1 on these. Ours
/// keeps serving: 1 byte gets no reply; 2 and 3 bytes are an unknown opcode
/// (0x0102), answered with ERROR 4 from the listening port.
#[test]
fn short_packets() {
    let (_tree, server) = setup(SHORT);
    let raw = Raw::new(server.addr);
    raw.send(b"\x01");
    raw.expect_silence("1-byte datagram");
    for packet in [&b"\x01\x02"[..], b"\x01\x02\x03"] {
        raw.send(packet);
        expect(&raw, Some(server.addr), &wire::illegal());
    }
    one_block_transfer(&server, b"small.txt", "octet", SMALL);
    server.stop();
}
