//! Building the server's replies with dhcproto, and where they go
//! (RFC 2131 §4.1).

use std::net::Ipv4Addr;

use dhcproto::v4::{self, DhcpOption, Encodable, OptionCode, UnknownOption};
use dhcproto::Encoder;

use crate::client::HwAddr;
use crate::request::ClientMessage;

/// Where the driver sends a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// To the relay agent in `giaddr`, on the server port 67.
    Relay(Ipv4Addr),
    /// To this address on the client port 68. The client may have no ARP
    /// entry yet (an OFFER to a booting phone): the driver then puts
    /// `hwaddr` in the ARP cache, or sends to it at layer 2.
    Unicast { ip: Ipv4Addr, hwaddr: HwAddr },
    /// To 255.255.255.255:68.
    Broadcast,
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub destination: Destination,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Offer,
    Ack,
    /// The DHCPACK to a DHCPINFORM: options only.
    InformAck,
    Nak,
}

/// BOOTP's minimum message; some clients drop anything shorter (dnsmasq
/// notes the Linux kernel's client does).
const MIN_REPLY_LEN: usize = 300;
/// Longest reply when the client gives no option 57: 576 bytes of IP
/// datagram less the IP and UDP headers.
const DEFAULT_MAX_REPLY_LEN: usize = 576 - 28;

/// RFC 2131 §4.1, in its order: a relay first; else a NAK is broadcast; else
/// the client's own address (renewing, rebinding, INFORM); else broadcast if
/// the client asked for it; else unicast to the new address and the MAC.
pub(crate) fn destination(
    message: &ClientMessage,
    kind: ReplyKind,
    yiaddr: Ipv4Addr,
) -> Destination {
    if !message.giaddr.is_unspecified() {
        Destination::Relay(message.giaddr)
    } else if kind == ReplyKind::Nak {
        Destination::Broadcast
    } else if !message.ciaddr.is_unspecified() {
        Destination::Unicast {
            ip: message.ciaddr,
            hwaddr: message.hwaddr,
        }
    } else if message.broadcast_flag() || yiaddr.is_unspecified() {
        Destination::Broadcast
    } else {
        Destination::Unicast {
            ip: yiaddr,
            hwaddr: message.hwaddr,
        }
    }
}

/// Option 150: the TFTP servers as one list of 4-byte addresses (dhcproto's
/// `TFTPServerAddress` holds a single address). Split into options of whole
/// addresses if ever longer than 255 bytes (RFC 3396).
pub(crate) fn encode_tftp_servers(
    servers: &[Ipv4Addr],
    e: &mut Encoder<'_>,
) -> dhcproto::error::EncodeResult<()> {
    v4::encode_long_opt_chunks(
        OptionCode::TFTPServerAddress,
        4,
        servers,
        |ip, e| e.write_u32((*ip).into()),
        e,
    )
}

/// One option of a reply: a dhcproto option, or the option-150 list.
pub(crate) enum ReplyOption {
    Plain(DhcpOption),
    TftpServers(Vec<Ipv4Addr>),
}

impl ReplyOption {
    fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        // Encoding into a Vec cannot fail.
        let _ = match self {
            ReplyOption::Plain(option) => option.encode(&mut e),
            ReplyOption::TftpServers(servers) => encode_tftp_servers(servers, &mut e),
        };
        buf
    }
}

/// The header fields of a reply that differ between kinds.
pub(crate) struct Header {
    pub kind: ReplyKind,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
}

/// Encodes a reply to `message`: the header per RFC 2131 Table 3, then the
/// options in the order given (message type and server identifier first),
/// leaving out any option that would make the reply longer than the client
/// accepts (option 57), then End, padded to 300 bytes.
pub(crate) fn encode(message: &ClientMessage, header: &Header, options: &[ReplyOption]) -> Vec<u8> {
    let mut flags = v4::Flags::new(message.flags);
    // RFC 2131 §4.3.2: a NAK through a relay asks it to broadcast.
    if header.kind == ReplyKind::Nak && !message.giaddr.is_unspecified() {
        flags = flags.set_broadcast();
    }
    let mut reply = v4::Message::new_with_id(
        message.xid,
        header.ciaddr,
        header.yiaddr,
        header.siaddr,
        message.giaddr,
        &message.hwaddr.octets(),
    );
    reply
        .set_opcode(v4::Opcode::BootReply)
        .set_htype(message.htype.into())
        .set_flags(flags);
    // With no options in it, dhcproto writes the header and magic cookie only.
    let mut bytes = reply.to_vec().unwrap_or_default();
    let limit = message
        .max_message_size
        .map_or(DEFAULT_MAX_REPLY_LEN, |size| usize::from(size) - 28);
    for option in options {
        let encoded = option.to_bytes();
        if bytes.len() + encoded.len() < limit {
            bytes.extend_from_slice(&encoded);
        }
    }
    bytes.push(u8::from(OptionCode::End));
    if bytes.len() < MIN_REPLY_LEN {
        bytes.resize(MIN_REPLY_LEN, 0);
    }
    bytes
}

/// Option 82, echoed as received.
pub(crate) fn relay_agent_information(data: &[u8]) -> ReplyOption {
    ReplyOption::Plain(DhcpOption::Unknown(UnknownOption::new(
        OptionCode::RelayAgentInformation,
        data.to_vec(),
    )))
}
