//! The phone's DHCP exchange: DISCOVER, OFFER, REQUEST, ACK, as a 7940/7960
//! sends it (vendor class with its trailing NUL, option 55 asking for 66
//! and 150). The server must answer the sender, as phoneprov does when its
//! `[dhcp] port` is not 67 (test and demo mode).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dhcproto::v4::{self, DhcpOption, Encodable, MessageType, OptionCode};
use phoneprov_cisco::{Mac, Model};
use tokio::net::UdpSocket;

/// What a 7940/7960 asks for in option 55 (reference §2.5, §7).
const PARAMETER_REQUEST_LIST: [u8; 7] = [1, 3, 6, 15, 42, 66, 150];

/// DISCOVERs (and REQUESTs) sent before the phone gives up for this boot.
const TRIES: u32 = 5;

/// The parts of the ACK the phone uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    pub ip: Ipv4Addr,
    /// Option 150: TFTP servers, in the order to try them.
    pub option150: Vec<Ipv4Addr>,
    /// Option 66 as text.
    pub option66: Option<String>,
    pub siaddr: Ipv4Addr,
}

#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("DHCP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no DHCP answer to {0} tries")]
    NoAnswer(u32),
    #[error("the DHCP server said no (DHCPNAK)")]
    Nak,
}

/// One DORA exchange with `server`, from a socket of its own (the server
/// answers the sender, so every phone needs its own port). `retransmit` is
/// the phone's first wait for an answer; `no_answer` is told after each miss.
pub(crate) async fn lease(
    mac: Mac,
    model: Model,
    server: SocketAddr,
    xid: u32,
    retransmit: Duration,
    mut no_answer: impl FnMut(u32),
) -> Result<Lease, DhcpError> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
    let discover = packet(mac, model, xid, MessageType::Discover, |_| {});
    let offer = exchange(&socket, server, &discover, xid, retransmit, &mut no_answer).await?;
    let (offered, server_id) = (yiaddr(&offer), option(&offer, 54));
    let request = packet(mac, model, xid, MessageType::Request, |m| {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(offered));
        if let Some(id) = server_id.as_deref().and_then(ipv4) {
            m.opts_mut().insert(DhcpOption::ServerIdentifier(id));
        }
    });
    let ack = exchange(&socket, server, &request, xid, retransmit, &mut no_answer).await?;
    if option(&ack, 53).as_deref() == Some(&[6]) {
        return Err(DhcpError::Nak);
    }
    Ok(Lease {
        ip: yiaddr(&ack),
        option150: option(&ack, 150)
            .map(|list| list.chunks_exact(4).filter_map(ipv4).collect())
            .unwrap_or_default(),
        option66: option(&ack, 66).map(|text| String::from_utf8_lossy(&text).into_owned()),
        siaddr: Ipv4Addr::new(ack[20], ack[21], ack[22], ack[23]),
    })
}

/// Sends `packet` until a reply with our `xid` comes, at most [`TRIES`]
/// times, waiting `retransmit` for the first reply and twice as long after
/// each miss, as RFC 2131 §4.1 has a client do (4, 8, 16 s …): a server
/// that is slow to answer, as a busy one can be, is waited for.
async fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    packet: &[u8],
    xid: u32,
    retransmit: Duration,
    no_answer: &mut impl FnMut(u32),
) -> Result<Vec<u8>, DhcpError> {
    let mut buf = vec![0u8; 1500];
    for tries in 1..=TRIES {
        socket.send_to(packet, server).await?;
        let deadline = tokio::time::Instant::now() + retransmit * 2u32.pow(tries - 1);
        loop {
            match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Err(_) => break,
                Ok(received) => {
                    let (len, _) = received?;
                    let reply = &buf[..len];
                    if len >= 240 && reply[0] == 2 && reply[4..8] == xid.to_be_bytes() {
                        return Ok(reply.to_vec());
                    }
                }
            }
        }
        no_answer(tries);
    }
    Err(DhcpError::NoAnswer(TRIES))
}

fn packet(
    mac: Mac,
    model: Model,
    xid: u32,
    kind: MessageType,
    edit: impl FnOnce(&mut v4::Message),
) -> Vec<u8> {
    let mut m = v4::Message::new_with_id(
        xid,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac.0,
    );
    m.set_flags(v4::Flags::default().set_broadcast());
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    let vendor_class = format!("Cisco Systems, Inc. IP Phone CP-{}G\0", model.number());
    m.opts_mut()
        .insert(DhcpOption::ClassIdentifier(vendor_class.into_bytes()));
    m.opts_mut().insert(DhcpOption::ParameterRequestList(
        PARAMETER_REQUEST_LIST
            .iter()
            .map(|&code| OptionCode::from(code))
            .collect(),
    ));
    edit(&mut m);
    m.to_vec().expect("a DHCP message built here encodes")
}

fn yiaddr(reply: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(reply[16], reply[17], reply[18], reply[19])
}

fn ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(bytes).ok().map(Ipv4Addr::from)
}

/// The value of option `code` in a reply (the pieces of a split option
/// joined), reading past the magic cookie; None when absent or cut short.
fn option(reply: &[u8], code: u8) -> Option<Vec<u8>> {
    let mut rest = reply.get(240..)?;
    let mut value: Option<Vec<u8>> = None;
    while let Some((&this, tail)) = rest.split_first() {
        match this {
            0 => rest = tail,
            255 => break,
            _ => {
                let len = usize::from(*tail.first()?);
                let piece = tail.get(1..1 + len)?;
                if this == code {
                    value.get_or_insert_with(Vec::new).extend_from_slice(piece);
                }
                rest = &tail[1 + len..];
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discover_carries_the_vendor_class_and_asks_for_150() {
        let mac: Mac = "00:18:B9:00:00:2A".parse().unwrap();
        let discover = packet(mac, Model::Cp7940, 7, MessageType::Discover, |_| {});
        assert_eq!(&discover[28..34], &mac.0);
        assert_eq!(option(&discover, 53), Some(vec![1]));
        assert_eq!(
            option(&discover, 60),
            Some(b"Cisco Systems, Inc. IP Phone CP-7940G\0".to_vec())
        );
        assert_eq!(option(&discover, 55), Some(PARAMETER_REQUEST_LIST.to_vec()));
    }
}
