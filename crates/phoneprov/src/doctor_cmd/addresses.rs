//! The address phones are told to use, against this machine's interfaces.

use std::net::IpAddr;

use phoneprov_server::preflight::{interface_addresses, InterfaceAddress};

use super::Report;
use crate::config::Config;

const CHECK: &str = "address";

/// `[server] address` is this machine's, on an interface that is up, and
/// one phones can reach; the DHCP pool is on that interface's network.
pub(super) fn check(report: &mut Report, config: &Config) {
    let server = config.site.server;
    let addresses = match interface_addresses() {
        Ok(addresses) => addresses,
        Err(error) => {
            return report.warning(
                CHECK,
                format!("cannot list this machine's addresses: {error}"),
                "check by hand with `ip -br addr` that [server] address is one of them",
            )
        }
    };
    let others = || {
        let others: Vec<String> = addresses
            .iter()
            .filter(|a| !a.address.is_loopback())
            .map(InterfaceAddress::to_string)
            .collect();
        if others.is_empty() {
            "none but the loopback yet; `ip -br addr` lists them".to_string()
        } else {
            others.join(", ")
        }
    };
    let IpAddr::V4(ip) = server else {
        return report.problem(
            CHECK,
            format!("[server] address {server} is IPv6, and 7940/7960 phones speak only IPv4"),
            format!("set [server] address to this machine's IPv4 address on the phones' network (here: {})", others()),
        );
    };
    let Some(held) = addresses.iter().find(|a| a.address == ip) else {
        return report.problem(
            CHECK,
            format!(
                "[server] address {ip}, where phones are told to fetch their files and register, \
                 is not an address of this machine"
            ),
            format!(
                "set it to this machine's address on the phones' network (here: {}), or give \
                 the phones' interface that address: `sudo ip addr add {ip}/24 dev IFACE`",
                others()
            ),
        );
    };
    let interface = &held.interface;
    if ip.is_loopback() {
        report.warning(
            CHECK,
            format!(
                "[server] address {ip} is the loopback: only programs on this machine reach it \
                 (simulated phones, the demo), no real phone"
            ),
            format!(
                "for real phones, set it to this machine's address on their network (here: {})",
                others()
            ),
        );
    } else if ip.is_link_local() {
        report.warning(
            CHECK,
            format!(
                "[server] address {ip} on {interface} is link-local (169.254.x.x), an address \
                 a machine takes itself when no DHCP server gave it one: phones reach it only on \
                 the same link, and it may change at the next boot"
            ),
            format!("give {interface} a fixed address on the phones' network, and set [server] address to it"),
        );
    }
    if !held.up {
        report.problem(
            CHECK,
            format!("{interface}, which holds [server] address {ip}, is down"),
            format!(
                "bring it up: `sudo ip link set {interface} up` (and see why it is down at boot)"
            ),
        );
    } else if !held.running {
        report.warning(
            CHECK,
            format!("{interface}, which holds [server] address {ip}, has no link (no cable, or its switch port is off)"),
            format!("plug it into the phones' network; `ip link show {interface}` says NO-CARRIER until then"),
        );
    } else if !ip.is_loopback() && !ip.is_link_local() {
        report.ok(
            CHECK,
            format!("[server] address {ip} is on {held}, which is up"),
        );
    }
    if let Some(dhcp) = &config.dhcp {
        let phones_interface = dhcp.interface.as_deref().unwrap_or(interface);
        if phones_interface != interface {
            report.warning(
                CHECK,
                format!(
                    "[dhcp] interface is {phones_interface}, but [server] address {ip} is on \
                     {interface}: phones on {phones_interface} are told to reach phoneprov on \
                     another network"
                ),
                format!(
                    "set [dhcp] interface = \"{interface}\", or [server] address to the address \
                     of {phones_interface}"
                ),
            );
        }
        if let Some(pool) = &dhcp.settings.pool {
            let on_interface: Vec<&InterfaceAddress> = addresses
                .iter()
                .filter(|a| a.interface == phones_interface)
                .collect();
            let range = format!("{}-{}", pool.first, pool.last);
            match on_interface
                .iter()
                .find(|a| a.network_holds(pool.first) && a.network_holds(pool.last))
            {
                Some(network) => report.ok(
                    CHECK,
                    format!(
                        "the [dhcp] pool {range} is in the network of {phones_interface} ({}/{})",
                        network.network(),
                        network.prefix
                    ),
                ),
                None => report.problem(
                    CHECK,
                    format!(
                        "the [dhcp] pool {range} is not in a network of {phones_interface} ({}): \
                         phones would get addresses this machine cannot talk to",
                        if on_interface.is_empty() {
                            "it has no IPv4 address".to_string()
                        } else {
                            on_interface
                                .iter()
                                .map(|a| format!("{}/{}", a.address, a.prefix))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                    format!(
                        "choose a pool inside the network of {phones_interface}'s address, or \
                         give {phones_interface} an address in the pool's network"
                    ),
                ),
            }
        }
    }
}
