//! `tftp-storm`: a TFTP boot storm. N simulated 7940/7960 phones, released at
//! once, each fetch the SIP 8.12 boot set from one TFTP server like a phone
//! does (octet, no options, so 512-byte blocks, a fixed retransmission
//! interval, a bounded number of tries), each from its own loopback address.
//! Every file is checked against the local copy of the served folder. One
//! JSON line per run goes to stdout; diagnostics go to stderr.
//!
//! Exit status: 0 when every phone got its whole set intact, 1 when some did
//! not (the JSON line says how many and why), 2 when the run could not start.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use phoneprov_sim::tftp::drive;
use phoneprov_sim::{phone_mac, sip_8_12_boot_set};
use phoneprov_tftp::{ClientConfig, Download};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Boot N phone-like TFTP clients at once against one server on loopback and
/// print one JSON line: n, failures, retransmits, p50/p99/max set time, wall
/// time, bytes.
///
/// Phone i (from 1) has MAC 0018B9 followed by i in six hex digits and
/// fetches SIPDefault.cnf, SIP<MAC>.cnf, XMLDefault.cnf.xml,
/// P0S3-8-12-00.loads, P003-8-12-00.sbn, P0S3-8-12-00.sb2 in that order, each
/// from a fresh UDP port on its own address 127.0.Y.X (Y from 1), so
/// per-client limits see distinct phones.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The TFTP server (a loopback address: the phones live on 127.0.0.0/8).
    #[arg(
        long,
        value_name = "ADDR:PORT",
        required_unless_present = "check_sources"
    )]
    server: Option<SocketAddr>,
    /// The folder the server serves, read here to check every file received.
    #[arg(long, value_name = "DIR", required_unless_present = "check_sources")]
    root: Option<PathBuf>,
    /// Phones booting at once.
    #[arg(long, short, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=60000))]
    phones: u32,
    /// Milliseconds before a phone sends its last packet again (a real
    /// 7940 waits about 4 s; the storm is time-scaled).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    retransmit_ms: u64,
    /// Retransmissions of one packet before a phone gives up on a file.
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
    /// Seconds one file may take before the phone gives up on it.
    #[arg(long, value_name = "S", default_value_t = 120)]
    file_deadline: u64,
    /// Seconds the whole run may take; phones still busy then are failures.
    #[arg(long, value_name = "S", default_value_t = 300)]
    deadline: u64,
    /// Send every phone from 127.0.0.1 (distinct ports only), for servers
    /// whose per-client limit should be tested, or hosts that refuse
    /// other loopback addresses.
    #[arg(long)]
    single_source: bool,
    /// Only check whether this host lets N phones send from distinct
    /// loopback addresses: exit 0 if so, 1 (with the reason) if not.
    #[arg(long)]
    check_sources: bool,
    /// Tokio worker threads of the generator.
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
}

/// Everything the phones share.
struct Storm {
    server: SocketAddr,
    config: ClientConfig,
    /// Expected contents of every file any phone asks for, by name.
    expected: HashMap<String, Arc<[u8]>>,
    /// Packets the phones sent again after a timeout.
    retransmits: AtomicU64,
    /// Bytes of files received and found identical to the local copy.
    bytes: AtomicU64,
}

/// How one phone's boot went.
struct PhoneOutcome {
    set_time: Duration,
    /// The file that failed and why, if one did.
    failure: Option<(String, String)>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.check_sources {
        return match distinct_sources_work(args.phones) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tftp-storm: cannot bind distinct loopback addresses: {e}");
                std::process::ExitCode::from(1)
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build();
    let result = runtime
        .context("starting the runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(report) => {
            println!("{}", report.json());
            if report.failures == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("tftp-storm: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The address phone `index` (from 1) sends from: 127.0.1.1, ..., 127.0.1.250,
/// 127.0.2.1, ... (250 per /24, skipping .0 and the top addresses).
fn source_ip(index: u32) -> IpAddr {
    let i = index - 1;
    let y = 1 + i / 250;
    let x = 1 + i % 250;
    IpAddr::V4(Ipv4Addr::new(127, (y >> 8) as u8, y as u8, x as u8))
}

/// Whether this host lets a socket bind to the addresses the phones need.
fn distinct_sources_work(phones: u32) -> Result<(), String> {
    for index in [1, phones] {
        let ip = source_ip(index);
        std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).map_err(|e| format!("{ip}: {e}"))?;
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let (Some(server), Some(root)) = (args.server, &args.root) else {
        bail!("--server and --root are required");
    };
    ensure!(
        server.ip().is_loopback() && server.is_ipv4(),
        "--server must be on 127.0.0.0/8 (the simulated phones live there), not {server}"
    );
    let expected = read_expected(root, args.phones)?;
    let single_source = args.single_source
        || match distinct_sources_work(args.phones) {
            Ok(()) => false,
            Err(e) => {
                eprintln!(
                    "tftp-storm: WARNING: cannot bind distinct loopback addresses ({e}); \
                     every phone sends from 127.0.0.1, so per-client limits see one client"
                );
                true
            }
        };
    let storm = Arc::new(Storm {
        server,
        config: ClientConfig {
            retransmit_after: Duration::from_millis(args.retransmit_ms.max(1)),
            backoff: false,
            max_retries: args.retries,
            deadline: Duration::from_secs(args.file_deadline),
            ..ClientConfig::default()
        },
        expected,
        retransmits: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });

    // The start gun: every phone waits for the instant the storm begins.
    let (start_gun, start) = watch::channel(None::<Instant>);
    let mut phones = JoinSet::new();
    let (dally_tx, mut dally_rx) = tokio::sync::mpsc::unbounded_channel();
    for index in 1..=args.phones {
        let storm = storm.clone();
        let mut start = start.clone();
        let dally_tx = dally_tx.clone();
        let ip = if single_source {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            source_ip(index)
        };
        phones.spawn(async move {
            let started = start
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|fired| *fired)
                .unwrap_or_else(Instant::now);
            boot(&storm, index, ip, started, &dally_tx).await
        });
    }
    drop(dally_tx);
    // Every phone counts its time from this instant, however late its task
    // gets to run.
    let started = Instant::now();
    start_gun.send_replace(Some(started));

    let mut set_times = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let collect = async {
        while let Some(joined) = phones.join_next().await {
            let outcome = joined.context("a phone task panicked")?;
            match outcome.failure {
                None => set_times.push(outcome.set_time),
                Some((file, why)) => *errors.entry(format!("{file}: {why}")).or_default() += 1,
            }
        }
        anyhow::Ok(())
    };
    let overall = Duration::from_secs(args.deadline);
    match tokio::time::timeout(overall, collect).await {
        Ok(collected) => collected?,
        Err(_) => {
            let unfinished = phones.len() as u64;
            phones.abort_all();
            *errors
                .entry(format!("run deadline of {}s reached", args.deadline))
                .or_default() += unfinished;
        }
    }
    let wall = started.elapsed();

    // Let the last ACKs linger as a phone's would, so no server sees a port
    // vanish under a retransmitted final block.
    let linger = storm.config.retransmit_after * 2;
    let _ = tokio::time::timeout(linger, async {
        while let Some(dally) = dally_rx.recv().await {
            let _ = dally.await;
        }
    })
    .await;

    set_times.sort();
    Ok(Report {
        server,
        n: args.phones,
        failures: args.phones - set_times.len() as u32,
        retransmits: storm.retransmits.load(Ordering::Relaxed),
        p50: percentile(&set_times, 50, args.phones),
        p99: percentile(&set_times, 99, args.phones),
        max: percentile(&set_times, 100, args.phones),
        wall,
        bytes: storm.bytes.load(Ordering::Relaxed),
        source_addresses: if single_source { 1 } else { args.phones },
        errors,
    })
}

/// Reads every file the phones will ask for from the served folder.
fn read_expected(root: &Path, phones: u32) -> anyhow::Result<HashMap<String, Arc<[u8]>>> {
    let mut expected = HashMap::new();
    for index in 1..=phones {
        let mac = phone_mac(index);
        for name in sip_8_12_boot_set(&mac) {
            if expected.contains_key(&name) {
                continue;
            }
            let path = root.join(&name);
            let content = std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (the served folder must hold the whole set for {phones} phones)",
                    path.display()
                )
            })?;
            expected.insert(name, Arc::from(content));
        }
    }
    if expected.is_empty() {
        bail!("no files to fetch");
    }
    Ok(expected)
}

/// One phone: fetches its set in order, stopping at the first failure.
async fn boot(
    storm: &Storm,
    index: u32,
    ip: IpAddr,
    started: Instant,
    dallies: &tokio::sync::mpsc::UnboundedSender<JoinHandle<()>>,
) -> PhoneOutcome {
    let mut buf = vec![0u8; 2048];
    let mut failure = None;
    let mac = phone_mac(index);
    for name in sip_8_12_boot_set(&mac) {
        match fetch(storm, ip, &name, &mut buf).await {
            Ok((socket, mut download)) => {
                // Dally like a phone: acknowledge the last block again if the
                // server repeats it, while the phone goes on to the next file.
                let _ = dallies.send(tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    drive(&socket, &mut download, &mut buf, Download::is_closed).await;
                }));
            }
            Err(why) => {
                // One line per kind of file and reason, whichever phone it was.
                failure = Some((name.replace(&mac, "<MAC>"), why));
                break;
            }
        }
    }
    PhoneOutcome {
        set_time: started.elapsed(),
        failure,
    }
}

/// Fetches one file from a fresh port and checks it. Returns the socket and
/// the download, still dallying, on success.
async fn fetch(
    storm: &Storm,
    ip: IpAddr,
    name: &str,
    buf: &mut [u8],
) -> Result<(UdpSocket, Download), String> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("cannot bind {ip}: {e}"))?;
    let mut download = Download::new(storm.server, name, storm.config.clone(), Instant::now());
    drive(&socket, &mut download, buf, |d| d.result().is_some()).await;
    storm
        .retransmits
        .fetch_add(download.retransmits(), Ordering::Relaxed);
    match download.result() {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("no result".into()),
    }
    let expected = &storm.expected[name];
    let got = download.content();
    if got.len() != expected.len() {
        return Err(format!(
            "got {} bytes, expected {}",
            got.len(),
            expected.len()
        ));
    }
    if got[..] != expected[..] {
        return Err("content differs from the local copy".into());
    }
    storm.bytes.fetch_add(got.len() as u64, Ordering::Relaxed);
    Ok((socket, download))
}

/// The time by which `p` percent of all `phones` had their set (nearest
/// rank), given the sorted times of those that got it: a phone that failed
/// never got there, so this is None when more than 100 - p percent failed.
fn percentile(sorted: &[Duration], p: usize, phones: u32) -> Option<Duration> {
    let rank = (phones as usize * p).div_ceil(100);
    sorted.get(rank.max(1) - 1).copied()
}

struct Report {
    server: SocketAddr,
    n: u32,
    failures: u32,
    retransmits: u64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    max: Option<Duration>,
    wall: Duration,
    bytes: u64,
    source_addresses: u32,
    errors: BTreeMap<String, u64>,
}

impl Report {
    /// One line of JSON. Times are in milliseconds: p50, p99 and max are
    /// the times by which 50%, 99% and all of the phones had their whole set
    /// (null when fewer than that many did).
    fn json(&self) -> String {
        let ms = |d: Option<Duration>| match d {
            Some(d) => format!("{:.1}", d.as_secs_f64() * 1000.0),
            None => "null".into(),
        };
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(why, count)| format!("{}:{count}", json_string(why)))
            .collect();
        format!(
            "{{\"server\":\"{}\",\"n\":{},\"failures\":{},\"retransmits\":{},\"p50_ms\":{},\
             \"p99_ms\":{},\"max_ms\":{},\"wall_ms\":{},\"bytes\":{},\"source_addresses\":{},\
             \"errors\":{{{}}}}}",
            self.server,
            self.n,
            self.failures,
            self.retransmits,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            ms(Some(self.wall)),
            self.bytes,
            self.source_addresses,
            errors.join(",")
        )
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_on_loopback_and_skip_network_and_top_addresses() {
        assert_eq!(source_ip(1), IpAddr::from([127, 0, 1, 1]));
        assert_eq!(source_ip(250), IpAddr::from([127, 0, 1, 250]));
        assert_eq!(source_ip(251), IpAddr::from([127, 0, 2, 1]));
        assert!((1..=60000).all(|i| source_ip(i).is_loopback()));
    }

    #[test]
    fn nearest_rank_percentiles_count_failed_phones_as_never_done() {
        let times: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(percentile(&times, 50, 200), ms(100));
        assert_eq!(percentile(&times, 99, 200), ms(198));
        assert_eq!(percentile(&times, 100, 200), ms(200));
        assert_eq!(percentile(&times[..1], 99, 1), ms(1));
        // 2 of 200 failed: 99% (198 phones) still made it, all 200 did not.
        assert_eq!(percentile(&times[..198], 99, 200), ms(198));
        assert_eq!(percentile(&times[..198], 100, 200), None);
        assert_eq!(percentile(&times[..197], 99, 200), None);
        assert_eq!(percentile(&[], 50, 10), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a \"b\"\\\n"), "\"a \\\"b\\\"\\\\\\u000a\"");
    }
}
