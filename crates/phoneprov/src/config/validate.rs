//! From the wire structs to `phoneprov_cisco::site::Site`: every value checked,
//! every mistake reported with its line, its key and the fix.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use phoneprov_cisco::clock::ClockSettings;
use phoneprov_cisco::firmware::Catalog;
use phoneprov_cisco::ladder::{Band, Ladder, Rule};
use phoneprov_cisco::load::{LoadName, Protocol};
use phoneprov_cisco::params::{self, RawValue};
use phoneprov_cisco::services::{phone_text, MAX_PAGE_SIZE};
use phoneprov_cisco::site::{
    DialRule, DialUser, DirectoryEntry, FirmwareTargets, Line, Os79xxName, Params, Phone,
    PhoneServices, Secret, Service, SipTarget, Site, TargetProtocol,
};
use phoneprov_cisco::{Mac, Model};
use phoneprov_dhcp::{DhcpSettings, Engine, HwAddr, Mode as DhcpMode, Pool, SettingsError};
use phoneprov_server::Probe;
use phoneprov_server::TftpSettings;
use phoneprov_tftp::ServerLimits;
use toml::Spanned;

use super::wire;
use super::{DhcpConfig, Problem};

/// What validation produces besides the site.
pub struct Validated {
    pub site: Site,
    pub tftp: TftpSettings,
    pub dhcp_mode: DhcpMode,
    pub dhcp: Option<DhcpConfig>,
    pub http_bind: SocketAddr,
    pub sip: Option<super::SipConfig>,
}

/// Collects the problems of one file.
pub struct Checker<'a> {
    source: &'a str,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub fn new(source: &'a str) -> Checker<'a> {
        Checker {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.source[..offset.min(self.source.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    fn problem(
        &self,
        at: Option<Range<usize>>,
        key: &str,
        problem: String,
        fix: String,
    ) -> Problem {
        Problem {
            line: at.map(|span| self.line(span.start)),
            key: key.to_string(),
            problem,
            fix,
        }
    }

    pub fn error(
        &mut self,
        at: Option<Range<usize>>,
        key: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let problem = self.problem(at, key, problem.into(), fix.into());
        self.errors.push(problem);
    }

    pub fn warn(
        &mut self,
        at: Option<Range<usize>>,
        key: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let problem = self.problem(at, key, problem.into(), fix.into());
        self.warnings.push(problem);
    }

    /// Parses a spanned value, recording an error when it does not parse.
    fn parse<T, E: std::fmt::Display>(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        fix: &str,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.error(Some(value.span()), key, e.to_string(), fix);
                None
            }
        }
    }
}

/// Checks a whole file. `password_for` supplies a generated password for a
/// line that has none.
pub fn validate(
    file: wire::File,
    checker: &mut Checker<'_>,
    catalog: Option<&Catalog>,
    password_for: &mut dyn FnMut(Mac, &str) -> Secret,
) -> Option<Validated> {
    let server = checker.parse(
        &file.server.address,
        "server.address",
        |text| match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => Err(format!("{ip} cannot be reached by a phone")),
            Ok(ip) => Ok(ip),
            Err(_) => Err(format!("{text:?} is not an IP address")),
        },
        "write the address phones use to reach this machine, e.g. address = \"10.0.0.1\"",
    );
    let tftp = tftp_settings(&file.tftp, checker);
    let dhcp_mode = match &file.dhcp.mode {
        Some(mode) => checker.parse(
            mode,
            "dhcp.mode",
            |t| match t {
                "known" => Ok(DhcpMode::Known),
                "cisco" => Ok(DhcpMode::Cisco),
                "pool" => Ok(DhcpMode::Pool),
                "off" => Ok(DhcpMode::Off),
                _ => Err(format!("{t:?} is not a DHCP mode")),
            },
            "use known (only the phones listed here), cisco (also unlisted Cisco phones), pool (everyone) or off",
        ),
        None => Some(DhcpMode::Known),
    };
    let http_bind = match &file.http.bind {
        Some(bind) => checker.parse(
            bind,
            "http.bind",
            |t| t.parse::<SocketAddr>(),
            "write address:port, e.g. \"127.0.0.1:8080\"",
        ),
        None => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
    };
    let (sip, sip_bind) = match sip_target(&file.sip, checker) {
        Some((target, bind)) => (Some(target), bind),
        None => (None, None),
    };
    let firmware = firmware_targets(&file.firmware, catalog, checker);
    let defaults = params(&file.defaults, "defaults", checker);
    let dialplan = file
        .dialplan
        .iter()
        .filter_map(|rule| dial_rule(rule, checker))
        .collect();
    let ladder = match &file.ladder {
        Some(rules) => Ladder {
            rules: rules
                .iter()
                .filter_map(|rule| ladder_rule(rule, checker))
                .collect(),
        },
        None => Ladder::default(),
    };
    let mut seen: HashMap<Mac, usize> = HashMap::new();
    let mut phones = Vec::new();
    let mut reservations = Vec::new();
    for (index, entry) in file.phones.iter().enumerate() {
        let key = format!("phone[{}]", index + 1);
        if let Some(phone) = phone(entry, &key, checker, password_for) {
            if let Some(ip) = &entry.ip {
                let ip_key = format!("{key}.ip");
                let parsed = checker.parse(
                    ip,
                    &ip_key,
                    |t| t.parse::<Ipv4Addr>(),
                    "write the IPv4 address reserved for this phone, e.g. ip = \"10.0.0.50\"",
                );
                if let Some(parsed) = parsed {
                    let hwaddr = HwAddr::new(phone.mac.0);
                    reservations.push((hwaddr, parsed, ip_key, ip.span()));
                }
            }
            let line = checker.line(entry.mac.span().start);
            if let Some(first) = seen.insert(phone.mac, line) {
                checker.error(
                    Some(entry.mac.span()),
                    &format!("{key}.mac"),
                    format!("{} is already listed on line {first}", phone.mac.colons()),
                    "list each phone once; merge the two entries",
                );
            }
            phones.push(phone);
        }
    }
    let clock = file.site.timezone.as_ref().and_then(|zone| {
        let year = chrono::Datelike::year(&chrono::Utc::now());
        checker.parse(
            zone,
            "site.timezone",
            |name| ClockSettings::for_zone(name.trim(), year),
            "write an IANA name such as \"Europe/Berlin\", or set time_zone and the dst_* values in [defaults] by hand",
        )
    });
    let services = match (server, http_bind) {
        (Some(server), Some(http_bind)) => Some(phone_services(&file, server, http_bind, checker)),
        _ => None,
    };
    let site = Site {
        name: file.site.name.clone().unwrap_or_else(|| "phoneprov".into()),
        clock,
        ntp: file.site.ntp.clone(),
        server: server?,
        sip: sip?,
        firmware: firmware?,
        defaults,
        dialplan,
        phones,
        // Filled by `config::load` from the firmware folder's ring index.
        rings: Vec::new(),
        ladder,
        services: services?,
    };
    let (dhcp_mode, http_bind) = (dhcp_mode?, http_bind?);
    let dhcp = match server {
        Some(server) if dhcp_written(&file.dhcp) && dhcp_mode != DhcpMode::Off => dhcp_config(
            &file.dhcp,
            dhcp_mode,
            server,
            &site.phones,
            &reservations,
            checker,
        ),
        _ => None,
    };
    let sip = sip_bind.map(|bind| super::SipConfig {
        bind,
        realm: file
            .sip
            .realm
            .clone()
            .unwrap_or_else(|| site.server.to_string()),
        qop: file.sip.qop.unwrap_or(false),
    });
    (checker.errors.is_empty()).then(|| Validated {
        site,
        tftp: tftp.unwrap_or_default(),
        dhcp_mode,
        dhcp,
        http_bind,
        sip,
    })
}

/// The phones' XML services: `[services]`, `[[directory]]`, `[[service]]`,
/// and whether phones can reach the HTTP server that serves them.
fn phone_services(
    file: &wire::File,
    server: IpAddr,
    http_bind: SocketAddr,
    checker: &mut Checker<'_>,
) -> PhoneServices {
    let mut services = PhoneServices::default();
    if let Some(size) = &file.services.directory_page_size {
        match usize::try_from(*size.get_ref()) {
            Ok(size @ 1..=MAX_PAGE_SIZE) => services.page_size = size,
            _ => checker.error(
                Some(size.span()),
                "services.directory_page_size",
                format!("{} entries per page is not 1 to {MAX_PAGE_SIZE}", size.get_ref()),
                format!("a 7940/7960 shows at most {MAX_PAGE_SIZE} entries per page; leave it out for {MAX_PAGE_SIZE}"),
            ),
        }
    }
    for (index, entry) in file.directory.iter().enumerate() {
        let key = format!("directory[{}]", index + 1);
        let name = shown_text(&entry.name, &format!("{key}.name"), 32, checker);
        let number = entry.number.get_ref().trim();
        if number.is_empty() || number.len() > 32 || !number.chars().all(|c| c.is_ascii_graphic()) {
            checker.error(
                Some(entry.number.span()),
                &format!("{key}.number"),
                format!("{number:?} is not a number the phone can dial"),
                "write the number as dialled, up to 32 characters without spaces, e.g. number = \"0301234567\"",
            );
        } else if let Some(name) = name {
            let number = number.to_string();
            services.directory.push(DirectoryEntry { name, number });
        }
    }
    let room = 100 - 2;
    for (index, entry) in file.menu.iter().enumerate() {
        let key = format!("service[{}]", index + 1);
        if index == room {
            checker.error(
                Some(entry.name.span()),
                &key,
                format!("the services menu holds 100 items, 2 of them phoneprov's directory and search; this is service {}", index + 1),
                format!("list at most {room} services"),
            );
        }
        let name = shown_text(&entry.name, &format!("{key}.name"), 64, checker);
        let url = entry.url.get_ref().trim();
        if !url.starts_with("http://") || url.len() > 256 || url.contains(char::is_whitespace) {
            checker.error(
                Some(entry.url.span()),
                &format!("{key}.url"),
                format!("{url:?} is not an http:// URL of at most 256 characters"),
                "write the service's URL, e.g. url = \"http://10.0.0.9/weather.xml\" (the phone has no HTTPS)",
            );
        } else if let Some(name) = name {
            services.menu.push(Service {
                name,
                url: url.to_string(),
            });
        }
    }
    let ip = http_bind.ip();
    let listed = !file.directory.is_empty() || !file.menu.is_empty();
    let https = file.http.cert.is_some();
    if !file.http.written {
        if listed {
            checker.warn(
                None,
                "http",
                "there is no [http] section, so phoneprov runs no HTTP server and phones are not given directory_url and services_url",
                format!("add [http] with bind = \"{}\"", SocketAddr::new(server, http_bind.port())),
            );
        }
    } else if https {
        if listed {
            checker.warn(
                None,
                "http.cert",
                "the HTTP server speaks HTTPS, which the 7940/7960 cannot, so phones are not given directory_url and services_url",
                "serve the phones' services from a plain-HTTP server of yours and set directory_url and services_url in [defaults]",
            );
        }
    } else if ip.is_unspecified() || ip == server {
        services.http = Some(SocketAddr::new(server, http_bind.port()));
    } else if listed {
        checker.warn(
            None,
            "http.bind",
            format!("phones cannot reach the HTTP server on {http_bind}, so they are not given directory_url and services_url"),
            format!("bind it to the server address, e.g. bind = \"{}\"", SocketAddr::new(server, http_bind.port())),
        );
    }
    services
}

/// The name of a directory entry or service, at most `limit` characters;
/// a warning when the phone shows it otherwise (ISO-8859-1).
fn shown_text(
    text: &Spanned<String>,
    key: &str,
    limit: usize,
    checker: &mut Checker<'_>,
) -> Option<String> {
    let name = text.get_ref().trim();
    if name.is_empty() || name.chars().count() > limit {
        checker.error(
            Some(text.span()),
            key,
            format!("{name:?} is not 1 to {limit} characters"),
            format!("the phone shows {limit} characters; write a shorter name"),
        );
        return None;
    }
    let shown = phone_text(name);
    if shown != name {
        checker.warn(
            Some(text.span()),
            key,
            format!("the phone reads ISO-8859-1 and shows {name:?} as {shown:?}"),
            "write it in Latin letters to show it as written",
        );
    }
    Some(name.to_string())
}

/// True when the file has a `[dhcp]` section with anything in it.
fn dhcp_written(section: &wire::DhcpSection) -> bool {
    section.mode.is_some()
        || section.interface.is_some()
        || section.port.is_some()
        || section.netmask.is_some()
        || section.pool.is_some()
        || section.router.is_some()
        || !section.dns.is_empty()
        || section.domain.is_some()
        || section.lease_time.is_some()
        || section.authoritative.is_some()
        || section.probe.is_some()
        || section.probe_wait.is_some()
        || section.new_leases_per_minute.is_some()
}

/// A duration as people write it: a number and one of ms, s, m, h, d.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    let milliseconds = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?} is not a duration")),
    };
    number
        .checked_mul(milliseconds)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// `[dhcp]` into the engine's settings, checked by [`Engine::new`] so that
/// the file is refused for exactly what the engine would refuse.
fn dhcp_config(
    section: &wire::DhcpSection,
    mode: DhcpMode,
    server: IpAddr,
    phones: &[Phone],
    reservations: &[(HwAddr, Ipv4Addr, String, Range<usize>)],
    checker: &mut Checker<'_>,
) -> Option<DhcpConfig> {
    let IpAddr::V4(server) = server else {
        checker.error(
            None,
            "server.address",
            "DHCP hands out IPv4 addresses, and this server address is IPv6",
            "write this machine's IPv4 address on the phones' network, or set [dhcp] mode = \"off\"",
        );
        return None;
    };
    let ipv4 = |checker: &mut Checker<'_>, value: &Spanned<String>, key: &str, example: &str| {
        checker.parse(
            value,
            key,
            |t| {
                t.parse::<Ipv4Addr>()
                    .map_err(|_| format!("{t:?} is not an IPv4 address"))
            },
            &format!("write an IPv4 address, e.g. {example}"),
        )
    };
    let subnet_mask = match &section.netmask {
        Some(mask) => ipv4(checker, mask, "dhcp.netmask", "netmask = \"255.255.255.0\"")?,
        None => Ipv4Addr::new(255, 255, 255, 0),
    };
    let mut settings = DhcpSettings::new(mode, server, subnet_mask);
    if let Some(pool) = &section.pool {
        let fix = "write pool = [\"first\", \"last\"], e.g. [\"10.0.0.100\", \"10.0.0.199\"]";
        let ends: Vec<Option<Ipv4Addr>> = pool.get_ref().iter().map(|t| t.parse().ok()).collect();
        match ends.as_slice() {
            [Some(first), Some(last)] => {
                settings.pool = Some(Pool {
                    first: *first,
                    last: *last,
                })
            }
            _ => {
                checker.error(
                    Some(pool.span()),
                    "dhcp.pool",
                    "a pool is two IPv4 addresses, its first and its last",
                    fix,
                );
                return None;
            }
        }
    }
    if let Some(router) = &section.router {
        settings.router = Some(ipv4(
            checker,
            router,
            "dhcp.router",
            "router = \"10.0.0.1\"",
        )?);
    }
    for dns in &section.dns {
        settings
            .dns
            .push(ipv4(checker, dns, "dhcp.dns", "dns = [\"10.0.0.1\"]")?);
    }
    settings.domain = section.domain.clone();
    if let Some(lease_time) = &section.lease_time {
        settings.lease_time = checker.parse(
            lease_time,
            "dhcp.lease_time",
            parse_duration,
            "write a number and s, m, h or d, e.g. lease_time = \"1d\"",
        )?;
    }
    settings.authoritative = section.authoritative.unwrap_or(false);
    settings.tftp_servers = vec![server];
    settings.known = phones
        .iter()
        .map(|phone| HwAddr::new(phone.mac.0))
        .collect();
    settings.reservations = reservations
        .iter()
        .map(|(hwaddr, ip, _, _)| (*hwaddr, *ip))
        .collect::<BTreeMap<_, _>>();
    if let Err(error) = Engine::new(settings.clone()) {
        let reservation = |mac: HwAddr| {
            reservations
                .iter()
                .rev()
                .find(|(hwaddr, ..)| *hwaddr == mac)
                .map(|(_, _, key, span)| (Some(span.clone()), key.clone()))
        };
        let at_key = |span: Option<Range<usize>>, key: &str| (span, key.to_string());
        let ((span, key), fix) = match &error {
            SettingsError::SubnetMask(_) => (
                at_key(section.netmask.as_ref().map(|m| m.span()), "dhcp.netmask"),
                "write the phones' network mask, e.g. netmask = \"255.255.255.0\"",
            ),
            SettingsError::ServerAddress(_) => (
                at_key(None, "server.address"),
                "write this machine's own address on the phones' network",
            ),
            SettingsError::Pool { .. } | SettingsError::PoolMissing => (
                at_key(section.pool.as_ref().map(|p| p.span()), "dhcp.pool"),
                "give pool = [first, last] inside the network of [server] address and dhcp.netmask",
            ),
            SettingsError::Reservation { mac, .. } | SettingsError::SharedReservation { second: mac, .. } => (
                reservation(*mac).unwrap_or((None, "phone.ip".into())),
                "reserve a free address of the phones' network for each phone, not the server's, router's or DNS's",
            ),
            SettingsError::LeaseTimes => (
                at_key(section.lease_time.as_ref().map(|t| t.span()), "dhcp.lease_time"),
                "write a lease time between 1m and 3650d, e.g. \"1d\"",
            ),
            SettingsError::TooManyTftpServers => (at_key(None, "server.address"), "name one server"),
            SettingsError::Text { key } => (
                at_key(None, &format!("dhcp.{key}")),
                "write 1 to 255 characters",
            ),
        };
        checker.error(span, &key, error.to_string(), fix);
        return None;
    }
    let probe_wait = match &section.probe_wait {
        Some(wait) => checker.parse(
            wait,
            "dhcp.probe_wait",
            |t| {
                parse_duration(t).and_then(|d| match d.as_millis() {
                    10..=5000 => Ok(d),
                    _ => Err(format!("{t:?} is not between 10ms and 5s")),
                })
            },
            "write a wait between 10ms and 5s, e.g. probe_wait = \"500ms\"",
        )?,
        None => phoneprov_server::dhcp::PROBE_WAIT,
    };
    let probe = match &section.probe {
        Some(probe) => checker.parse(
            probe,
            "dhcp.probe",
            |t| match t {
                "ping" => Ok(Probe::Ping { wait: probe_wait }),
                "off" => Ok(Probe::Off),
                _ => Err(format!("{t:?} is not a probe")),
            },
            "write probe = \"ping\" (check an address is free before offering it) or \"off\"",
        )?,
        None => Probe::Ping { wait: probe_wait },
    };
    let new_leases_per_minute = match &section.new_leases_per_minute {
        Some(cap) if *cap.get_ref() == 0 => {
            checker.error(
                Some(cap.span()),
                "dhcp.new_leases_per_minute",
                "0 new leases a minute would answer no new client at all",
                "write a number of new clients a minute, e.g. 120 (or mode = \"known\" to answer only listed phones)",
            );
            return None;
        }
        Some(cap) => *cap.get_ref(),
        None => phoneprov_server::dhcp::NEW_LEASES_PER_MINUTE,
    };
    Some(DhcpConfig {
        settings,
        interface: section.interface.clone(),
        port: section.port.unwrap_or(67),
        probe,
        new_leases_per_minute,
    })
}

fn tftp_settings(section: &wire::TftpSection, checker: &mut Checker<'_>) -> Option<TftpSettings> {
    let defaults = TftpSettings::default();
    let bind = match &section.bind {
        Some(bind) => checker.parse(
            bind,
            "tftp.bind",
            |t| t.parse::<SocketAddr>(),
            "write address:port, e.g. \"0.0.0.0:69\"",
        )?,
        None => defaults.bind,
    };
    let data_ports = match &section.data_ports {
        Some(range) => Some(checker.parse(
            range,
            "tftp.data_ports",
            crate::tftp_cmd::parse_port_range,
            "write LOW-HIGH, e.g. \"50000-50999\"",
        )?),
        None => None,
    };
    let max_blksize = section.max_blksize.unwrap_or(1468);
    if !(8..=65464).contains(&max_blksize) {
        checker.error(
            None,
            "tftp.max_blksize",
            format!("{max_blksize} is outside 8-65464"),
            "use 1468 (one Ethernet frame) unless you know better",
        );
    }
    Some(TftpSettings {
        bind,
        interface: section.interface.clone(),
        max_transfers: section.max_transfers.unwrap_or(defaults.max_transfers),
        max_per_client: section.max_per_client.unwrap_or(defaults.max_per_client),
        data_ports,
        limits: ServerLimits {
            max_blksize,
            ..ServerLimits::default()
        },
    })
}

/// Whom phones register with; and where phoneprov's own registrar
/// listens, when it runs.
fn sip_target(
    section: &wire::SipSection,
    checker: &mut Checker<'_>,
) -> Option<(SipTarget, Option<SocketAddr>)> {
    let bind = match &section.bind {
        Some(bind) => checker.parse(
            bind,
            "sip.bind",
            |t| t.parse::<SocketAddr>(),
            "write address:port, e.g. \"0.0.0.0:5060\"",
        )?,
        None => SocketAddr::from(([0, 0, 0, 0], 5060)),
    };
    let port = bind.port();
    match (section.registrar.unwrap_or(true), &section.proxy) {
        (true, None) => Some((SipTarget::Registrar { port }, Some(bind))),
        (true, Some(proxy)) => {
            checker.error(
                Some(proxy.span()),
                "sip.proxy",
                "an external proxy is set while phoneprov's own registrar is on",
                "set registrar = false to use the external PBX, or remove proxy",
            );
            None
        }
        (false, None) => {
            checker.error(
                None,
                "sip.registrar",
                "registrar = false needs the PBX phones register with",
                "add proxy = \"192.0.2.5:5060\" (your PBX's address and port)",
            );
            None
        }
        (false, Some(proxy)) => checker
            .parse(
                proxy,
                "sip.proxy",
                parse_host_port,
                "write host:port of your PBX, e.g. \"192.0.2.5:5060\"",
            )
            .map(|target| (target, None)),
    }
}

fn parse_host_port(text: &str) -> Result<SipTarget, String> {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port"))?,
        ),
        None => (text, 5060),
    };
    let checked = params::lookup("proxy1_address")
        .expect("proxyN_address is in the table")
        .check("proxy", &RawValue::Text(host.to_string()))
        .map_err(|e| e.problem)?;
    Ok(SipTarget::External {
        host: checked.0.as_str().to_string(),
        port,
    })
}

fn load(
    value: &Spanned<String>,
    key: &str,
    protocol: Protocol,
    catalog: Option<&Catalog>,
    checker: &mut Checker<'_>,
) -> Option<LoadName> {
    let load = checker.parse(
        value,
        key,
        LoadName::parse,
        "write the load name without extension, e.g. P0S3-8-12-00",
    )?;
    if load.protocol != protocol {
        checker.error(
            Some(value.span()),
            key,
            format!("{load} is a {} load, not {protocol}", load.protocol),
            format!("name a {protocol} load here"),
        );
        return None;
    }
    match catalog.map(|catalog| catalog.load(load.as_str())) {
        Some(Some(found)) if !found.is_complete() => checker.error(
            Some(value.span()),
            key,
            format!("{load} is incomplete in the firmware folder: {} missing", found.missing.join(", ")),
            "import Cisco's whole package for it (`phoneprov firmware import FILE.zip`): a phone given half a load can \
             rewrite its loader and then find no application (\"Protocol Application Invalid\")",
        ),
        Some(None) => checker.warn(
            Some(value.span()),
            key,
            format!("{load} is not in the firmware folder"),
            "import it (`phoneprov firmware import FILE.zip`); until then, phones told to run it keep their current firmware",
        ),
        _ => {}
    }
    Some(load)
}

fn firmware_targets(
    section: &wire::FirmwareSection,
    catalog: Option<&Catalog>,
    checker: &mut Checker<'_>,
) -> Option<FirmwareTargets> {
    let mut targets = FirmwareTargets {
        sip: section
            .sip
            .as_ref()
            .and_then(|v| load(v, "firmware.sip", Protocol::Sip, catalog, checker)),
        sccp: section
            .sccp
            .as_ref()
            .and_then(|v| load(v, "firmware.sccp", Protocol::Sccp, catalog, checker)),
        ..FirmwareTargets::default()
    };
    if let Some(os79xx) = &section.os79xx {
        targets.os79xx = checker.parse(
            os79xx,
            "firmware.os79xx",
            |t| match t {
                "application" => Ok(Os79xxName::Application),
                "loader" => Ok(Os79xxName::Loader),
                _ => Err(format!("{t:?} is neither application nor loader")),
            },
            "write os79xx = \"application\" (e.g. P0S3-8-12-00) or \"loader\" (e.g. P003-8-12-00)",
        )?;
    }
    for (model, loads) in &section.model {
        let key = format!("firmware.model.{}", model.get_ref());
        let Some(model) = checker.parse(model, &key, |t| t.parse::<Model>(), "use 7940 or 7960")
        else {
            continue;
        };
        let entry = targets.models.entry(model).or_default();
        entry.sip = loads
            .sip
            .as_ref()
            .and_then(|v| load(v, &format!("{key}.sip"), Protocol::Sip, catalog, checker));
        entry.sccp = loads
            .sccp
            .as_ref()
            .and_then(|v| load(v, &format!("{key}.sccp"), Protocol::Sccp, catalog, checker));
    }
    Some(targets)
}

/// Checks `[defaults]` or a phone's `params` against the parameter table.
fn params(
    entries: &std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    section: &str,
    checker: &mut Checker<'_>,
) -> Params {
    let mut checked = Params::new();
    for (name, value) in entries {
        let key = format!("{section}.{}", name.get_ref());
        let Some(param) = params::lookup(name.get_ref()) else {
            let fix = match params::nearest(name.get_ref()) {
                Some(near) => format!("did you mean {near}?"),
                None => "see docs/configuration.md for every parameter".into(),
            };
            checker.error(
                Some(name.span()),
                &key,
                format!("{} is not a SIPDefault.cnf parameter", name.get_ref()),
                fix,
            );
            continue;
        };
        if param.name == "sync" {
            checker.error(
                Some(name.span()),
                &key,
                "phoneprov manages sync itself: `phoneprov reboot` changes it so a phone reboots once",
                "remove it; see docs/sip.md, \"Rebooting phones\"",
            );
            continue;
        }
        if param.name.starts_with("lineN_") {
            checker.error(
                Some(name.span()),
                &key,
                "line settings are not parameters here",
                "describe lines with lines = [{ name = \"1001\", password = \"…\" }]",
            );
            continue;
        }
        let raw = match value.get_ref() {
            toml::Value::String(s) => RawValue::Text(s.clone()),
            toml::Value::Integer(i) => RawValue::Integer(*i),
            toml::Value::Boolean(b) => RawValue::Bool(*b),
            other => {
                checker.error(
                    Some(value.span()),
                    &key,
                    format!("a {} is not a parameter value", other.type_str()),
                    "write a string, a number or true/false",
                );
                continue;
            }
        };
        match param.check(name.get_ref(), &raw) {
            Ok((value_checked, warning)) => {
                if let Some(warning) = warning {
                    checker.warn(
                        Some(value.span()),
                        &key,
                        warning.problem,
                        "check the phone accepts it",
                    );
                }
                checked.push((name.get_ref().clone(), value_checked));
            }
            Err(problem) => {
                let fix = param.default.map_or_else(
                    || format!("the parameter is: {}", param.about),
                    |default| {
                        format!(
                            "the parameter is: {} (Cisco's default: {default:?})",
                            param.about
                        )
                    },
                );
                checker.error(Some(value.span()), &key, problem.problem, fix);
            }
        }
    }
    checked
}

fn ladder_rule(rule: &wire::LadderRuleEntry, checker: &mut Checker<'_>) -> Option<Rule> {
    const BAND_FIX: &str = "write a protocol and versions: \"sip 7\" (every 7.x), \"sip 4.4\", \"sccp 0-4\", \"sip 2-4.3\"";
    let from = checker.parse(&rule.from, "ladder.from", Band::parse, BAND_FIX);
    let via = checker.parse(&rule.via, "ladder.via", Band::parse, BAND_FIX);
    let to = match &rule.to {
        Some(to) => Some(checker.parse(
            to,
            "ladder.to",
            |t| match t.to_ascii_lowercase().as_str() {
                "sip" => Ok(TargetProtocol::Sip),
                "sccp" => Ok(TargetProtocol::Sccp),
                _ => Err(format!("{t:?} is neither sip nor sccp")),
            },
            "write to = \"sip\" or \"sccp\" (the rule then holds only for phones going there), or leave it out",
        )?),
        None => None,
    };
    let example = match &rule.example {
        Some(example) => Some(
            checker
                .parse(
                    example,
                    "ladder.example",
                    LoadName::parse,
                    "name a load that fits `via`, e.g. P0S3-07-4-00",
                )?
                .to_string(),
        ),
        None => None,
    };
    Some(Rule {
        from: from?,
        to,
        via: via?,
        example,
    })
}

fn dial_rule(rule: &wire::DialRuleEntry, checker: &mut Checker<'_>) -> Option<DialRule> {
    let pattern = checker.parse(
        &rule.pattern,
        "dialplan.match",
        |t| {
            if !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || "*#.,X[]-".contains(c))
            {
                Ok(t.to_string())
            } else {
                Err(format!("{t:?} is not a dial pattern"))
            }
        },
        "use digits, # and the wildcards . (one digit), * (one or more) and , (second dial tone)",
    )?;
    let timeout = match &rule.timeout {
        Some(t) if (0..=255).contains(t.get_ref()) => *t.get_ref() as u8,
        Some(t) => {
            checker.error(
                Some(t.span()),
                "dialplan.timeout",
                format!("{} is outside 0-255 seconds", t.get_ref()),
                "seconds to wait before dialling; 0 dials at once",
            );
            return None;
        }
        None => 5,
    };
    let user = match &rule.user {
        Some(user) => Some(checker.parse(
            user,
            "dialplan.user",
            |t| match t.to_ascii_lowercase().as_str() {
                "phone" => Ok(DialUser::Phone),
                "ip" => Ok(DialUser::Ip),
                _ => Err(format!("{t:?} is neither phone nor ip")),
            },
            "write user = \"phone\" or \"ip\"",
        )?),
        None => None,
    };
    Some(DialRule {
        pattern,
        timeout,
        user,
        rewrite: rule.rewrite.clone(),
    })
}

fn phone(
    entry: &wire::PhoneEntry,
    key: &str,
    checker: &mut Checker<'_>,
    password_for: &mut dyn FnMut(Mac, &str) -> Secret,
) -> Option<Phone> {
    let mac = checker.parse(
        &entry.mac,
        &format!("{key}.mac"),
        |t| t.parse::<Mac>(),
        "copy the MAC from the label under the phone",
    );
    let model = checker.parse(
        &entry.model,
        &format!("{key}.model"),
        |t| t.parse::<Model>(),
        "use model = \"7940\" or \"7960\"",
    );
    let protocol = match &entry.protocol {
        Some(p) => checker.parse(
            p,
            &format!("{key}.protocol"),
            |t| match t.to_ascii_lowercase().as_str() {
                "sip" => Ok(TargetProtocol::Sip),
                "sccp" | "skinny" => Ok(TargetProtocol::Sccp),
                _ => Err(format!("{t:?} is not a protocol phoneprov converts to")),
            },
            "use protocol = \"sip\" or \"sccp\"",
        ),
        None => Some(TargetProtocol::Sip),
    };
    let current = entry.current.as_ref().and_then(|c| {
        checker.parse(c, &format!("{key}.current"), LoadName::parse, "write the load the phone runs now, e.g. P00308010200, as shown under Settings > Status > Firmware Versions")
    });
    let params = params(&entry.params, &format!("{key}.params"), checker);
    let (mac, model, protocol) = (mac?, model?, protocol?);
    let mut lines = Vec::new();
    for (index, line) in entry.lines.iter().enumerate() {
        let line_key = format!("{key}.lines[{}]", index + 1);
        if index == model.lines() {
            checker.error(
                Some(line.span()),
                &line_key,
                format!(
                    "a {model} has {} line buttons; this is line {}",
                    model.lines(),
                    index + 1
                ),
                format!(
                    "remove lines past the {}th, or use a {}",
                    model.lines(),
                    if model == Model::Cp7940 {
                        "7960"
                    } else {
                        "second phone"
                    }
                ),
            );
        }
        let line = line.get_ref();
        let name = line.name.get_ref().trim();
        if name.is_empty() || name.contains(['"', ' ', '@', ':']) {
            checker.error(
                Some(line.name.span()),
                &format!("{line_key}.name"),
                format!("{name:?} is not a SIP user name"),
                "use the extension, e.g. name = \"1001\"",
            );
            continue;
        }
        lines.push(Line {
            name: name.to_string(),
            display: line.display.clone(),
            authname: line.authname.clone(),
            password: match &line.password {
                Some(password) => Secret::new(password.clone()),
                None => password_for(mac, name),
            },
            label: line.label.clone(),
        });
    }
    Some(Phone {
        mac,
        model,
        protocol,
        description: entry.description.clone(),
        lines,
        params,
        current,
    })
}
