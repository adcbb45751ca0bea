//! The desired state of a site, validated: what phoneprov.toml says, in types
//! that cannot hold an invalid value. The binary parses and checks the file;
//! everything downstream (renderers, ladder, servers) reads this.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::clock::ClockSettings;
use crate::ladder::Ladder;
use crate::load::LoadName;
use crate::params::ParamValue;
use crate::phone::{Mac, Model};
use crate::ring::Ring;

/// The protocol a phone should end up running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetProtocol {
    Sip,
    Sccp,
}

impl fmt::Display for TargetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetProtocol::Sip => "sip",
            TargetProtocol::Sccp => "sccp",
        })
    }
}

/// A password or other secret: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the file that must carry it.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Where the phones register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipTarget {
    /// phoneprov's own registrar, on the server address.
    Registrar { port: u16 },
    /// An external PBX; phoneprov only renders it into the configs.
    External { host: String, port: u16 },
}

/// Parameters with their concrete names (`line2_name`, `telnet_level`), checked.
pub type Params = Vec<(String, ParamValue)>;

/// The loads phones should run, per protocol, optionally per model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmwareTargets {
    pub sip: Option<LoadName>,
    pub sccp: Option<LoadName>,
    pub models: BTreeMap<Model, ModelTargets>,
    pub os79xx: Os79xxName,
}

/// Which name OS79XX.TXT carries for a UAL-era target. Sources disagree
/// (reference §2.3): Cisco-style guides write the application (`P0S3-8-12-00`,
/// "the 3rd character is S for SIP"), others the loader (`P003-8-12-00`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Os79xxName {
    #[default]
    Application,
    Loader,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelTargets {
    pub sip: Option<LoadName>,
    pub sccp: Option<LoadName>,
}

impl FirmwareTargets {
    /// The load a `model` phone should run for `protocol`: the model's own
    /// target when set, else the site's.
    pub fn target(&self, model: Model, protocol: TargetProtocol) -> Option<&LoadName> {
        let per_model = self.models.get(&model);
        match protocol {
            TargetProtocol::Sip => per_model.and_then(|m| m.sip.as_ref()).or(self.sip.as_ref()),
            TargetProtocol::Sccp => per_model
                .and_then(|m| m.sccp.as_ref())
                .or(self.sccp.as_ref()),
        }
    }
}

/// One line (directory number) of a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// SIP user / extension (`lineN_name`).
    pub name: String,
    /// Shown to the called party (`lineN_displayname`).
    pub display: Option<String>,
    /// Digest user name (`lineN_authname`); the line name when absent.
    pub authname: Option<String>,
    pub password: Secret,
    /// Label next to the line key (`lineN_shortname`).
    pub label: Option<String>,
}

impl Line {
    pub fn authname(&self) -> &str {
        self.authname.as_deref().unwrap_or(&self.name)
    }
}

/// One phone of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub mac: Mac,
    pub model: Model,
    pub protocol: TargetProtocol,
    pub description: Option<String>,
    /// At most `model.lines()`.
    pub lines: Vec<Line>,
    /// Overrides of `[defaults]` for this phone.
    pub params: Params,
    /// The load the phone runs now, when the operator knows it.
    pub current: Option<LoadName>,
}

/// A `<TEMPLATE>` of dialplan.xml (reference §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRule {
    /// `MATCH`: `.` one digit, `*` one or more, `,` secondary dial tone.
    pub pattern: String,
    /// Seconds before dialling; 0 dials at once.
    pub timeout: u8,
    /// `User="Phone"` or `"IP"`.
    pub user: Option<DialUser>,
    pub rewrite: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialUser {
    Phone,
    Ip,
}

/// The whole desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    /// The phones' clock settings, derived from the site's IANA time zone.
    pub clock: Option<ClockSettings>,
    pub ntp: Option<String>,
    /// What phones are told: TFTP server, SIP proxy, service URLs.
    pub server: IpAddr,
    pub sip: SipTarget,
    pub firmware: FirmwareTargets,
    /// SIPDefault.cnf parameters set by the operator.
    pub defaults: Params,
    pub dialplan: Vec<DialRule>,
    pub phones: Vec<Phone>,
    /// RINGLIST.DAT, in order: the rings of the firmware folder's index.
    pub rings: Vec<Ring>,
    /// How phones climb to their targets, one load per boot.
    pub ladder: Ladder,
    /// The phones' XML services: directory and services menu.
    pub services: PhoneServices,
}

/// What the phones' Directories and Services buttons show (reference §5.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneServices {
    /// Where phones reach phoneprov's HTTP server, when its bind lets them:
    /// `directory_url` and `services_url` then point there.
    pub http: Option<SocketAddr>,
    /// `[[directory]]`: numbers listed beside the phones' own lines.
    pub directory: Vec<DirectoryEntry>,
    /// `[[service]]`: the services menu's entries after the directory.
    pub menu: Vec<Service>,
    /// Directory entries per page, 1 to 32.
    pub page_size: usize,
}

impl Default for PhoneServices {
    fn default() -> PhoneServices {
        PhoneServices {
            http: None,
            directory: Vec::new(),
            menu: Vec::new(),
            page_size: 32,
        }
    }
}

/// One `DirectoryEntry`: a name and the number the phone dials.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirectoryEntry {
    pub name: String,
    pub number: String,
}

/// One entry of the services menu: a name and the http:// URL it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub url: String,
}

impl Site {
    pub fn phone(&self, mac: Mac) -> Option<&Phone> {
        self.phones.iter().find(|phone| phone.mac == mac)
    }

    /// The proxy phones register with, as host and port.
    pub fn proxy(&self) -> (String, u16) {
        match &self.sip {
            SipTarget::Registrar { port } => (self.server.to_string(), *port),
            SipTarget::External { host, port } => (host.clone(), *port),
        }
    }

    /// The URL of one of the phones' XML services (`/services/...`), when
    /// phones can reach phoneprov's HTTP server.
    pub fn services_url(&self, path: &str) -> Option<String> {
        self.services
            .http
            .map(|http| format!("http://{http}{path}"))
    }
}
