//! "Is anybody using this address?" — one ICMP echo request, sent before the
//! DHCP server first offers an address, as dnsmasq and Tftpd64 do. A
//! printer configured by hand with an address of the pool answers, and the
//! server offers another address instead of creating a conflict.
//!
//! Each probe has its own socket and waits on its own, so a boot storm of a
//! hundred phones waits one probe time in all, not a hundred.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const PAYLOAD: &[u8; 16] = b"phoneprov probe\0";

/// How this process can send an echo request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An unprivileged "ping socket" (`net.ipv4.ping_group_range`): the
    /// kernel picks the identifier and hands over only our replies, without
    /// their IP header.
    Datagram,
    /// A raw ICMP socket (CAP_NET_RAW): every ICMP packet arrives, with its
    /// IP header, and is filtered here.
    Raw,
}

/// Sends pings; made once at start.
#[derive(Debug, Clone)]
pub struct Pinger {
    kind: Kind,
    interface: Option<String>,
    wait: Duration,
    identifier: u16,
}

impl Pinger {
    /// A pinger that waits `wait` for an answer, out of `interface` when
    /// given. Fails when this process may open neither kind of ICMP socket.
    pub fn new(interface: Option<String>, wait: Duration) -> io::Result<Pinger> {
        let kind = [Kind::Datagram, Kind::Raw]
            .into_iter()
            .find(|kind| open(*kind, None).is_ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "cannot send pings: this needs root, CAP_NET_RAW, or a group in \
                     net.ipv4.ping_group_range",
                )
            })?;
        Ok(Pinger {
            kind,
            interface,
            wait,
            identifier: rand::random(),
        })
    }

    /// True when `ip` answers an echo request within the wait.
    pub async fn answers(&self, ip: Ipv4Addr) -> io::Result<bool> {
        let socket = open(self.kind, self.interface.as_deref())?;
        // SAFETY: the Socket owns its descriptor, which stays open and the
        // same until the AsyncFd (which owns the Socket) is dropped.
        let socket = unsafe { AsyncFd::register(socket) }.map_err(|e| e.into_parts().1)?;
        let sequence: u16 = rand::random();
        let request = echo_request(self.identifier, sequence);
        let to = SocketAddr::V4(SocketAddrV4::new(ip, 0)).into();
        socket
            .async_io(tokio::io::Interest::WRITABLE, |s| s.send_to(&request, &to))
            .await?;
        let deadline = Instant::now() + self.wait;
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        loop {
            let received = tokio::time::timeout_at(
                deadline,
                socket.async_io(tokio::io::Interest::READABLE, |s| s.recv_from(&mut buf)),
            )
            .await;
            let (len, from) = match received {
                Err(_) => return Ok(false),
                Ok(received) => received?,
            };
            // SAFETY: recv_from initialised the first `len` bytes.
            let packet: &[u8] =
                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
            let from = from.as_socket_ipv4().map(|a| *a.ip());
            if from == Some(ip) && self.is_our_reply(packet, sequence) {
                return Ok(true);
            }
        }
    }

    fn is_our_reply(&self, packet: &[u8], sequence: u16) -> bool {
        let icmp = match self.kind {
            Kind::Datagram => packet,
            Kind::Raw => {
                let header = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
                packet.get(header..).unwrap_or_default()
            }
        };
        let field = |at: usize| {
            icmp.get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        let identifier_matches = self.kind == Kind::Datagram || field(4) == Some(self.identifier);
        icmp.first() == Some(&ECHO_REPLY) && identifier_matches && field(6) == Some(sequence)
    }
}

fn open(kind: Kind, interface: Option<&str>) -> io::Result<Socket> {
    let socket_type = match kind {
        Kind::Datagram => Type::DGRAM,
        Kind::Raw => Type::RAW,
    };
    let socket = Socket::new(Domain::IPV4, socket_type, Some(Protocol::ICMPV4))?;
    if let Some(interface) = interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// An ICMP echo request with its checksum (the kernel redoes it, and the
/// identifier, on a ping socket).
fn echo_request(identifier: u16, sequence: u16) -> Vec<u8> {
    let mut packet = vec![ECHO_REQUEST, 0, 0, 0];
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(PAYLOAD);
    let checksum = internet_checksum(&packet);
    packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    packet
}

/// RFC 1071: the ones' complement of the ones' complement sum of the 16-bit words.
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_request_verifies_to_zero() {
        let request = echo_request(0x1234, 7);
        assert_eq!(internet_checksum(&request), 0);
        assert_eq!(&request[..2], &[ECHO_REQUEST, 0]);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn rfc_1071_example() {
        // The words of RFC 1071 §3's example sum to ddf2; its complement.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&bytes), !0xddf2);
    }

    #[tokio::test]
    async fn the_loopback_answers_and_nothing_else_is_taken_for_an_answer() {
        let Ok(pinger) = Pinger::new(None, Duration::from_secs(2)) else {
            eprintln!("skipped: this process may not send pings");
            return;
        };
        assert!(pinger.answers(Ipv4Addr::new(127, 0, 0, 1)).await.unwrap());
        let raw = Pinger {
            kind: Kind::Raw,
            ..pinger.clone()
        };
        let mut reply = echo_request(pinger.identifier, 9);
        reply[0] = ECHO_REPLY;
        let mut ip_header = vec![0x45; 1];
        ip_header.resize(20, 0);
        let framed = [ip_header.as_slice(), &reply].concat();
        assert!(raw.is_our_reply(&framed, 9));
        assert!(!raw.is_our_reply(&framed, 10), "another sequence number");
        let mut request = framed.clone();
        request[20] = ECHO_REQUEST;
        assert!(
            !raw.is_our_reply(&request, 9),
            "our own request looped back"
        );
        let mut stranger = framed;
        stranger[24] ^= 0xff;
        assert!(!raw.is_our_reply(&stranger, 9), "another process's ping");
        assert!(!raw.is_our_reply(&[0x45], 9));
    }
}
