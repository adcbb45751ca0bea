//! `phoneprov plan MAC` (a phone's way to its target) and `phoneprov show
//! MAC` (its timeline, findings and way), from the running serve when there
//! is one.

use std::path::Path;
use std::time::SystemTime;

use anyhow::bail;
use clap::Args;
use phoneprov_cisco::ladder::Reader;
use phoneprov_cisco::render::Provisioning;
use phoneprov_cisco::site::Phone;
use phoneprov_cisco::stage::{Fetched, Observation, Seen};
use phoneprov_cisco::Mac;

use crate::config::{self, Config};
use crate::control::{self, Reply, Request};
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

pub fn plan(args: PlanArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let mac: Mac = args.mac.parse()?;
    listed(&config, mac)?;
    let lines = match control::ask(
        &config,
        &Request::Plan {
            phone: mac.colons(),
        },
    ) {
        Ok(Reply::Lines { lines }) => lines,
        Ok(_) => bail!("phoneprov serve gave an unexpected answer"),
        Err(_) => {
            println!("(phoneprov serve is not running: this is what it saw until it stopped)");
            let provisioning = provisioning(&config, SyncFile::open(&config.state_dir)?.value)?
                .with_watch(seen_so_far(&config)?);
            let phone = listed(&config, mac)?;
            describe_plan(&provisioning, phone)
        }
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

pub fn show(args: ShowArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let mac: Mac = args.mac.parse()?;
    let Reply::Lines { lines } = control::ask(
        &config,
        &Request::Show {
            phone: mac.colons(),
        },
    )?
    else {
        bail!("phoneprov serve gave an unexpected answer");
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
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

/// `phone`'s way, in lines: target, what it runs, the rungs, why it stops.
pub(crate) fn describe_plan(provisioning: &Provisioning, phone: &Phone) -> Vec<String> {
    let Some(plan) = provisioning.plan(phone, Reader::Nobody) else {
        return vec![format!(
            "{}: no {} target in [firmware]: its firmware is left as it is",
            phone.mac.colons(),
            phone.protocol
        )];
    };
    let running = provisioning
        .watch()
        .and_then(|watch| watch.running(phone.mac));
    let runs = match (&running, &phone.current) {
        (Some(firmware), _) => format!("runs {firmware} (seen by phoneprov)"),
        (None, Some(current)) => format!("runs {current} (declared in phoneprov.toml)"),
        (None, None) => "runs firmware phoneprov has not seen yet".into(),
    };
    let mut lines = vec![
        format!("{}: target {}", phone.mac.colons(), plan.target),
        format!("  {runs}"),
    ];
    if plan.rungs.is_empty() && plan.stop.is_none() {
        lines.push("  at its target: nothing to do".into());
    }
    for (i, rung) in plan.rungs.iter().enumerate() {
        let when = if i == 0 { "next boot" } else { "then" };
        lines.push(format!(
            "  {}. {rung} ({} {}): {when}",
            i + 1,
            rung.protocol,
            rung.version
        ));
    }
    if let Some(stop) = &plan.stop {
        lines.push(format!("  stops: {}", stop.problem(&plan.target)));
        lines.push(format!("  fix: {}", stop.fix()));
    }
    lines
}

/// One observation, for the timeline.
pub(crate) fn describe(observation: &Observation) -> String {
    let at = observation
        .at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| {
            let secs = d.as_secs() % 86_400;
            format!(
                "{:02}:{:02}:{:02}.{:03}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
                d.subsec_millis()
            )
        })
        .unwrap_or_default();
    let what = match &observation.seen {
        Seen::Address => "got an address from phoneprov's DHCP server".into(),
        Seen::Fetch { name, outcome } => {
            let got = match outcome {
                Fetched::Sent => "sent",
                Fetched::NotFound => "not found",
                Fetched::Failed => "FAILED",
            };
            format!("asked for {name}: {got}")
        }
        Seen::Registered { line, agent } => match agent {
            Some(agent) => format!("line {line} registered ({agent})"),
            None => format!("line {line} registered"),
        },
        Seen::AuthFailed { line, cause } => format!("line {line} refused: {cause}"),
        Seen::OtherDhcpServer { server } => format!("took the DHCP offer of {server}, not ours"),
        Seen::OtherCase { name, on_disk } => {
            format!("asked for {name}, found only as {on_disk}")
        }
    };
    format!("{at} UTC  {what}")
}
