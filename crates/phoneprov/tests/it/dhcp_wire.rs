//! DHCP packets as the system tests send and read them: a client message as a
//! 7940 sends it (built with dhcproto), the raw value of any option of a
//! reply (phoneprov's option 150 is a list, which dhcproto reads as one
//! address), and a whole DISCOVER–OFFER–REQUEST–ACK over a [`Raw`] socket.

use std::net::Ipv4Addr;

use dhcproto::v4::{self, Decodable, DhcpOption, Encodable, MessageType, OptionCode};

use crate::harness::Raw;

/// Option 60 of a 7940, with the trailing NUL the phone sends.
pub const VENDOR_CLASS_7940: &[u8] = b"Cisco Systems, Inc. IP Phone CP-7940G\0";
/// What a 7940 asks for in option 55.
pub const PRL_7940: [u8; 7] = [1, 3, 6, 15, 42, 66, 150];

/// A client packet from `mac` as a 7940 sends it (xid 0x79400001, no
/// broadcast flag, options 53, 60 and 55); `edit` adds the rest.
pub fn packet(kind: MessageType, mac: [u8; 6], edit: impl FnOnce(&mut v4::Message)) -> Vec<u8> {
    let zero = Ipv4Addr::UNSPECIFIED;
    let mut m = v4::Message::new_with_id(0x7940_0001, zero, zero, zero, zero, &mac);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m.opts_mut()
        .insert(DhcpOption::ClassIdentifier(VENDOR_CLASS_7940.to_vec()));
    m.opts_mut().insert(DhcpOption::ParameterRequestList(
        PRL_7940.iter().map(|&c| OptionCode::from(c)).collect(),
    ));
    edit(&mut m);
    m.to_vec().unwrap()
}

/// Every option of a reply, in the order sent, as (code, raw value).
pub fn options(reply: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut found = Vec::new();
    let mut rest = reply.get(240..).unwrap_or_default();
    while let [first, tail @ ..] = rest {
        match *first {
            0 => rest = tail,
            255 => break,
            code => {
                let len = usize::from(tail[0]);
                found.push((code, tail[1..1 + len].to_vec()));
                rest = &tail[1 + len..];
            }
        }
    }
    found
}

/// The raw value of option `code` in a reply.
pub fn option(reply: &[u8], code: u8) -> Option<Vec<u8>> {
    options(reply)
        .into_iter()
        .find(|(found, _)| *found == code)
        .map(|(_, value)| value)
}

pub fn decode(reply: &[u8]) -> v4::Message {
    v4::Message::decode(&mut dhcproto::Decoder::new(reply)).expect("a DHCP reply")
}

pub fn message_type(reply: &v4::Message) -> Option<MessageType> {
    match reply.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(kind)) => Some(*kind),
        _ => None,
    }
}

/// DISCOVER then REQUEST from `mac` (each edited by `edit`, e.g. to set
/// giaddr or the xid) to the server `server_id`; asserts an OFFER then an
/// ACK of the offered address, and returns both replies as sent.
pub fn dora(
    client: &Raw,
    mac: [u8; 6],
    server_id: Ipv4Addr,
    edit: impl Fn(&mut v4::Message),
) -> (Vec<u8>, Vec<u8>) {
    client.send(&packet(MessageType::Discover, mac, &edit));
    let (offer, _) = client.recv();
    assert_eq!(message_type(&decode(&offer)), Some(MessageType::Offer));
    let offered = decode(&offer).yiaddr();
    client.send(&packet(MessageType::Request, mac, |m| {
        edit(m);
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(offered));
        m.opts_mut().insert(DhcpOption::ServerIdentifier(server_id));
    }));
    let (ack, _) = client.recv();
    let decoded = decode(&ack);
    assert_eq!(message_type(&decoded), Some(MessageType::Ack));
    assert_eq!(decoded.yiaddr(), offered);
    (offer, ack)
}
