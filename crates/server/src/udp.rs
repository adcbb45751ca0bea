//! UDP sockets as the phone services need them: bound to an interface when
//! asked, and, on listening sockets, told which local address each datagram
//! was sent to (`IP_PKTINFO`), so a reply leaves from the address the phone
//! asked even when the server listens on 0.0.0.0 of a host with several.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// A non-blocking UDP socket bound to `addr`, and to `interface` if given.
pub(crate) fn bind(addr: SocketAddr, interface: Option<&str>) -> io::Result<UdpSocket> {
    UdpSocket::from_std(socket(addr, interface)?.into())
}

/// Receive buffer of a listening socket. A boot storm sends a thousand
/// requests within a millisecond; with Linux's default (208 KiB, about 270
/// small datagrams) the rest are dropped and those phones wait a whole
/// retry interval. The kernel caps it at `net.core.rmem_max`.
const LISTENER_RECV_BUFFER: usize = 4 << 20;

/// Enlarges a listening socket's receive buffer, as far as the kernel lets it.
pub(crate) fn enlarge_receive_buffer(socket: socket2::SockRef<'_>) {
    if let Err(e) = socket.set_recv_buffer_size(LISTENER_RECV_BUFFER) {
        tracing::debug!("cannot enlarge a listener's receive buffer: {e}");
    }
}

/// Like [`bind`], with a large receive buffer, and reports each datagram's
/// destination address to [`recv_with_destination`].
pub(crate) fn listen(addr: SocketAddr, interface: Option<&str>) -> io::Result<UdpSocket> {
    let socket = socket(addr, interface)?;
    enlarge_receive_buffer(socket2::SockRef::from(&socket));
    let (level, name) = match addr {
        SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
        SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
    };
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, option level and name, and an int-sized value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    UdpSocket::from_std(socket.into())
}

fn socket(addr: SocketAddr, interface: Option<&str>) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(interface) = interface {
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot bind to interface {interface}: {e}"),
                )
            })?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// One datagram received on a socket made by [`listen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub len: usize,
    pub from: SocketAddr,
    /// The local address it was sent to (a broadcast address for a
    /// broadcast).
    pub destination: Option<IpAddr>,
    /// The index of the network interface it came in on.
    pub interface: Option<u32>,
}

/// Receives one datagram on a socket made by [`listen`].
pub(crate) async fn recv_with_destination(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<Arrival> {
    socket
        .async_io(Interest::READABLE, || recvmsg(socket.as_raw_fd(), buf))
        .await
}

fn recvmsg(fd: i32, buf: &mut [u8]) -> io::Result<Arrival> {
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: every pointer below points into a live local buffer of the
    // length given with it, and the kernel writes no more than those lengths.
    unsafe {
        let mut source: libc::sockaddr_storage = zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&mut source as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control);
        let len = libc::recvmsg(fd, &mut msg, 0);
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let from = socket_addr(&source)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP source"))?;
        let mut destination = None;
        let mut interface = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let info = data.cast::<libc::in_pktinfo>().read_unaligned();
                    destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_addr.s_addr,
                    ))));
                    interface = u32::try_from(info.ipi_ifindex).ok();
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = data.cast::<libc::in6_pktinfo>().read_unaligned();
                    destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    interface = Some(info.ipi6_ifindex);
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok(Arrival {
            len: len as usize,
            from,
            destination,
            interface,
        })
    }
}

/// Sends `bytes` to `to` out of the interface with index `interface`
/// (`IP_PKTINFO`), whatever the routing table says: a broadcast answer to
/// a phone leaves on the network the phone asked from, not on the default
/// route's.
pub(crate) async fn send_on_interface(
    socket: &UdpSocket,
    bytes: &[u8],
    to: SocketAddrV4,
    interface: u32,
) -> io::Result<()> {
    socket
        .async_io(Interest::WRITABLE, || {
            sendmsg_on(socket.as_raw_fd(), bytes, to, interface)
        })
        .await
}

fn sendmsg_on(fd: i32, bytes: &[u8], to: SocketAddrV4, interface: u32) -> io::Result<()> {
    let mut control = [0u64; 8];
    // SAFETY: as in `recvmsg`: every pointer points into a live local of
    // the length given with it; the control buffer has room for one
    // in_pktinfo message (CMSG_SPACE of 12 bytes is 32 on 64-bit Linux).
    unsafe {
        let mut address: libc::sockaddr_in = zeroed();
        address.sin_family = libc::AF_INET as libc::sa_family_t;
        address.sin_port = to.port().to_be();
        address.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&mut address as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::IPPROTO_IP;
        (*cmsg).cmsg_type = libc::IP_PKTINFO;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize;
        let mut info: libc::in_pktinfo = zeroed();
        info.ipi_ifindex = interface as libc::c_int;
        libc::CMSG_DATA(cmsg)
            .cast::<libc::in_pktinfo>()
            .write_unaligned(info);
        if libc::sendmsg(fd, &msg, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Puts `ip` → `hwaddr` in the kernel's ARP cache for `interface`
/// (SIOCSARP, as dnsmasq and ISC dhcpd do), so a unicast reply reaches a
/// client that has no address yet and so cannot answer the kernel's ARP
/// request. Needs CAP_NET_ADMIN; fails with `InvalidInput` on interfaces
/// without ARP, such as the loopback.
pub(crate) fn inject_arp(
    socket: &UdpSocket,
    interface: u32,
    ip: Ipv4Addr,
    hwaddr: [u8; 6],
) -> io::Result<()> {
    // SAFETY: arpreq is plain data; the kernel reads it and the interface
    // name buffer (IF_NAMESIZE bytes, as if_indextoname requires).
    unsafe {
        let mut request: libc::arpreq = zeroed();
        if libc::if_indextoname(interface, request.arp_dev.as_mut_ptr()).is_null() {
            return Err(io::Error::last_os_error());
        }
        let address = (&mut request.arp_pa as *mut libc::sockaddr).cast::<libc::sockaddr_in>();
        (*address).sin_family = libc::AF_INET as libc::sa_family_t;
        (*address).sin_addr.s_addr = u32::from(ip).to_be();
        request.arp_ha.sa_family = libc::ARPHRD_ETHER;
        for (to, from) in request.arp_ha.sa_data.iter_mut().zip(hwaddr) {
            *to = from as libc::c_char;
        }
        request.arp_flags = libc::ATF_COM;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSARP, &request) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The IP address and port in a `sockaddr_storage` the kernel filled in.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    let storage: *const libc::sockaddr_storage = storage;
    // SAFETY: the family field says which structure the storage holds, and
    // sockaddr_storage is large and aligned enough for either.
    unsafe {
        match i32::from((*storage).ss_family) {
            libc::AF_INET => {
                let v4 = &*storage.cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                Some(SocketAddr::new(ip.into(), u16::from_be(v4.sin_port)))
            }
            libc::AF_INET6 => {
                let v6 = &*storage.cast::<libc::sockaddr_in6>();
                let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wildcard_listener_learns_each_destination() {
        let listener = listen("0.0.0.0:0".parse().unwrap(), None).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = bind("127.0.0.9:0".parse().unwrap(), None).unwrap();
        let mut buf = [0u8; 64];
        for destination in ["127.0.0.1", "127.0.0.77"] {
            let to: IpAddr = destination.parse().unwrap();
            client.send_to(b"hello", (to, port)).await.unwrap();
            let arrival = recv_with_destination(&listener, &mut buf).await.unwrap();
            assert_eq!(&buf[..arrival.len], b"hello");
            assert_eq!(arrival.from, client.local_addr().unwrap());
            assert_eq!(arrival.destination, Some(to));
            assert_eq!(arrival.interface, Some(loopback_index()));
        }
    }

    #[tokio::test]
    async fn ipv6_listener_learns_the_destination() {
        let Ok(listener) = listen("[::1]:0".parse().unwrap(), None) else {
            eprintln!("skipped: no IPv6 loopback on this machine");
            return;
        };
        let client = bind("[::1]:0".parse().unwrap(), None).unwrap();
        client
            .send_to(b"x", listener.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        let arrival = recv_with_destination(&listener, &mut buf).await.unwrap();
        assert_eq!(arrival.destination, Some("::1".parse().unwrap()));
    }

    fn loopback_index() -> u32 {
        // SAFETY: a NUL-terminated name.
        unsafe { libc::if_nametoindex(c"lo".as_ptr()) }
    }

    #[tokio::test]
    async fn a_reply_can_be_sent_out_of_a_chosen_interface() {
        let receiver = bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let sender = bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let SocketAddr::V4(to) = receiver.local_addr().unwrap() else {
            unreachable!()
        };
        send_on_interface(&sender, b"offer", to, loopback_index())
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        let (len, from) = receiver.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"offer");
        assert_eq!(from, sender.local_addr().unwrap());
    }
}
