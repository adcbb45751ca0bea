//! phoneprov.toml exactly as written: serde structs that refuse unknown keys.
//! Validation into `phoneprov_cisco::site` happens in `super::validate`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub site: SiteSection,
    pub server: ServerSection,
    #[serde(default)]
    pub tftp: TftpSection,
    #[serde(default)]
    pub dhcp: DhcpSection,
    #[serde(default)]
    pub sip: SipSection,
    #[serde(default, deserialize_with = "written")]
    pub http: HttpSection,
    #[serde(default)]
    pub firmware: FirmwareSection,
    #[serde(default)]
    pub defaults: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub dialplan: Vec<DialRuleEntry>,
    #[serde(default, rename = "phone")]
    pub phones: Vec<PhoneEntry>,
    /// Replaces the default upgrade ladder when present.
    pub ladder: Option<Vec<LadderRuleEntry>>,
    #[serde(default)]
    pub services: ServicesSection,
    /// Directory entries beside the phones' own lines.
    #[serde(default)]
    pub directory: Vec<DirectoryEntry>,
    /// Entries of the phones' services menu.
    #[serde(default, rename = "service")]
    pub menu: Vec<ServiceEntry>,
}

/// The phones' XML services.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesSection {
    pub directory_page_size: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    pub name: Spanned<String>,
    pub number: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub name: Option<String>,
    pub timezone: Option<Spanned<String>>,
    pub ntp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub address: Spanned<String>,
    pub state_dir: Option<String>,
    /// A folder of template overrides (SIPDefault.cnf, SIPMAC.cnf, …).
    pub templates: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TftpSection {
    pub bind: Option<Spanned<String>>,
    pub interface: Option<String>,
    pub max_transfers: Option<usize>,
    pub max_per_client: Option<usize>,
    pub data_ports: Option<Spanned<String>>,
    pub max_blksize: Option<u16>,
}

/// The DHCP server; it runs only when this section is in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpSection {
    pub mode: Option<Spanned<String>>,
    pub interface: Option<String>,
    pub port: Option<u16>,
    pub netmask: Option<Spanned<String>>,
    pub pool: Option<Spanned<Vec<String>>>,
    pub router: Option<Spanned<String>>,
    #[serde(default)]
    pub dns: Vec<Spanned<String>>,
    pub domain: Option<String>,
    pub lease_time: Option<Spanned<String>>,
    pub authoritative: Option<bool>,
    /// "ping" (default) or "off".
    pub probe: Option<Spanned<String>>,
    pub probe_wait: Option<Spanned<String>>,
    pub new_leases_per_minute: Option<Spanned<u32>>,
}

/// The HTTP server (JSON API, /metrics), run when the section is written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub bind: Option<Spanned<String>>,
    /// PEM certificate chain and private key: HTTPS when both are set.
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    /// Ask for the admin token on a loopback bind too.
    pub require_token: Option<bool>,
    /// The file has an `[http]` section.
    #[serde(skip)]
    pub written: bool,
}

/// An `[http]` section that is there, even empty.
fn written<'de, D: serde::Deserializer<'de>>(section: D) -> Result<HttpSection, D::Error> {
    Ok(HttpSection {
        written: true,
        ..HttpSection::deserialize(section)?
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    pub bind: Option<Spanned<String>>,
    pub registrar: Option<bool>,
    pub proxy: Option<Spanned<String>>,
    /// The digest realm; the server address when unset.
    pub realm: Option<String>,
    /// Offer qop=auth in challenges.
    pub qop: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareSection {
    pub dir: Option<String>,
    pub sip: Option<Spanned<String>>,
    pub sccp: Option<Spanned<String>>,
    /// What OS79XX.TXT names: "application" (default) or "loader".
    pub os79xx: Option<Spanned<String>>,
    /// Per-model targets: `[firmware.model.7940] sip = "..."`.
    #[serde(default)]
    pub model: BTreeMap<Spanned<String>, ModelFirmware>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFirmware {
    pub sip: Option<Spanned<String>>,
    pub sccp: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialRuleEntry {
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    pub timeout: Option<Spanned<i64>>,
    pub user: Option<Spanned<String>>,
    pub rewrite: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderRuleEntry {
    pub from: Spanned<String>,
    pub to: Option<Spanned<String>>,
    pub via: Spanned<String>,
    pub example: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneEntry {
    pub mac: Spanned<String>,
    pub model: Spanned<String>,
    pub protocol: Option<Spanned<String>>,
    pub description: Option<String>,
    /// A DHCP reservation.
    pub ip: Option<Spanned<String>>,
    #[serde(default)]
    pub lines: Vec<Spanned<LineEntry>>,
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    pub current: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEntry {
    pub name: Spanned<String>,
    pub display: Option<String>,
    pub authname: Option<String>,
    pub password: Option<String>,
    pub label: Option<String>,
}
