//! phoneprov.toml: finding it, reading it in two steps (wire structs, then
//! validated settings), and reporting every mistake with its line and fix.

mod http;
mod secrets;
mod validate;
mod wire;

use std::fmt;
use std::path::{Path, PathBuf};

use phoneprov_cisco::firmware::Catalog;
use phoneprov_cisco::ring::{self, Ring, RingList};
use phoneprov_cisco::site::Site;
use phoneprov_server::TftpSettings;

pub use http::HttpServing;
pub use secrets::Secrets;

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "PHONEPROV_CONFIG";

/// One mistake (or warning) in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// Where in the file, e.g. `phone[2].model`.
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "{line}: ")?;
        }
        write!(f, "{}: {}\n    fix: {}", self.key, self.problem, self.fix)
    }
}

/// Everything wrong with a config file.
#[derive(Debug)]
pub struct ConfigErrors {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "{} has {count} mistake{}:",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )?;
        let mut problems: Vec<&Problem> = self.problems.iter().collect();
        problems.sort_by_key(|p| p.line);
        for problem in problems {
            write!(f, "\n  {}:{problem}", self.path.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A loaded, validated configuration.
pub struct Config {
    pub path: PathBuf,
    pub site: Site,
    pub tftp: TftpSettings,
    /// Whom the DHCP server answers.
    pub dhcp_mode: phoneprov_dhcp::Mode,
    /// The DHCP server, when the file has a `[dhcp]` section whose mode is not off.
    pub dhcp: Option<DhcpConfig>,
    /// phoneprov's own registrar, unless `[sip] registrar = false`.
    pub sip: Option<SipConfig>,
    /// Where the HTTP server listens (`[http] bind`).
    pub http_bind: std::net::SocketAddr,
    /// The HTTP server, when the file has an `[http]` section.
    pub http: Option<HttpServing>,
    pub firmware_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Template overrides, when configured.
    pub templates: Option<PathBuf>,
    pub warnings: Vec<Problem>,
}

/// The registrar's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    pub bind: std::net::SocketAddr,
    /// The digest realm: `[sip] realm`, else the server address.
    pub realm: String,
    pub qop: bool,
}

/// The DHCP server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpConfig {
    /// What the engine answers, already accepted by `phoneprov_dhcp::Engine::new`.
    pub settings: phoneprov_dhcp::DhcpSettings,
    /// Where to listen (SO_BINDTODEVICE), e.g. the phones' VLAN.
    pub interface: Option<String>,
    /// 67, or a high port for tests and the demo (answers then go straight
    /// back to the sender, see `phoneprov_server::dhcp`).
    pub port: u16,
    /// The check that an address is free before it is first offered.
    pub probe: phoneprov_server::Probe,
    /// New clients given an address per minute in `cisco` and `pool` modes.
    pub new_leases_per_minute: u32,
}

/// Finds the config file: `--config`, then `$PHONEPROV_CONFIG`, then
/// `./phoneprov.toml`, then `/etc/phoneprov/phoneprov.toml`.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let candidates = [
        PathBuf::from("phoneprov.toml"),
        PathBuf::from("/etc/phoneprov/phoneprov.toml"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no phoneprov.toml found (looked for --config, ${CONFIG_ENV}, ./phoneprov.toml and \
                 /etc/phoneprov/phoneprov.toml); create one with `phoneprov init`"
            )
        })
}

/// Reads and validates `path`. Lines without a password get one from the
/// state directory's secrets (generated and saved on first use).
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut checker = validate::Checker::new(&source);
    let file: wire::File = match toml::from_str(&source) {
        Ok(file) => file,
        Err(e) => {
            checker.errors.push(syntax_problem(&e, &checker));
            return Err(ConfigErrors {
                path: path.to_path_buf(),
                problems: checker.errors,
            }
            .into());
        }
    };
    let state_dir = state_dir(base, file.server.state_dir.as_deref());
    let templates = file.server.templates.as_ref().map(|dir| base.join(dir));
    let firmware_dir = base.join(file.firmware.dir.as_deref().unwrap_or("firmware"));
    let catalog = match Catalog::scan(&firmware_dir) {
        Ok(catalog) => Some(catalog),
        Err(e) => {
            checker.warn(
                None,
                "firmware.dir",
                e.to_string(),
                "create it and import Cisco's load files (`phoneprov firmware import FILE.zip`)",
            );
            None
        }
    };
    let http = http::serving(&file.http, base, &mut checker);
    let mut secrets = Secrets::open(&state_dir)?;
    let validated = validate::validate(file, &mut checker, catalog.as_ref(), &mut |mac, line| {
        secrets.password(mac, line)
    });
    let Some(validated) = validated else {
        return Err(ConfigErrors {
            path: path.to_path_buf(),
            problems: checker.errors,
        }
        .into());
    };
    secrets.save()?;
    let mut warnings = checker.warnings;
    let mut site = validated.site;
    site.rings = rings(&firmware_dir, &mut warnings)?;
    Ok(Config {
        path: path.to_path_buf(),
        site,
        tftp: validated.tftp,
        dhcp_mode: validated.dhcp_mode,
        dhcp: validated.dhcp,
        http_bind: validated.http_bind,
        http,
        sip: validated.sip,
        firmware_dir,
        state_dir,
        templates,
        warnings,
    })
}

/// The rings of the firmware folder's index, for RINGLIST.DAT. A ring whose
/// audio is missing or unplayable is left out, with a warning.
fn rings(firmware_dir: &Path, warnings: &mut Vec<Problem>) -> anyhow::Result<Vec<Ring>> {
    let list = RingList::load(firmware_dir).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n    fix: correct it by hand (docs/rings.md), or move it away and import the rings again \
             with `phoneprov ring import`"
        )
    })?;
    let mut rings = Vec::new();
    for ring in list.into_rings() {
        match ring.check_audio(firmware_dir) {
            Ok(_) => rings.push(ring),
            Err(problem) => warnings.push(Problem {
                line: None,
                key: format!("{} ring {:?}", ring::INDEX, ring.name().as_str()),
                problem: format!("{problem}; it is left out of RINGLIST.DAT"),
                fix: format!(
                    "import it again (`phoneprov ring import FILE.wav --name {:?} --force`) or \
                     remove it (`phoneprov ring remove {:?}`)",
                    ring.name().as_str(),
                    ring.name().as_str()
                ),
            }),
        }
    }
    Ok(rings)
}

/// Creates the state folder (and any missing parent) for this user alone:
/// it holds generated passwords, leases, registrations and the control
/// socket.
pub(crate) fn create_state_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the state folder {}: {e}", dir.display()))
}

/// Where observed state and generated secrets live: `state_dir` from the
/// file (relative to it), else `/var/lib/phoneprov` for a config under /etc,
/// else a `state` folder beside the config.
pub(crate) fn state_dir(base: &Path, configured: Option<&str>) -> PathBuf {
    match configured {
        Some(dir) => base.join(dir),
        None if base.starts_with("/etc") => PathBuf::from("/var/lib/phoneprov"),
        None => base.join("state"),
    }
}

/// A TOML or shape error, with the nearest valid key for an unknown one.
fn syntax_problem(error: &toml::de::Error, checker: &validate::Checker<'_>) -> Problem {
    let line = error.span().map(|span| checker.line(span.start));
    let message = error.message().trim().to_string();
    let backticked = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        if let Some((unknown, expected)) = names.split_first() {
            let nearest = expected
                .iter()
                .min_by_key(|name| phoneprov_cisco::params::edit_distance(unknown, name));
            let fix = match nearest {
                Some(near) => format!("did you mean {near}? (valid here: {})", expected.join(", ")),
                None => "remove it".into(),
            };
            return Problem {
                line,
                key: unknown.clone(),
                problem: format!("{unknown} is not a key phoneprov knows here"),
                fix,
            };
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return Problem {
            line,
            key: field.clone(),
            problem: format!("{field} is required here"),
            fix: format!("add {field} = … (see docs/configuration.md)"),
        };
    }
    Problem {
        line,
        key: "toml".into(),
        problem: message,
        fix: "fix the TOML syntax at that line (see docs/configuration.md for examples)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[site]
name = "Test"
timezone = "Europe/Berlin"
[server]
address = "10.0.0.1"
[firmware]
sip = "P0S3-8-12-00"
[[phone]]
mac = "00:18:B9:FF:FF:FF"
model = "7940"
lines = [{ name = "1001", password = "s3cret" }, { name = "1002" }]
"#;

    /// Loads `text` as phoneprov.toml in a fresh folder whose firmware
    /// folder holds the SIP 8.12 load (names only; the bytes do not matter).
    fn load_text(text: &str) -> (tempfile::TempDir, anyhow::Result<Config>) {
        let dir = tempfile::tempdir().unwrap();
        let firmware = dir.path().join("firmware");
        std::fs::create_dir(&firmware).unwrap();
        for file in ["P0S3-8-12-00.loads", "P0S3-8-12-00.sb2", "P003-8-12-00.sbn"] {
            std::fs::write(firmware.join(file), file).unwrap();
        }
        let path = dir.path().join("phoneprov.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path);
        (dir, loaded)
    }

    /// The single problem a broken file reports.
    fn problem(text: &str) -> Problem {
        let (_dir, loaded) = load_text(text);
        let errors = loaded.err().expect("the file should be refused");
        let errors = errors.downcast::<ConfigErrors>().expect("a ConfigErrors");
        assert_eq!(errors.problems.len(), 1, "{errors}");
        errors.problems.into_iter().next().unwrap()
    }

    #[test]
    fn a_good_file_loads_and_keeps_generated_passwords() {
        let (dir, loaded) = load_text(GOOD);
        let config = loaded.unwrap();
        let lines = &config.site.phones[0].lines;
        assert_eq!(lines[0].password.reveal(), "s3cret");
        let generated = lines[1].password.clone();
        assert_eq!(generated.reveal().len(), 16);
        assert_eq!(config.state_dir, dir.path().join("state"));
        // It holds the generated passwords: this user's alone.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config.state_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let again = load(&dir.path().join("phoneprov.toml")).unwrap();
        assert_eq!(again.site.phones[0].lines[1].password, generated);
    }

    #[test]
    fn every_section_of_the_documented_shape_loads() {
        let text = format!(
            "{GOOD}[tftp]\nbind = \"0.0.0.0:69\"\n[dhcp]\nmode = \"cisco\"\n[sip]\nbind = \"0.0.0.0:5060\"\n\
             registrar = true\n[http]\nbind = \"127.0.0.1:8080\"\n[defaults]\ntelnet_level = 0\n"
        );
        let (_dir, loaded) = load_text(&text);
        let config = loaded.unwrap();
        assert_eq!(config.dhcp_mode, phoneprov_dhcp::Mode::Cisco);
        assert_eq!(config.http_bind, "127.0.0.1:8080".parse().unwrap());
        let p = problem(&format!("{GOOD}[dhcp]\nmode = \"rogue\"\n"));
        assert_eq!(p.key, "dhcp.mode");
        assert!(p.fix.contains("known"), "{}", p.fix);
    }

    #[test]
    fn dhcp_section_builds_the_engine_settings() {
        let text = GOOD.replace(
            "model = \"7940\"\n",
            "model = \"7940\"\nip = \"10.0.0.50\"\n",
        )
            + "[dhcp]\nmode = \"known\"\nport = 6767\npool = [\"10.0.0.100\", \"10.0.0.199\"]\n\
              router = \"10.0.0.254\"\ndns = [\"10.0.0.254\"]\ndomain = \"office.example\"\n\
              lease_time = \"12h\"\n";
        let (_dir, loaded) = load_text(&text);
        let dhcp = loaded.unwrap().dhcp.expect("DHCP is on");
        let mac: phoneprov_dhcp::HwAddr = "00:18:B9:FF:FF:FF".parse().unwrap();
        assert_eq!(dhcp.port, 6767);
        let settings = &dhcp.settings;
        assert_eq!(
            settings.server,
            "10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap()
        );
        assert_eq!(settings.tftp_servers, vec![settings.server]);
        assert_eq!(
            settings.lease_time,
            std::time::Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            settings.reservations[&mac],
            "10.0.0.50".parse::<std::net::Ipv4Addr>().unwrap()
        );
        assert!(settings.known.contains(&mac));
        assert!(!settings.authoritative);
        assert_eq!(
            dhcp.probe,
            phoneprov_server::Probe::Ping {
                wait: std::time::Duration::from_millis(500)
            }
        );
        assert_eq!(dhcp.new_leases_per_minute, 120);
        let tuned = format!("{text}probe_wait = \"200ms\"\nnew_leases_per_minute = 5000\n");
        let tuned = load_text(&tuned).1.unwrap().dhcp.unwrap();
        let wait = std::time::Duration::from_millis(200);
        assert_eq!(tuned.probe, phoneprov_server::Probe::Ping { wait });
        assert_eq!(tuned.new_leases_per_minute, 5000);
        let off = load_text(&format!("{text}probe = \"off\"\n")).1.unwrap();
        assert_eq!(off.dhcp.unwrap().probe, phoneprov_server::Probe::Off);
        // No [dhcp] section, or mode = "off": no DHCP server.
        assert!(load_text(GOOD).1.unwrap().dhcp.is_none());
        let off = format!("{GOOD}[dhcp]\nmode = \"off\"\n");
        assert!(load_text(&off).1.unwrap().dhcp.is_none());
    }

    #[test]
    fn dhcp_mistakes_name_their_key() {
        let dhcp = |rest: &str| problem(&format!("{GOOD}[dhcp]\n{rest}"));
        let p = dhcp("pool = [\"10.0.1.100\", \"10.0.1.199\"]\n");
        assert_eq!((p.line, p.key.as_str()), (Some(14), "dhcp.pool"));
        assert!(p.problem.contains("10.0.0.0/24"), "{}", p.problem);
        assert_eq!(dhcp("mode = \"pool\"\n").key, "dhcp.pool");
        assert_eq!(dhcp("pool = [\"10.0.0.100\"]\n").key, "dhcp.pool");
        assert_eq!(dhcp("lease_time = \"1w\"\n").key, "dhcp.lease_time");
        assert_eq!(dhcp("lease_time = \"10s\"\n").key, "dhcp.lease_time");
        assert_eq!(dhcp("netmask = \"255.0.255.0\"\n").key, "dhcp.netmask");
        assert_eq!(dhcp("router = \"gateway\"\n").key, "dhcp.router");
        assert_eq!(dhcp("probe = \"arp\"\n").key, "dhcp.probe");
        assert_eq!(dhcp("probe_wait = \"10s\"\n").key, "dhcp.probe_wait");
        assert_eq!(
            dhcp("new_leases_per_minute = 0\n").key,
            "dhcp.new_leases_per_minute"
        );
        let p = problem(
            &(GOOD.replace(
                "model = \"7940\"\n",
                "model = \"7940\"\nip = \"10.0.0.1\"\n",
            ) + "[dhcp]\nmode = \"known\"\n"),
        );
        assert_eq!((p.line, p.key.as_str()), (Some(12), "phone[1].ip"));
    }

    #[test]
    fn unknown_key_names_the_nearest_valid_one() {
        let p = problem(&GOOD.replace("name = \"Test\"", "nmae = \"Test\""));
        assert_eq!((p.line, p.key.as_str()), (Some(3), "nmae"));
        assert!(p.fix.contains("did you mean name?"), "{}", p.fix);
        let p = problem(&format!("{GOOD}[defaults]\ntelnet_lvl = 0\n"));
        assert_eq!(p.key, "defaults.telnet_lvl");
        assert_eq!(p.fix, "did you mean telnet_level?");
    }

    #[test]
    fn bad_mac_says_how_to_write_one() {
        let p = problem(&GOOD.replace("00:18:B9:FF:FF:FF", "00:18:B9:FF:FF"));
        assert_eq!((p.line, p.key.as_str()), (Some(10), "phone[1].mac"));
        assert!(p.problem.contains("0018.b9ff.ffff"), "{}", p.problem);
    }

    #[test]
    fn seventh_line_on_a_7960() {
        let lines: Vec<String> = (1..=7).map(|n| format!("{{ name = \"10{n}\" }}")).collect();
        let text = GOOD
            .replace("model = \"7940\"", "model = \"7960\"")
            .replace(
                "lines = [{ name = \"1001\", password = \"s3cret\" }, { name = \"1002\" }]",
                &format!("lines = [{}]", lines.join(", ")),
            );
        let p = problem(&text);
        assert_eq!(p.key, "phone[1].lines[7]");
        assert!(
            p.problem.contains("a 7960 has 6 line buttons"),
            "{}",
            p.problem
        );
        assert!(p.fix.contains("remove lines past the 6th"), "{}", p.fix);
    }

    #[test]
    fn value_out_of_range_gives_the_range() {
        let p = problem(&format!("{GOOD}[defaults]\ntelnet_level = 3\n"));
        assert_eq!(p.key, "defaults.telnet_level");
        assert_eq!(p.problem, "expected a whole number from 0 to 2");
        assert!(p.fix.contains("telnet"), "{}", p.fix);
    }

    #[test]
    fn wrong_protocol_load_for_a_target() {
        let p = problem(&GOOD.replace("sip = \"P0S3-8-12-00\"", "sip = \"P00308010200\""));
        assert_eq!(p.key, "firmware.sip");
        assert!(p.problem.contains("SCCP load"), "{}", p.problem);
    }

    #[test]
    fn duplicate_phone_names_the_first_line() {
        let text = format!("{GOOD}[[phone]]\nmac = \"0018b9ffffff\"\nmodel = \"7960\"\n");
        let p = problem(&text);
        assert!(
            p.problem.contains("already listed on line 10"),
            "{}",
            p.problem
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let p = problem("[site\nname = 1\n");
        assert_eq!(p.line, Some(1));
        assert_eq!(p.key, "toml");
    }

    #[test]
    fn missing_server_address_is_named() {
        let p = problem("[site]\nname = \"x\"\n[server]\n");
        assert_eq!(p.key, "address");
        assert!(p.problem.contains("required"));
    }

    #[test]
    fn image_not_in_the_catalog_is_a_warning_that_says_how_to_import() {
        let (_dir, loaded) = load_text(&GOOD.replace("P0S3-8-12-00", "P0S3-8-11-00"));
        let config = loaded.unwrap();
        assert_eq!(config.warnings.len(), 1);
        let warning = &config.warnings[0];
        assert_eq!(
            (warning.line, warning.key.as_str()),
            (Some(8), "firmware.sip")
        );
        assert!(warning
            .problem
            .contains("P0S3-8-11-00 is not in the firmware folder"));
        assert!(
            warning.fix.contains("phoneprov firmware import"),
            "{}",
            warning.fix
        );
    }

    #[test]
    fn incomplete_load_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("firmware")).unwrap();
        std::fs::write(dir.path().join("firmware/P0S3-8-12-00.loads"), "x").unwrap();
        std::fs::write(dir.path().join("phoneprov.toml"), GOOD).unwrap();
        let errors = load(&dir.path().join("phoneprov.toml")).err().unwrap();
        let errors = errors.downcast::<ConfigErrors>().unwrap();
        let p = &errors.problems[0];
        assert_eq!(p.key, "firmware.sip");
        assert!(p.problem.contains("P0S3-8-12-00.sb2"), "{}", p.problem);
        assert!(p.problem.contains("P003-8-12-00.sbn"), "{}", p.problem);
        assert!(p.fix.contains("Protocol Application Invalid"), "{}", p.fix);
    }

    #[test]
    fn unsure_values_are_warnings() {
        let (_dir, loaded) = load_text(&format!(
            "{GOOD}[defaults]\nphone_label = \"A label that is far too long\"\n"
        ));
        let config = loaded.unwrap();
        assert_eq!(config.warnings.len(), 1);
        assert_eq!(config.warnings[0].key, "defaults.phone_label");
    }

    #[test]
    fn directory_and_services_reach_the_phones_through_http() {
        let text = format!(
            "{GOOD}[http]\nbind = \"0.0.0.0:8080\"\n[services]\ndirectory_page_size = 20\n\
             [[directory]]\nname = \" Pizza Roma \"\nnumber = \"0301234567\"\n\
             [[service]]\nname = \"Weather\"\nurl = \"http://10.0.0.9/weather.xml\"\n"
        );
        let config = load_text(&text).1.unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let services = &config.site.services;
        assert_eq!(services.http, Some("10.0.0.1:8080".parse().unwrap()));
        assert_eq!(services.page_size, 20);
        let pizza = phoneprov_cisco::site::DirectoryEntry {
            name: "Pizza Roma".into(),
            number: "0301234567".into(),
        };
        assert_eq!(services.directory, [pizza]);
        let weather = phoneprov_cisco::site::Service {
            name: "Weather".into(),
            url: "http://10.0.0.9/weather.xml".into(),
        };
        assert_eq!(services.menu, [weather]);
        let on_server = text.replace("0.0.0.0:8080", "10.0.0.1:8081");
        let on_server = load_text(&on_server).1.unwrap().site.services.http;
        assert_eq!(on_server, Some("10.0.0.1:8081".parse().unwrap()));
        let plain = load_text(GOOD).1.unwrap();
        assert_eq!(plain.site.services.page_size, 32);
        assert_eq!(plain.site.services.http, None);
        assert!(plain.warnings.is_empty(), "{:?}", plain.warnings);
    }

    #[test]
    fn a_directory_phones_cannot_reach_is_a_warning() {
        let directory = "[[directory]]\nname = \"Pizza\"\nnumber = \"1\"\n";
        // No [http]: no HTTP server runs at all.
        let config = load_text(&format!("{GOOD}{directory}")).1.unwrap();
        assert_eq!(config.site.services.http, None);
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert_eq!(config.warnings[0].key, "http");
        assert!(config.warnings[0].fix.contains("[http]"));
        // On the loopback: phones cannot reach it.
        let text = format!("{GOOD}[http]\nbind = \"127.0.0.1:8080\"\n{directory}");
        let config = load_text(&text).1.unwrap();
        assert_eq!(config.site.services.http, None);
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert_eq!(config.warnings[0].key, "http.bind");
        assert!(config.warnings[0].fix.contains("10.0.0.1:8080"));
    }

    #[test]
    fn a_name_outside_latin_1_is_a_warning() {
        let text = format!(
            "{GOOD}[http]\nbind = \"0.0.0.0:8080\"\n\
             [[directory]]\nname = \"Café 東京\"\nnumber = \"555\"\n"
        );
        let config = load_text(&text).1.unwrap();
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        let warning = &config.warnings[0];
        assert_eq!(
            (warning.key.as_str(), warning.line),
            ("directory[1].name", Some(16))
        );
        assert!(
            warning.problem.contains("\"Café ??\""),
            "{}",
            warning.problem
        );
    }

    #[test]
    fn directory_and_service_mistakes_name_their_key() {
        let long = |n: usize| "x".repeat(n);
        let cases = [
            (
                "[services]\ndirectory_page_size = 33\n".to_string(),
                "services.directory_page_size",
                "at most 32",
            ),
            (
                "[services]\ndirectory_page_size = 0\n".to_string(),
                "services.directory_page_size",
                "at most 32",
            ),
            (
                "[[directory]]\nname = \" \"\nnumber = \"1\"\n".to_string(),
                "directory[1].name",
                "shorter",
            ),
            (
                format!("[[directory]]\nname = \"{}\"\nnumber = \"1\"\n", long(33)),
                "directory[1].name",
                "32 characters",
            ),
            (
                "[[directory]]\nname = \"A\"\nnumber = \"12 34\"\n".to_string(),
                "directory[1].number",
                "as dialled",
            ),
            (
                format!("[[directory]]\nname = \"A\"\nnumber = \"{}\"\n", long(33)),
                "directory[1].number",
                "32 characters",
            ),
            (
                format!(
                    "[[service]]\nname = \"{}\"\nurl = \"http://x/\"\n",
                    long(65)
                ),
                "service[1].name",
                "64 characters",
            ),
            (
                "[[service]]\nname = \"W\"\nurl = \"https://x/\"\n".to_string(),
                "service[1].url",
                "no HTTPS",
            ),
            (
                format!(
                    "[[service]]\nname = \"W\"\nurl = \"http://x/{}\"\n",
                    long(250)
                ),
                "service[1].url",
                "no HTTPS",
            ),
        ];
        for (section, key, fix) in cases {
            let p = problem(&format!("{GOOD}{section}"));
            assert_eq!(p.key, key, "{section}");
            assert!(p.fix.contains(fix), "{section}: {}", p.fix);
            assert!(p.line.is_some(), "{section}");
        }
        let services: String = (1..=99)
            .map(|n| format!("[[service]]\nname = \"S{n}\"\nurl = \"http://x/{n}\"\n"))
            .collect();
        let p = problem(&format!("{GOOD}{services}"));
        assert_eq!(p.key, "service[99]");
        assert!(p.fix.contains("at most 98"), "{}", p.fix);
    }
}
