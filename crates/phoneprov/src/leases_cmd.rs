//! `phoneprov leases`: the DHCP leases in the state folder; and the line
//! `phoneprov serve` prints for each DHCP exchange.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use phoneprov_cisco::Mac;
use phoneprov_dhcp::DhcpEvent;
use phoneprov_server::dhcp::{hwaddr_or_dash, is_neighbours_traffic};
use phoneprov_server::DhcpExchange;
use phoneprov_store::SqliteLeases;

use crate::config;

/// List the DHCP leases phoneprov gave: MAC, address, phone, state, expiry
/// and vendor class.
#[derive(Args)]
pub struct LeasesArgs {}

/// The lease database in the state folder.
pub(crate) fn lease_db(state_dir: &Path) -> PathBuf {
    state_dir.join("leases.db")
}

pub fn run(_args: LeasesArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let path = lease_db(&config.state_dir);
    if !path.exists() {
        println!("no leases yet ({} does not exist)", path.display());
        return Ok(());
    }
    let loaded = SqliteLeases::read(&path)?;
    println!(
        "{:<17}  {:<15}  {:<20}  {:<8}  {:<20}  VENDOR CLASS",
        "MAC", "IP", "PHONE", "STATE", "EXPIRES"
    );
    for lease in &loaded.leases {
        let phone = config
            .site
            .phone(Mac(lease.hwaddr.octets()))
            .map(|phone| phone.description.clone().unwrap_or_else(|| "listed".into()))
            .unwrap_or_else(|| "-".into());
        let state = lease.state.name();
        let expires: chrono::DateTime<chrono::Utc> = lease.expires.into();
        println!(
            "{:<17}  {:<15}  {:<20}  {:<8}  {:<20}  {}",
            lease.hwaddr.to_string(),
            lease.ip.to_string(),
            phone,
            state,
            expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            lease.vendor_class.as_deref().unwrap_or("-")
        );
    }
    for row in &loaded.unreadable {
        eprintln!(
            "warning: lease row {} is unreadable: {}",
            row.key, row.problem
        );
    }
    Ok(())
}

/// `00:18:B9:FF:FF:FF  DHCP ACK 10.0.0.50 (lease 1d)`. None for other
/// devices' traffic, and with `quiet` for everything that went well.
pub(crate) fn describe_exchange(exchange: &DhcpExchange, quiet: bool) -> Option<String> {
    if is_neighbours_traffic(&exchange.event) {
        return None;
    }
    let what = match &exchange.event {
        DhcpEvent::Offered { ip } if !quiet => format!("OFFER {ip}"),
        DhcpEvent::Acked { ip, expires, .. } if !quiet => {
            let lease = expires.duration_since(exchange.at).unwrap_or_default();
            format!("ACK {ip} (lease {})", humane(lease))
        }
        DhcpEvent::Released { ip } if !quiet => format!("RELEASE {ip}"),
        DhcpEvent::Informed { ip } if !quiet => format!("INFORM {ip}"),
        DhcpEvent::Naked { requested, why } => format!("NAK {requested}: {why}"),
        DhcpEvent::Declined { ip } => format!("DECLINE {ip}: in use by another device"),
        DhcpEvent::Ignored { why } => format!("ignored from {}: {why}", exchange.from),
        _ => return None,
    };
    Some(format!("{}  DHCP {what}", hwaddr_or_dash(exchange.hwaddr)))
}

/// A duration the way `lease_time` is written: `1d`, `12h`, `90m`, `45s`.
fn humane(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn an_ack_reads_like_the_lease_time_in_the_file() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let exchange = DhcpExchange {
            at,
            from: "0.0.0.0:68".parse().unwrap(),
            hwaddr: Some("00:18:B9:FF:FF:FF".parse().unwrap()),
            vendor_class: None,
            event: DhcpEvent::Acked {
                ip: "10.0.0.50".parse().unwrap(),
                state: phoneprov_dhcp::RequestState::Selecting,
                expires: at + Duration::from_secs(86_400),
            },
        };
        assert_eq!(
            describe_exchange(&exchange, false).as_deref(),
            Some("00:18:B9:FF:FF:FF  DHCP ACK 10.0.0.50 (lease 1d)")
        );
        assert_eq!(describe_exchange(&exchange, true), None);
        assert_eq!(humane(Duration::from_secs(90 * 60)), "90m");
    }
}
