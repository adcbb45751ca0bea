//! `phoneprov doctor`: checks that phoneprov can run here, one line per
//! finding, each with the fix.

mod addresses;
mod files;
mod firewall;
mod ladder;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use futures_util::future::BoxFuture;
use phoneprov_cisco::firmware::Catalog;
use phoneprov_dhcp::Mode;
use phoneprov_server::dhcp::SERVER_PORT;
use phoneprov_server::dhcp_probe::OtherServer;
use phoneprov_server::doctor::{Finding, Level};
use phoneprov_server::http::Doctor;
use phoneprov_server::preflight::{describe_holders, try_bind, udp_port_holders};
use phoneprov_server::view::{plural, Refusal, RefusalKind};

use crate::config::{self, Config, ConfigErrors};
use crate::dhcp_check::{interface_words, look, own_addresses, probe_fix, probe_interface};

/// Check that phoneprov can run on this machine, and say what to fix.
///
/// Each finding is one line, OK, WARNING or PROBLEM, with what was found,
/// and for anything not OK a line saying how to fix it. The checks:
///
/// - config: phoneprov.toml loads (the checks of `phoneprov config check`).
///
/// - firmware: the firmware folder can be read, and its loads are complete.
///
/// - ladder: every listed phone can reach its target with the loads on
///   hand, from what it runs (what serve saw, else `current`); a missing
///   intermediate load is named with the file to import.
///
/// - files: phoneprov.toml is private (it holds the SIP passwords); the
///   state directory can be written, or made, and is private (leases,
///   registrations, the control socket); every firmware file can be read.
///
/// - address: [server] address, which phones are told, is on an interface
///   of this machine that is up and has a link, and is not the loopback or
///   a link-local address; the [dhcp] pool is on that interface's network.
///
/// - tftp port, dhcp port, sip port: the ports of [tftp], [dhcp] and [sip]
///   are free, or who holds them.
///
/// - firewall: the rules `nft` and `iptables-save` show let in what the
///   phones send: DHCP, TFTP requests, the acknowledgements of TFTP
///   transfers (sent to each transfer's own port) and SIP.
///
/// - dhcp: which DHCP servers answer on the phones' network. It broadcasts
///   a DHCPDISCOVER from a made-up MAC and lists every offer; it never
///   accepts one, so no address is taken. The other server may log it,
///   with vendor class "phoneprov probe for other DHCP servers".
///
/// Run it as you run `phoneprov serve`, e.g. `sudo phoneprov doctor`:
/// ports under 1024 need root or CAP_NET_BIND_SERVICE, reading the
/// firewall root or CAP_NET_ADMIN. The exit status is 1 when a check found
/// a PROBLEM, 0 otherwise. A running `phoneprov serve` with an [http]
/// section shows the same findings on its dashboard's /doctor page (and at
/// /api/doctor). See docs/doctor.md.
///
/// Example: sudo phoneprov doctor --interface eth0 --wait 5
#[derive(Args)]
pub struct DoctorArgs {
    /// The phones' network interface: where to look for DHCP servers, and
    /// what firewall rules naming an interface are judged against
    /// [default: [dhcp] interface, else the interface that holds [server]
    /// address].
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Seconds to collect DHCP offers. Servers that ping an address before
    /// offering it answer late (dnsmasq after about 3 s); a slow network
    /// may need more.
    #[arg(long, value_name = "SECONDS", default_value_t = 4.0)]
    wait: f64,
}

/// The findings, printed as they come when `print` (the DHCP check takes a
/// while).
pub(crate) struct Report {
    pub findings: Vec<Finding>,
    print: bool,
}

impl Report {
    fn add(&mut self, finding: Finding) {
        if self.print {
            println!(
                "{:<8} {:<10} {}",
                finding.level.word(),
                finding.check,
                finding.what
            );
            if let Some(fix) = &finding.fix {
                println!("{:<19} fix: {fix}", "");
            }
        }
        self.findings.push(finding);
    }

    /// A line for the reader of the printed report only.
    fn aside(&self, text: &str) {
        if self.print {
            println!("{:<19} {text}", "");
        }
    }

    fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    fn finding(&mut self, level: Level, check: &str, what: String, fix: Option<String>) {
        self.add(Finding {
            level,
            check: check.into(),
            what,
            fix,
        });
    }

    fn ok(&mut self, check: &str, what: String) {
        self.finding(Level::Ok, check, what, None);
    }

    fn warning(&mut self, check: &str, what: String, fix: impl Into<String>) {
        self.finding(Level::Warning, check, what, Some(fix.into()));
    }

    fn problem(&mut self, check: &str, what: String, fix: impl Into<String>) {
        self.finding(Level::Problem, check, what, Some(fix.into()));
    }
}

/// Every check, on the config at `explicit` (else where `phoneprov` looks
/// for it); the DHCP servers answering on `interface` are looked for during
/// `look_for_dhcp` when it is given. Printed as it goes when `print`.
pub(crate) fn examine(
    explicit: Option<&Path>,
    interface: Option<&str>,
    look_for_dhcp: Option<Duration>,
    print: bool,
) -> anyhow::Result<Report> {
    let mut report = Report {
        findings: Vec::new(),
        print,
    };
    let config = check_config(&mut report, explicit);
    if let Some(config) = &config {
        check_firmware(&mut report, config);
        ladder::check(&mut report, config);
        files::check(&mut report, config);
        addresses::check(&mut report, config);
        check_ports(&mut report, config);
        let interface = probe_interface(Some(config), interface);
        firewall::check(
            &mut report,
            &firewall::phones_traffic(config),
            interface.as_deref(),
        );
    }
    if let Some(wait) = look_for_dhcp {
        check_dhcp_servers(&mut report, config.as_ref(), interface, wait)?;
    }
    Ok(report)
}

pub fn run(args: DoctorArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    if !(args.wait > 0.0 && args.wait <= 60.0) {
        bail!("--wait must be between 0 and 60 seconds");
    }
    let report = examine(
        explicit,
        args.interface.as_deref(),
        Some(Duration::from_secs_f64(args.wait)),
        true,
    )?;
    let (problems, warnings) = (report.count(Level::Problem), report.count(Level::Warning));
    println!(
        "\n{}, {}",
        plural(problems, "problem"),
        plural(warnings, "warning")
    );
    if problems > 0 {
        bail!(
            "{} to fix before `phoneprov serve` works (see above)",
            plural(problems, "problem")
        );
    }
    Ok(())
}

/// Loads the config as `config check` does; each mistake is a PROBLEM and
/// each warning a WARNING.
fn check_config(report: &mut Report, explicit: Option<&Path>) -> Option<Config> {
    let loaded = config::locate(explicit).and_then(|path| config::load(&path));
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            match error.downcast_ref::<ConfigErrors>() {
                Some(errors) => {
                    for problem in &errors.problems {
                        let line = problem.line.map_or_else(String::new, |l| format!(":{l}"));
                        report.problem(
                            "config",
                            format!(
                                "{}{line}: {}: {}",
                                errors.path.display(),
                                problem.key,
                                problem.problem
                            ),
                            problem.fix.clone(),
                        );
                    }
                }
                None => report.problem(
                    "config",
                    format!("{error:#}"),
                    "give its path with --config, or write one with `phoneprov init`",
                ),
            }
            report.aside("(the firmware and port checks need a config that loads)");
            return None;
        }
    };
    let dhcp = match &config.dhcp {
        Some(dhcp) => format!(
            "DHCP in {} mode on port {}{}",
            format!("{:?}", dhcp.settings.mode).to_lowercase(),
            dhcp.port,
            dhcp.interface
                .as_ref()
                .map_or_else(String::new, |i| format!(" of {i}"))
        ),
        None => "DHCP off".into(),
    };
    let phones = config.site.phones.len();
    report.ok(
        "config",
        format!(
            "{} loads: {phones} phone{}, server address {}, {dhcp}",
            config.path.display(),
            if phones == 1 { "" } else { "s" },
            config.site.server
        ),
    );
    for warning in &config.warnings {
        let line = warning.line.map_or_else(String::new, |l| format!(":{l}"));
        report.warning(
            "config",
            format!(
                "{}{line}: {}: {}",
                config.path.display(),
                warning.key,
                warning.problem
            ),
            warning.fix.clone(),
        );
    }
    Some(config)
}

/// The firmware folder as `firmware list` reads it.
fn check_firmware(report: &mut Report, config: &Config) {
    let dir = &config.firmware_dir;
    let catalog = match Catalog::scan(dir) {
        Ok(catalog) => catalog,
        Err(error) => {
            report.problem(
                "firmware",
                format!("{error}; `phoneprov serve` needs it"),
                format!(
                    "mkdir -p {} and import Cisco's packages (`phoneprov firmware import FILE.zip`)",
                    dir.display()
                ),
            );
            return;
        }
    };
    let loads = catalog.loads();
    if loads.is_empty() {
        report.warning(
            "firmware",
            format!(
                "{} holds no firmware: phones keep what they run (an SCCP phone stays SCCP)",
                dir.display()
            ),
            "download Cisco's packages with your account and `phoneprov firmware import FILE.zip`",
        );
        return;
    }
    let mut complete = Vec::new();
    for load in loads {
        if load.is_complete() {
            complete.push(load.name.to_string());
        } else {
            report.warning(
                "firmware",
                format!(
                    "{} in {} is incomplete: {} missing",
                    load.name,
                    dir.display(),
                    load.missing.join(", ")
                ),
                "import Cisco's whole package for it; a phone given half a load can be left \
                 with no application (\"Protocol Application Invalid\")",
            );
        }
        for problem in load.size_problems() {
            report.warning(
                "firmware",
                problem.to_string(),
                "replace the file with the one from Cisco's package",
            );
        }
    }
    if !complete.is_empty() {
        report.ok(
            "firmware",
            format!(
                "{}: complete load{} {}",
                dir.display(),
                if complete.len() == 1 { "" } else { "s" },
                complete.join(", ")
            ),
        );
    }
}

/// The TFTP port, the DHCP port when `[dhcp]` is on and the SIP port when
/// the registrar is, bound for a moment exactly as `serve` binds them.
fn check_ports(report: &mut Report, config: &Config) {
    check_port(
        report,
        "tftp port",
        config.tftp.bind,
        config.tftp.interface.as_deref(),
        "stop it (for tftpd-hpa: `systemctl disable --now tftpd-hpa`), or give [tftp] bind another address or port",
    );
    if let Some(dhcp) = &config.dhcp {
        check_port(
            report,
            "dhcp port",
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, dhcp.port)),
            dhcp.interface.as_deref(),
            "stop that DHCP server on this machine, or leave DHCP to it: [dhcp] mode = \"off\", \
             and give the phones option 150 there",
        );
    }
    if let Some(sip) = &config.sip {
        check_port(
            report,
            "sip port",
            sip.bind,
            None,
            "stop that SIP server (for Asterisk: `systemctl disable --now asterisk`), or give \
             [sip] bind another port (the phones are told it)",
        );
    }
}

fn check_port(
    report: &mut Report,
    check: &'static str,
    addr: SocketAddr,
    interface: Option<&str>,
    fix_in_use: &str,
) {
    if addr.port() == 0 {
        return; // the system picks a free port: nothing can hold it
    }
    let on = interface.map_or_else(String::new, |i| format!(" on {i}"));
    let Err(error) = try_bind(addr, interface) else {
        report.ok(check, format!("UDP {addr}{on} is free"));
        return;
    };
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            let holders = udp_port_holders(addr.port());
            if !holders.is_empty() && holders.iter().all(|h| h.name == "phoneprov") {
                report.ok(
                    check,
                    format!(
                        "UDP {addr}{on} is held by {}: `phoneprov serve` is running",
                        describe_holders(&holders)
                    ),
                );
            } else {
                let who = if holders.is_empty() {
                    "another program (run as root to see which)".to_string()
                } else {
                    describe_holders(&holders)
                };
                report.problem(check, format!("UDP {addr}{on} is held by {who}"), fix_in_use);
            }
        }
        io::ErrorKind::PermissionDenied => report.warning(
            check,
            format!(
                "this user may not take UDP port {} (ports under 1024 need root or CAP_NET_BIND_SERVICE)",
                addr.port()
            ),
            "run `phoneprov serve` with sudo, or once `sudo setcap cap_net_bind_service=+ep \
             $(command -v phoneprov)`",
        ),
        io::ErrorKind::AddrNotAvailable => report.problem(
            check,
            format!("{} is not an address of this machine", addr.ip()),
            "bind one of this machine's addresses (`ip -br addr`), or 0.0.0.0",
        ),
        _ if error.raw_os_error() == Some(libc::ENODEV) => report.problem(
            check,
            format!(
                "there is no network interface {}",
                interface.unwrap_or("?")
            ),
            "name an interface of this machine (`ip -br link` lists them)",
        ),
        _ => report.problem(
            check,
            format!("cannot take UDP {addr}{on}: {error}"),
            "see the error above",
        ),
    }
}

/// Which DHCP servers answer, judged by what `[dhcp]` will do beside them.
fn check_dhcp_servers(
    report: &mut Report,
    config: Option<&Config>,
    explicit: Option<&str>,
    wait: Duration,
) -> anyhow::Result<()> {
    let interface = probe_interface(config, explicit);
    let on = interface_words(interface.as_deref());
    let found = match look(interface, own_addresses(config), wait)? {
        Ok(found) => found,
        Err(error) => {
            report.warning(
                "dhcp",
                format!("cannot look for DHCP servers on {on}: {error}"),
                probe_fix(&error),
            );
            return Ok(());
        }
    };
    let mode = config
        .and_then(|c| c.dhcp.as_ref())
        .map(|d| d.settings.mode);
    let server = config.map(|c| c.site.server);
    let looked = format!(
        "within {} s ({} DHCPDISCOVERs from {})",
        wait.as_secs_f64(),
        found.discovers,
        found.hwaddr
    );
    // An offer from this machine's own address is phoneprov's when
    // phoneprov holds the DHCP port, and another server's on this machine
    // otherwise.
    let dhcp_port = config
        .and_then(|c| c.dhcp.as_ref())
        .map_or(SERVER_PORT, |d| d.port);
    let mut others: Vec<(&OtherServer, String)> = Vec::new();
    for found in &found.servers {
        if !found.ours {
            others.push((found, String::new()));
            continue;
        }
        let holders = udp_port_holders(dhcp_port);
        if !holders.is_empty() && holders.iter().all(|h| h.name == "phoneprov") {
            report.ok(
                "dhcp",
                format!(
                    "phoneprov itself answers on {on}: {} (`phoneprov serve` is running)",
                    found.describe()
                ),
            );
        } else if holders.is_empty() {
            others.push((found, " (on this machine)".into()));
        } else {
            others.push((
                found,
                format!(" (on this machine: {})", describe_holders(&holders)),
            ));
        }
    }
    if others.is_empty() {
        return nobody_else(report, config, mode, &on, &looked);
    }
    let not_a_phone = "(the probe is not a phone: a server set up per vendor class or MAC may \
                       answer phones otherwise)";
    for (other, where_) in others {
        let what = format!(
            "another DHCP server answers on {on}: {}{where_}",
            other.describe()
        );
        let sends_here = match server {
            Some(std::net::IpAddr::V4(server)) => other.sends_phones_to(server),
            _ => false,
        };
        match mode {
            Some(Mode::Pool) => report.problem(
                "dhcp",
                what,
                "pool mode beside another server makes two servers fight over every device, and \
                 can convert every phone in the building; set [dhcp] mode = \"known\" (`phoneprov \
                 serve` refuses to start in pool mode until then, unless --force)",
            ),
            Some(Mode::Known | Mode::Cisco) if sends_here => report.ok(
                "dhcp",
                format!("{what}; it sends devices to this server for TFTP, as phoneprov does"),
            ),
            Some(Mode::Known | Mode::Cisco) => report.warning(
                "dhcp",
                what,
                format!(
                    "expected beside {} mode, which answers only your phones; but a listed phone \
                     gets both offers and may take that one: on that server, leave the phones' \
                     MACs out or send them option 150 = {}",
                    format!("{:?}", mode.unwrap_or(Mode::Known)).to_lowercase(),
                    server.map_or_else(|| "this server".into(), |s| s.to_string())
                ),
            ),
            _ if config.is_none() => report.ok("dhcp", what),
            _ if sends_here => report.ok(
                "dhcp",
                format!("{what}; its offer sends devices to this server for TFTP {not_a_phone}"),
            ),
            _ => report.warning(
                "dhcp",
                format!(
                    "{what}; its offer names no TFTP server here {not_a_phone}"
                ),
                format!(
                    "[dhcp] is off, so phones find phoneprov only through that server: give them \
                     option 150 = {} there (and 66), or turn on phoneprov's own ([dhcp] mode = \"known\")",
                    server.map_or_else(|| "this server".into(), |s| s.to_string())
                ),
            ),
        }
    }
    Ok(())
}

/// The DHCP finding when no other server answered.
fn nobody_else(
    report: &mut Report,
    config: Option<&Config>,
    mode: Option<Mode>,
    on: &str,
    looked: &str,
) -> anyhow::Result<()> {
    let none = format!("no other DHCP server answered on {on} {looked}");
    match mode {
        Some(Mode::Known) => report.ok(
            "dhcp",
            format!("{none}; in known mode only the phones in [[phone]] get an address here"),
        ),
        Some(_) => report.ok("dhcp", none),
        None if config.is_none() => report.ok("dhcp", none),
        None => report.warning(
            "dhcp",
            format!("no DHCP server answered on {on} {looked}, and [dhcp] is off: phones here get no address"),
            "turn on phoneprov's ([dhcp] mode = \"known\" with a pool or reservations), or check \
             the network's DHCP server (a slow one may need a longer --wait)",
        ),
    }
    Ok(())
}

/// The doctor of the API and the dashboard: the checks of `phoneprov
/// doctor` on the configuration serve runs with.
pub(crate) struct Examiner {
    pub config: PathBuf,
}

impl Doctor for Examiner {
    fn examine(
        &self,
        look_for_dhcp: Option<Duration>,
    ) -> BoxFuture<'_, Result<Vec<Finding>, Refusal>> {
        let config = self.config.clone();
        Box::pin(async move {
            let examined = tokio::task::spawn_blocking(move || {
                examine(Some(&config), None, look_for_dhcp, false)
            })
            .await;
            match examined {
                Ok(Ok(report)) => Ok(report.findings),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(e) => Err(e.to_string()),
            }
            .map_err(|e| {
                Refusal::new(
                    RefusalKind::Failed,
                    e,
                    "run `phoneprov doctor` on the server",
                )
            })
        })
    }
}
