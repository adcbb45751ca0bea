//! The bodies of the TFTP fuzz targets, with every property they check.
//!
//! This file is compiled twice: as the `tftp` module of the `phoneprov_fuzz`
//! library that the cargo-fuzz binaries in `fuzz_targets/` call, and as a
//! module that `crates/tftp/tests/it/fuzz_replay.rs` includes with `#[path]`,
//! so that `cargo test` replays the committed corpus through exactly these
//! checks without cargo-fuzz or a nightly compiler. It may therefore use only
//! `std` and `phoneprov_tftp`, and no `crate::` or `super::` paths.
//!
//! Every target returns quietly on input it cannot use and panics when the
//! code under test breaks a property.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use phoneprov_tftp::{
    negotiate, netascii, ClientConfig, Download, ErrorCode, Mode, Packet, Printable, RawOption,
    ReadTransfer, RequestName, ServerLimits, BLKSIZE_RANGE, MAX_ERROR_TEXT, MAX_NAME_LEN,
    TIMEOUT_RANGE,
};

/// Datagrams one step may queue beyond a window of DATA: an OACK, a few
/// ERROR 5 replies to strangers and one final ERROR.
const MAX_EXTRA_PER_STEP: usize = 16;

/// Timeouts a machine may need, once its peer has gone quiet, to give up.
const MAX_QUIET_TIMEOUTS: usize = 32;

/// One datagram: decoding never panics; what decodes encodes to bytes that
/// decode to the same packet (ERROR text comes back bounded and printable);
/// a request's name is either refused or safe to join to a root; its options
/// negotiate within the RFC ranges and never above what was asked.
pub fn tftp_packet(datagram: &[u8]) {
    let Ok(packet) = Packet::decode(datagram) else {
        return;
    };
    let mut wire = Vec::new();
    packet.encode(&mut wire);
    let again = Packet::decode(&wire).expect("an encoded packet decodes");
    match &packet {
        Packet::Error { code, message } => {
            assert!(
                wire.len() <= 4 + MAX_ERROR_TEXT + 1,
                "ERROR of {} bytes",
                wire.len()
            );
            let sent: Vec<u8> = message
                .iter()
                .take(MAX_ERROR_TEXT)
                .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'?' })
                .collect();
            let expected = Packet::Error {
                code: *code,
                message: &sent,
            };
            assert_eq!(again, expected);
            assert_printable(message);
        }
        _ => assert_eq!(again, packet),
    }
    let mut rewire = Vec::new();
    again.encode(&mut rewire);
    assert_eq!(rewire, wire, "encoding is not stable");

    if let Packet::Rrq(request) | Packet::Wrq(request) = &packet {
        assert_printable(request.filename);
        assert_printable(request.mode);
        check_name(request.filename);
    }
    if let Packet::Rrq(request) = &packet {
        if let Some(mode) = Mode::parse(request.mode) {
            check_negotiation(&request.options, mode);
        }
    }
}

/// A wire string shown in a log line must not carry control characters.
fn assert_printable(raw: &[u8]) {
    let shown = Printable(raw).to_string();
    assert!(
        !shown.chars().any(char::is_control),
        "Printable let a control character through: {shown:?}"
    );
}

/// An accepted name is a relative path that cannot leave the root.
fn check_name(raw: &[u8]) {
    let Ok(name) = RequestName::parse(raw) else {
        return;
    };
    assert_eq!(name.requested().as_bytes(), raw);
    let path = name.path();
    assert!(!path.is_empty() && path.len() <= MAX_NAME_LEN, "{path:?}");
    assert!(!path.starts_with('/'), "absolute path {path:?}");
    assert!(
        !path.contains(['\\', ':']),
        "separator or colon in {path:?}"
    );
    assert!(!path.chars().any(char::is_control), "control in {path:?}");
    for component in path.split('/') {
        // Covers "", ".", "..", "...", ".. " and every other dots-and-spaces mix.
        assert!(
            !component.trim_end_matches(['.', ' ']).is_empty(),
            "component {component:?} of {path:?}"
        );
    }
}

fn check_negotiation(options: &[RawOption<'_>], mode: Mode) {
    let limits = ServerLimits::default();
    let file_len = 123_456;
    let Ok(negotiated) = negotiate(options, mode, file_len, &limits) else {
        return;
    };
    assert!(BLKSIZE_RANGE.contains(&u32::from(negotiated.blksize)));
    assert!(negotiated.blksize <= limits.max_blksize);
    assert!((1..=limits.max_windowsize).contains(&negotiated.windowsize));
    if let Some(timeout) = negotiated.timeout {
        assert!(TIMEOUT_RANGE.contains(&(timeout.as_secs() as u32)));
    }
    for (i, (name, value)) in negotiated.granted.iter().enumerate() {
        assert!(
            negotiated.granted[..i].iter().all(|(n, _)| n != name),
            "{name} granted twice"
        );
        // The first occurrence of an option is the one negotiated.
        let (_, asked) = options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .expect("a granted option was asked for");
        let granted = decimal(value.as_bytes());
        match *name {
            "blksize" | "windowsize" => assert!(granted <= decimal(asked), "{name} raised"),
            "timeout" => assert_eq!(granted, decimal(asked)),
            "tsize" => {
                assert_eq!(mode, Mode::Octet);
                assert_eq!(granted, file_len);
            }
            other => panic!("granted unknown option {other}"),
        }
    }
}

fn decimal(raw: &[u8]) -> u64 {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal number: {:?}", Printable(raw).to_string()))
}

/// Reads a fuzz input front to back.
struct Input<'a>(&'a [u8]);

/// One thing that happens to a state machine: time passes, maybe a spurious
/// wake-up, then a datagram arrives from one of four addresses.
struct Record<'a> {
    source: usize,
    advance: Duration,
    spurious_wakeup: bool,
    datagram: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }

    /// A length-prefixed datagram: `len:u16be datagram[len]`. A short last
    /// datagram is taken as it is.
    fn datagram(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes([self.byte()?, self.byte()?]);
        Some(self.bytes(usize::from(len)))
    }

    /// `selector:u8 advance:u8 datagram`: selector bits 0-1 pick the source,
    /// bit 2 asks for a timeout call even if none is due; advance is in
    /// tenths of a second.
    fn record(&mut self) -> Option<Record<'a>> {
        let selector = self.byte()?;
        let advance = self.byte()?;
        Some(Record {
            source: usize::from(selector & 3),
            advance: Duration::from_millis(u64::from(advance) * 100),
            spurious_wakeup: selector & 4 != 0,
            datagram: self.datagram()?,
        })
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

const PHONE: SocketAddr = v4(127, 0, 0, 2, 40000);
/// Who a datagram to the server's transfer port comes from: mostly the
/// phone; a stranger on the phone's address, or elsewhere.
const SERVER_SOURCES: [SocketAddr; 4] = [
    PHONE,
    PHONE,
    v4(127, 0, 0, 2, 40001),
    v4(10, 0, 0, 9, 40000),
];

/// The server's read transfer, driven by a hostile or broken client.
///
/// Input: `size:u16be limits:u8 datagram record*`, where a datagram is
/// `len:u16be bytes[len]` and a record is `selector:u8 advance:u8 datagram`
/// (see `Input::record`). The first datagram is what the listener received;
/// it is decoded and negotiated as the listener would, and the transfer
/// serves a deterministic file of `size` bytes.
/// `limits` bits 0-4 are the largest window granted minus one, bits 5-7 the
/// retries. Everything sent must decode, go to the right peer, carry exactly
/// the file's bytes at the right offset, and stay bounded per step; once the
/// input runs out the transfer must end on its own.
pub fn tftp_server(input: &[u8]) {
    let mut input = Input(input);
    let (Some(hi), Some(lo), Some(limits), Some(rrq)) =
        (input.byte(), input.byte(), input.byte(), input.datagram())
    else {
        return;
    };
    let Ok(Packet::Rrq(request)) = Packet::decode(rrq) else {
        return;
    };
    let Some(mode) = Mode::parse(request.mode) else {
        return;
    };
    let limits = ServerLimits {
        max_windowsize: u16::from(limits & 0x1f) + 1,
        max_retries: u32::from(limits >> 5),
        ..ServerLimits::default()
    };
    let file: Vec<u8> = (0..usize::from(u16::from_be_bytes([hi, lo])))
        .map(|i| (i % 251) as u8)
        .collect();
    let Ok(negotiated) = negotiate(&request.options, mode, file.len() as u64, &limits) else {
        return;
    };
    let expected = ServerExpectations {
        wire: match mode {
            Mode::Octet => file.clone(),
            Mode::Netascii => netascii::encode(&file),
        },
        blksize: usize::from(negotiated.blksize),
        max_per_step: usize::from(negotiated.windowsize) + MAX_EXTRA_PER_STEP,
        oack: negotiated
            .granted
            .iter()
            .map(|(name, value)| (name.as_bytes().to_vec(), value.as_bytes().to_vec()))
            .collect(),
    };
    let mut now = Instant::now();
    let mut transfer = ReadTransfer::new(PHONE, file.into(), mode, &negotiated, &limits, now);
    expected.drain(&mut transfer);
    while let Some(record) = input.record() {
        now += record.advance;
        if record.spurious_wakeup || transfer.poll_timeout().is_some_and(|at| at <= now) {
            transfer.handle_timeout(now);
            expected.drain(&mut transfer);
        }
        transfer.handle_datagram(SERVER_SOURCES[record.source], record.datagram, now);
        expected.drain(&mut transfer);
    }
    for _ in 0..MAX_QUIET_TIMEOUTS {
        let Some(at) = transfer.poll_timeout() else {
            break;
        };
        now = now.max(at);
        transfer.handle_timeout(now);
        expected.drain(&mut transfer);
    }
    assert!(
        transfer.is_finished(),
        "the transfer outlived a quiet client"
    );
}

struct ServerExpectations {
    /// The file as it goes on the wire.
    wire: Vec<u8>,
    blksize: usize,
    max_per_step: usize,
    oack: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ServerExpectations {
    fn drain(&self, transfer: &mut ReadTransfer) {
        let mut buf = Vec::new();
        let mut sent = 0;
        while let Some(to) = transfer.poll_transmit(&mut buf) {
            sent += 1;
            assert!(
                sent <= self.max_per_step,
                "more than {sent} datagrams queued"
            );
            match Packet::decode(&buf) {
                Ok(Packet::Data { block, data }) => {
                    assert_eq!(to, PHONE, "DATA to a stranger");
                    assert!(data.len() <= self.blksize, "DATA over blksize");
                    // Files here stay under 65536 blocks, so block numbers never wrap.
                    assert_ne!(block, 0, "DATA block 0");
                    let offset = (usize::from(block) - 1) * self.blksize;
                    assert!(offset <= self.wire.len(), "DATA {block} past the end");
                    let end = (offset + self.blksize).min(self.wire.len());
                    assert!(
                        data == &self.wire[offset..end],
                        "DATA {block} has wrong bytes"
                    );
                }
                Ok(Packet::Oack { options }) => {
                    assert_eq!(to, PHONE, "OACK to a stranger");
                    let options: Vec<_> = options
                        .iter()
                        .map(|(name, value)| (name.to_vec(), value.to_vec()))
                        .collect();
                    assert_eq!(options, self.oack);
                }
                Ok(Packet::Error { code, .. }) => {
                    if to != PHONE {
                        assert_eq!(code, ErrorCode::UnknownTransferId);
                    }
                }
                other => panic!("the server sent {other:?} to {to}"),
            }
        }
        if transfer.is_finished() {
            assert_eq!(
                transfer.poll_timeout(),
                None,
                "a finished transfer wants a timer"
            );
            assert!(transfer.outcome().is_some(), "finished without an outcome");
        }
    }
}

const LISTENER: SocketAddr = v4(127, 0, 0, 1, 69);
/// Who a datagram to the client comes from: the server's transfer port, another
/// port of the server, or another host.
const CLIENT_SOURCES: [SocketAddr; 4] = [
    v4(127, 0, 0, 1, 50000),
    v4(127, 0, 0, 1, 50000),
    v4(127, 0, 0, 1, 50001),
    v4(10, 0, 0, 9, 50000),
];
const FILENAME: &str = "SEP0018B9FFFFFF.cnf.xml";

/// The client's download, driven by a hostile or broken server.
///
/// Input: `flags:u8 record*` (records as for [`tftp_server`]). flags bit 0: netascii; bit 1: ask for tsize;
/// bit 2: back off; bit 3: refuse files over 1000 bytes; bits 4-5: blksize
/// asked (none, 8, 512, 1428); bits 6-7: windowsize asked (none, 1, 4, 16).
/// The client may send only its RRQ (before any answer), ACKs to the server's
/// transfer port and ERRORs, a bounded number per step; it must never keep
/// more than its size limit; once the input runs out it must end on its own.
pub fn tftp_client(input: &[u8]) {
    let mut input = Input(input);
    let Some(flags) = input.byte() else {
        return;
    };
    let config = ClientConfig {
        mode: if flags & 1 == 0 {
            Mode::Octet
        } else {
            Mode::Netascii
        },
        tsize: flags & 2 != 0,
        backoff: flags & 4 != 0,
        max_size: if flags & 8 != 0 {
            1000
        } else {
            ClientConfig::default().max_size
        },
        blksize: [None, Some(8), Some(512), Some(1428)][usize::from(flags >> 4 & 3)],
        windowsize: [None, Some(1), Some(4), Some(16)][usize::from(flags >> 6)],
        ..ClientConfig::default()
    };
    let mut now = Instant::now();
    let mut download = Download::new(LISTENER, FILENAME, config.clone(), now);
    drain_client(&mut download, &config);
    while let Some(record) = input.record() {
        now += record.advance;
        if record.spurious_wakeup || download.poll_timeout().is_some_and(|at| at <= now) {
            download.handle_timeout(now);
            drain_client(&mut download, &config);
        }
        download.handle_datagram(CLIENT_SOURCES[record.source], record.datagram, now);
        drain_client(&mut download, &config);
    }
    for _ in 0..MAX_QUIET_TIMEOUTS {
        let Some(at) = download.poll_timeout() else {
            break;
        };
        now = now.max(at);
        download.handle_timeout(now);
        drain_client(&mut download, &config);
    }
    assert!(download.is_closed(), "the download outlived a quiet server");
    assert!(download.result().is_some(), "closed without a result");
}

fn drain_client(download: &mut Download, config: &ClientConfig) {
    let mut buf = Vec::new();
    let mut sent = 0;
    while let Some(to) = download.poll_transmit(&mut buf) {
        sent += 1;
        assert!(
            sent <= MAX_EXTRA_PER_STEP,
            "more than {sent} datagrams queued"
        );
        match Packet::decode(&buf) {
            Ok(Packet::Rrq(request)) => {
                assert_eq!(to, LISTENER, "RRQ to {to}");
                assert_eq!(download.peer(), None, "RRQ after the server answered");
                assert_eq!(request.filename, FILENAME.as_bytes());
                assert_eq!(Mode::parse(request.mode), Some(config.mode));
            }
            Ok(Packet::Ack { .. }) => assert_eq!(Some(to), download.peer(), "ACK to {to}"),
            Ok(Packet::Error { .. }) => {}
            other => panic!("the client sent {other:?} to {to}"),
        }
    }
    assert!(
        download.received_len() as u64 <= config.max_size,
        "kept more than max_size"
    );
    if download.tsize().is_some() {
        assert!(config.tsize, "took a tsize it did not ask for");
    }
    if download.is_closed() {
        assert_eq!(
            download.poll_timeout(),
            None,
            "a closed download wants a timer"
        );
    }
}
