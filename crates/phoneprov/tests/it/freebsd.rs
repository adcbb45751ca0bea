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

/// Sends an RRQ and expects exactly `reply` back.
fn rrq_reply(server: &Server, name: &[u8], mode: &str, reply: &[u8]) {
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(name, mode, &[]));
    expect(&raw, None, reply);
}

/// RRQ, then DATA 1 with all of `content` (< 512 bytes), ACK 1.
fn one_block_transfer(server: &Server, name: &[u8], mode: &str, on_wire: &[u8]) {
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(name, mode, &[]));
    let tid = expect(&raw, None, &wire::data(1, on_wire));
    raw.send_to(tid, &wire::ack(1));
}

#[test]
fn abspath() {
    // FreeBSD serves an absolute path that lies inside its directory. Ours
    // strips one leading "/" (a phone's empty locale folder) and looks the
    // rest up inside the root, so a host path is never a path on the host:
    // <root>/abspath.txt is not found. Phones never send host paths.
    let (tree, server) = setup(SHORT);
    let name = format!("{}/abspath.txt", tree.root().display());
    let mark = server.mark();
    rrq_reply(&server, name.as_bytes(), "octet", &wire::not_found());
    server.wait_request(mark, &name, "NOT FOUND");
    server.stop();
}

#[test]
fn dotdot() {
    let (_tree, server) = setup(SHORT);
    rrq_reply(
        &server,
        b"../disallowed.txt",
        "octet",
        &wire::access_violation(),
    );
    rrq_reply(
        &server,
        b"subdir/../../disallowed.txt",
        "octet",
        &wire::access_violation(),
    );
    // FreeBSD answers ERROR 2 for /etc/passwd (outside its directory). Ours
    // looks etc/passwd up inside the root (see abspath): ERROR 1, and the
    // real /etc/passwd is never read (the harness checks every reply).
    let mark = server.mark();
    rrq_reply(&server, b"/etc/passwd", "octet", &wire::not_found());
    server.wait_request(mark, "/etc/passwd", "NOT FOUND");
    server.stop();
}

#[test]
fn s_flag() {
    // With chroot (-s) a leading "/" means the served directory: ours always.
    let (_tree, server) = setup(SHORT);
    let mark = server.mark();
    one_block_transfer(&server, b"/small.txt", "octet", SMALL);
    server.wait_request(mark, "/small.txt", "sent 6 B in 1 block");
    server.stop();
}

#[test]
fn rrq_dropped_ack() {
    let (_tree, server) = setup(SHORT);
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"small.txt", "octet", &[]));
    let tid = expect(&raw, None, &wire::data(1, SMALL));
    // No ACK: the server's timeout resends the same DATA 1 from the same port.
    expect(&raw, Some(tid), &wire::data(1, SMALL));
    raw.send_to(tid, &wire::ack(1));
    let line = server.wait_request(mark, "small.txt", "sent 6 B in 1 block");
    assert!(line.contains(" resent"), "{line}");
    server.stop();
}

#[test]
fn rrq_dropped_data() {
    let (_tree, server) = setup(SHORT);
    let medium = medium();
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"medium.txt", "octet", &[]));
    let tid = expect(&raw, None, &wire::data(1, block(&medium, 1)));
    raw.send_to(tid, &wire::ack(1));
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2))); // "lost"
    raw.send_to(tid, &wire::ack(1));
    // FreeBSD may answer the repeated ACK at once; ours waits for its
    // timeout (no Sorcerer's Apprentice). Either way DATA 2 comes again.
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    raw.send_to(tid, &wire::ack(2));
    server.wait_request(mark, "medium.txt", "sent 768 B in 2 blocks");
    server.stop();
}

#[test]
fn rrq_duped_ack() {
    let (_tree, server) = setup(STRICT);
    let medium = medium();
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"medium.txt", "octet", &[]));
    let tid = expect(&raw, None, &wire::data(1, block(&medium, 1)));
    raw.send_to(tid, &wire::ack(1));
    raw.send_to(tid, &wire::ack(1));
    // FreeBSD resends DATA 2 for the duplicate ACK. Ours ignores duplicate
    // ACKs (RFC 1123 4.2.3.1) and the second DATA 2 is its timeout resend;
    // the packets are the same, nothing comes between them.
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    raw.send_to(tid, &wire::ack(2));
    let line = server.wait_request(mark, "medium.txt", "sent 768 B in 2 blocks");
    assert!(line.contains(" resent"), "{line}");
    server.stop();
}

/// The other half of rrq_duped_ack: a duplicate ACK alone never makes the
/// server send. With a 30 s timeout nothing may come after three duplicate
/// ACKs, and the server's line counts no resent block.
#[test]
fn duplicate_ack_gets_no_immediate_resend() {
    let (_tree, server) = setup("30");
    let medium = medium();
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"medium.txt", "octet", &[]));
    let tid = expect(&raw, None, &wire::data(1, block(&medium, 1)));
    raw.send_to(tid, &wire::ack(1));
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    for _ in 0..3 {
        raw.send_to(tid, &wire::ack(1));
    }
    raw.expect_silence("DATA after duplicate ACKs");
    raw.send_to(tid, &wire::ack(2));
    let line = server.wait_request(mark, "medium.txt", "sent 768 B in 2 blocks");
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
    let mark = server.mark();
    rrq_reply(&server, b"empty.txt", "octet", &wire::access_violation());
    server.wait_request(
        mark,
        "empty.txt",
        "DENIED (empty.txt is not readable by phoneprov (permission denied))",
    );
    server.stop();
}

#[test]
fn rrq_empty() {
    let (_tree, server) = setup(SHORT);
    let mark = server.mark();
    one_block_transfer(&server, b"empty.txt", "octet", b"");
    server.wait_request(mark, "empty.txt", "sent 0 B in 1 block");
    server.stop();
}

#[test]
fn rrq_medium() {
    let (_tree, server) = setup(SHORT);
    let medium = medium();
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(b"medium.txt", "octet", &[]));
    let tid = expect(&raw, None, &wire::data(1, block(&medium, 1)));
    raw.send_to(tid, &wire::ack(1));
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    raw.send_to(tid, &wire::ack(2));
    server.stop();
}

#[test]
fn rrq_medium_window() {
    let (_tree, server) = setup(STRICT);
    let medium = medium();
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"medium.txt", "octet", &[("windowsize", "2")]));
    // The OACK holds exactly what was asked: no tsize, no blksize.
    let tid = expect(&raw, None, &wire::oack(&[("windowsize", "2")]));
    raw.send_to(tid, &wire::ack(0));
    expect(&raw, Some(tid), &wire::data(1, block(&medium, 1)));
    expect(&raw, Some(tid), &wire::data(2, block(&medium, 2)));
    raw.send_to(tid, &wire::ack(2));
    server.wait_request(mark, "medium.txt", "sent 768 B in 2 blocks");
    server.stop();
}

#[test]
fn rrq_netascii() {
    // LF becomes CR LF, a bare CR becomes CR NUL, the final NUL passes: 13 → 16 bytes.
    let (_tree, server) = setup(SHORT);
    let mark = server.mark();
    one_block_transfer(&server, b"unix.txt", "netascii", UNIX_ON_WIRE);
    server.wait_request(mark, "unix.txt", "sent 16 B in 1 block");
    server.stop();
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
    let mark = server.mark();
    rrq_reply(&server, &name, "octet", &wire::access_violation());
    server.wait_text(
        mark,
        "DENIED (the name is 1028 bytes long; the limit is 255)",
    );
    server.stop();
}

#[test]
fn rrq_small() {
    let (_tree, server) = setup(SHORT);
    one_block_transfer(&server, b"small.txt", "octet", SMALL);
    server.stop();
}

/// RFC 7440's loss example, packet for packet.
#[test]
fn rrq_window_rfc7440() {
    let (_tree, server) = setup(STRICT);
    let content = rfc7440();
    let data = |n: usize| wire::data(n as u16, block(&content, n));
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    raw.send(&wire::rrq(b"rfc7440.txt", "octet", &[("windowsize", "4")]));
    let tid = expect(&raw, None, &wire::oack(&[("windowsize", "4")]));
    raw.send_to(tid, &wire::ack(0));
    for n in 1..=4 {
        expect(&raw, Some(tid), &data(n));
    }
    raw.send_to(tid, &wire::ack(4));
    for n in 5..=8 {
        expect(&raw, Some(tid), &data(n));
    }
    // As if 6, 7 and 8 were lost: the server rewinds to 6 at once.
    raw.send_to(tid, &wire::ack(5));
    for n in 6..=9 {
        expect(&raw, Some(tid), &data(n));
    }
    raw.send_to(tid, &wire::ack(9));
    for n in 10..=13 {
        expect(&raw, Some(tid), &data(n));
    }
    assert_eq!(block(&content, 13).len(), 508);
    // The final window goes unacknowledged: the timeout resends all of it.
    for n in 10..=13 {
        expect(&raw, Some(tid), &data(n));
    }
    raw.send_to(tid, &wire::ack(13));
    let line = server.wait_request(mark, "rfc7440.txt", "sent 6.5 KiB in 13 blocks");
    assert!(line.contains(" resent"), "{line}");
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
