//! `phoneprov sim`: an office of simulated 7940/7960 phones booting against
//! a running phoneprov, and the board both it and `phoneprov demo` show
//! them on.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use phoneprov_cisco::Mac;
use phoneprov_sim::office::{self, Desk, Outcome, Tally};
use phoneprov_sim::{Flash, Network, Timing};

/// Power on simulated 7940/7960 phones against a running phoneprov and
/// watch them boot: DHCP, TFTP, flashing, reboots, SIP REGISTER, each over
/// the network as a real phone does it.
///
/// Phone i (from 1) has MAC 00:18:B9 followed by i in six hex digits
/// (00:18:B9:00:00:01, …), is a 7940 when i is odd and a 7960 when even,
/// and starts on the next family of --from in turn. The phones live on the
/// loopback (127.0.0.0/8): phoneprov must listen there, with a [dhcp]
/// port other than 67 (it then answers each phone directly), and list the
/// phones' MACs in phoneprov.toml to convert them. Each phone gives up
/// after a few tries per request and a few reboots, so the run ends by
/// itself; it prints one line per phone event (live progress on a
/// terminal), then a summary. The exit status is 1 when a phone did not
/// come up (SCCP running, or SIP with a registered line, counts as up).
///
/// Families: sccp-3 (P00303030300), sccp-5 (P00305000200), sccp-7
/// (P00307020300), sccp-8 (P00308010200), sip-4 (P0S3-04-4-00), sip-5
/// (P0S3-05-2-00), sip-6 (P0S3-06-0-00), sip-7 (P0S3-07-4-00), sip-8
/// (P0S3-8-12-00), or any exact load name.
///
/// Example: phoneprov sim --phones 20 --from sccp-8,sip-6 --server 127.0.0.1 --dhcp-port 6767 --tftp-port 6969 --sip-port 5070
#[derive(Args)]
pub struct SimArgs {
    /// Phones to power on at once.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    phones: u32,
    /// The firmware the phones start on: families or load names, comma-separated.
    #[arg(long, value_name = "FAMILY", value_delimiter = ',', default_value = "sccp-8",
          value_parser = parse_family)]
    from: Vec<Flash>,
    /// phoneprov's address, on the loopback.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    server: IpAddr,
    /// The port phoneprov's DHCP server listens on ([dhcp] port).
    #[arg(long, value_name = "PORT", default_value_t = 67)]
    dhcp_port: u16,
    /// The port phoneprov's TFTP server listens on ([tftp] bind).
    #[arg(long, value_name = "PORT", default_value_t = 69)]
    tftp_port: u16,
    /// The registrar's port, when not the one phoneprov tells phones in their configuration.
    #[arg(long, value_name = "PORT")]
    sip_port: Option<u16>,
    /// How many times faster than a real phone (which waits 4 s between
    /// retries and about 20 s to reboot). phoneprov's DHCP server takes one
    /// packet a second from a phone after a burst of ten: above about 10, a
    /// phone that reboots many times may find it silent.
    #[arg(long, value_name = "X", default_value_t = 10.0, value_parser = parse_speed)]
    speed: f64,
}

fn parse_family(text: &str) -> Result<Flash, String> {
    office::starting_flash(text.trim()).map_err(|e| {
        let families: Vec<&str> = office::FAMILIES.iter().map(|(name, _)| *name).collect();
        format!("{e} (families: {})", families.join(", "))
    })
}

pub(crate) fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if (1.0..=10_000.0).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "{text:?} is not a speed from 1 (a real phone's timers) to 10000"
        )),
    }
}

/// The phones' timers at `speed` times a real phone's.
pub(crate) fn timing(speed: f64) -> Timing {
    Timing::scaled(1.0 / speed)
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    if !args.server.is_loopback() {
        bail!(
            "--server {}: simulated phones live on the loopback (127.0.0.0/8), so phoneprov must listen there",
            args.server
        );
    }
    let network = Network {
        dhcp_server: SocketAddr::new(args.server, args.dhcp_port),
        tftp_port: args.tftp_port,
        sip_port: args.sip_port,
    };
    let desks = office::desks(args.phones, &args.from);
    let board = Board::new(&desks, std::io::stdout().is_terminal(), None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let outcomes = runtime.block_on(async {
        let (events, mut feed) = tokio::sync::mpsc::unbounded_channel();
        let office = tokio::spawn(office::run(desks, network, timing(args.speed), events));
        while let Some((mac, event)) = feed.recv().await {
            board.show(mac, None, &event.to_string());
        }
        office.await
    })?;
    for outcome in &outcomes {
        let verdict = outcome.verdict();
        board.finish(outcome.desk.mac, &verdict.to_string(), verdict.came_up());
    }
    println!(
        "sim: {}, in {:.1} s",
        Tally::of(&outcomes),
        board.elapsed().as_secs_f64()
    );
    let down: Vec<&Outcome> = outcomes.iter().filter(|o| !o.verdict().came_up()).collect();
    for outcome in &down {
        println!("  {}: {}", describe(&outcome.desk), outcome.verdict());
    }
    if !down.is_empty() {
        bail!(
            "{} of {} phones did not come up",
            down.len(),
            outcomes.len()
        );
    }
    Ok(())
}

/// "0018B9000001 7940 from P00308010200".
pub(crate) fn describe(desk: &Desk) -> String {
    format!("{} {} from {}", desk.mac, desk.model, desk.flash.app)
}

/// The office on screen: a bar per phone on a terminal, else one line per
/// change, each with the time since the start.
pub(crate) struct Board {
    started: Instant,
    bars: Option<MultiProgress>,
    phones: Vec<(Mac, String, ProgressBar)>,
}

impl Board {
    /// `steps`: the length of each phone's bar; None shows a spinner.
    pub(crate) fn new(desks: &[Desk], live: bool, steps: Option<u64>) -> Board {
        let bars = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        let template = match steps {
            Some(_) => "{prefix} [{bar:10}] {wide_msg}",
            None => "{prefix} {spinner} {wide_msg}",
        };
        let style = ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> ");
        let phones = desks
            .iter()
            .map(|desk| {
                let label = describe(desk);
                let bar = ProgressBar::hidden().with_style(style.clone());
                if let Some(steps) = steps {
                    bar.set_length(steps);
                }
                let bar = match &bars {
                    Some(bars) => bars.add(bar),
                    None => bar,
                };
                bar.set_prefix(format!("{} {}", desk.mac, desk.model));
                (desk.mac, label, bar)
            })
            .collect();
        Board {
            started: Instant::now(),
            bars,
            phones,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What `mac` is doing now; `step` moves its bar.
    pub(crate) fn show(&self, mac: Mac, step: Option<u64>, text: &str) {
        let Some((_, label, bar)) = self.phones.iter().find(|(m, ..)| *m == mac) else {
            return;
        };
        if self.bars.is_none() {
            println!("{:7.2}s  {label}  {text}", self.elapsed().as_secs_f64());
            return;
        }
        if let Some(step) = step {
            bar.set_position(step);
        }
        bar.set_message(text.to_owned());
    }

    /// A line of its own, above the bars.
    pub(crate) fn say(&self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => println!("{text}"),
        }
    }

    /// Ends `mac`'s bar with `text`; it stays on screen, full when `up`.
    /// Without bars the summary says it.
    pub(crate) fn finish(&self, mac: Mac, text: &str, up: bool) {
        let Some((_, _, bar)) = self.phones.iter().find(|(m, ..)| *m == mac) else {
            return;
        };
        match (&self.bars, up) {
            (None, _) => {}
            (Some(_), true) => bar.finish_with_message(text.to_owned()),
            (Some(_), false) => bar.abandon_with_message(text.to_owned()),
        }
    }
}
