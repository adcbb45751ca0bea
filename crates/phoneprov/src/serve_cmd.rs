//! `phoneprov serve`: the services of phoneprov.toml (TFTP with every phone's
//! files generated on the fly, DHCP when `[dhcp]` is set, SIP, the HTTP
//! API when `[http]` is set), and
//! `phoneprov render`: what a phone will get.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::files::{Identify, PhoneFiles};
use phoneprov_cisco::ladder::{FirmwareFolder, FirmwareWatch};
use phoneprov_cisco::render::{generated_for, Answer, Provisioning, SyncValue};
use phoneprov_cisco::{FirmwareStore, Mac, PhoneFile};
use phoneprov_dhcp::HwAddr;
use phoneprov_server::http::{self, needs_token, App, HttpServer, HttpSettings};
use phoneprov_server::timeline::{SeenFirmware, KEPT_PER_PHONE};
use phoneprov_server::{neighbours, DhcpServerSettings, TftpEvent, Timelines};
use phoneprov_store::{SqliteLeases, SqliteTimeline};
use serde::{Deserialize, Serialize};

use crate::adopt::Adopter;
use crate::climb::Climb;
use crate::config::{self, Config};
use crate::control::{Control, ControlSocket};
use crate::doctor_cmd::Examiner;
use crate::leases_cmd::lease_db;
use crate::reload::Watch;
use crate::sip_cmd::{self, SyncFile};
use crate::tftp_cmd::{run_services, DhcpService, Running, Services};

/// Run phoneprov from phoneprov.toml: serve each listed phone the files
/// generated for it, and firmware from the firmware folder.
///
/// Phones not in phoneprov.toml get "file not found" for files named after
/// their MAC, and nothing that would change their firmware; they are listed
/// as discovered in the state folder (discovered.toml).
///
/// With an [http] section it also serves the JSON API, /metrics and
/// /healthz (docs/api.md); bound beyond loopback, they ask for the admin
/// token in the state folder (admin-token, made when missing).
#[derive(Args, Default)]
pub struct ServeArgs {
    /// Print only the requests that failed.
    #[arg(long, short)]
    quiet: bool,
    /// Start the DHCP server in pool mode even though another DHCP server
    /// answers on its network (checked at start when [dhcp] listens on
    /// port 67). Two servers handing out addresses on one network fight:
    /// use it only when you are sure.
    #[arg(long)]
    force: bool,
    /// When phoneprov.toml changes (it is always reloaded), also reboot the
    /// registered phones whose files changed, so they take the change now
    /// (SIP NOTIFY check-sync; see `phoneprov reboot`).
    #[arg(long)]
    apply_on_change: bool,
}

/// Print the files phoneprov generates for a phone, exactly as it would
/// serve them.
///
/// Example: phoneprov render 00:18:B9:FF:FF:FF SIP0018B9FFFFFF.cnf
#[derive(Args)]
pub struct RenderArgs {
    /// The phone's MAC, in any notation.
    mac: String,
    /// One file (e.g. SIPDefault.cnf); all of the phone's files when omitted.
    file: Option<String>,
}

/// The generator of `config`'s files, rendering `sync` as the state folder
/// says (see `phoneprov reboot`).
pub(crate) fn provisioning(config: &Config, sync: SyncValue) -> anyhow::Result<Provisioning> {
    Ok(
        Provisioning::new(config.site.clone(), config.templates.as_deref())
            .context("phoneprov.toml is valid, but its files cannot be generated")?
            .with_sync(sync),
    )
}

/// What a phone would be told, from outside a running serve: what serve
/// last wrote in `state_dir/timeline.db` (read only), with the firmware
/// folder's loads.
pub(crate) fn seen_so_far(config: &Config) -> anyhow::Result<Arc<dyn FirmwareWatch>> {
    let path = config.state_dir.join(TIMELINE_DB);
    let entries = if path.exists() {
        SqliteTimeline::read(&path)?
    } else {
        Vec::new()
    };
    Ok(Arc::new(SeenFirmware {
        timelines: Timelines::new(neighbours::mac_of).restored(entries),
        folder: FirmwareFolder(config.firmware_dir.clone()),
    }))
}

/// The phones' timelines, in the state folder.
const TIMELINE_DB: &str = "timeline.db";

/// Builds the resolver every service shares; `identify` names the phone at
/// an address, for the files whose names carry no MAC.
pub(crate) fn phone_files(
    config: &Config,
    sync: SyncValue,
    identify: Box<Identify>,
    watch: Option<Arc<dyn FirmwareWatch>>,
) -> anyhow::Result<PhoneFiles> {
    let mut provisioning = provisioning(config, sync)?;
    if let Some(watch) = watch {
        provisioning = provisioning.with_watch(watch);
    }
    let firmware = FirmwareStore::open(&config.firmware_dir).with_context(|| {
        format!(
            "the firmware folder is needed; create {} and put Cisco's load files in it (`phoneprov firmware import`)",
            config.firmware_dir.display()
        )
    })?;
    Ok(PhoneFiles::new(provisioning, firmware, identify))
}

pub(crate) fn print_warnings(config: &Config) {
    for warning in &config.warnings {
        eprintln!("warning: {}:{warning}", config.path.display());
    }
}

pub fn render(args: RenderArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    print_warnings(&config);
    let mac: Mac = args.mac.parse()?;
    let Some(phone) = config.site.phone(mac) else {
        let known: Vec<String> = config.site.phones.iter().map(|p| p.mac.colons()).collect();
        bail!(
            "{} is not in {}; listed phones: {}",
            mac.colons(),
            config.path.display(),
            known.join(", ")
        );
    };
    let provisioning = provisioning(&config, SyncFile::open(&config.state_dir)?.value)?
        .with_watch(seen_so_far(&config)?);
    let names: Vec<String> = match args.file {
        Some(file) => vec![file],
        None => generated_for(phone.mac),
    };
    let several = names.len() > 1;
    for name in names {
        match provisioning.answer(&name, Some(mac)) {
            Answer::File(file) => {
                if several {
                    println!("==> {} <==", file.name);
                }
                print!("{}", String::from_utf8_lossy(&file.content));
                if several {
                    println!();
                }
            }
            Answer::NotFound(reason) => println!("==> {name}: not served ({reason}) <=="),
            Answer::NotGenerated => println!(
                "==> {name}: not generated; served from the firmware folder if it is there <=="
            ),
        }
    }
    Ok(())
}

pub fn serve(args: ServeArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    print_warnings(&config);
    crate::dhcp_check::check_before_serving(&config, args.force)?;
    serve_config(config, args, false, |_, _| {})
}

/// Serves `config` as `phoneprov serve` does until Ctrl-C, SIGTERM or the
/// shutdown token, printing nothing when `silent`. `started` sees the
/// running services and the phones' timelines once everything listens.
pub(crate) fn serve_config(
    mut config: Config,
    args: ServeArgs,
    silent: bool,
    started: impl FnOnce(&Running, &Timelines),
) -> anyhow::Result<()> {
    let mut control = ControlSocket::bind(&config.state_dir)?;
    let http = http_server(&config)?;
    // Phones are told the port the HTTP server really has (bind port 0).
    if let (Some((server, _)), Some(services)) = (&http, config.site.services.http.as_mut()) {
        services.set_port(server.local_addr()?.port());
    }
    let sip = sip_cmd::service(&mut config)?;
    let sync = Arc::new(SyncFile::open(&config.state_dir)?);
    // A phone's own OS79XX.TXT and XMLDefault.cnf.xml go to the address
    // phoneprov leased it, or the neighbour table names.
    let timelines =
        Timelines::new(neighbours::mac_of).kept_in(timeline_store(&config.state_dir)?)?;
    let at = timelines.clone();
    let identify = Box::new(move |ip| at.phone_at(ip));
    let watch = Arc::new(SeenFirmware {
        timelines: timelines.clone(),
        folder: FirmwareFolder(config.firmware_dir.clone()),
    });
    let files = Arc::new(phone_files(
        &config,
        sync.value.clone(),
        identify,
        Some(watch),
    )?);
    let mut discovered = Discovered::open(&config)?;
    let banner = format!(
        "phoneprov serve: {} phone{} from {}, firmware in {}; TFTP",
        config.site.phones.len(),
        if config.site.phones.len() == 1 {
            ""
        } else {
            "s"
        },
        config.path.display(),
        config.firmware_dir.display()
    );
    let dhcp = match &config.dhcp {
        Some(dhcp) => {
            // The phone's next request (OS79XX.TXT, no MAC in its name)
            // may come before the timelines hear of the ACK.
            let at = timelines.clone();
            Some(DhcpService {
                on_bound: Some(Arc::new(move |ip, hwaddr: HwAddr| {
                    at.leased(IpAddr::V4(ip), Mac(hwaddr.octets()))
                })),
                ..dhcp_service(&config, dhcp)?
            })
        }
        None => None,
    };
    let leases = dhcp.as_ref().map(|dhcp| Arc::clone(&dhcp.store));
    let adopter = Adopter::new(&config.path);
    let firmware_dir = config.firmware_dir.clone();
    let state_dir = config.state_dir.clone();
    let services = Services {
        who: "phoneprov serve",
        banner,
        tftp: config.tftp.clone(),
        files: Arc::clone(&files) as Arc<dyn phoneprov_tftp::FileSource>,
        dhcp,
        sip,
        quiet: args.quiet,
        silent,
    };
    let mut failed = None;
    let kept = timelines.clone();
    run_services(
        services,
        move |event| discovered.note(event),
        |running| {
            timelines.follow(&running.events, running.shutdown.clone());
            started(&running, &timelines);
            let app = App {
                files: Arc::clone(&files),
                timelines,
                sip: running.sip.clone(),
                events: running.events.clone(),
                leases,
                firmware_dir,
                state_dir,
                reboot: Arc::new(Control {
                    files: Arc::clone(&files),
                    sync: Arc::clone(&sync),
                    sip: running.sip.clone(),
                    events: running.events.clone(),
                }),
                adopt: Arc::new(adopter),
                doctor: Arc::new(Examiner {
                    config: config.path.clone(),
                }),
            };
            let (http, line) = http.unzip();
            let served = control
                .listener()
                .and_then(|control| Ok(http::spawn(app, control, http, running.shutdown.clone())?));
            if let Err(e) = served {
                failed = Some(e);
                running.shutdown.cancel();
                return;
            }
            if let (Some(line), false) = (line, silent) {
                println!("{line}");
            }
            if let Some(sip) = &running.sip {
                Climb {
                    files: Arc::clone(&files),
                    sync: Arc::clone(&sync),
                    sip: sip.clone(),
                }
                .spawn(&running.events, running.shutdown.clone());
            }
            Watch {
                who: "phoneprov serve",
                config,
                files,
                sync,
                sip: running.sip,
                apply: args.apply_on_change,
            }
            .spawn(running.shutdown);
        },
    )?;
    // What was noted since the last batch, now that nothing is noted.
    kept.write_down();
    failed.map_or(Ok(()), Err)
}

/// The HTTP server of `[http]`, bound, and the line that says where;
/// None without an `[http]` section.
fn http_server(config: &Config) -> anyhow::Result<Option<(HttpServer, String)>> {
    let Some(serving) = &config.http else {
        return Ok(None);
    };
    let bind = config.http_bind;
    let token = match needs_token(bind, serving.require_token) {
        true => Some(crate::admin_token::admin_token(&config.state_dir)?),
        false => None,
    };
    let asks = match &token {
        Some((token, true)) => format!(
            "; asks for the admin token, made now in {}",
            token.path.display()
        ),
        Some((token, false)) => format!("; asks for the admin token in {}", token.path.display()),
        None => String::new(),
    };
    let server = HttpServer::bind(HttpSettings {
        bind,
        token: token.map(|(token, _)| token),
        tls: serving.tls.clone(),
    })
    .with_context(|| {
        format!(
            "cannot listen for HTTP on {bind}; choose a free address in [http] bind of {}",
            config.path.display()
        )
    })?;
    let addr = server.local_addr()?;
    let line = format!(
        "phoneprov serve: HTTP on {addr} (the dashboard: {}://{addr}/{asks})",
        server.scheme()
    );
    Ok(Some((server, line)))
}

/// The phones' timelines kept in `<state_dir>/timeline.db`, as many
/// observations per phone as serve follows in memory.
fn timeline_store(state_dir: &Path) -> anyhow::Result<Arc<SqliteTimeline>> {
    let store = SqliteTimeline::open(state_dir.join(TIMELINE_DB), KEPT_PER_PHONE)?;
    if let Some(set_aside) = store.set_aside() {
        eprintln!("warning: {set_aside}");
    }
    Ok(Arc::new(store))
}

/// The DHCP server of `[dhcp]`, its leases in `<state_dir>/leases.db`.
fn dhcp_service(config: &Config, dhcp: &config::DhcpConfig) -> anyhow::Result<DhcpService> {
    config::create_state_dir(&config.state_dir)?;
    let store = SqliteLeases::open(lease_db(&config.state_dir))?;
    if let Some(salvage) = store.salvage() {
        eprintln!("warning: {salvage}");
    }
    Ok(DhcpService {
        settings: DhcpServerSettings {
            engine: dhcp.settings.clone(),
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, dhcp.port)),
            interface: dhcp.interface.clone(),
            new_leases_per_minute: dhcp.new_leases_per_minute,
            probe: dhcp.probe,
        },
        store: Arc::new(store),
        on_bound: None,
    })
}

/// Phones that asked for their files without being in phoneprov.toml, kept
/// in the state folder so the operator can adopt them.
struct Discovered {
    path: std::path::PathBuf,
    known: Vec<Mac>,
    file: DiscoveredFile,
}

#[derive(Default, Serialize, Deserialize)]
struct DiscoveredFile {
    #[serde(default)]
    phone: BTreeMap<String, DiscoveredPhone>,
}

#[derive(Default, Serialize, Deserialize)]
struct DiscoveredPhone {
    address: String,
    first_seen: String,
    last_seen: String,
    asked_for: Vec<String>,
}

impl Discovered {
    fn open(config: &Config) -> anyhow::Result<Discovered> {
        let path = config.state_dir.join("discovered.toml");
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                eprintln!(
                    "warning: {} is damaged ({e}); starting a new list",
                    path.display()
                );
                DiscoveredFile::default()
            }),
            Err(_) => DiscoveredFile::default(),
        };
        Ok(Discovered {
            path,
            known: config.site.phones.iter().map(|p| p.mac).collect(),
            file,
        })
    }

    /// Records a request from a phone not in the config; returns a line to
    /// print when the phone is new.
    fn note(&mut self, event: &TftpEvent) -> Option<String> {
        let (_, mac) = PhoneFile::parse(&event.requested)?;
        if self.known.contains(&mac) {
            return None;
        }
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let key = mac.colons();
        let is_new = !self.file.phone.contains_key(&key);
        let phone = self
            .file
            .phone
            .entry(key.clone())
            .or_insert_with(|| DiscoveredPhone {
                first_seen: now.clone(),
                ..DiscoveredPhone::default()
            });
        phone.address = event.client.ip().to_string();
        phone.last_seen = now;
        if !phone.asked_for.contains(&event.requested) {
            phone.asked_for.push(event.requested.clone());
        }
        if let Err(e) = self.save() {
            eprintln!(
                "warning: cannot record discovered phones in {}: {e:#}",
                self.path.display()
            );
        }
        is_new.then(|| {
            format!(
                "DISCOVERED {key} at {}: not in phoneprov.toml, so it gets nothing that changes its firmware; add a [[phone]] to adopt it",
                event.client.ip()
            )
        })
    }

    fn save(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            config::create_state_dir(dir)?;
        }
        let temporary = self.path.with_extension("toml.tmp");
        std::fs::write(&temporary, toml::to_string(&self.file)?)?;
        std::fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}
