//! Reading what a client sent: a strict, allocation-light reader of the
//! BOOTP header and the few options the engine uses.
//!
//! Replies are built with dhcproto; requests are read here instead, because
//! dhcproto's decoders trust the lengths in the packet: its borrowed
//! `Message::chaddr` slices by `hlen`, and its owned decoder stops quietly at
//! the first bad option and debug-asserts on a client FQDN shorter than
//! 3 bytes. A server must turn every such packet into a reason, not a panic
//! or a half-read request (Kea's CVE-2019-6472/6473 were exactly this).

use std::net::Ipv4Addr;

use crate::client::{ClientId, HwAddr};

/// The fixed BOOTP header, up to the magic cookie (RFC 2131 §2).
const HEADER_LEN: usize = 236;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Longest client identifier accepted: one option's worth, as Kea allows
/// since CVE-2019-6472.
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// Why a packet was not read. Each of these is answered by silence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("{0} bytes is shorter than a DHCP message (240)")]
    TooShort(usize),
    #[error("a BOOTREPLY (op {0}) sent to the server, not a request")]
    NotARequest(u8),
    #[error("hardware address length {0} is more than the 16 bytes of chaddr")]
    HwAddrTooLong(u8),
    #[error("hardware type {htype} with address length {hlen}: only Ethernet (6 bytes) is served")]
    NotEthernet { htype: u8, hlen: u8 },
    #[error("no DHCP magic cookie: a plain BOOTP client")]
    NoMagicCookie,
    #[error("option {code} runs past the end of the packet")]
    Truncated { code: u8 },
    #[error("option {code} has length {len}, which its type does not allow")]
    BadLength { code: u8, len: usize },
    #[error("no message type (option 53)")]
    NoMessageType,
    #[error("message type {0} is not one a client sends")]
    NotAClientMessage(u8),
}

/// The client message types of RFC 2131 (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Discover,
    Request,
    Decline,
    Release,
    Inform,
}

/// One request, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    pub kind: Kind,
    pub htype: u8,
    pub xid: u32,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub hwaddr: HwAddr,
    /// Option 61, 2 to 255 bytes.
    pub client_identifier: Option<Vec<u8>>,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 55, in the client's order.
    pub parameters: Vec<u8>,
    /// Option 57, raised to the legal minimum of 576.
    pub max_message_size: Option<u16>,
    /// Option 60 with trailing NULs stripped and anything unprintable escaped.
    pub vendor_class: Option<String>,
    /// Option 12 when it is a plausible host name; anything else is dropped.
    pub hostname: Option<String>,
    /// Option 82 as received, to be echoed (RFC 3046 §2.2).
    pub relay_agent_information: Option<Vec<u8>>,
}

impl ClientMessage {
    /// The key the client's lease is filed under (RFC 2131 §4.2).
    pub fn client_id(&self) -> ClientId {
        match &self.client_identifier {
            Some(id) => ClientId::Identifier(id.clone()),
            None => ClientId::HwAddr(self.hwaddr),
        }
    }

    pub fn broadcast_flag(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

/// The options of one packet, each code's pieces joined (RFC 3396).
struct Options {
    values: Vec<(u8, Vec<u8>)>,
}

impl Options {
    fn get(&self, code: u8) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Reads one options area (the options field, or `file`/`sname` when
    /// option 52 says they hold options). Stops at End; padding is skipped.
    fn read_area(&mut self, mut area: &[u8]) -> Result<(), Malformed> {
        while let Some((&code, rest)) = area.split_first() {
            match code {
                0 => area = rest,
                255 => return Ok(()),
                _ => {
                    let (&len, rest) = rest.split_first().ok_or(Malformed::Truncated { code })?;
                    let value = rest
                        .get(..usize::from(len))
                        .ok_or(Malformed::Truncated { code })?;
                    match self.values.iter_mut().find(|(c, _)| *c == code) {
                        Some((_, joined)) => joined.extend_from_slice(value),
                        None => self.values.push((code, value.to_vec())),
                    }
                    area = &rest[usize::from(len)..];
                }
            }
        }
        Ok(())
    }
}

fn address(options: &Options, code: u8) -> Result<Option<Ipv4Addr>, Malformed> {
    options
        .get(code)
        .map(|v| {
            <[u8; 4]>::try_from(v)
                .map(Ipv4Addr::from)
                .map_err(|_| Malformed::BadLength { code, len: v.len() })
        })
        .transpose()
}

fn header_address(packet: &[u8], at: usize) -> Ipv4Addr {
    let mut octets = [0u8; 4];
    octets.copy_from_slice(&packet[at..at + 4]);
    Ipv4Addr::from(octets)
}

/// Bytes outside printable ASCII become `\xNN`, so a fingerprint can be
/// logged and shown whatever the phone put in it.
pub(crate) fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// A host name worth recording: 1–255 bytes of letters, digits, `-`, `_`
/// and `.`. Anything else (an empty option, binary garbage) is not recorded,
/// and the client is still served.
fn hostname(value: &[u8]) -> Option<String> {
    let value = value.strip_suffix(b"\0").unwrap_or(value);
    let plausible = !value.is_empty()
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plausible.then(|| String::from_utf8_lossy(value).into_owned())
}

/// Reads a client's packet. Never panics; any input either reads or says why not.
pub fn parse(packet: &[u8]) -> Result<ClientMessage, Malformed> {
    if packet.len() < HEADER_LEN + MAGIC_COOKIE.len() {
        return Err(Malformed::TooShort(packet.len()));
    }
    if packet[0] != 1 {
        return Err(Malformed::NotARequest(packet[0]));
    }
    let (htype, hlen) = (packet[1], packet[2]);
    if hlen > 16 {
        return Err(Malformed::HwAddrTooLong(hlen));
    }
    // Ethernet (1) and IEEE 802 (6) both carry 6-byte MACs.
    if !matches!(htype, 1 | 6) || hlen != 6 {
        return Err(Malformed::NotEthernet { htype, hlen });
    }
    if packet[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
        return Err(Malformed::NoMagicCookie);
    }
    let mut options = Options { values: Vec::new() };
    options.read_area(&packet[HEADER_LEN + 4..])?;
    // Option overload (52): `file` (1), `sname` (2) or both (3) hold options too.
    if let Some(overload) = options.get(52) {
        let which = match overload {
            [which @ 1..=3] => *which,
            _ => {
                return Err(Malformed::BadLength {
                    code: 52,
                    len: overload.len(),
                })
            }
        };
        if which & 1 != 0 {
            options.read_area(&packet[108..236])?;
        }
        if which & 2 != 0 {
            options.read_area(&packet[44..108])?;
        }
    }

    let kind = match options.get(53) {
        None => return Err(Malformed::NoMessageType),
        Some([1]) => Kind::Discover,
        Some([3]) => Kind::Request,
        Some([4]) => Kind::Decline,
        Some([7]) => Kind::Release,
        Some([8]) => Kind::Inform,
        Some([other]) => return Err(Malformed::NotAClientMessage(*other)),
        Some(v) => {
            return Err(Malformed::BadLength {
                code: 53,
                len: v.len(),
            })
        }
    };
    let client_identifier = match options.get(61) {
        None => None,
        Some(id) if (2..=MAX_CLIENT_ID_LEN).contains(&id.len()) => Some(id.to_vec()),
        Some(id) => {
            return Err(Malformed::BadLength {
                code: 61,
                len: id.len(),
            })
        }
    };
    let max_message_size = match options.get(57) {
        None => None,
        Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo]).max(576)),
        Some(v) => {
            return Err(Malformed::BadLength {
                code: 57,
                len: v.len(),
            })
        }
    };
    let vendor_class = options.get(60).map(|v| {
        let end = v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        printable(&v[..end])
    });
    let mut hw = [0u8; 6];
    hw.copy_from_slice(&packet[28..34]);

    Ok(ClientMessage {
        kind,
        htype,
        xid: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        flags: u16::from_be_bytes([packet[10], packet[11]]),
        ciaddr: header_address(packet, 12),
        giaddr: header_address(packet, 24),
        hwaddr: HwAddr::new(hw),
        client_identifier,
        requested_ip: address(&options, 50)?,
        server_id: address(&options, 54)?,
        parameters: options.get(55).map(<[u8]>::to_vec).unwrap_or_default(),
        max_message_size,
        vendor_class,
        hostname: options.get(12).and_then(hostname),
        relay_agent_information: options.get(82).map(<[u8]>::to_vec),
    })
}
