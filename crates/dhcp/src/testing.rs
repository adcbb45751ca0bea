//! Test fixtures shared by the unit and property tests: an office network,
//! and client packets built with dhcproto, as a phone would send them.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use dhcproto::v4::{self, DhcpOption, Encodable, MessageType, OptionCode};

use crate::{DhcpSettings, Engine, HwAddr, Mode, Pool, Source};

pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const SECOND_TFTP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
pub const RESERVED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
/// Listed with a reservation (RESERVED).
pub const PHONE: HwAddr = HwAddr::new([0x00, 0x18, 0xB9, 0x00, 0x00, 0x01]);
/// Listed without a reservation.
pub const LISTED: HwAddr = HwAddr::new([0x00, 0x1D, 0xA2, 0x19, 0xAF, 0xA7]);
/// A Cisco phone nobody listed.
pub const UNLISTED_CISCO: HwAddr = HwAddr::new([0x00, 0x23, 0xEB, 0xC6, 0xD1, 0x3E]);
/// A PC.
pub const PC: HwAddr = HwAddr::new([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

pub const VENDOR_CLASS_7940: &[u8] = b"Cisco Systems, Inc. IP Phone CP-7940G\0";
/// What a 7940 asks for in option 55.
pub const PRL_7940: [u8; 7] = [1, 3, 6, 15, 42, 66, 150];

pub fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn settings(mode: Mode) -> DhcpSettings {
    let mut s = DhcpSettings::new(mode, SERVER, Ipv4Addr::new(255, 255, 255, 0));
    s.router = Some(ROUTER);
    s.dns = vec![ROUTER];
    s.domain = Some("office.example".to_owned());
    s.ntp = vec![ROUTER];
    s.tftp_servers = vec![SERVER, SECOND_TFTP];
    s.pool = Some(Pool {
        first: Ipv4Addr::new(10, 0, 0, 100),
        last: Ipv4Addr::new(10, 0, 0, 109),
    });
    s.reservations.insert(PHONE, RESERVED);
    s.known.insert(LISTED);
    s
}

pub fn engine(mode: Mode) -> Engine {
    Engine::new(settings(mode)).unwrap()
}

/// A datagram from a client on the local link.
pub fn from_client() -> Source {
    Source {
        from: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        broadcast: true,
    }
}

/// A client packet: message type and MAC, then whatever `edit` sets.
pub fn packet(kind: MessageType, mac: HwAddr, edit: impl FnOnce(&mut v4::Message)) -> Vec<u8> {
    let mut m = v4::Message::new_with_id(
        0x1234_5678,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac.octets(),
    );
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    edit(&mut m);
    m.to_vec().unwrap()
}

/// A 7940's DISCOVER: vendor class with its NUL, and its option 55.
pub fn discover_7940(mac: HwAddr) -> Vec<u8> {
    packet(MessageType::Discover, mac, |m| {
        m.opts_mut()
            .insert(DhcpOption::ClassIdentifier(VENDOR_CLASS_7940.to_vec()));
        m.opts_mut().insert(DhcpOption::ParameterRequestList(
            PRL_7940.iter().map(|&c| OptionCode::from(c)).collect(),
        ));
    })
}

pub fn set_requested(m: &mut v4::Message, ip: Ipv4Addr) {
    m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
}

pub fn set_server_id(m: &mut v4::Message, ip: Ipv4Addr) {
    m.opts_mut().insert(DhcpOption::ServerIdentifier(ip));
}

/// The options of a reply, in wire order, each code's pieces joined.
pub fn options(reply: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut rest = &reply[240..];
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            0 => rest = tail,
            255 => break,
            _ => {
                let len = usize::from(tail[0]);
                let value = &tail[1..1 + len];
                match out.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, v)) => v.extend_from_slice(value),
                    None => out.push((code, value.to_vec())),
                }
                rest = &tail[1 + len..];
            }
        }
    }
    out
}

pub fn option(reply: &[u8], code: u8) -> Option<Vec<u8>> {
    options(reply)
        .into_iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v)
}

pub fn yiaddr(reply: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(reply[16], reply[17], reply[18], reply[19])
}
