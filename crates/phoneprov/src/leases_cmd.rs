//! `phoneprov leases`: the DHCP leases in the state folder.

use std::path::{Path, PathBuf};

use clap::Args;
use phoneprov_cisco::Mac;
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
