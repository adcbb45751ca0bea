//! The body of the DHCP fuzz target, with every property it checks.
//!
//! This file is compiled twice: as the `dhcp` module of the `phoneprov_fuzz`
//! library that the cargo-fuzz binary `dhcp_engine` calls, and as a module
//! that `crates/dhcp/tests/it/fuzz_replay.rs` includes with `#[path]`, so
//! that `cargo test -p phoneprov-dhcp` replays the committed corpus through
//! exactly these checks. It may therefore use only `std` and
//! `phoneprov_dhcp`, and no `crate::` or `super::` paths.
//!
//! Input layout: one settings byte, then datagrams, each framed by its
//! length (u16, big-endian; a frame cut short keeps what is there). Bits of
//! the settings byte: 0–1 the mode (pool, cisco, known, off), 2
//! authoritative, 3 whether datagrams arrive by broadcast, 4–7 the clock's
//! step between datagrams in units of 37 s (leases last 10 minutes, so a
//! run sees offers, leases and decline holds expire).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use phoneprov_dhcp::{
    Destination, DhcpEvent, DhcpSettings, Engine, HwAddr, LeaseChange, LeaseState, LeaseView,
    MemoryLeases, Mode, NewLeaseBudget, Pool, Source, Standing,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SECOND_TFTP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

fn settings(mode: Mode, authoritative: bool) -> DhcpSettings {
    let mut s = DhcpSettings::new(mode, SERVER, Ipv4Addr::new(255, 255, 255, 0));
    s.router = Some(ROUTER);
    s.dns = vec![ROUTER];
    s.domain = Some("office.example".to_owned());
    s.tftp_servers = vec![SERVER, SECOND_TFTP];
    s.pool = Some(Pool {
        first: Ipv4Addr::new(10, 0, 0, 100),
        last: Ipv4Addr::new(10, 0, 0, 109),
    });
    s.reservations.insert(
        HwAddr::new([0x00, 0x18, 0xB9, 0, 0, 1]),
        Ipv4Addr::new(10, 0, 0, 50),
    );
    s.known
        .insert(HwAddr::new([0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF]));
    s.authoritative = authoritative;
    s.lease_time = Duration::from_secs(600);
    s.decline_hold = Duration::from_secs(300);
    s
}

fn ipv4(bytes: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
}

/// The options of a reply are well formed: TLVs up to an End, message type first.
fn check_reply_options(reply: &[u8]) -> u8 {
    assert_eq!(&reply[236..240], &[99, 130, 83, 99], "magic cookie");
    let mut rest = &reply[240..];
    let mut first = None;
    loop {
        let (&code, tail) = rest.split_first().expect("options end with End");
        match code {
            255 => break,
            0 => rest = tail,
            _ => {
                let len = usize::from(*tail.first().expect("an option length"));
                let value = tail.get(1..1 + len).expect("an option within the reply");
                first.get_or_insert((code, value.to_vec()));
                rest = &tail[1 + len..];
            }
        }
    }
    let (code, value) = first.expect("at least one option");
    assert_eq!(code, 53, "the message type comes first");
    assert!(
        matches!(value.as_slice(), [2] | [5] | [6]),
        "OFFER, ACK or NAK"
    );
    value[0]
}

/// Datagrams from random clients: the engine never panics; a reply is a
/// well-formed BOOTREPLY to the same transaction and MAC, sent where RFC
/// 2131 §4.1 says; nobody is answered in `off` mode, only listed phones in
/// `known` mode, and a NAK only when authoritative or to a client that chose
/// this server; every Offered or Bound write is for an address free for that
/// client, inside the pool or the phone's reservation, never the server's,
/// router's or TFTP servers' addresses.
pub fn dhcp_engine(data: &[u8]) {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let mode = [Mode::Pool, Mode::Cisco, Mode::Known, Mode::Off][usize::from(config & 3)];
    let authoritative = config & 4 != 0;
    let s = settings(mode, authoritative);
    let engine = Engine::new(s.clone()).expect("valid settings");
    let source = Source {
        from: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        broadcast: config & 8 != 0,
    };
    let step = Duration::from_secs(37 * u64::from(config >> 4));
    let mut table = MemoryLeases::new();
    let mut budget = NewLeaseBudget::new(20);
    let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);

    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (packet, after) = tail.split_at(len);
        rest = after;

        let decision = engine.decide(packet, source, now, &table, &mut budget);
        let standing = decision.sender.as_ref().map(|s| s.standing);
        if mode == Mode::Off {
            assert!(decision.reply.is_none() && decision.changes.is_empty());
        }
        if mode == Mode::Known && (decision.reply.is_some() || !decision.changes.is_empty()) {
            assert_eq!(
                standing,
                Some(Standing::Listed),
                "known mode answered an unlisted client"
            );
        }
        if let Some(reply) = &decision.reply {
            let bytes = &reply.bytes;
            assert!(bytes.len() >= 300, "a reply of {} bytes", bytes.len());
            assert_eq!(bytes[0], 2, "BOOTREPLY");
            assert_eq!(&bytes[4..8], &packet[4..8], "xid");
            assert_eq!(&bytes[28..34], &packet[28..34], "chaddr");
            let kind = check_reply_options(bytes);
            let (giaddr, ciaddr, yiaddr) = (ipv4(packet, 24), ipv4(packet, 12), ipv4(bytes, 16));
            match reply.destination {
                Destination::Relay(ip) => assert_eq!(ip, giaddr),
                Destination::Broadcast => assert!(giaddr.is_unspecified()),
                Destination::Unicast { ip, .. } => {
                    assert!(giaddr.is_unspecified() && kind != 6);
                    assert!(ip == ciaddr || ip == yiaddr, "unicast to {ip}");
                }
            }
            if kind == 6 && !authoritative {
                assert!(matches!(decision.event, DhcpEvent::Naked { .. }));
                // Only a client that chose this server: option 54 is ours.
                let chose_us = packet.windows(6).any(|w| w == [54, 4, 10, 0, 0, 2]);
                assert!(chose_us, "a NAK without authority");
            }
        }
        for LeaseChange::Put(lease) in &decision.changes {
            if matches!(lease.state, LeaseState::Offered | LeaseState::Bound) {
                if let Some(record) = table.by_address(lease.ip) {
                    assert!(
                        !record.holds(now) || (record.is_claim() && record.client == lease.client),
                        "{} given to {} while held: {record:?}",
                        lease.ip,
                        lease.client
                    );
                }
                let reserved = s.reservations.get(&lease.hwaddr) == Some(&lease.ip);
                assert!(
                    reserved || s.pool.is_some_and(|p| p.contains(lease.ip)),
                    "{} outside the pool",
                    lease.ip
                );
                assert!(![SERVER, ROUTER, SECOND_TFTP].contains(&lease.ip));
            }
        }
        for change in &decision.changes {
            table.apply(change);
        }
        now += step;
    }
}
