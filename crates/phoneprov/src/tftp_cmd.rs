//! `phoneprov tftp`: the TFTP server alone, a drop-in for tftpd-hpa that says
//! in one line per request which phone asked for what and what it got.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::FirmwareStore;
use phoneprov_server::{
    words, CancellationToken, DhcpServer, DhcpServerSettings, Event, EventBus, OnBound, ReplyRoute,
    SipHandle, SipServer, SipServerSettings, TftpEvent, TftpServer, TftpSettings,
};
use phoneprov_store::LeaseStore;
use phoneprov_tftp::{FileSource, ServerLimits};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::broadcast::error::RecvError;

/// Serve a folder over TFTP, read-only, and print one line per request.
///
/// Names are matched exactly, then case-insensitively (phones and firmware
/// disagree on case); a leading "./" or "/" is ignored; nothing outside the
/// folder can be reached, by ".." or by symlink. Uploads are refused.
///
/// Example: phoneprov tftp --root ./firmware --bind 0.0.0.0:69
#[derive(Args)]
pub struct TftpArgs {
    /// Folder to serve (firmware images and configuration files).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Address and port to listen on. Port 69 needs root or CAP_NET_BIND_SERVICE.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:69")]
    bind: SocketAddr,
    /// Network interface to serve on only (e.g. the phones' VLAN), Linux only.
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Transfers at once; more requests wait for the phone's retry.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_transfers: usize,
    /// Transfers at once from one client address.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_per_client: usize,
    /// Local ports for transfers, for firewalls, e.g. 50000-50999.
    #[arg(long, value_name = "LOW-HIGH", value_parser = parse_port_range)]
    data_ports: Option<RangeInclusive<u16>>,
    /// Largest block size granted to clients that ask (blksize option).
    /// 1468 keeps every packet inside one Ethernet frame.
    #[arg(long, value_name = "BYTES", default_value_t = 1468,
          value_parser = clap::value_parser!(u16).range(8..=65464))]
    max_blksize: u16,
    /// Largest window granted to clients that ask (windowsize option).
    #[arg(long, value_name = "BLOCKS", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..))]
    max_windowsize: u16,
    /// Seconds before the first retransmission (then doubled on each retry).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    timeout: f64,
    /// Retransmissions of one packet before a transfer is abandoned.
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
    /// Do not print a line per request (errors are still printed).
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let (low, high) = text
        .split_once('-')
        .ok_or_else(|| format!("expected LOW-HIGH, e.g. 50000-50999, not {text:?}"))?;
    let low: u16 = low
        .trim()
        .parse()
        .map_err(|e| format!("low port {low:?}: {e}"))?;
    let high: u16 = high
        .trim()
        .parse()
        .map_err(|e| format!("high port {high:?}: {e}"))?;
    if low == 0 || low > high {
        return Err(format!(
            "{low}-{high} is not a range of ports (1-65535, low first)"
        ));
    }
    Ok(low..=high)
}

pub fn run(args: TftpArgs) -> anyhow::Result<()> {
    if !(args.timeout > 0.0 && args.timeout <= 255.0) {
        bail!("--timeout must be between 0 and 255 seconds");
    }
    let store = FirmwareStore::open(&args.root)?;
    let root = store.root().to_path_buf();
    let settings = TftpSettings {
        bind: args.bind,
        interface: args.interface,
        max_transfers: args.max_transfers,
        max_per_client: args.max_per_client,
        data_ports: args.data_ports,
        limits: ServerLimits {
            max_blksize: args.max_blksize,
            max_windowsize: args.max_windowsize,
            retransmit_after: Duration::from_secs_f64(args.timeout),
            max_retries: args.retries,
            ..ServerLimits::default()
        },
    };
    let services = Services {
        who: "phoneprov tftp",
        banner: format!("phoneprov tftp: serving {}", root.display()),
        tftp: settings,
        files: Arc::new(store),
        dhcp: None,
        sip: None,
        quiet: args.quiet,
        silent: false,
    };
    run_services(services, |_| None, |_| {})
}

/// A DHCP server to run beside TFTP, and the store of its leases.
pub(crate) struct DhcpService {
    pub settings: DhcpServerSettings,
    pub store: Arc<dyn LeaseStore>,
    /// Told of each address before its ACK leaves.
    pub on_bound: Option<OnBound>,
}

/// The SIP registrar to run beside TFTP, on a socket bound beforehand.
pub(crate) struct SipService {
    pub socket: std::net::UdpSocket,
    pub settings: SipServerSettings,
}

/// What [`run_services`] runs.
pub(crate) struct Services {
    /// "phoneprov serve", the start of each of its own lines.
    pub who: &'static str,
    /// The first line, before " on ADDR (Ctrl-C to stop)".
    pub banner: String,
    pub tftp: TftpSettings,
    pub files: Arc<dyn FileSource>,
    pub dhcp: Option<DhcpService>,
    pub sip: Option<SipService>,
    /// Print only what went wrong.
    pub quiet: bool,
    /// Print nothing: the caller shows what happens its own way (`phoneprov demo`).
    pub silent: bool,
}

/// What is running, for `started` to hook more tasks onto.
pub(crate) struct Running {
    pub events: EventBus,
    pub sip: Option<SipHandle>,
    pub shutdown: CancellationToken,
    /// Where each service listens (the port the system chose, for port 0).
    pub tftp_addr: SocketAddr,
    pub dhcp_addr: Option<SocketAddr>,
    pub sip_addr: Option<SocketAddr>,
}

/// Runs a TFTP server, and the DHCP and SIP servers when given, until
/// Ctrl-C or SIGTERM, printing one line per request, DHCP exchange and SIP
/// event, plus whatever `also` says about a TFTP request. `started` runs in
/// the runtime once everything listens. The first Ctrl-C lets running
/// transfers finish; a second one quits at once.
pub(crate) fn run_services(
    services: Services,
    mut also: impl FnMut(&TftpEvent) -> Option<String> + Send + 'static,
    started: impl FnOnce(Running),
) -> anyhow::Result<()> {
    let Services {
        who,
        banner,
        tftp: settings,
        files: source,
        dhcp,
        sip,
        quiet,
        silent,
    } = services;
    let print: fn(String) = if silent {
        drop
    } else {
        |line| println!("{line}")
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        // Listen for signals before saying we serve: a Ctrl-C or SIGTERM that
        // follows the first line at once must stop the server gracefully, not
        // kill it through the default action.
        let mut signals = Signals::new().context("installing the signal handlers")?;
        let events = EventBus::default();
        let server = TftpServer::bind(settings, source, events.clone())?;
        let dhcp = match dhcp {
            Some(DhcpService {
                settings,
                store,
                on_bound,
            }) => {
                let server = DhcpServer::bind(settings, store, events.clone())?;
                if let Some(on_bound) = on_bound {
                    server.tell_bound(on_bound);
                }
                Some(server)
            }
            None => None,
        };
        let tftp_addr = server.local_addr()?;
        print(format!("{banner} on {tftp_addr} (Ctrl-C to stop)"));
        let dhcp_addr = dhcp.as_ref().map(DhcpServer::local_addr).transpose()?;
        if let (Some(dhcp), Some(addr)) = (&dhcp, dhcp_addr) {
            let route = match dhcp.route() {
                ReplyRoute::AsDecided => "",
                ReplyRoute::ToSender => ", answering each sender directly (test mode)",
            };
            print(format!("{who}: DHCP on {addr}{route}"));
        }
        let sip = match sip {
            Some(SipService { socket, settings }) => {
                Some(SipServer::new(socket, settings, events.clone())?)
            }
            None => None,
        };
        let sip_addr = sip.as_ref().map(SipServer::local_addr).transpose()?;
        if let Some(addr) = sip_addr {
            print(format!("{who}: SIP on {addr}"));
        }
        let mut feed = events.subscribe();
        let printer = tokio::spawn(async move {
            loop {
                match feed.recv().await {
                    Ok(event) => {
                        if let Some(line) = words::describe(&event, quiet) {
                            print(line);
                        }
                        if let Event::Tftp(tftp) = &*event {
                            if let Some(line) = also(tftp) {
                                print(line);
                            }
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        print(format!("({missed} requests not shown: output too slow)"))
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            signals.next().await;
            print(format!(
                "{who}: stopping; letting running transfers finish (Ctrl-C again to quit now)"
            ));
            stop.cancel();
            signals.next().await;
            print(format!("{who}: quitting with transfers unfinished"));
            std::process::exit(130);
        });
        started(Running {
            events: events.clone(),
            sip: sip.as_ref().map(SipServer::handle),
            shutdown: shutdown.clone(),
            tftp_addr,
            dhcp_addr,
            sip_addr,
        });
        let dhcp = dhcp.map(|dhcp| tokio::spawn(dhcp.run(shutdown.clone())));
        let sip = sip.map(|sip| tokio::spawn(sip.run(shutdown.clone())));
        server.run(shutdown).await;
        for service in [dhcp, sip].into_iter().flatten() {
            let _ = service.await;
        }
        drop(events);
        let _ = printer.await;
        print(format!("{who}: stopped"));
        Ok(())
    })
}

/// Ctrl-C (SIGINT) or SIGTERM, listened for from creation on, so none is
/// missed between two waits.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
