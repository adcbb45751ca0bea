//! The server's read transfer, packet by packet: what it sends for each thing
//! a client (or a stranger) does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use phoneprov_tftp::{
    negotiate, ErrorCode, Mode, Outcome, Packet, RawOption, ReadTransfer, ServerLimits,
};

fn client() -> SocketAddr {
    "127.0.0.2:40000".parse().unwrap()
}

struct Server {
    transfer: ReadTransfer,
    now: Instant,
}

impl Server {
    fn start(len: usize, options: &[(&str, &str)]) -> Server {
        let now = Instant::now();
        let raw: Vec<RawOption<'_>> = options
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let limits = ServerLimits::default();
        let negotiated = negotiate(&raw, Mode::Octet, len as u64, &limits).unwrap();
        let content = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
        Server {
            transfer: ReadTransfer::new(client(), content, Mode::Octet, &negotiated, &limits, now),
            now,
        }
    }

    /// Everything the server sends now, decoded into a readable form.
    fn sent(&mut self) -> Vec<(SocketAddr, String)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(to) = self.transfer.poll_transmit(&mut buf) {
            let text = match Packet::decode(&buf).unwrap() {
                Packet::Data { block, data } => format!("DATA {block} {}", data.len()),
                Packet::Oack { options } => format!(
                    "OACK {}",
                    options
                        .iter()
                        .map(|(n, v)| format!(
                            "{}={}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                Packet::Error { code, .. } => format!("ERROR {}", code.as_u16()),
                other => format!("{other:?}"),
            };
            out.push((to, text));
        }
        out
    }

    fn texts(&mut self) -> Vec<String> {
        self.sent().into_iter().map(|(_, t)| t).collect()
    }

    fn ack(&mut self, block: u16) {
        let mut buf = Vec::new();
        Packet::Ack { block }.encode(&mut buf);
        self.transfer.handle_datagram(client(), &buf, self.now);
    }

    fn wait(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.transfer.handle_timeout(self.now);
    }
}

#[test]
fn plain_request_gets_data_block_one_without_oack() {
    let mut s = Server::start(1000, &[]);
    assert_eq!(s.texts(), ["DATA 1 512"]);
    s.ack(1);
    assert_eq!(s.texts(), ["DATA 2 488"]);
    s.ack(2);
    assert_eq!(s.transfer.outcome(), Some(&Outcome::Sent));
    assert!(s.transfer.is_finished());
}

#[test]
fn exact_multiple_of_blksize_ends_with_an_empty_block() {
    let mut s = Server::start(512, &[]);
    assert_eq!(s.texts(), ["DATA 1 512"]);
    s.ack(1);
    assert_eq!(s.texts(), ["DATA 2 0"]);
    s.ack(2);
    assert_eq!(s.transfer.outcome(), Some(&Outcome::Sent));
}

#[test]
fn empty_file_is_one_empty_block() {
    let mut s = Server::start(0, &[]);
    assert_eq!(s.texts(), ["DATA 1 0"]);
    s.ack(1);
    assert_eq!(s.transfer.outcome(), Some(&Outcome::Sent));
}

#[test]
fn duplicate_ack_never_triggers_a_retransmission() {
    let mut s = Server::start(2000, &[]);
    s.texts();
    s.ack(1);
    assert_eq!(s.texts(), ["DATA 2 512"]);
    // The Sorcerer's Apprentice: the same ACK again must not resend DATA 2.
    s.ack(1);
    s.ack(1);
    assert!(s.texts().is_empty());
    assert_eq!(s.transfer.stats().blocks_retransmitted, 0);
}

#[test]
fn lost_data_is_resent_on_timeout_with_backoff_then_abandoned() {
    let mut s = Server::start(2000, &[]);
    s.texts();
    let mut waits = Vec::new();
    let start = s.now;
    while !s.transfer.is_finished() {
        let due = s.transfer.poll_timeout().unwrap();
        s.now = due;
        s.transfer.handle_timeout(due);
        waits.push((due - start).as_secs());
        let sent = s.texts();
        if s.transfer.outcome().is_none() {
            assert_eq!(sent, ["DATA 1 512"]);
        } else {
            assert_eq!(sent, ["ERROR 0"]);
        }
    }
    // 1 s, then doubling, five retries, then give up.
    assert_eq!(waits, [1, 3, 7, 15, 31, 47]);
    assert_eq!(s.transfer.outcome(), Some(&Outcome::TimedOut));
    assert_eq!(s.transfer.stats().blocks_retransmitted, 5);
}

#[test]
fn progress_resets_the_backoff() {
    let mut s = Server::start(2000, &[]);
    s.texts();
    s.wait(1);
    assert_eq!(s.texts(), ["DATA 1 512"]);
    s.wait(2);
    assert_eq!(s.texts(), ["DATA 1 512"]);
    s.ack(1);
    s.texts();
    assert_eq!(
        s.transfer.poll_timeout().unwrap() - s.now,
        Duration::from_secs(1)
    );
}

#[test]
fn options_get_an_oack_and_wait_for_ack_zero() {
    let mut s = Server::start(3000, &[("blksize", "1024"), ("tsize", "0"), ("foo", "bar")]);
    assert_eq!(s.texts(), ["OACK blksize=1024,tsize=3000"]);
    s.wait(1);
    assert_eq!(s.texts(), ["OACK blksize=1024,tsize=3000"]);
    s.ack(0);
    assert_eq!(s.texts(), ["DATA 1 1024"]);
    s.ack(0); // a late duplicate ACK 0 changes nothing
    assert!(s.texts().is_empty());
}

#[test]
fn client_timeout_option_sets_the_retransmission_timer() {
    let mut s = Server::start(3000, &[("timeout", "3")]);
    assert_eq!(s.texts(), ["OACK timeout=3"]);
    assert_eq!(
        s.transfer.poll_timeout().unwrap() - s.now,
        Duration::from_secs(3)
    );
}

#[test]
fn window_sends_ahead_and_rewinds_on_a_partial_ack() {
    let mut s = Server::start(512 * 10, &[("windowsize", "4")]);
    s.texts();
    s.ack(0);
    assert_eq!(
        s.texts(),
        ["DATA 1 512", "DATA 2 512", "DATA 3 512", "DATA 4 512"]
    );
    s.ack(4);
    assert_eq!(
        s.texts(),
        ["DATA 5 512", "DATA 6 512", "DATA 7 512", "DATA 8 512"]
    );
    // Block 6 was lost: the client acknowledges 5.
    s.ack(5);
    assert_eq!(
        s.texts(),
        ["DATA 6 512", "DATA 7 512", "DATA 8 512", "DATA 9 512"]
    );
    s.ack(9);
    assert_eq!(s.texts(), ["DATA 10 512", "DATA 11 0"]);
    s.ack(11);
    assert_eq!(s.transfer.outcome(), Some(&Outcome::Sent));
}

#[test]
fn ack_for_a_block_never_sent_is_ignored() {
    let mut s = Server::start(5000, &[]);
    s.texts();
    s.ack(7);
    assert!(s.texts().is_empty());
    assert_eq!(s.transfer.stats().blocks_acked, 0);
}

#[test]
fn stranger_gets_error_5_and_the_transfer_goes_on() {
    let mut s = Server::start(1000, &[]);
    s.texts();
    let stranger: SocketAddr = "127.0.0.3:5555".parse().unwrap();
    let mut ack1 = Vec::new();
    Packet::Ack { block: 1 }.encode(&mut ack1);
    s.transfer.handle_datagram(stranger, &ack1, s.now);
    let sent = s.sent();
    assert_eq!(sent, [(stranger, "ERROR 5".to_string())]);
    assert_eq!(s.transfer.stats().blocks_acked, 0);
    // Same address, other port: also a stranger.
    let other_port: SocketAddr = "127.0.0.2:40001".parse().unwrap();
    s.transfer.handle_datagram(other_port, &ack1, s.now);
    assert_eq!(s.sent(), [(other_port, "ERROR 5".to_string())]);
    s.ack(1);
    assert_eq!(s.texts(), ["DATA 2 488"]);
}

#[test]
fn a_flood_of_strangers_is_bounded() {
    let mut s = Server::start(1000, &[]);
    s.texts();
    for port in 0..1000u16 {
        let stranger = SocketAddr::from(([127, 0, 0, 3], port));
        s.transfer
            .handle_datagram(stranger, b"\x00\x04\x00\x01", s.now);
    }
    assert_eq!(s.texts().len(), 8);
}

#[test]
fn client_error_ends_the_transfer_quietly() {
    let mut s = Server::start(5000, &[]);
    s.texts();
    let mut buf = Vec::new();
    Packet::Error {
        code: ErrorCode::DiskFull,
        message: b"disk full",
    }
    .encode(&mut buf);
    s.transfer.handle_datagram(client(), &buf, s.now);
    assert_eq!(
        s.transfer.outcome(),
        Some(&Outcome::ClientError {
            code: ErrorCode::DiskFull,
            message: "disk full".into()
        })
    );
    assert!(s.texts().is_empty());
    assert!(s.transfer.is_finished());
    assert_eq!(s.transfer.poll_timeout(), None);
}

#[test]
fn garbage_from_the_client_is_ignored() {
    let mut s = Server::start(1000, &[]);
    s.texts();
    for junk in [
        &b""[..],
        b"\x00",
        b"\x00\x04\x00",
        b"\x00\x09abc",
        b"\x00\x03\x00\x01data",
    ] {
        s.transfer.handle_datagram(client(), junk, s.now);
    }
    assert!(s.texts().is_empty());
    s.ack(1);
    assert_eq!(s.texts(), ["DATA 2 488"]);
}

#[test]
fn overall_deadline_ends_a_slow_transfer() {
    let mut s = Server::start(512 * 1000, &[]);
    s.texts();
    // A client that acknowledges one block every 10 seconds (just inside
    // every retry timer) still cannot hold the transfer past the deadline.
    let mut block = 0u16;
    while s.transfer.outcome().is_none() {
        s.now += Duration::from_millis(900);
        s.transfer.handle_timeout(s.now);
        block += 1;
        s.ack(block);
        s.texts();
        assert!(block < 1000);
    }
    assert_eq!(s.transfer.outcome(), Some(&Outcome::DeadlineExceeded));
}
