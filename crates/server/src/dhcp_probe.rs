//! Looking for other DHCP servers on a network: a DHCPDISCOVER from a
//! made-up client, and every DHCPOFFER that answers it, collected for a
//! short while.
//!
//! Two DHCP servers handing out addresses on one network fight over its
//! devices, and a phone takes its TFTP server from whichever answers first,
//! so phoneprov asks before it serves (`phoneprov serve` in `pool` mode
//! refuses to start when another server answers) and whenever the operator
//! asks (`phoneprov doctor`).
//!
//! The probe sends from 0.0.0.0:68 to 255.255.255.255:67 on one interface,
//! with the broadcast flag set (the made-up client has no address to be
//! answered at) and a random, locally administered MAC, twice or more (a
//! lost broadcast is not a missing server). It never sends a DHCPREQUEST,
//! so no lease is taken. Option 60 names phoneprov, for whoever reads the
//! other server's log.
//!
//! What it cannot see: a server that ignores the broadcast flag and sends
//! its offer to the made-up MAC by unicast (the network card drops it), and
//! a server that waits longer than the probe before its first offer. Some
//! ping an address before they first offer it: dnsmasq does by default, and
//! then answers only a DHCPDISCOVER sent about three seconds after the
//! first (measured with dnsmasq 2.90: missed in 3 s, found in 3.5 s and
//! 4 s). Hence [`DEFAULT_WAIT`] of 4 s with a DHCPDISCOVER every second.

use std::collections::HashSet;
use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use phoneprov_dhcp::probe::{probe_discover, probe_hwaddr, read_offer, Offer};
use phoneprov_dhcp::HwAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::dhcp::{CLIENT_PORT, SERVER_PORT};

/// How long offers are collected by default: long enough for dnsmasq's
/// ping before its first offer (see the module docs).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(4);
/// How long after one DHCPDISCOVER the next is sent.
pub const RESEND_AFTER: Duration = Duration::from_secs(1);

/// Where and how long to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// The network interface to ask on (SO_BINDTODEVICE). Without one, the
    /// DHCPDISCOVER leaves by the default route.
    pub interface: Option<String>,
    /// Where the probe listens for offers: 0.0.0.0:68.
    pub bind: SocketAddrV4,
    /// Where the DHCPDISCOVER goes: 255.255.255.255:67.
    pub server: SocketAddrV4,
    /// How long offers are collected, from the first DHCPDISCOVER.
    pub wait: Duration,
    /// The DHCPDISCOVER is sent again this often while the wait lasts (at
    /// least twice, whatever the wait).
    pub resend_after: Duration,
    /// This server's own addresses: an offer from one of them is marked
    /// [`OtherServer::ours`].
    pub own_addresses: Vec<Ipv4Addr>,
}

impl ProbeSettings {
    /// The real ports and broadcast address, on `interface`, for [`DEFAULT_WAIT`].
    pub fn new(interface: Option<String>, own_addresses: Vec<Ipv4Addr>) -> ProbeSettings {
        ProbeSettings {
            interface,
            bind: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT),
            server: SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT),
            wait: DEFAULT_WAIT,
            resend_after: RESEND_AFTER,
            own_addresses,
        }
    }
}

/// A DHCP server that answered the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherServer {
    /// The source address of its offer.
    pub from: Ipv4Addr,
    pub offer: Offer,
    /// It is this server itself (its identifier or source is one of
    /// [`ProbeSettings::own_addresses`]): phoneprov already serving.
    pub ours: bool,
}

impl OtherServer {
    /// The server's address: its identifier (option 54), else the offer's source.
    pub fn address(&self) -> Ipv4Addr {
        self.offer.server_id.unwrap_or(self.from)
    }

    /// True when its offer sends a phone to `tftp` for its files: by option
    /// 150, option 66 or next-server.
    pub fn sends_phones_to(&self, tftp: Ipv4Addr) -> bool {
        self.offer.tftp_servers.contains(&tftp)
            || self.offer.tftp_server_name.as_deref() == Some(tftp.to_string().as_str())
            || self.offer.next_server == Some(tftp)
    }

    /// `10.0.0.1 offered 10.0.0.57 (router 10.0.0.1, no TFTP option)`.
    pub fn describe(&self) -> String {
        let offer = &self.offer;
        let mut line = self.address().to_string();
        if self.from != self.address() {
            line += &format!(" (answering from {})", self.from);
        }
        line += &format!(" offered {}", offer.offered);
        let list = |ips: &[Ipv4Addr]| {
            ips.iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut details = vec![match offer.routers.as_slice() {
            [] => "no router".to_string(),
            routers => format!("router {}", list(routers)),
        }];
        if !offer.tftp_servers.is_empty() {
            details.push(format!("TFTP {} by option 150", list(&offer.tftp_servers)));
        }
        if let Some(name) = &offer.tftp_server_name {
            details.push(format!("TFTP \"{name}\" by option 66"));
        }
        if offer.tftp_servers.is_empty() && offer.tftp_server_name.is_none() {
            details.push("no TFTP option".into());
        }
        if let Some(next) = offer.next_server {
            details.push(format!("next-server {next}"));
        }
        format!("{line} ({})", details.join(", "))
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The made-up client's MAC, as other servers log it.
    pub hwaddr: HwAddr,
    pub xid: u32,
    /// DHCPDISCOVERs sent.
    pub discovers: u32,
    /// Every server that answered, in the order their first offers came.
    pub servers: Vec<OtherServer>,
}

impl ProbeReport {
    /// The servers that are not this one.
    pub fn others(&self) -> impl Iterator<Item = &OtherServer> + '_ {
        self.servers.iter().filter(|server| !server.ours)
    }
}

/// Why the probe could not look.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot listen for offers on {addr}{}: {source}", on(interface))]
    Listen {
        addr: SocketAddrV4,
        interface: Option<String>,
        source: io::Error,
    },
    #[error("cannot send a DHCPDISCOVER to {to}{}: {source}", on(interface))]
    Send {
        to: SocketAddrV4,
        interface: Option<String>,
        source: io::Error,
    },
    #[error("cannot receive offers: {0}")]
    Receive(io::Error),
}

impl ProbeError {
    /// The operating system's error underneath.
    pub fn io(&self) -> &io::Error {
        match self {
            ProbeError::Listen { source, .. } | ProbeError::Send { source, .. } => source,
            ProbeError::Receive(source) => source,
        }
    }
}

fn on(interface: &Option<String>) -> String {
    interface
        .as_ref()
        .map_or_else(String::new, |i| format!(" on {i}"))
}

/// Sends the DHCPDISCOVERs and collects the offers for `settings.wait`.
pub async fn probe_other_servers(settings: &ProbeSettings) -> Result<ProbeReport, ProbeError> {
    let socket = probe_socket(settings).map_err(|source| ProbeError::Listen {
        addr: settings.bind,
        interface: settings.interface.clone(),
        source,
    })?;
    let hwaddr = probe_hwaddr(rand::random());
    let xid: u32 = rand::random();
    let discover = probe_discover(hwaddr, xid);
    // At least two DHCPDISCOVERs, however short the wait.
    let resend_after = settings.resend_after.min(settings.wait / 2);
    let start = Instant::now();
    let deadline = start + settings.wait;
    let mut next_send = start;
    let mut report = ProbeReport {
        hwaddr,
        xid,
        discovers: 0,
        servers: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if now >= next_send {
            socket
                .send_to(&discover, settings.server)
                .await
                .map_err(|source| ProbeError::Send {
                    to: settings.server,
                    interface: settings.interface.clone(),
                    source,
                })?;
            report.discovers += 1;
            next_send += resend_after.max(Duration::from_millis(1));
            continue;
        }
        let wake = if next_send < deadline {
            next_send
        } else {
            deadline
        };
        let received = tokio::time::timeout_at(wake, socket.recv_from(&mut buf)).await;
        let (len, from) = match received {
            Err(_elapsed) => continue,
            Ok(Ok(received)) => received,
            // A refused or unreachable earlier send (ICMP) shows here:
            // nothing to read, keep listening.
            Ok(Err(e)) if is_transient(&e) => continue,
            Ok(Err(e)) => return Err(ProbeError::Receive(e)),
        };
        let SocketAddr::V4(from) = from else { continue };
        let Ok(offer) = read_offer(&buf[..len]) else {
            continue;
        };
        if offer.xid != xid || offer.hwaddr != hwaddr {
            continue;
        }
        let from = *from.ip();
        if !seen.insert((from, offer.server_id)) {
            continue;
        }
        let ours = settings
            .own_addresses
            .iter()
            .any(|own| offer.server_id.unwrap_or(from) == *own || from == *own);
        report.servers.push(OtherServer { from, offer, ours });
    }
    Ok(report)
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    ) || e.raw_os_error() == Some(libc::EHOSTUNREACH)
        || e.raw_os_error() == Some(libc::ENETUNREACH)
}

/// The client's socket: SO_REUSEADDR so that a DHCP client already on port
/// 68 (dhclient) does not stop the probe, SO_BROADCAST to send to
/// 255.255.255.255, SO_BINDTODEVICE to ask on one interface only.
fn probe_socket(settings: &ProbeSettings) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    if let Some(interface) = &settings.interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(settings.bind).into())?;
    UdpSocket::from_std(socket.into())
}

/// The network interface that holds `address`, e.g. `eth0` for this
/// machine's address on the phones' network.
pub fn interface_holding(address: Ipv4Addr) -> io::Result<Option<String>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that is freed below
    // with freeifaddrs; every node is read only while the list lives, and
    // each address is read as sockaddr_in only when its family says AF_INET.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut found = None;
        let mut node = list;
        while !node.is_null() {
            let entry = &*node;
            node = entry.ifa_next;
            if entry.ifa_addr.is_null() || i32::from((*entry.ifa_addr).sa_family) != libc::AF_INET {
                continue;
            }
            let v4 = &*entry.ifa_addr.cast::<libc::sockaddr_in>();
            if Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)) == address {
                found = Some(
                    CStr::from_ptr(entry.ifa_name)
                        .to_string_lossy()
                        .into_owned(),
                );
                break;
            }
        }
        libc::freeifaddrs(list);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use dhcproto::v4::{self, Decodable, DhcpOption, Encodable, MessageType, Opcode};

    use super::*;

    /// A reply to `discover` as server `id` would send it.
    fn reply(discover: &v4::Message, id: Ipv4Addr, kind: MessageType, xid: u32) -> Vec<u8> {
        let zero = Ipv4Addr::UNSPECIFIED;
        let mut m = v4::Message::new_with_id(
            xid,
            zero,
            Ipv4Addr::new(127, 0, 0, 57),
            zero,
            zero,
            discover.chaddr(),
        );
        m.set_opcode(Opcode::BootReply);
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        m.opts_mut().insert(DhcpOption::ServerIdentifier(id));
        m.opts_mut()
            .insert(DhcpOption::Router(vec![Ipv4Addr::new(127, 0, 0, 254)]));
        m.to_vec().unwrap()
    }

    /// A fake network on the loopback: two servers behind one socket (one of
    /// them "ours"), each answering every DISCOVER, plus a reply to another
    /// transaction and a NAK that must both be ignored.
    #[tokio::test]
    async fn every_server_is_named_once_and_ours_is_marked() {
        let fake = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let SocketAddr::V4(server) = fake.local_addr().unwrap() else {
            unreachable!()
        };
        let answering = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            let mut discovers = Vec::new();
            while discovers.len() < 2 {
                let (len, from) = fake.recv_from(&mut buf).await.unwrap();
                let discover = v4::Message::decode(&mut dhcproto::Decoder::new(&buf[..len]))
                    .expect("a DHCP message");
                let xid = discover.xid();
                for answer in [
                    reply(
                        &discover,
                        Ipv4Addr::new(127, 0, 0, 1),
                        MessageType::Offer,
                        xid,
                    ),
                    reply(
                        &discover,
                        Ipv4Addr::new(127, 0, 0, 9),
                        MessageType::Offer,
                        xid,
                    ),
                    reply(
                        &discover,
                        Ipv4Addr::new(127, 0, 0, 3),
                        MessageType::Offer,
                        !xid,
                    ),
                    reply(
                        &discover,
                        Ipv4Addr::new(127, 0, 0, 4),
                        MessageType::Nak,
                        xid,
                    ),
                ] {
                    fake.send_to(&answer, from).await.unwrap();
                }
                discovers.push(discover);
            }
            discovers
        });
        let settings = ProbeSettings {
            interface: None,
            bind: "127.0.0.1:0".parse().unwrap(),
            server,
            wait: Duration::from_millis(600),
            resend_after: Duration::from_secs(5),
            own_addresses: vec![Ipv4Addr::new(127, 0, 0, 9)],
        };
        let report = probe_other_servers(&settings).await.unwrap();
        let discovers = answering.await.unwrap();
        assert_eq!(report.discovers, 2, "sent twice even with a long resend");
        for discover in &discovers {
            assert_eq!(discover.xid(), report.xid);
            assert_eq!(discover.chaddr(), report.hwaddr.octets());
        }
        let named: Vec<(Ipv4Addr, bool)> = report
            .servers
            .iter()
            .map(|s| (s.address(), s.ours))
            .collect();
        assert_eq!(
            named,
            [
                (Ipv4Addr::new(127, 0, 0, 1), false),
                (Ipv4Addr::new(127, 0, 0, 9), true)
            ]
        );
        let others: Vec<String> = report.others().map(OtherServer::describe).collect();
        assert_eq!(
            others,
            ["127.0.0.1 offered 127.0.0.57 (router 127.0.0.254, no TFTP option)"]
        );
    }

    #[tokio::test]
    async fn nobody_answering_is_an_empty_report() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(server) = silent.local_addr().unwrap() else {
            unreachable!()
        };
        let mut settings = ProbeSettings::new(None, Vec::new());
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.server = server;
        settings.wait = Duration::from_millis(200);
        let report = probe_other_servers(&settings).await.unwrap();
        assert!(report.servers.is_empty());
        assert_eq!(report.discovers, 2);
    }

    #[test]
    fn descriptions_say_where_phones_would_be_sent() {
        let server = OtherServer {
            from: Ipv4Addr::new(10, 0, 0, 254),
            offer: Offer {
                xid: 1,
                hwaddr: HwAddr::new([2, 0, 0, 0, 0, 1]),
                offered: Ipv4Addr::new(10, 0, 0, 57),
                next_server: Some(Ipv4Addr::new(10, 0, 0, 5)),
                server_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
                subnet_mask: None,
                routers: vec![],
                tftp_server_name: Some("tftp.example".into()),
                tftp_servers: vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)],
            },
            ours: false,
        };
        assert_eq!(
            server.describe(),
            "10.0.0.1 (answering from 10.0.0.254) offered 10.0.0.57 (no router, \
             TFTP 10.0.0.5 10.0.0.6 by option 150, TFTP \"tftp.example\" by option 66, next-server 10.0.0.5)"
        );
        assert!(server.sends_phones_to(Ipv4Addr::new(10, 0, 0, 6)));
        assert!(!server.sends_phones_to(Ipv4Addr::new(10, 0, 0, 7)));
    }

    #[test]
    fn the_loopback_holds_127_0_0_1() {
        match interface_holding(Ipv4Addr::LOCALHOST).unwrap() {
            Some(name) => assert_eq!(name, "lo"),
            None => eprintln!("skipped: the loopback is down in this network namespace"),
        }
        assert_eq!(
            interface_holding(Ipv4Addr::new(192, 0, 2, 231)).unwrap(),
            None
        );
    }
}
