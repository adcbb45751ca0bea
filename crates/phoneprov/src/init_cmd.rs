//! `phoneprov init`: a commented starter phoneprov.toml, filled in with this
//! machine's addresses and time zone.

use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::clock::ClockSettings;

/// Write a starter phoneprov.toml with comments, filled in with this
/// machine's network interfaces, address and time zone, and the HTTP
/// server's admin token (state/admin-token beside it, owner only). Edit
/// it, then run `phoneprov config check`.
#[derive(Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "phoneprov.toml")]
    path: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// One IPv4 address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix: u32,
}

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    if args.path.exists() && !args.force {
        bail!(
            "{} exists already; edit it, or pass --force to replace it",
            args.path.display()
        );
    }
    let addresses = interface_addresses().context("listing this machine's interfaces")?;
    let text = starter(&addresses, &local_time_zone());
    write_new(&args.path, &text)?;
    println!(
        "wrote {}: edit it (server address, firmware, phones), then run `phoneprov config check`",
        args.path.display()
    );
    let base = args.path.parent().unwrap_or(Path::new("."));
    let (token, made) = crate::admin_token::admin_token(&crate::config::state_dir(base, None))?;
    if made {
        println!(
            "wrote the HTTP server's admin token to {} (owner only)",
            token.path.display()
        );
    }
    Ok(())
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The IANA name of this machine's time zone: `$TZ`, /etc/timezone, or the
/// /etc/localtime link; "UTC" when none names a zone phoneprov can use.
fn local_time_zone() -> String {
    let candidates = [
        std::env::var("TZ").ok(),
        std::fs::read_to_string("/etc/timezone").ok(),
        std::fs::read_link("/etc/localtime").ok().and_then(|link| {
            let text = link.to_string_lossy().into_owned();
            text.split_once("zoneinfo/")
                .map(|(_, zone)| zone.to_string())
        }),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|zone| zone.trim().trim_start_matches(':').to_string())
        .find(|zone| ClockSettings::for_zone(zone, 2026).is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// This machine's IPv4 addresses, loopback excluded.
fn interface_addresses() -> std::io::Result<Vec<InterfaceAddress>> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read, and
    // free it with freeifaddrs once done; every pointer is checked for null.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut entry = list;
        while !entry.is_null() {
            let ifa = &*entry;
            entry = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || i32::from((*ifa.ifa_addr).sa_family) != libc::AF_INET {
                continue;
            }
            let address = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
            let address = Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr));
            let prefix = if ifa.ifa_netmask.is_null() {
                32
            } else {
                let mask = &*ifa.ifa_netmask.cast::<libc::sockaddr_in>();
                u32::from_be(mask.sin_addr.s_addr).count_ones()
            };
            let interface = CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
            if !address.is_loopback() {
                found.push(InterfaceAddress {
                    interface,
                    address,
                    prefix,
                });
            }
        }
        libc::freeifaddrs(list);
    }
    Ok(found)
}

/// The starter file's text.
pub fn starter(addresses: &[InterfaceAddress], timezone: &str) -> String {
    let server = addresses
        .iter()
        .find(|a| a.address.is_private())
        .or(addresses.first())
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.address.into());
    let listing = if addresses.is_empty() {
        "#   (no IPv4 address besides loopback: phones cannot reach this machine yet)\n".to_string()
    } else {
        addresses
            .iter()
            .map(|a| format!("#   {:<10} {}/{}\n", a.interface, a.address, a.prefix))
            .collect()
    };
    let interface = addresses
        .iter()
        .find(|a| IpAddr::from(a.address) == server)
        .map_or("eth0".to_string(), |a| a.interface.clone());
    format!(
        r#"# phoneprov.toml: the phones you want and how they should be set up.
# `phoneprov config check` validates it; docs/configuration.md explains every key.
#
# This machine's interfaces when `phoneprov init` ran:
{listing}
[site]
name = "My office"
# The phones' clock (an IANA name); phoneprov derives time_zone and the
# daylight-saving rules from it.
timezone = "{timezone}"
# A time server the phones can reach:
# ntp = "{server}"

[server]
# The address phones reach this machine at: their TFTP server and SIP proxy.
address = "{server}"

[tftp]
# Port 69 needs root or CAP_NET_BIND_SERVICE.
bind = "0.0.0.0:69"
# Serve only the phones' network:
# interface = "{interface}"

[sip]
bind = "0.0.0.0:5060"
# Phones register with phoneprov itself. To use your PBX instead:
# registrar = false
# proxy = "192.0.2.5:5060"
registrar = true

[firmware]
# Cisco's load files go here (`phoneprov firmware import`); relative to this file.
dir = "firmware"
# The loads phones should end up on:
sip = "P0S3-8-12-00"
# sccp = "P00308010200"

[defaults]
# Any SIPDefault.cnf parameter, for every phone, e.g.:
# telnet_level = 0
# preferred_codec = "g711alaw"

# One [[phone]] per phone. The MAC is on the label under the phone.
# A line without a password gets a strong generated one
# (`phoneprov config check --show-secrets` shows it).
#
# [[phone]]
# mac = "00:18:B9:FF:FF:FF"
# model = "7940"                 # 7940 (2 lines) or 7960 (6 lines)
# protocol = "sip"               # sip or sccp
# description = "Reception"
# lines = [{{ name = "1001", display = "Reception" }}]
# params = {{ phone_label = "Reception" }}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_prefers_a_private_address_and_lists_interfaces() {
        let addresses = vec![
            InterfaceAddress {
                interface: "wan0".into(),
                address: "192.0.2.7".parse().unwrap(),
                prefix: 24,
            },
            InterfaceAddress {
                interface: "phones".into(),
                address: "10.0.0.1".parse().unwrap(),
                prefix: 24,
            },
        ];
        let text = starter(&addresses, "Europe/Berlin");
        assert!(text.contains("address = \"10.0.0.1\""));
        assert!(text.contains("# interface = \"phones\""));
        assert!(text.contains("#   wan0       192.0.2.7/24"));
    }

    #[test]
    fn starter_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phoneprov.toml");
        let addresses = interface_addresses().unwrap();
        write_new(&path, &starter(&addresses, &local_time_zone())).unwrap();
        let config = crate::config::load(&path).unwrap();
        assert!(config.site.phones.is_empty());
        assert!(config.site.clock.is_some());
        // With no interfaces at all, the file is still valid.
        write_new(&path, &starter(&[], "UTC")).unwrap();
        crate::config::load(&path).unwrap();
    }
}
