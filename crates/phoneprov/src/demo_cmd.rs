//! `phoneprov demo`: phoneprov converting a simulated office from SCCP to
//! SIP on this machine, without root, real phones or Cisco's firmware. The
//! server is the real one, in this process; what each phone's bar says is
//! what phoneprov infers from the phone's requests, as for a real phone.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::ladder::Ladder;
use phoneprov_cisco::stage::Stage;
use phoneprov_cisco::Mac;
use phoneprov_server::{CancellationToken, PhoneStatus, SipHandle, Timelines};
use phoneprov_sim::office::{self, Desk, Outcome};
use phoneprov_sim::{firmware, Network, PhoneEvent, Timing};

use crate::config;
use crate::serve_cmd::{serve_config, ServeArgs};
use crate::sim_cmd::{self, describe, Board};
use crate::tftp_cmd::Running;

/// The office's starting firmware, phone after phone: SCCP 3.x, 5.x, 7.x,
/// 8.x, SIP 4.x and 6.x.
const OFFICE: [&str; 6] = ["sccp-3", "sccp-5", "sccp-7", "sccp-8", "sip-4", "sip-6"];

/// The targets of the demo's phoneprov.toml: SIP 8.12, SCCP 8.1(2).
const TARGETS: [&str; 2] = ["P0S3-8-12-00", "P00308010200"];

/// The demo's phoneprov.toml, before its phones.
const SITE: &str = r#"# The demo office, written by `phoneprov demo`: phoneprov on the loopback,
# on ports the system picks, answering each phone's DHCP directly.
[site]
name = "phoneprov demo"
[server]
address = "127.0.0.1"
[tftp]
bind = "127.0.0.1:0"
[sip]
bind = "127.0.0.1:0"
[dhcp]
mode = "known"
port = 0
netmask = "255.0.0.0"
pool = ["127.0.1.1", "127.0.1.254"]
probe = "off"                  # every loopback address answers a ping
"#;

/// A bar's length: the steps of one boot, from power-on to registered.
const BOOT_STEPS: u64 = 8;

/// Watch phoneprov convert an office of simulated Cisco 7940/7960 phones
/// from SCCP to SIP, on this machine, without root, phones or Cisco's
/// firmware.
///
/// The demo writes a phoneprov.toml for an office of phones on mixed
/// firmware (SCCP 3.x, 5.x, 7.x, 8.x, SIP 4.x and 6.x, one line each, their
/// passwords generated) and synthetic firmware (every load of the upgrade
/// ladder, its files named and sized as Cisco's, filled with text) into a
/// temporary folder. It runs phoneprov's DHCP, TFTP and SIP servers in this
/// process on 127.0.0.1, on free ports, and powers the phones on; they
/// boot, flash, reboot and register over the loopback as real ones would.
/// Each phone's bar shows the stage phoneprov infers from the phone's
/// requests (as `phoneprov status` does for a real phone) and the firmware
/// it booted. At the end: how long it took, which phones registered on
/// SIP, and every problem phoneprov found with its fix. The temporary
/// folder is removed (Ctrl-C stops early and cleans up too). The exit
/// status is 1 unless every phone registered.
///
/// Example: phoneprov demo --phones 12 --speed 50
#[derive(Args)]
pub struct DemoArgs {
    /// Phones in the office; their starting firmware goes round SCCP 3.x,
    /// 5.x, 7.x, 8.x, SIP 4.x, 6.x.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=200))]
    phones: u32,
    /// How many times faster than real phones (which wait 4 s between
    /// retries and about 20 s to reboot), at most 20: phoneprov's DHCP
    /// server takes one packet a second from a phone after a burst of ten,
    /// so a faster phone climbing the whole ladder would look stuck in a loop.
    #[arg(long, value_name = "X", default_value_t = 20.0,
          value_parser = parse_demo_speed)]
    speed: f64,
    /// Keep the temporary folder (phoneprov.toml, firmware, state) and print
    /// its path, to look at what phoneprov generated.
    #[arg(long)]
    keep: bool,
    /// No bars: one line each time phoneprov's view of a phone changes
    /// (the default when the output is not a terminal).
    #[arg(long)]
    plain: bool,
}

fn parse_demo_speed(text: &str) -> Result<f64, String> {
    match sim_cmd::parse_speed(text)? {
        speed if speed <= 20.0 => Ok(speed),
        _ => Err(format!("{text} is above 20, the demo's fastest")),
    }
}

/// What the office did, handed from the server's runtime to the summary.
struct Report {
    board: Board,
    desks: Vec<Desk>,
    /// None when the demo was stopped before every phone was up.
    outcomes: Option<Vec<Outcome>>,
    statuses: Vec<PhoneStatus>,
    /// The phones with a line in phoneprov's registrar.
    registered: Vec<Mac>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let folder = tempfile::Builder::new()
        .prefix("phoneprov-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?;
    println!(
        "phoneprov demo: {} phones; phoneprov.toml, firmware and state in {} ({})",
        args.phones,
        folder.path().display(),
        if args.keep {
            "kept at the end"
        } else {
            "removed at the end"
        }
    );
    let firmware: Vec<_> = OFFICE
        .iter()
        .map(|family| office::starting_flash(family).expect("the office's families are known"))
        .collect();
    let desks = office::desks(args.phones, &firmware);
    let mut config = config::load(&write_office(folder.path(), &desks)?)?;
    // The server's TFTP timers run at the office's speed too, so a stop
    // does not wait for a vanished phone at a real phone's pace.
    config.tftp.limits.retransmit_after = Duration::from_secs(1).div_f64(args.speed);
    let board = Board::new(
        &desks,
        !args.plain && std::io::stdout().is_terminal(),
        Some(BOOT_STEPS),
    );
    let timing = sim_cmd::timing(args.speed);
    let (report, reported) = mpsc::channel();
    serve_config(
        config,
        ServeArgs::default(),
        true,
        |running: &Running, timelines: &Timelines| {
            let network = Network {
                dhcp_server: SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    running.dhcp_addr.map_or(0, |a| a.port()),
                )),
                tftp_port: running.tftp_addr.port(),
                sip_port: None,
            };
            board.say(&format!(
                "phoneprov on 127.0.0.1: DHCP port {}, TFTP port {}, SIP port {}",
                network.dhcp_server.port(),
                network.tftp_port,
                running.sip_addr.map_or(0, |a| a.port())
            ));
            let office = watch(
                board,
                desks,
                network,
                timing,
                timelines.clone(),
                running.sip.clone(),
                running.shutdown.clone(),
            );
            tokio::spawn(async move {
                let _ = report.send(office.await);
            });
        },
    )?;
    let report = reported
        .try_recv()
        .context("phoneprov stopped before the phones were powered on")?;
    let summary = summarize(&report);
    if args.keep {
        let kept = folder.keep();
        println!(
            "Kept {}: phoneprov.toml, firmware/ and state/ (serve them again with `phoneprov --config {} serve`)",
            kept.display(),
            kept.join("phoneprov.toml").display()
        );
    } else {
        folder
            .close()
            .context("cannot remove the demo's temporary folder")?;
    }
    summary
}

/// Writes the synthetic firmware and phoneprov.toml into `folder`; returns
/// the path of phoneprov.toml.
fn write_office(folder: &Path, desks: &[Desk]) -> anyhow::Result<PathBuf> {
    // Every rung of the default ladder, and the targets.
    let rungs = Ladder::default()
        .rules
        .into_iter()
        .filter_map(|rule| rule.example);
    for load in rungs.chain(TARGETS.map(String::from)) {
        firmware::write_load(&folder.join("firmware"), &load)?;
    }
    let [sip, sccp] = TARGETS;
    let mut text = format!("{SITE}[firmware]\nsip = \"{sip}\"\nsccp = \"{sccp}\"\n");
    for (i, desk) in desks.iter().enumerate() {
        write!(
            text,
            "\n[[phone]]\nmac = \"{}\"\nmodel = \"{}\"\ndescription = \"Desk {}\"\nlines = [{{ name = \"{}\" }}]   # password generated\n",
            desk.mac.colons(),
            desk.model,
            i + 1,
            2001 + i
        )?;
        // A phone booting the old way does not say what it runs: the
        // operator reads it off its screen. The loader's phones tell.
        if !desk.flash.runs_loader() {
            writeln!(
                text,
                "current = \"{}\"   # Settings > Status > Firmware Versions",
                desk.flash.app
            )?;
        }
    }
    let path = folder.join("phoneprov.toml");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Powers the office on and shows, until every phone is up (or `shutdown`,
/// on Ctrl-C), each phone's stage as phoneprov's timelines infer it and
/// the firmware it booted; then stops phoneprov.
async fn watch(
    board: Board,
    desks: Vec<Desk>,
    network: Network,
    timing: Timing,
    timelines: Timelines,
    sip: Option<SipHandle>,
    shutdown: CancellationToken,
) -> Report {
    let (events, mut feed) = tokio::sync::mpsc::unbounded_channel();
    let mut screen = Screen {
        flash: desks.iter().map(|d| d.flash.app.to_string()).collect(),
        shown: vec![String::new(); desks.len()],
        desks: desks.clone(),
        board,
    };
    let mut office = tokio::spawn(office::run(desks, network, timing, events));
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let outcomes = loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                office.abort();
                screen.board.say("phoneprov demo: stopping (Ctrl-C)");
                break None;
            }
            ended = &mut office => break ended.ok(),
            Some((mac, event)) = feed.recv() => {
                if let PhoneEvent::PoweredOn { app, .. } = event {
                    screen.booted(mac, app);
                }
            }
            _ = tick.tick() => screen.refresh(&timelines.status()),
        }
    };
    // Who is registered, from the registrar itself; the timelines follow
    // the events a moment behind, so their last word comes after a tick.
    let registered: Vec<Mac> = match &sip {
        Some(sip) => sip.registrations().await.unwrap_or_default(),
        None => Vec::new(),
    }
    .into_iter()
    .filter_map(|contact| contact.phone)
    .collect();
    tick.tick().await;
    let statuses = timelines.status();
    screen.refresh(&statuses);
    for (i, desk) in screen.desks.iter().enumerate() {
        let up = registered.contains(&desk.mac);
        screen.board.finish(desk.mac, &screen.shown[i], up);
    }
    shutdown.cancel();
    Report {
        board: screen.board,
        desks: screen.desks,
        outcomes,
        statuses,
        registered,
    }
}

/// Each phone's line on the board: the firmware it booted, and phoneprov's
/// view of it.
struct Screen {
    board: Board,
    desks: Vec<Desk>,
    /// The application each phone booted last.
    flash: Vec<String>,
    /// What each phone's line says now.
    shown: Vec<String>,
}

impl Screen {
    fn booted(&mut self, mac: Mac, app: String) {
        if let Some(i) = self.desks.iter().position(|d| d.mac == mac) {
            self.flash[i] = app;
        }
    }

    fn refresh(&mut self, statuses: &[PhoneStatus]) {
        for (i, desk) in self.desks.iter().enumerate() {
            let Some(status) = statuses.iter().find(|s| s.phone == desk.mac) else {
                continue;
            };
            let inference = &status.inference;
            let mut text = format!("{:<13} {}", self.flash[i], inference.stage.sentence());
            if let Some(finding) = inference.findings.first() {
                write!(text, "; PROBLEM: {}", finding.problem()).expect("writing to a String");
            }
            if text != self.shown[i] {
                self.board
                    .show(desk.mac, boot_step(&inference.stage), &text);
                self.shown[i] = text;
            }
        }
    }
}

/// How far into one boot a stage is, out of [`BOOT_STEPS`]; None leaves the
/// bar where it was.
fn boot_step(stage: &Stage) -> Option<u64> {
    Some(match stage {
        Stage::NotSeen => 0,
        Stage::Addressed => 1,
        Stage::OldBoot | Stage::Hunting => 2,
        Stage::ComparingLoad(_) => 3,
        Stage::FlashingLoader(_) => 4,
        Stage::FlashingApplication(_) => 5,
        Stage::SipReadingConfig => 6,
        Stage::SipProvisioned => 7,
        Stage::Registered | Stage::SccpRunning => BOOT_STEPS,
        _ => return None,
    })
}

/// Prints the summary: time, phones registered on SIP as phoneprov sees
/// them, why each other phone is not, and every problem with its fix.
fn summarize(report: &Report) -> anyhow::Result<()> {
    let status = |desk: &Desk| report.statuses.iter().find(|s| s.phone == desk.mac);
    let registered = |desk: &Desk| report.registered.contains(&desk.mac);
    let phones = report.desks.len();
    let up = report.desks.iter().filter(|d| registered(d)).count();
    let seconds = report.board.elapsed().as_secs_f64();
    let Some(outcomes) = &report.outcomes else {
        println!("phoneprov demo: stopped after {seconds:.1} s: {up} of {phones} phones registered on SIP");
        bail!("interrupted before every phone was up");
    };
    println!(
        "phoneprov demo: {phones} phones in {seconds:.1} s: {up} of {phones} registered on SIP"
    );
    for outcome in outcomes.iter().filter(|o| !registered(&o.desk)) {
        let seen =
            status(&outcome.desk).map_or("never seen".into(), |s| s.inference.stage.sentence());
        println!(
            "  {}: not registered. phoneprov sees: {seen}. The phone: {}",
            describe(&outcome.desk),
            outcome.verdict()
        );
    }
    let mut problems = 0;
    for desk in &report.desks {
        for finding in status(desk).iter().flat_map(|s| &s.inference.findings) {
            problems += 1;
            println!(
                "  {}: PROBLEM: {}\n      fix: {}",
                describe(desk),
                finding.problem(),
                finding.fix()
            );
        }
    }
    if problems == 0 {
        println!("phoneprov found no problem.");
    }
    if up < phones {
        bail!("{} of {phones} phones did not register on SIP", phones - up);
    }
    Ok(())
}
