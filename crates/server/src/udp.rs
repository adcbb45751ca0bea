//! UDP sockets as the phone services need them: bound to an interface when
//! asked, and, on listening sockets, told which local address each datagram
//! was sent to (`IP_PKTINFO`), so a reply leaves from the address the phone
//! asked even when the server listens on 0.0.0.0 of a host with several.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// A non-blocking UDP socket bound to `addr`, and to `interface` if given.
pub(crate) fn bind(addr: SocketAddr, interface: Option<&str>) -> io::Result<UdpSocket> {
    UdpSocket::from_std(socket(addr, interface)?.into())
}

/// Like [`bind`], and reports each datagram's destination address to
/// [`recv_with_destination`].
pub(crate) fn listen(addr: SocketAddr, interface: Option<&str>) -> io::Result<UdpSocket> {
    let socket = socket(addr, interface)?;
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

/// Receives one datagram on a socket made by [`listen`]: its length, its
/// source, and the local address it was sent to.
pub(crate) async fn recv_with_destination(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
    socket
        .async_io(Interest::READABLE, || recvmsg(socket.as_raw_fd(), buf))
        .await
}

fn recvmsg(fd: i32, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
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
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let info = data.cast::<libc::in_pktinfo>().read_unaligned();
                    destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_addr.s_addr,
                    ))));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = data.cast::<libc::in6_pktinfo>().read_unaligned();
                    destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((len as usize, from, destination))
    }
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
            let (len, from, seen) = recv_with_destination(&listener, &mut buf).await.unwrap();
            assert_eq!(&buf[..len], b"hello");
            assert_eq!(from, client.local_addr().unwrap());
            assert_eq!(seen, Some(to));
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
        let (_, _, seen) = recv_with_destination(&listener, &mut buf).await.unwrap();
        assert_eq!(seen, Some("::1".parse().unwrap()));
    }
}
