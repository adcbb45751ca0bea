//! `phoneprov plan MAC` (a phone's way to its target), `phoneprov show
//! MAC` (its timeline, findings and way), from the running serve when there
//! is one, and `phoneprov reprovision MAC`.

use std::path::Path;

use anyhow::bail;
use clap::Args;
use phoneprov_cisco::site::Phone;
use phoneprov_cisco::Mac;
use phoneprov_server::view::{describe_plan, no_target, PhoneDetail, Reprovisioned};

use crate::config::{self, Config};
use crate::control::{self, NotRunning};
use crate::serve_cmd::{provisioning, seen_so_far};
use crate::sip_cmd::SyncFile;

/// Show a phone's way to its target firmware, one load per boot.
///
/// The ladder comes from what the phone runs (what the running `phoneprov
/// serve` saw it install or report, else `current = "..."` in its
/// [[phone]]), its target ([firmware] in phoneprov.toml), the rules in
/// effect (reference §3, or [[ladder]] in phoneprov.toml) and the complete
/// loads of the firmware folder. A rung the folder lacks is named, with the
/// load to import. Without a running serve, what it saw until it stopped
/// counts.
///
/// Example: phoneprov plan 00:18:B9:00:00:12
#[derive(Args)]
pub struct PlanArgs {
    /// The phone's MAC, in any notation.
    mac: String,
}

/// Show everything phoneprov knows about one phone: where it is, what it
/// runs, its way to its target, what is wrong and how to fix it, and its
/// timeline (every DHCP, TFTP and SIP event, oldest first). Asks the
/// running `phoneprov serve`.
///
/// Example: phoneprov show 00:18:B9:00:00:12
#[derive(Args)]
pub struct ShowArgs {
    /// The phone's MAC, in any notation.
    mac: String,
}

/// Provision a phone afresh: phoneprov judges the phone only by what it
/// does from now on (its timeline is kept, marked), and a phone
/// listed in phoneprov.toml is told to reboot (check-sync, as `phoneprov
/// reboot`), so it fetches every file again and its ladder is planned
/// from what its next boot shows.
///
/// Use it when the phone changed behind phoneprov's back (flashed with
/// another TFTP server, factory reset, back from another site), or after
/// you fixed a problem and want its status to show only what happens now.
/// Its timeline is kept: `phoneprov show` marks where it started over. A
/// phone that is not registered cannot be told to reboot: power-cycle it.
/// Asks the running `phoneprov serve`.
///
/// Example: phoneprov reprovision 00:18:B9:00:00:12
#[derive(Args)]
pub struct ReprovisionArgs {
    /// The phone's MAC, in any notation.
    mac: String,
}

pub fn reprovision(args: ReprovisionArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let mac: Mac = args.mac.parse()?;
    let done: Reprovisioned = control::ask(
        &config,
        "POST",
        &format!("/api/phones/{}/reprovision", mac.colons()),
        None,
    )?;
    println!("{}  {}", done.phone, done.outcome);
    let Some(rebooted) = done.rebooted else {
        return Ok(());
    };
    for line in rebooted.lines() {
        println!("{line}");
    }
    if !rebooted.all_told() {
        bail!("the phone was not told to reboot; it is provisioned afresh when it next boots");
    }
    Ok(())
}

pub fn plan(args: PlanArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let mac: Mac = args.mac.parse()?;
    let phone = listed(&config, mac)?;
    let lines = match detail(&config, mac) {
        Ok(detail) => match detail.plan {
            Some(plan) => plan.lines(mac),
            None => vec![no_target(phone)],
        },
        Err(e) if e.is::<NotRunning>() => {
            println!("(phoneprov serve is not running: this is what it saw until it stopped)");
            let provisioning = provisioning(&config, SyncFile::open(&config.state_dir)?.value)?
                .with_watch(seen_so_far(&config)?);
            describe_plan(&provisioning, phone)
        }
        Err(e) => return Err(e),
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

pub fn show(args: ShowArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let mac: Mac = args.mac.parse()?;
    for line in detail(&config, mac)?.lines(mac) {
        println!("{line}");
    }
    Ok(())
}

/// What the running serve knows about `mac`.
fn detail(config: &Config, mac: Mac) -> anyhow::Result<PhoneDetail> {
    control::ask(
        config,
        "GET",
        &format!("/api/phones/{}", mac.colons()),
        None,
    )
}

fn listed(config: &Config, mac: Mac) -> anyhow::Result<&Phone> {
    match config.site.phone(mac) {
        Some(phone) => Ok(phone),
        None => bail!(
            "{} is not in {}: phoneprov changes the firmware only of the phones listed there (add a [[phone]])",
            mac.colons(),
            config.path.display()
        ),
    }
}
