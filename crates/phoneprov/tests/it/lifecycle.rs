//! The server's life: graceful shutdown with a transfer under way, the
//! second Ctrl-C, SIGTERM, the data-port range, the per-client and total
//! transfer caps, and start-up errors that say what is wrong.

use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

use crate::harness::{
    arg, assert_contains, assert_exit, assert_file, assert_same, poll, require, run_binary,
    spawn_client, tftp_url, wire, Raw, Server, Tree,
};

/// Waits (bounded) until `path` holds at least `len` bytes.
fn wait_for_size(path: &std::path::Path, len: u64) {
    let reached = poll(Duration::from_secs(60), Duration::from_millis(10), || {
        (std::fs::metadata(path).map_or(0, |m| m.len()) >= len).then_some(())
    });
    assert!(
        reached.is_some(),
        "{} never reached {len} bytes",
        path.display()
    );
}

/// After `first` came from `tid`: it comes `resends` times more from there,
/// then the ERROR that gives the transfer up, then nothing. Returns where
/// that ERROR came from.
fn resent_then_given_up(
    raw: &Raw,
    first: &[u8],
    tid: SocketAddr,
    resends: u32,
    what: &str,
) -> SocketAddr {
    for resend in 1..=resends {
        let (again, from) = raw.recv();
        assert_same(&again, first, &format!("{what} resend {resend}"));
        assert_eq!(from, tid);
    }
    let (last, from) = raw.recv();
    assert_same(
        &last,
        &wire::error(0, b"Timed out waiting for ACK"),
        "after the last resend",
    );
    raw.expect_silence("a packet after the transfer was given up");
    from
}

/// `phoneprov tftp --root ROOT --bind BIND` must refuse to start: exit 1,
/// saying `why` on stderr.
fn refused_start(root: &str, bind: &str, what: &str, why: &str) -> Output {
    let output = run_binary(&["tftp", "--root", root, "--bind", bind]);
    assert_exit(&output, 1, what);
    assert_contains(&String::from_utf8_lossy(&output.stderr), &[why]);
    output
}

/// SIGINT during a 40 MiB download at 512-byte blocks: the download still
/// completes byte for byte, then the server prints "stopped" and exits 0.
#[test]
fn sigint_lets_a_running_transfer_finish() {
    if !require("curl") {
        return;
    }
    let tree = Tree::new();
    let content = tree.random("40M.bin", 40 << 20);
    let server = Server::start(&tree.root(), &[]);
    let out = tree.out("40M.bin");
    let url = tftp_url(&server, "40M.bin");
    // --limit-rate keeps the download running for seconds, so the signal
    // surely lands in the middle of it.
    let curl = spawn_client(
        "curl",
        &[
            "-sS",
            "--max-time",
            "110",
            "--limit-rate",
            "8M",
            "-o",
            arg(&out),
            &url,
        ],
    );
    wait_for_size(&out, 1 << 20);
    let mark = server.mark();
    server.signal("INT");
    let stopping = server.wait_text(
        mark,
        "phoneprov tftp: stopping; letting running transfers finish",
    );
    let output = curl.wait_with_output().unwrap();
    assert_exit(&output, 0, "curl across the shutdown");
    assert_file(&out, &content, "curl across the shutdown");
    let lines = server.stop_after_signal();
    let at = |text: &str| lines.iter().position(|l| l.contains(text)).unwrap();
    assert!(
        at(&stopping) < at("40M.bin  sent 40.0 MiB in 81921 blocks"),
        "the transfer was not running when the signal came:\n{}",
        lines.join("\n")
    );
    assert_eq!(lines.last().unwrap(), "phoneprov tftp: stopped");
}

#[test]
fn sigterm_stops_gracefully() {
    let tree = Tree::new();
    let server = Server::start(&tree.root(), &[]);
    server.signal("TERM");
    let lines = server.stop_after_signal();
    assert_eq!(lines.last().unwrap(), "phoneprov tftp: stopped");
}

/// A second Ctrl-C while a transfer still runs quits at once, with 130.
#[test]
fn second_sigint_quits_at_once() {
    let tree = Tree::new();
    tree.random("medium.bin", 3000);
    // A long timeout keeps the unacknowledged transfer alive.
    let mut server = Server::start(&tree.root(), &["--timeout", "60"]);
    let raw = Raw::new(server.addr);
    raw.send(&wire::rrq(b"medium.bin", "octet", &[]));
    raw.recv();
    server.signal("INT");
    server.wait_text(0, "phoneprov tftp: stopping");
    // The transfer holds the server up...
    assert!(
        server.running(),
        "the server quit with a transfer under way"
    );
    // ...until the second signal. (Sent until it takes, in case one lands
    // in the instant between the two waits of the signal task.)
    let status = poll(Duration::from_secs(30), Duration::ZERO, || {
        server.signal("INT");
        server.exited_within(Duration::from_millis(200))
    })
    .expect("a second SIGINT did not stop the server");
    assert_eq!(status.code(), Some(130), "exit status {status}");
    server.wait_text(0, "phoneprov tftp: quitting with transfers unfinished");
}

/// `--data-ports` puts every transfer on a port of the range.
#[test]
fn data_ports_put_transfers_in_the_range() {
    let tree = Tree::new();
    let content = tree.random("medium.bin", 3000);
    let server = Server::start(&tree.root(), &["--data-ports", "50000-50009"]);
    // Five transfers at once, so five different ports of the range.
    let clients: Vec<Raw> = (0..5).map(|_| Raw::new(server.addr)).collect();
    let firsts: Vec<_> = clients
        .iter()
        .map(|raw| raw.request(&wire::rrq(b"medium.bin", "octet", &[])))
        .collect();
    let mut ports: Vec<u16> = firsts.iter().map(|(_, from)| from.port()).collect();
    for port in &ports {
        assert!(
            (50000..=50009).contains(port),
            "a transfer came from port {port}"
        );
    }
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 5, "two running transfers shared a port");
    for (raw, (first, from)) in clients.iter().zip(firsts) {
        let fetched = raw.fetch_from(first, from);
        assert_same(
            &fetched.data,
            &content,
            "download through the data-port range",
        );
    }
    server.stop();
}

/// With a cap of one transfer, a second RRQ gets no reply while the first
/// transfer runs (the server prints why), and is served once it is over.
fn second_request_waits(args: &[&str], busy: &str) {
    let tree = Tree::new();
    let content = tree.random("medium.bin", 3000);
    let server = Server::start(&tree.root(), args);
    let request = wire::rrq(b"medium.bin", "octet", &[]);
    let first = Raw::new(server.addr);
    let (data1, tid) = first.request(&request);
    // DATA 1 is unacknowledged: the first transfer runs.
    let second = Raw::new(server.addr);
    let mark = server.mark();
    second.send(&request);
    server.wait_request(mark, "medium.bin", &format!("DROPPED, BUSY ({busy})"));
    second.expect_silence("an RRQ over the cap");
    let fetched = first.fetch_from(data1, tid);
    assert_same(&fetched.data, &content, "the first transfer");
    server.wait_request(mark, "medium.bin", "sent ");
    // The phone retries, and now it is served.
    let fetched = second.fetch(&request);
    assert_same(&fetched.data, &content, "the second transfer, retried");
    server.stop();
}

#[test]
fn max_per_client_holds_back_a_second_transfer() {
    second_request_waits(
        &["--max-per-client", "1"],
        "this client already has 1 transfers running (max_per_client)",
    );
}

#[test]
fn max_transfers_holds_back_a_second_transfer() {
    second_request_waits(
        &["--max-transfers", "1"],
        "1 transfers already running (max_transfers)",
    );
}

#[test]
fn port_in_use_is_a_clear_error() {
    let tree = Tree::new();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = refused_start(
        arg(&tree.root()),
        &addr,
        "phoneprov on a port in use",
        &format!("cannot listen on {addr}: Address already in use"),
    );
    assert!(
        output.stdout.is_empty(),
        "it claimed to serve: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn missing_root_is_a_clear_error() {
    refused_start(
        "/nonexistent/phoneprov-firmware",
        "127.0.0.1:0",
        "phoneprov with a missing root",
        "cannot open /nonexistent/phoneprov-firmware: No such file or directory",
    );
}

#[test]
fn root_that_is_a_file_is_a_clear_error() {
    let tree = Tree::new();
    tree.write("file.txt", b"x");
    let root = tree.root().join("file.txt");
    refused_start(
        arg(&root),
        "127.0.0.1:0",
        "phoneprov with a file as root",
        "file.txt is not a directory",
    );
}

/// A client's timeout option is used as a fixed interval (RFC 2349), and an
/// unanswered transfer is given up after `--retries` resends with an ERROR.
/// The server's own timeout is 20 s here, longer than any wait of the
/// harness: each resend coming at all shows the client's 1 s was used.
#[test]
fn negotiated_timeout_is_a_fixed_interval_and_retries_are_bounded() {
    let tree = Tree::new();
    tree.random("medium.bin", 3000);
    let server = Server::start(&tree.root(), &["--timeout", "20", "--retries", "5"]);
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    let (oack, tid) = raw.request(&wire::rrq(b"medium.bin", "octet", &[("timeout", "1")]));
    assert_same(&oack, &wire::oack(&[("timeout", "1")]), "the OACK");
    assert_eq!(resent_then_given_up(&raw, &oack, tid, 5, "OACK"), tid);
    server.wait_request(mark, "medium.bin", "TIMED OUT after 0 of 2.9 KiB sent");
    server.stop();
}

/// Without a timeout option the server's own timeout backs off; DATA is
/// resent `--retries` times, then the transfer ends with an ERROR: a
/// spoofed request can never make the server send more than that.
#[test]
fn unanswered_data_is_resent_a_bounded_number_of_times() {
    let tree = Tree::new();
    let content = tree.random("medium.bin", 3000);
    let server = Server::start(&tree.root(), &["--timeout", "0.2", "--retries", "3"]);
    let raw = Raw::new(server.addr);
    let mark = server.mark();
    let data1 = wire::data(1, &content[..512]);
    let (first, tid) = raw.request(&wire::rrq(b"medium.bin", "octet", &[]));
    assert_same(&first, &data1, "DATA 1");
    resent_then_given_up(&raw, &data1, tid, 3, "DATA 1");
    let line = server.wait_request(mark, "medium.bin", "TIMED OUT after 0 of 2.9 KiB sent");
    assert!(line.ends_with("(the client stopped answering)"), "{line}");
    server.stop();
}

/// The default cap is 64 transfers per client address: a 65th RRQ is
/// dropped without a reply (and said so), and served once others end.
#[test]
fn default_cap_is_64_transfers_per_client() {
    let tree = Tree::new();
    let content = tree.random("medium.bin", 3000);
    let server = Server::start(&tree.root(), &[]);
    let request = wire::rrq(b"medium.bin", "octet", &[]);
    let mark = server.mark();
    let running: Vec<(Raw, std::net::SocketAddr)> = (0..64)
        .map(|_| {
            let raw = Raw::new(server.addr);
            let (_, tid) = raw.request(&request);
            (raw, tid)
        })
        .collect();
    let extra = Raw::new(server.addr);
    extra.send(&request);
    server.wait_request(
        mark,
        "medium.bin",
        "DROPPED, BUSY (this client already has 64 transfers running (max_per_client))",
    );
    extra.expect_silence("a 65th RRQ from one address");
    for (raw, tid) in &running {
        raw.send_to(*tid, &wire::error(0, b"enough"));
    }
    server.wait_count(mark, "  medium.bin  CLIENT GAVE UP (error 0: enough)", 64);
    let fetched = extra.fetch(&request);
    assert_same(&fetched.data, &content, "the 65th transfer, retried");
    server.stop();
}
