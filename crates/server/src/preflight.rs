//! Checks made before serving, for `phoneprov doctor`: can a port be taken
//! the way the servers take it, and if not, which process holds it; which
//! addresses this machine has, on which interfaces.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// Binds a UDP socket to `addr` (on `interface`, SO_BINDTODEVICE) and lets
/// it go at once. The socket gets the options the TFTP and DHCP servers'
/// listening sockets get (none that share a port), so the answer is the
/// one they would get.
pub fn try_bind(addr: SocketAddr, interface: Option<&str>) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(interface) = interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    socket.bind(&addr.into())
}

/// A process holding a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), e.g. `dnsmasq`.
    pub name: String,
}

impl fmt::Display for PortHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pid {})", self.name, self.pid)
    }
}

/// `dnsmasq (pid 812)`, `in.tftpd (pid 90), in.tftpd (pid 91)`.
pub fn describe_holders(holders: &[PortHolder]) -> String {
    holders
        .iter()
        .map(PortHolder::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The processes with a UDP socket on local `port` in this network
/// namespace, found through /proc/net/udp and udp6 and each process's open
/// files. Empty when they cannot be told (another user's processes, for
/// anyone but root).
pub fn udp_port_holders(port: u16) -> Vec<PortHolder> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            sockets.extend(socket_inodes(&text, port).map(|inode| format!("socket:[{inode}]")));
        }
    }
    let mut holders = Vec::new();
    if sockets.is_empty() {
        return holders;
    }
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return holders;
    };
    for process in processes.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                sockets
                    .iter()
                    .any(|socket| target.as_os_str() == socket.as_str())
            })
        });
        if holds {
            let name = std::fs::read_to_string(process.path().join("comm"))
                .map(|comm| comm.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            holders.push(PortHolder { pid, name });
        }
    }
    holders
}

/// The socket inodes of a /proc/net/udp table whose local port is `port`.
fn socket_inodes(table: &str, port: u16) -> impl Iterator<Item = &str> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields
            .get(1)?
            .rsplit_once(':')
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok())?;
        let inode = *fields.get(9)?;
        (local_port == port && inode != "0").then_some(inode)
    })
}

/// One IPv4 address of a network interface of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub interface: String,
    pub address: Ipv4Addr,
    /// The length of the network's prefix: 24 for 10.0.0.2/24.
    pub prefix: u32,
    /// The interface is up (`ip link set eth0 up`).
    pub up: bool,
    /// It has a link: a cable, a switch port that is on (IFF_RUNNING).
    pub running: bool,
}

impl InterfaceAddress {
    /// The first address of its network: 10.0.0.0 for 10.0.0.2/24.
    pub fn network(&self) -> Ipv4Addr {
        let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
        Ipv4Addr::from(u32::from(self.address) & mask)
    }

    /// True when `ip` is on its network.
    pub fn network_holds(&self, ip: Ipv4Addr) -> bool {
        InterfaceAddress {
            address: ip,
            ..self.clone()
        }
        .network()
            == self.network()
    }
}

impl fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.interface, self.address, self.prefix)
    }
}

/// Every IPv4 address of this machine's interfaces, from the kernel
/// (getifaddrs), those of interfaces that are down too.
pub fn interface_addresses() -> io::Result<Vec<InterfaceAddress>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    let mut addresses = Vec::new();
    // SAFETY: getifaddrs fills `list` with a linked list that is freed below
    // with freeifaddrs; every node is read only while the list lives, and
    // its address and netmask are read as sockaddr_in only when the
    // address's family says AF_INET (the netmask's is the same).
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut node = list;
        while !node.is_null() {
            let entry = &*node;
            node = entry.ifa_next;
            if entry.ifa_addr.is_null()
                || entry.ifa_netmask.is_null()
                || i32::from((*entry.ifa_addr).sa_family) != libc::AF_INET
            {
                continue;
            }
            let v4 = |sockaddr: *const libc::sockaddr| {
                let sockaddr = &*sockaddr.cast::<libc::sockaddr_in>();
                Ipv4Addr::from(u32::from_be(sockaddr.sin_addr.s_addr))
            };
            let flags = entry.ifa_flags as libc::c_int;
            addresses.push(InterfaceAddress {
                interface: CStr::from_ptr(entry.ifa_name)
                    .to_string_lossy()
                    .into_owned(),
                address: v4(entry.ifa_addr),
                prefix: u32::from(v4(entry.ifa_netmask)).count_ones(),
                up: flags & libc::IFF_UP != 0,
                running: flags & libc::IFF_RUNNING != 0,
            });
        }
        libc::freeifaddrs(list);
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_line_gives_its_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                     \x20 1: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0\n\
                     \x20 2: 0100007F:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0000000000000000 0\n";
        assert_eq!(socket_inodes(table, 67).collect::<Vec<_>>(), ["4242"]);
        assert_eq!(socket_inodes(table, 69).collect::<Vec<_>>(), ["77"]);
        assert_eq!(socket_inodes(table, 68).count(), 0);
    }

    #[test]
    fn a_held_port_is_refused_and_its_holder_named() {
        let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let refused = try_bind(addr, None).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AddrInUse);
        let holders = udp_port_holders(addr.port());
        assert!(
            holders.iter().any(|h| h.pid == std::process::id()),
            "this test process not among {holders:?}"
        );
        drop(held);
        try_bind(addr, None).unwrap();
    }

    #[test]
    fn the_loopback_is_listed_up_with_its_network() {
        let addresses = interface_addresses().unwrap();
        let lo = addresses
            .iter()
            .find(|a| a.address == Ipv4Addr::LOCALHOST)
            .unwrap_or_else(|| panic!("no 127.0.0.1 in {addresses:?}"));
        assert_eq!(lo.to_string(), "lo 127.0.0.1/8");
        assert!(lo.up);
        assert_eq!(lo.network(), Ipv4Addr::new(127, 0, 0, 0));
        assert!(lo.network_holds(Ipv4Addr::new(127, 1, 2, 3)));
        assert!(!lo.network_holds(Ipv4Addr::new(10, 0, 0, 1)));
        let everything = InterfaceAddress {
            prefix: 0,
            ..lo.clone()
        };
        assert!(everything.network_holds(Ipv4Addr::new(10, 0, 0, 1)));
    }
}
