//! One simulated 7940/7960: its flash, and a boot that follows reference §1
//! for the family of firmware in it.
//!
//! - **Before the loader era** (SCCP before 6.x, SIP before 7.x) the phone
//!   reads `OS79XX.TXT` and installs the image it names (`.bin` unsigned,
//!   `.sbn` signed; for a load of the loader era, that load's loader).
//! - **With the Universal Application Loader** (SCCP 6.x on, SIP 7.x on, or
//!   any phone whose loader was upgraded) it hunts `CTLSEP<MAC>.tlv`,
//!   `SEP<MAC>.cnf.xml`, `SIP<MAC>.cnf`, `MGC<MAC>.cnf`, `XMLDefault.cnf.xml`;
//!   the first configuration found names the load. It reads `<load>.loads`,
//!   then installs the loader (`.sbn`) and reboots, then the application
//!   (`.sb2`) and reboots, one image per boot as the real log shows (§1.2 B).
//! - The **SIP application** reads `SIPDefault.cnf`, `SIP<MAC>.cnf`,
//!   `RINGLIST.DAT`, `dialplan.xml`, installs `image_version` if it differs,
//!   and registers every provisioned line; the **SCCP application** stops
//!   there (it would talk to a CallManager).
//!
//! Flashing checks what a real phone can check: the image exists, its size
//! is plausible, an unsigned image never replaces signed firmware, and a
//! jump Cisco documents as impossible (SIP 2.x to 7.x, SCCP 3.x to SIP, SIP
//! 6.x to SCCP; §3.1) fails with "Image Authentication Failed". A missing or refused image leaves the flash as it was; the phone
//! says so and runs its old firmware, as real ones do (§1.4).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use phoneprov_cisco::firmware::ImageKind;
use phoneprov_cisco::ladder::forbidden_jump;
use phoneprov_cisco::{Era, LoadName, Mac, Model, Protocol};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedSender;

use crate::dhcp::{self, DhcpError};
use crate::event::{PhoneEvent, TftpSource};
use crate::sip::{self, SipConfig, UserAgent};
use crate::tftp::{self, Fetched};

/// Power cycles one `boot` may take before it gives up: a conversion from
/// SCCP 8.x takes three (loader, application, up), the whole SIP ladder
/// from 2.x eight.
const MAX_BOOTS: u32 = 12;

/// The phone's timers, at real speed or scaled down so tests run fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    scale: f64,
}

impl Timing {
    /// As a real 7940: a TFTP retry every 4 s, ~20 s to reboot.
    pub fn real() -> Timing {
        Timing { scale: 1.0 }
    }

    /// Every timer multiplied by `scale` (e.g. 0.01: a TFTP retry every 40 ms).
    pub fn scaled(scale: f64) -> Timing {
        Timing {
            scale: scale.clamp(0.0001, 1.0),
        }
    }

    fn of(self, real: Duration) -> Duration {
        real.mul_f64(self.scale).max(Duration::from_millis(1))
    }

    /// Between two identical RRQs (reference §1.4); the first wait for a
    /// DHCP answer, doubled after each miss.
    fn retransmit(self) -> Duration {
        self.of(Duration::from_secs(4))
    }

    /// From "rebooting" to the next DHCP DISCOVER (§1.2: ~25 s).
    fn reboot(self) -> Duration {
        self.of(Duration::from_secs(20))
    }

    /// SIP T1.
    fn t1(self) -> Duration {
        self.of(Duration::from_millis(500))
    }

    /// The idle time the phone waits after a check-sync NOTIFY (§9.2).
    fn check_sync_idle(self) -> Duration {
        self.of(Duration::from_secs(20))
    }
}

/// Where the phone's network services are. A real phone uses ports 67, 69
/// and 5060; the simulated one is told the ports of a server on high ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// Where DISCOVER goes (a server that answers the sender).
    pub dhcp_server: SocketAddr,
    /// The TFTP port on the server DHCP names.
    pub tftp_port: u16,
    /// Overrides `proxy1_port` of the SIP configuration.
    pub sip_port: Option<u16>,
}

/// The two images in a phone's flash. Before the loader era they are one
/// image, and `loader` equals `app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub loader: LoadName,
    pub app: LoadName,
}

/// A load the simulator cannot put in a phone's flash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlashError {
    #[error(transparent)]
    Name(#[from] phoneprov_cisco::load::LoadNameError),
    #[error("{0} is a loader, not an application a phone runs")]
    Loader(String),
    #[error("{0} is MGCP: simulated phones run SCCP or SIP")]
    Mgcp(String),
    #[error("{0} is of the loader era, but its name does not say which loader it comes with")]
    NoLoader(String),
}

impl Flash {
    /// A phone as shipped with `load` (e.g. `P00308010200`, `P0S3-8-12-00`,
    /// `P0S30203`): for a load of the loader era, with its loader.
    pub fn with(load: &str) -> Result<Flash, FlashError> {
        let app = LoadName::parse(load)?;
        match app.protocol {
            Protocol::Loader => return Err(FlashError::Loader(load.to_owned())),
            Protocol::Mgcp => return Err(FlashError::Mgcp(load.to_owned())),
            Protocol::Sccp | Protocol::Sip => {}
        }
        let loader = match app.era() {
            Era::Os79xx => app.clone(),
            Era::Ual => match app.loader() {
                Some(loader) => LoadName::parse(&loader)?,
                None => return Err(FlashError::NoLoader(load.to_owned())),
            },
        };
        Ok(Flash { loader, app })
    }

    /// Whether the Universal Application Loader runs at boot.
    pub fn runs_loader(&self) -> bool {
        self.loader.era() == Era::Ual
    }

    /// Whether the flash holds a signed image (then it takes only signed ones).
    pub fn signed(&self) -> bool {
        self.loader.signed() || self.app.signed()
    }

    pub fn family(&self) -> Family {
        match (self.app.protocol, self.runs_loader()) {
            (Protocol::Sip, true) => Family::SipWithLoader,
            (Protocol::Sip, false) => Family::SipBeforeLoader,
            (_, true) => Family::SccpWithLoader,
            (_, false) => Family::SccpBeforeLoader,
        }
    }
}

/// The firmware families of reference §1.3, by how the phone boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// SCCP before 6.x: reads OS79XX.TXT.
    SccpBeforeLoader,
    /// SCCP 6.x–8.x (or an older SCCP application under a new loader).
    SccpWithLoader,
    /// SIP 2.x–6.x: reads OS79XX.TXT, then SIPDefault.cnf.
    SipBeforeLoader,
    /// SIP 7.x–8.x.
    SipWithLoader,
}

/// What the phone runs at the end of a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Running {
    /// The SIP application, with the lines that registered and the ones
    /// that did not.
    Sip {
        registered: Vec<String>,
        failed: Vec<String>,
    },
    Sccp,
}

/// What a check-sync NOTIFY led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCheckSync {
    /// syncinfo.xml's SYNC matched the phone's: nothing more happened.
    Stayed,
    /// It differed: the phone rebooted and booted to this.
    Rebooted(Running),
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Dhcp(#[from] DhcpError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the DHCP answer names no TFTP server this firmware reads")]
    NoTftpServer,
    #[error("still rebooting after {0} power cycles")]
    RebootLoop(u32),
    #[error("{0} is an MGCP configuration: simulated phones run SCCP or SIP")]
    Mgcp(String),
    #[error("the phone is not running SIP")]
    NotRunningSip,
}

/// The SIP application while it runs.
struct SipApp {
    socket: UdpSocket,
    tftp: Tftp,
    sync: String,
}

/// The TFTP server of this boot, and the address the phone sends from.
#[derive(Clone, Copy)]
struct Tftp {
    from: IpAddr,
    server: SocketAddr,
}

/// How one power cycle ended.
enum Cycle {
    Reboot(String),
    Up(Running),
}

/// A simulated 7940 or 7960.
pub struct Phone {
    mac: Mac,
    model: Model,
    flash: Flash,
    timing: Timing,
    events: Vec<PhoneEvent>,
    listener: Option<UnboundedSender<(Mac, PhoneEvent)>>,
    boots: u32,
    sip: Option<SipApp>,
}

impl Phone {
    pub fn new(mac: Mac, model: Model, flash: Flash, timing: Timing) -> Phone {
        Phone {
            mac,
            model,
            flash,
            timing,
            events: Vec::new(),
            listener: None,
            boots: 0,
            sip: None,
        }
    }

    /// Sends every event to `listener` as well, with the phone's MAC.
    pub fn report_to(mut self, listener: UnboundedSender<(Mac, PhoneEvent)>) -> Phone {
        self.listener = Some(listener);
        self
    }

    pub fn mac(&self) -> Mac {
        self.mac
    }

    pub fn model(&self) -> Model {
        self.model
    }

    pub fn flash(&self) -> &Flash {
        &self.flash
    }

    /// Everything that happened to the phone so far.
    pub fn events(&self) -> &[PhoneEvent] {
        &self.events
    }

    fn emit(&mut self, event: PhoneEvent) {
        if let Some(listener) = &self.listener {
            // A caller that stopped listening does not stop the phone.
            let _ = listener.send((self.mac, event.clone()));
        }
        self.events.push(event);
    }

    /// Powers the phone on and runs it until its application is up,
    /// rebooting as often as its upgrade needs.
    pub async fn boot(&mut self, network: &Network) -> Result<Running, BootError> {
        self.sip = None;
        for _ in 0..MAX_BOOTS {
            match self.power_cycle(network).await? {
                Cycle::Up(running) => return Ok(running),
                Cycle::Reboot(why) => {
                    self.emit(PhoneEvent::Rebooting { why });
                    tokio::time::sleep(self.timing.reboot()).await;
                }
            }
        }
        Err(BootError::RebootLoop(MAX_BOOTS))
    }

    /// Waits for a check-sync NOTIFY on the SIP port and reacts as the SIP
    /// application does (reference §9.2): 200, a pause while idle, then
    /// syncinfo.xml and dialplan.xml; a SYNC other than the phone's
    /// `sync` makes it reboot.
    pub async fn await_check_sync(
        &mut self,
        network: &Network,
    ) -> Result<AfterCheckSync, BootError> {
        let app = self.sip.as_ref().ok_or(BootError::NotRunningSip)?;
        let (tftp, mine) = (app.tftp, app.sync.clone());
        let line = sip::await_check_sync(&app.socket).await?;
        self.emit(PhoneEvent::CheckSync { line });
        tokio::time::sleep(self.timing.check_sync_idle()).await;
        let syncinfo = self.get(tftp, "syncinfo.xml").await?;
        self.get(tftp, "dialplan.xml").await?;
        let found = syncinfo.and_then(|xml| {
            sip::syncinfo_sync(&String::from_utf8_lossy(&xml), self.flash.app.as_str())
        });
        let reboot = found.as_ref().is_some_and(|found| *found != mine);
        self.emit(PhoneEvent::SyncInfo { found, mine });
        if !reboot {
            return Ok(AfterCheckSync::Stayed);
        }
        self.emit(PhoneEvent::Rebooting {
            why: "check-sync: syncinfo.xml has a new SYNC".into(),
        });
        self.sip = None;
        tokio::time::sleep(self.timing.reboot()).await;
        Ok(AfterCheckSync::Rebooted(self.boot(network).await?))
    }

    async fn power_cycle(&mut self, network: &Network) -> Result<Cycle, BootError> {
        self.boots += 1;
        self.emit(PhoneEvent::PoweredOn {
            loader: self.flash.loader.to_string(),
            app: self.flash.app.to_string(),
        });
        let tftp = self.dhcp(network).await?;
        let reboot = if self.flash.runs_loader() {
            self.loader_hunt(tftp).await?
        } else {
            self.read_os79xx(tftp).await?
        };
        if let Some(why) = reboot {
            return Ok(Cycle::Reboot(why));
        }
        match self.flash.app.protocol {
            Protocol::Sip => self.run_sip(tftp, network).await,
            _ => {
                self.emit(PhoneEvent::RunningSccp {
                    load: self.flash.app.to_string(),
                });
                Ok(Cycle::Up(Running::Sccp))
            }
        }
    }

    /// DHCP, and the TFTP server as this firmware reads the answer: option
    /// 150, else option 66 (not before SIP 6.0), else siaddr.
    async fn dhcp(&mut self, network: &Network) -> Result<Tftp, BootError> {
        let octets = self.mac.0;
        let xid = u32::from_be_bytes([octets[2], octets[3], octets[4], octets[5]])
            ^ self.boots.rotate_left(24);
        let mut misses = Vec::new();
        let lease = dhcp::lease(
            self.mac,
            self.model,
            network.dhcp_server,
            xid,
            self.timing.retransmit(),
            |tries| misses.push(tries),
        )
        .await;
        for tries in misses {
            self.emit(PhoneEvent::DhcpNoAnswer { tries });
        }
        let lease = lease?;
        let reads_66 =
            !(self.flash.app.protocol == Protocol::Sip && self.flash.app.version.major < 6);
        let (tftp, from) = if let Some(&first) = lease.option150.first() {
            (first, TftpSource::Option150)
        } else if let Some(ip) = lease
            .option66
            .as_deref()
            .filter(|_| reads_66)
            .and_then(|text| text.trim_end_matches('\0').parse::<Ipv4Addr>().ok())
        {
            (ip, TftpSource::Option66)
        } else if !lease.siaddr.is_unspecified() {
            (lease.siaddr, TftpSource::Siaddr)
        } else {
            return Err(BootError::NoTftpServer);
        };
        self.emit(PhoneEvent::DhcpBound {
            ip: lease.ip,
            tftp,
            from,
        });
        Ok(Tftp {
            from: IpAddr::V4(lease.ip),
            server: SocketAddr::new(IpAddr::V4(tftp), network.tftp_port),
        })
    }

    /// Reads one file, saying what happened; None when the phone did not get it.
    async fn get(&mut self, tftp: Tftp, file: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.emit(PhoneEvent::Requested { file: file.into() });
        let fetched = tftp::fetch(tftp.from, tftp.server, file, self.timing.retransmit()).await?;
        Ok(match fetched {
            Fetched::File(content) => {
                self.emit(PhoneEvent::Received {
                    file: file.into(),
                    bytes: content.len(),
                });
                Some(content)
            }
            Fetched::Refused(message) => {
                self.emit(PhoneEvent::NotFound {
                    file: file.into(),
                    message,
                });
                None
            }
            Fetched::TimedOut => {
                self.emit(PhoneEvent::TftpTimeout { file: file.into() });
                None
            }
        })
    }

    /// The loader's hunt (reference §1.2 B, §1.3); Some(why) to reboot.
    async fn loader_hunt(&mut self, tftp: Tftp) -> Result<Option<String>, BootError> {
        let mac = self.mac;
        // The trust list is optional and decides nothing (§1.3 notes).
        self.get(tftp, &format!("CTLSEP{mac}.tlv")).await?;
        let hunt = [
            format!("SEP{mac}.cnf.xml"),
            format!("SIP{mac}.cnf"),
            format!("MGC{mac}.cnf"),
            "XMLDefault.cnf.xml".to_owned(),
        ];
        for file in hunt {
            let Some(content) = self.get(tftp, &file).await? else {
                continue;
            };
            let text = String::from_utf8_lossy(&content);
            let load = if file.starts_with("SEP") {
                xml_element(&text, "loadInformation")
            } else if file.starts_with("SIP") {
                let mut config = SipConfig::default();
                config.read(&text);
                config.image_version().map(str::to_owned)
            } else if file.starts_with("MGC") {
                return Err(BootError::Mgcp(file));
            } else {
                xml_element(
                    &text,
                    &format!("loadInformation{}", self.model.device_type()),
                )
            };
            self.emit(PhoneEvent::ConfigFound {
                file: file.clone(),
                load: load.clone(),
            });
            return match load {
                Some(load) => self.install(tftp, &file, &load).await,
                None => Ok(None),
            };
        }
        self.emit(PhoneEvent::HuntFoundNothing);
        Ok(None)
    }

    /// Installs `target` the loader's way: `.loads`, then the loader `.sbn`
    /// if it is not the one in flash, else the `.sb2` if the application
    /// is not. Some(why) to reboot.
    async fn install(
        &mut self,
        tftp: Tftp,
        named_in: &str,
        target: &str,
    ) -> Result<Option<String>, BootError> {
        let Some(load) = self.load_name(named_in, target) else {
            return Ok(None);
        };
        let descriptor = format!("{load}.loads");
        if !self
            .fetch_image(tftp, &descriptor, ImageKind::Loads, &load, &load)
            .await?
        {
            return Ok(None);
        }
        let Some(loader) = load.loader().and_then(|name| LoadName::parse(&name).ok()) else {
            self.refuse(
                &descriptor,
                "the load is from before the loader era; the loader cannot install it".into(),
            );
            return Ok(None);
        };
        if loader != self.flash.loader {
            return self.install_loader(tftp, loader, &load).await;
        }
        if load != self.flash.app {
            let file = format!("{load}.sb2");
            if !self
                .fetch_image(tftp, &file, ImageKind::Sb2, &load, &load)
                .await?
            {
                return Ok(None);
            }
            self.flash.app = load;
            return Ok(Some(format!("application {} installed", self.flash.app)));
        }
        self.emit(PhoneEvent::UpToDate {
            load: load.to_string(),
        });
        Ok(None)
    }

    /// Before the loader era: OS79XX.TXT names the image (reference §5.4).
    async fn read_os79xx(&mut self, tftp: Tftp) -> Result<Option<String>, BootError> {
        let file = "OS79XX.TXT";
        let Some(content) = self.get(tftp, file).await? else {
            return Ok(None);
        };
        // Only the line end is cut: a trailing space becomes part of the
        // name the phone asks for (CSCdv19260).
        let text = String::from_utf8_lossy(&content);
        let name = text.lines().next().unwrap_or("").to_owned();
        self.emit(PhoneEvent::ConfigFound {
            file: file.into(),
            load: Some(name.clone()),
        });
        self.install_single_image(tftp, file, &name).await
    }

    /// Writes `loader`'s `.sbn` to flash, on the way to `aim`. Some(why) to
    /// reboot.
    async fn install_loader(
        &mut self,
        tftp: Tftp,
        loader: LoadName,
        aim: &LoadName,
    ) -> Result<Option<String>, BootError> {
        let file = format!("{loader}.sbn");
        if !self
            .fetch_image(tftp, &file, ImageKind::Sbn, &loader, aim)
            .await?
        {
            return Ok(None);
        }
        self.flash.loader = loader;
        Ok(Some(format!("loader {} installed", self.flash.loader)))
    }

    /// Installs `target` the old way, one image: a load of the loader era
    /// through its loader's `.sbn`, an older one through its `.sbn` (signed)
    /// or `.bin`. Some(why) to reboot.
    async fn install_single_image(
        &mut self,
        tftp: Tftp,
        named_in: &str,
        target: &str,
    ) -> Result<Option<String>, BootError> {
        let Some(load) = self.load_name(named_in, target) else {
            return Ok(None);
        };
        if load == self.flash.app {
            self.emit(PhoneEvent::UpToDate {
                load: load.to_string(),
            });
            return Ok(None);
        }
        match load.era() {
            Era::Ual => {
                let Some(loader) = load.loader().and_then(|name| LoadName::parse(&name).ok())
                else {
                    self.refuse(target, "no loader is known for this load".into());
                    return Ok(None);
                };
                self.install_loader(tftp, loader, &load).await
            }
            Era::Os79xx => {
                let kind = if load.signed() {
                    ImageKind::Sbn
                } else {
                    ImageKind::Bin
                };
                let file = format!("{load}.{}", kind.extension());
                if !self.fetch_image(tftp, &file, kind, &load, &load).await? {
                    return Ok(None);
                }
                self.flash = Flash {
                    loader: load.clone(),
                    app: load,
                };
                Ok(Some(format!("image {} installed", self.flash.app)))
            }
        }
    }

    fn load_name(&mut self, named_in: &str, target: &str) -> Option<LoadName> {
        let load = LoadName::parse(target).ok();
        if load.is_none() {
            self.emit(PhoneEvent::BadLoadName {
                file: named_in.into(),
                name: target.into(),
            });
        }
        load
    }

    /// Fetches an image and checks it as the phone can; false (with the
    /// old firmware kept) when it is missing or refused.
    async fn fetch_image(
        &mut self,
        tftp: Tftp,
        file: &str,
        kind: ImageKind,
        load: &LoadName,
        aim: &LoadName,
    ) -> Result<bool, BootError> {
        let Some(image) = self.get(tftp, file).await? else {
            self.emit(PhoneEvent::ImageMissing { file: file.into() });
            self.keep_firmware();
            return Ok(false);
        };
        let size = image.len() as u64;
        if !kind.plausible_sizes().contains(&size) {
            self.refuse(
                file,
                format!("{size} B is not the size of a .{} image", kind.extension()),
            );
            return Ok(false);
        }
        let signed = kind != ImageKind::Bin && load.signed();
        if !signed && self.flash.signed() {
            self.refuse(
                file,
                "an unsigned image cannot replace signed firmware".into(),
            );
            return Ok(false);
        }
        if kind == ImageKind::Loads {
            return Ok(true);
        }
        if let Some(why) = forbidden_jump(self.flash.app.protocol, self.flash.app.version, aim) {
            self.refuse(file, format!("Image Authentication Failed: {why}"));
            return Ok(false);
        }
        self.emit(PhoneEvent::Flashed {
            file: file.into(),
            bytes: image.len(),
        });
        Ok(true)
    }

    fn refuse(&mut self, file: &str, why: String) {
        self.emit(PhoneEvent::ImageRefused {
            file: file.into(),
            why,
        });
        self.keep_firmware();
    }

    fn keep_firmware(&mut self) {
        self.emit(PhoneEvent::KeptFirmware {
            loader: self.flash.loader.to_string(),
            app: self.flash.app.to_string(),
        });
    }

    /// The SIP application: its configuration, `image_version`, REGISTER.
    async fn run_sip(&mut self, tftp: Tftp, network: &Network) -> Result<Cycle, BootError> {
        let mut config = SipConfig::default();
        let own = format!("SIP{}.cnf", self.mac);
        for file in ["SIPDefault.cnf", own.as_str()] {
            if let Some(content) = self.get(tftp, file).await? {
                config.read(&String::from_utf8_lossy(&content));
            }
        }
        for file in ["RINGLIST.DAT", "dialplan.xml"] {
            self.get(tftp, file).await?;
        }
        if let Some(version) = config
            .image_version()
            .filter(|v| *v != self.flash.app.as_str())
        {
            let version = version.to_owned();
            let reboot = if self.flash.runs_loader() {
                self.install(tftp, "image_version", &version).await?
            } else {
                self.install_single_image(tftp, "image_version", &version)
                    .await?
            };
            if let Some(why) = reboot {
                return Ok(Cycle::Reboot(why));
            }
        }

        let lines = config.lines(self.model.lines());
        let sync = config.sync();
        let Some((address, port)) = config.proxy() else {
            for line in &lines {
                self.emit(PhoneEvent::RegisterFailed {
                    line: line.name.clone(),
                    why: "no proxy1_address in the configuration".into(),
                });
            }
            return Ok(Cycle::Up(Running::Sip {
                registered: Vec::new(),
                failed: lines.into_iter().map(|l| l.name).collect(),
            }));
        };
        self.emit(PhoneEvent::SipConfigured {
            proxy: format!("{address}:{port}"),
            lines: lines.len(),
            sync: sync.clone(),
        });
        if lines.is_empty() {
            self.emit(PhoneEvent::Unprovisioned);
        }
        let socket = UdpSocket::bind(SocketAddr::new(tftp.from, 0)).await?;
        let proxy = address
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, network.sip_port.unwrap_or(port)));
        let version = self.flash.app.version;
        let agent = UserAgent {
            socket: &socket,
            model_code: self.model.device_type(),
            user_agent: format!(
                "Cisco-CP{}G/{}.{}",
                self.model.number(),
                version.major,
                version.minor
            ),
            mac: self.mac.to_string(),
            t1: self.timing.t1(),
        };
        let (mut registered, mut failed) = (Vec::new(), Vec::new());
        for line in &lines {
            let result = match proxy {
                Some(proxy) => sip::register(&agent, proxy, &address, line, config.expires()).await,
                None => Err(format!("proxy1_address {address} is not an IP address")),
            };
            match result {
                Ok(expires) => {
                    registered.push(line.name.clone());
                    self.emit(PhoneEvent::Registered {
                        line: line.name.clone(),
                        expires,
                    });
                }
                Err(why) => {
                    failed.push(line.name.clone());
                    self.emit(PhoneEvent::RegisterFailed {
                        line: line.name.clone(),
                        why,
                    });
                }
            }
        }
        self.sip = Some(SipApp { socket, tftp, sync });
        Ok(Cycle::Up(Running::Sip { registered, failed }))
    }
}

/// The text of the first `<name ...>text</name>` element (attributes
/// allowed, `name` matched exactly, so `loadInformation` is not
/// `loadInformation7`).
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(at) = rest.find(&format!("<{name}")) {
        let after = &rest[at + 1 + name.len()..];
        let next = after.chars().next()?;
        if next == '>' || next.is_whitespace() {
            let open_end = after.find('>')?;
            let body = &after[open_end + 1..];
            let close = body.find(&format!("</{name}>"))?;
            let text = body[..close].trim();
            return (!text.is_empty()).then(|| text.to_owned());
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_loads() {
        let family = |load: &str| Flash::with(load).unwrap().family();
        assert_eq!(family("P00305000200"), Family::SccpBeforeLoader);
        assert_eq!(family("P00308010200"), Family::SccpWithLoader);
        assert_eq!(family("P0S30203"), Family::SipBeforeLoader);
        assert_eq!(family("P0S3-8-12-00"), Family::SipWithLoader);
        let sip = Flash::with("P0S3-8-12-00").unwrap();
        assert_eq!(sip.loader.as_str(), "P003-8-12-00");
        let sccp = Flash::with("P00308010200").unwrap();
        assert_eq!(sccp.loader, sccp.app);
        assert!(matches!(
            Flash::with("P003-8-12-00"),
            Err(FlashError::Loader(_))
        ));
        assert!(matches!(
            Flash::with("P0M3-08-4-00"),
            Err(FlashError::Mgcp(_))
        ));
        assert!(!Flash::with("P0S30203").unwrap().signed());
    }

    #[test]
    fn load_information_is_read_by_exact_element_name() {
        let xml = "<Default>\n  <loadInformation8 model=\"IP Phone 7940\">P0S3-8-12-00</loadInformation8>\n  \
                   <loadInformation7 model=\"IP Phone 7960\">P00308010200</loadInformation7>\n</Default>";
        assert_eq!(
            xml_element(xml, "loadInformation7").as_deref(),
            Some("P00308010200")
        );
        assert_eq!(
            xml_element(xml, "loadInformation8").as_deref(),
            Some("P0S3-8-12-00")
        );
        assert_eq!(xml_element(xml, "loadInformation"), None);
        let sep = "<device><loadInformation model=\"IP Phone 7960\">P0S3-8-12-00</loadInformation></device>";
        assert_eq!(
            xml_element(sep, "loadInformation").as_deref(),
            Some("P0S3-8-12-00")
        );
    }
}
