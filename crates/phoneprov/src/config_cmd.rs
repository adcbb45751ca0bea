//! `phoneprov config check`: validate phoneprov.toml and show what phoneprov
//! understood, secrets masked.

use std::fmt::Write;
use std::path::Path;

use clap::{Args, Subcommand};
use phoneprov_cisco::site::{SipTarget, Site};

use crate::config::{self, Config};

/// Check phoneprov.toml and show what phoneprov understood from it.
#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the file: every mistake is listed with its line and the fix;
    /// when there is none, print the settings as phoneprov reads them.
    Check {
        /// Also print line passwords (masked by default).
        #[arg(long)]
        show_secrets: bool,
    },
}

pub fn run(args: ConfigArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let ConfigCommand::Check { show_secrets } = args.command;
    let path = config::locate(explicit)?;
    let config = config::load(&path)?;
    print!("{}", describe(&config, show_secrets));
    Ok(())
}

/// The validated view of a config, as `config check` prints it.
pub fn describe(config: &Config, show_secrets: bool) -> String {
    let site: &Site = &config.site;
    let mut out = String::new();
    let _ = writeln!(out, "{} is valid.\n", config.path.display());
    let _ = writeln!(out, "site        {}", site.name);
    if let Some(clock) = &site.clock {
        let _ = writeln!(
            out,
            "timezone    {} (phones: time_zone {})",
            clock.zone.name(),
            clock.time_zone
        );
    }
    if let Some(ntp) = &site.ntp {
        let _ = writeln!(out, "ntp         {ntp}");
    }
    let _ = writeln!(out, "server      {} (what phones are told)", site.server);
    let _ = writeln!(out, "tftp        {}", config.tftp.bind);
    let mode = format!("{:?}", config.dhcp_mode).to_lowercase();
    let _ = match &config.dhcp {
        Some(dhcp) => writeln!(
            out,
            "dhcp        {mode} mode on port {}{}",
            dhcp.port,
            dhcp.interface
                .as_ref()
                .map_or_else(String::new, |i| format!(" of {i}"))
        ),
        None => writeln!(
            out,
            "dhcp        off (no [dhcp] section, or mode = \"off\"): keep your DHCP server pointing phones here"
        ),
    };
    let _ = writeln!(
        out,
        "http        {} (the dashboard is not built yet)",
        config.http_bind
    );
    let (host, port) = site.proxy();
    let _ = match &site.sip {
        SipTarget::Registrar { .. } => writeln!(
            out,
            "sip         phones register with phoneprov at {host}:{port}"
        ),
        SipTarget::External { .. } => writeln!(
            out,
            "sip         phones register with the PBX at {host}:{port}"
        ),
    };
    let _ = writeln!(out, "firmware    {}", config.firmware_dir.display());
    for (protocol, load) in [("SIP", &site.firmware.sip), ("SCCP", &site.firmware.sccp)] {
        if let Some(load) = load {
            let _ = writeln!(out, "  {protocol} target  {load}");
        }
    }
    for (model, targets) in &site.firmware.models {
        for load in targets.sip.iter().chain(&targets.sccp) {
            let _ = writeln!(out, "  {model} target  {load}");
        }
    }
    let _ = writeln!(out, "state       {}", config.state_dir.display());
    if !site.defaults.is_empty() {
        let _ = writeln!(out, "\n[defaults]");
        for (name, value) in &site.defaults {
            let _ = writeln!(out, "  {name}: {}", value.rendered());
        }
    }
    if !site.dialplan.is_empty() {
        let _ = writeln!(out, "\ndial plan   {} rules", site.dialplan.len());
    }
    let _ = writeln!(out, "\nphones ({})", site.phones.len());
    for phone in &site.phones {
        let _ = writeln!(
            out,
            "  {}  {}  {}{}",
            phone.mac.colons(),
            phone.model,
            phone.protocol,
            phone
                .description
                .as_ref()
                .map(|d| format!("  {d:?}"))
                .unwrap_or_default()
        );
        if let Some(current) = &phone.current {
            let _ = writeln!(out, "      runs now  {current}");
        }
        for (index, line) in phone.lines.iter().enumerate() {
            let password = if show_secrets {
                line.password.reveal().to_string()
            } else {
                line.password.to_string()
            };
            let _ = writeln!(
                out,
                "      line {}  {}{}  auth {}  password {password}",
                index + 1,
                line.name,
                line.display
                    .as_ref()
                    .map(|d| format!(" {d:?}"))
                    .unwrap_or_default(),
                line.authname()
            );
        }
        for (name, value) in &phone.params {
            let _ = writeln!(out, "      {name}: {}", value.rendered());
        }
    }
    if !config.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings ({})", config.warnings.len());
        for warning in &config.warnings {
            let _ = writeln!(out, "  {warning}");
        }
    }
    out
}
