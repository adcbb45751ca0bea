//! Looking for other DHCP servers on a network, the packets only: the
//! DHCPDISCOVER phoneprov sends as a made-up client, and what it reads from
//! each DHCPOFFER that comes back. The socket side is
//! `phoneprov_server::dhcp_probe`.
//!
//! The probe never sends a DHCPREQUEST, so no server commits a lease to it;
//! a server that holds an offered address for a while (as phoneprov does
//! for a minute) lets it go again when the offer times out.
//!
//! Offers are read here, not with dhcproto's decoder: a server's offer can
//! carry option 150 as a list of addresses, which dhcproto reads as exactly
//! one address, and its decoder then quietly stops reading every option
//! after it. This reader is lenient where that one is strict: an option cut
//! short at the end of the packet ends the options, and what was read
//! before it is kept, because the point is to name the server, not to judge
//! it.

use std::net::Ipv4Addr;

use dhcproto::v4::{self, DhcpOption, Encodable, Flags, MessageType, OptionCode};

use crate::client::HwAddr;

/// Option 60 of the probe, so that a network's administrator who finds it
/// in their DHCP server's log can tell what it was.
pub const PROBE_VENDOR_CLASS: &str = "phoneprov probe for other DHCP servers, takes no lease";

/// Option 55 of the probe: mask, router, DNS, domain, server identifier,
/// TFTP server name (66) and TFTP server addresses (150), the options that
/// say whose network it is and where phones would be sent.
pub const PROBE_PARAMETERS: [u8; 7] = [1, 3, 6, 15, 54, 66, 150];

const HEADER_LEN: usize = 236;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// A MAC for the probe's made-up client from six random bytes: locally
/// administered (bit 1 of the first octet set) and unicast (bit 0 clear),
/// so it can never be a real device's.
pub fn probe_hwaddr(random: [u8; 6]) -> HwAddr {
    let mut mac = random;
    mac[0] = (mac[0] & 0b1111_1100) | 0b0000_0010;
    HwAddr::new(mac)
}

/// The probe's DHCPDISCOVER from `hwaddr` with transaction id `xid`. The
/// broadcast flag is set, so servers answer by broadcast: the made-up
/// client has no address to be answered at.
pub fn probe_discover(hwaddr: HwAddr, xid: u32) -> Vec<u8> {
    let zero = Ipv4Addr::UNSPECIFIED;
    let mut message = v4::Message::new_with_id(xid, zero, zero, zero, zero, &hwaddr.octets());
    message.set_flags(Flags::default().set_broadcast());
    let options = message.opts_mut();
    options.insert(DhcpOption::MessageType(MessageType::Discover));
    options.insert(DhcpOption::ParameterRequestList(
        PROBE_PARAMETERS
            .iter()
            .map(|&c| OptionCode::from(c))
            .collect(),
    ));
    options.insert(DhcpOption::ClassIdentifier(
        PROBE_VENDOR_CLASS.as_bytes().to_vec(),
    ));
    options.insert(DhcpOption::MaxMessageSize(1500));
    message
        .to_vec()
        .expect("a DISCOVER of fixed options always encodes")
}

/// What a DHCPOFFER says, as far as telling whose server it is and where
/// it would send a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub xid: u32,
    /// The client it answers (chaddr).
    pub hwaddr: HwAddr,
    /// The address offered (yiaddr).
    pub offered: Ipv4Addr,
    /// `siaddr`, the next server (where BOOTP and some phones fetch from),
    /// when not 0.0.0.0.
    pub next_server: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 66, trailing NULs removed, anything unprintable escaped.
    pub tftp_server_name: Option<String>,
    /// Option 150, in the server's order.
    pub tftp_servers: Vec<Ipv4Addr>,
}

/// Why a datagram is not an offer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnOffer {
    #[error("{0} bytes is shorter than a DHCP message (240)")]
    TooShort(usize),
    #[error("op {0} is not a BOOTREPLY")]
    NotAReply(u8),
    #[error("no DHCP magic cookie: a BOOTP reply")]
    NoMagicCookie,
    #[error("message type {0:?} is not DHCPOFFER (2)")]
    OtherType(Option<u8>),
}

/// Reads a server's reply; an error for anything but a DHCPOFFER.
pub fn read_offer(packet: &[u8]) -> Result<Offer, NotAnOffer> {
    if packet.len() < HEADER_LEN + MAGIC_COOKIE.len() {
        return Err(NotAnOffer::TooShort(packet.len()));
    }
    if packet[0] != 2 {
        return Err(NotAnOffer::NotAReply(packet[0]));
    }
    if packet[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
        return Err(NotAnOffer::NoMagicCookie);
    }
    let mut options = Vec::new();
    read_area(&packet[HEADER_LEN + 4..], &mut options);
    // Option overload (52): `file` (1), `sname` (2) or both (3) hold options too.
    if let Some(&[which]) = get(&options, 52) {
        if which & 1 != 0 {
            read_area(&packet[108..236], &mut options);
        }
        if which & 2 != 0 {
            read_area(&packet[44..108], &mut options);
        }
    }
    match get(&options, 53) {
        Some([2]) => {}
        Some(&[other]) => return Err(NotAnOffer::OtherType(Some(other))),
        _ => return Err(NotAnOffer::OtherType(None)),
    }
    let address_at =
        |at: usize| Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    let one_address = |code: u8| match get(&options, code) {
        Some(&[a, b, c, d]) => Some(Ipv4Addr::new(a, b, c, d)),
        _ => None,
    };
    let addresses = |code: u8| -> Vec<Ipv4Addr> {
        get(&options, code).map_or_else(Vec::new, |value| {
            value
                .chunks_exact(4)
                .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
                .collect()
        })
    };
    let next_server = Some(address_at(20)).filter(|ip| !ip.is_unspecified());
    let mut hwaddr = [0u8; 6];
    hwaddr.copy_from_slice(&packet[28..34]);
    Ok(Offer {
        xid: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        hwaddr: HwAddr::new(hwaddr),
        offered: address_at(16),
        next_server,
        server_id: one_address(54),
        subnet_mask: one_address(1),
        routers: addresses(3),
        tftp_server_name: get(&options, 66).map(|value| {
            let end = value.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            crate::request::printable(&value[..end])
        }),
        tftp_servers: addresses(150),
    })
}

/// The joined value of option `code` (RFC 3396: repeated codes are one option).
fn get(options: &[(u8, Vec<u8>)], code: u8) -> Option<&[u8]> {
    options
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v.as_slice())
}

/// Reads one options area into `options`, to End, the end of the area, or
/// an option that runs past it (whose remains are dropped).
fn read_area(mut area: &[u8], options: &mut Vec<(u8, Vec<u8>)>) {
    while let Some((&code, rest)) = area.split_first() {
        match code {
            0 => area = rest,
            255 => return,
            _ => {
                let Some((&len, rest)) = rest.split_first() else {
                    return;
                };
                let Some(value) = rest.get(..usize::from(len)) else {
                    return;
                };
                match options.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, joined)) => joined.extend_from_slice(value),
                    None => options.push((code, value.to_vec())),
                }
                area = &rest[usize::from(len)..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dhcproto::v4::Decodable;

    use super::*;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    #[test]
    fn the_probe_mac_is_locally_administered_and_unicast() {
        for random in [
            [0xFF; 6],
            [0x00; 6],
            [0x01, 2, 3, 4, 5, 6],
            [0xAC, 0, 0, 0, 0, 1],
        ] {
            let first = probe_hwaddr(random).octets()[0];
            assert_eq!(first & 0b10, 0b10, "{random:?}: not locally administered");
            assert_eq!(first & 0b01, 0, "{random:?}: multicast");
            assert_eq!(probe_hwaddr(random).octets()[1..], random[1..]);
        }
    }

    #[test]
    fn the_discover_asks_by_broadcast_and_names_phoneprov() {
        let bytes = probe_discover(HwAddr::new(MAC), 0xDEAD_BEEF);
        let message = v4::Message::decode(&mut dhcproto::Decoder::new(&bytes)).unwrap();
        assert_eq!(message.opcode(), v4::Opcode::BootRequest);
        assert_eq!(message.xid(), 0xDEAD_BEEF);
        assert!(message.flags().broadcast());
        assert_eq!(message.chaddr(), MAC);
        assert_eq!(message.ciaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            message.opts().get(OptionCode::MessageType),
            Some(&DhcpOption::MessageType(MessageType::Discover))
        );
        let Some(DhcpOption::ParameterRequestList(asked)) =
            message.opts().get(OptionCode::ParameterRequestList)
        else {
            panic!("no option 55")
        };
        let asked: Vec<u8> = asked.iter().map(|&c| u8::from(c)).collect();
        assert_eq!(asked, PROBE_PARAMETERS);
        assert_eq!(
            message.opts().get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(
                PROBE_VENDOR_CLASS.as_bytes().to_vec()
            ))
        );
        // Never a request for an address or a lease.
        assert!(message.opts().get(OptionCode::RequestedIpAddress).is_none());
        assert!(message.opts().get(OptionCode::ServerIdentifier).is_none());
    }

    /// An offer as a server sends it: the header from dhcproto, then the
    /// options area appended raw, so lists and odd lengths can be written.
    fn offer_with(options: &[u8], edit: impl FnOnce(&mut v4::Message)) -> Vec<u8> {
        let mut message = v4::Message::new_with_id(
            7,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 0, 0, 57),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &MAC,
        );
        message.set_opcode(v4::Opcode::BootReply);
        edit(&mut message);
        let mut bytes = message.to_vec().unwrap();
        bytes.truncate(HEADER_LEN + 4);
        bytes.extend_from_slice(options);
        bytes
    }

    #[test]
    fn an_offer_is_read_with_its_tftp_options() {
        let bytes = offer_with(
            &[
                53, 1, 2, // offer
                54, 4, 10, 0, 0, 1, // server id
                1, 4, 255, 255, 255, 0, // mask
                3, 8, 10, 0, 0, 1, 10, 0, 0, 254, // two routers
                66, 9, b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'5',
                0, // NUL-terminated, as dnsmasq
                150, 8, 10, 0, 0, 5, 10, 0, 0, 6, // a list of two
                255,
            ],
            |m| {
                m.set_siaddr(Ipv4Addr::new(10, 0, 0, 5));
            },
        );
        let offer = read_offer(&bytes).unwrap();
        assert_eq!(
            offer,
            Offer {
                xid: 7,
                hwaddr: HwAddr::new(MAC),
                offered: Ipv4Addr::new(10, 0, 0, 57),
                next_server: Some(Ipv4Addr::new(10, 0, 0, 5)),
                server_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
                subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
                routers: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 254)],
                tftp_server_name: Some("10.0.0.5".into()),
                tftp_servers: vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)],
            }
        );
    }

    #[test]
    fn an_offer_without_tftp_options_reads_as_none() {
        let offer = read_offer(&offer_with(&[53, 1, 2, 54, 4, 10, 0, 0, 1, 255], |_| {})).unwrap();
        assert_eq!(offer.next_server, None);
        assert_eq!(offer.tftp_server_name, None);
        assert!(offer.tftp_servers.is_empty());
        assert!(offer.routers.is_empty());
    }

    #[test]
    fn options_before_a_truncated_one_are_kept() {
        let offer = read_offer(&offer_with(
            &[53, 1, 2, 54, 4, 10, 0, 0, 1, 66, 40, b'x'],
            |_| {},
        ))
        .unwrap();
        assert_eq!(offer.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(offer.tftp_server_name, None);
    }

    #[test]
    fn overloaded_options_in_sname_are_read() {
        let mut bytes = offer_with(&[53, 1, 2, 52, 1, 2, 255], |_| {});
        bytes[44..51].copy_from_slice(&[54, 4, 10, 0, 0, 9, 255]);
        assert_eq!(
            read_offer(&bytes).unwrap().server_id,
            Some(Ipv4Addr::new(10, 0, 0, 9))
        );
    }

    #[test]
    fn anything_but_an_offer_is_refused() {
        assert_eq!(read_offer(&[2; 100]), Err(NotAnOffer::TooShort(100)));
        assert_eq!(
            read_offer(&offer_with(&[53, 1, 5, 255], |_| {})),
            Err(NotAnOffer::OtherType(Some(5)))
        );
        assert_eq!(
            read_offer(&offer_with(&[255], |_| {})),
            Err(NotAnOffer::OtherType(None))
        );
        let discover = probe_discover(HwAddr::new(MAC), 1);
        assert_eq!(read_offer(&discover), Err(NotAnOffer::NotAReply(1)));
        let mut bootp = offer_with(&[53, 1, 2, 255], |_| {});
        bootp[HEADER_LEN] = 0;
        assert_eq!(read_offer(&bootp), Err(NotAnOffer::NoMagicCookie));
    }

    #[test]
    fn reading_never_panics_on_short_or_odd_packets() {
        let base = offer_with(
            &[53, 1, 2, 3, 3, 1, 2, 3, 150, 5, 1, 2, 3, 4, 5, 255],
            |_| {},
        );
        for len in 0..base.len() {
            let _ = read_offer(&base[..len]);
        }
        let offer = read_offer(&base).unwrap();
        assert!(offer.routers.is_empty(), "3 bytes make no address");
        assert_eq!(offer.tftp_servers, vec![Ipv4Addr::new(1, 2, 3, 4)]);
    }
}
