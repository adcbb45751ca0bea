//! Where a phone is in its boot, and what is wrong, read from what it did:
//! the files it asked for, in order, with what it got, its DHCP lease and
//! its registrations (reference §1.2–1.6, §8). Each stage and finding has a
//! sentence a newcomer understands; each finding's words and fix come from
//! the diagnostics catalog (`diagnosis`).

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::diagnosis::{self, Diagnosis};
use crate::phone::PhoneFile;

/// One thing phoneprov saw a phone do. Kept in the store as JSON, so a
/// variant's name and fields are part of the timeline file's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "seen", rename_all = "snake_case")]
pub enum Seen {
    /// It got an address from phoneprov's DHCP server.
    Address,
    /// It asked for a file over TFTP (the name as it asked).
    Fetch { name: String, outcome: Fetched },
    /// One of its lines registered; `agent` is the User-Agent it sent
    /// (`Cisco-CP7960G/8.0`), which names its firmware's version.
    Registered { line: String, agent: Option<String> },
    /// A line's REGISTER was refused; `cause` in words.
    AuthFailed { line: String, cause: String },
    /// It took the DHCP offer of another server.
    OtherDhcpServer { server: Ipv4Addr },
    /// The file it asked for as `name` was found only as `on_disk`, a name
    /// in another case.
    OtherCase { name: String, on_disk: String },
    /// The operator re-provisioned it: what came before stays in its
    /// timeline but no longer counts for its stage, its problems or what
    /// it runs (see [`since_start_over`]).
    StartedOver,
}

/// What a request for a file got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fetched {
    Sent,
    NotFound,
    /// Refused, or the transfer broke off (timeout, the phone gave up).
    Failed,
}

/// When it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub at: SystemTime,
    pub seen: Seen,
}

/// Where a phone is in its boot (reference §1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Nothing seen yet.
    NotSeen,
    /// It has an address and has asked for no file yet.
    Addressed,
    /// It read OS79XX.TXT: old firmware (SCCP before 6.x, SIP before 7.x)
    /// that boots the pre-loader way.
    OldBoot,
    /// The Universal Application Loader is looking for a configuration
    /// file; the first one found decides the protocol.
    Hunting,
    /// The loader compares this load with the one in flash.
    ComparingLoad(String),
    /// A loader or an old single-image firmware is being written to flash;
    /// a reboot follows.
    FlashingLoader(String),
    /// An application image is being downloaded and written; a reboot follows.
    FlashingApplication(String),
    /// The SIP application is up and reading its configuration.
    SipReadingConfig,
    /// The SIP application has its files; it registers next.
    SipProvisioned,
    /// A line is registered: the phone works.
    Registered,
    /// It reacts to a check-sync NOTIFY (it reboots if its SYNC changed).
    CheckSync,
    /// The SCCP application is running (it fetches its locale files).
    SccpRunning,
}

impl Stage {
    pub fn sentence(&self) -> String {
        match self {
            Stage::NotSeen => "not seen yet".into(),
            Stage::Addressed => "has an address, has not asked for a file yet".into(),
            Stage::OldBoot => {
                "booting old firmware (read OS79XX.TXT: SCCP before 6.x or SIP before 7.x)".into()
            }
            Stage::Hunting => {
                "the loader is looking for its configuration file (the first found decides SIP or SCCP)"
                    .into()
            }
            Stage::ComparingLoad(load) => {
                format!("the loader compares {load} with the firmware in flash")
            }
            Stage::FlashingLoader(image) => {
                format!("writing {image} to flash (Upgrading Software); it reboots next")
            }
            Stage::FlashingApplication(image) => {
                format!("downloading and writing the application {image}; it reboots next")
            }
            Stage::SipReadingConfig => "SIP firmware running, reading its configuration".into(),
            Stage::SipProvisioned => "SIP firmware configured; it registers next".into(),
            Stage::Registered => "SIP firmware running and registered".into(),
            Stage::CheckSync => {
                "told to check its sync: it reboots if syncinfo.xml has a new SYNC".into()
            }
            Stage::SccpRunning => "SCCP firmware running".into(),
        }
    }
}

/// Something wrong, in the phone's terms; each is an entry of the
/// diagnostics catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Whole hunts found no configuration file for the phone.
    HuntingWithoutConfig { hunts: usize },
    /// The SIP application keeps asking for its phone file (about every
    /// 30 s): it is not getting one it can use.
    SipConfigAgainAndAgain { name: String, times: usize },
    /// The same application image was fetched twice in a row: the phone's
    /// check ("verifying") rejected it and it went on with its old firmware.
    ImageRejected { image: String },
    /// A file the phone needs is not there.
    Missing { name: String },
    /// A transfer broke off.
    TransferFailed { name: String },
    /// A line's password was refused.
    PasswordRefused { line: String, cause: String },
    /// The loader was written, then its application image could not be
    /// fetched: Protocol Application Invalid.
    NoApplication { image: String },
    /// Hunts found a configuration file that names no load: No Load
    /// Specified.
    NoLoadNamed { hunts: usize },
    /// The SIP application did not get SIP<MAC>.cnf: UNPROVISIONED.
    Unprovisioned { name: String },
    /// Addresses taken again and again without a file request: TFTP Timeout.
    NoFileRequests { addresses: usize },
    /// SIPDefault.cnf broke off on old firmware: W210 TFTP Error: buffer full.
    BufferFull { name: String },
    /// A name with a blank before its extension: a trailing space in
    /// OS79XX.TXT (CSCdv19260).
    SpaceInName { name: String },
    /// A MAC file found only under another case.
    MacInOtherCase { name: String, on_disk: String },
    /// It took another DHCP server's offer and asked for no file since.
    OtherDhcpServer { server: Ipv4Addr },
}

impl Finding {
    /// Its catalog entry, and the fields its problem line names.
    fn entry(&self) -> (&'static str, Vec<(&'static str, String)>) {
        let one = |key, value: &String| vec![(key, value.clone())];
        match self {
            Finding::HuntingWithoutConfig { hunts } => {
                ("hunting-without-config", vec![("hunts", hunts.to_string())])
            }
            Finding::SipConfigAgainAndAgain { name, times } => (
                "sip-config-again-and-again",
                vec![("name", name.clone()), ("times", times.to_string())],
            ),
            Finding::ImageRejected { image } => ("image-rejected", one("image", image)),
            Finding::Missing { name } => ("file-not-found", one("name", name)),
            Finding::TransferFailed { name } => ("transfer-failed", one("name", name)),
            Finding::PasswordRefused { line, cause } => (
                "password-refused",
                vec![("line", line.clone()), ("cause", cause.clone())],
            ),
            Finding::NoApplication { image } => {
                ("protocol-application-invalid", one("image", image))
            }
            Finding::NoLoadNamed { hunts } => {
                ("no-load-specified", vec![("hunts", hunts.to_string())])
            }
            Finding::Unprovisioned { name } => ("unprovisioned", one("name", name)),
            Finding::NoFileRequests { addresses } => {
                ("tftp-timeout", vec![("addresses", addresses.to_string())])
            }
            Finding::BufferFull { name } => ("w210-buffer-full", one("name", name)),
            Finding::SpaceInName { name } => ("os79xx-trailing-space", one("name", name)),
            Finding::MacInOtherCase { name, on_disk } => (
                "mac-wrong-case",
                vec![("name", name.clone()), ("on_disk", on_disk.clone())],
            ),
            Finding::OtherDhcpServer { server } => {
                ("another-dhcp-server", vec![("server", server.to_string())])
            }
        }
    }

    /// Its entry in the diagnostics catalog.
    pub fn diagnosis(&self) -> &'static Diagnosis {
        diagnosis::get(self.entry().0)
    }

    pub fn problem(&self) -> String {
        let (id, fields) = self.entry();
        diagnosis::get(id).problem(&fields)
    }

    pub fn fix(&self) -> String {
        self.diagnosis().fix.clone()
    }
}

/// A phone's stage and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inference {
    pub stage: Stage,
    pub findings: Vec<Finding>,
}

/// How many SIP<MAC>.cnf requests in a row make a finding.
const AGAIN_AND_AGAIN: usize = 3;
/// How many hunts in a row, all empty or all finding a file that names no
/// load, make a finding.
const HUNTS_IN_A_ROW: usize = 2;
/// How many addresses in a row without a file request make a finding.
const ADDRESSES_IN_A_ROW: usize = 2;
/// Requests this close together belong to one burst (one hunt, one read of
/// the configuration).
const BURST: Duration = Duration::from_secs(10);

/// What `history` (oldest first) says. Only what happened since the phone
/// last registered counts for findings, and a finding that a later
/// observation settled (the missing file served, the line registered) is
/// dropped.
pub fn infer(history: &[Observation]) -> Inference {
    let history = since_start_over(history);
    let stage = history
        .iter()
        .enumerate()
        .fold(Stage::NotSeen, |stage, (i, o)| {
            next_stage(stage, &history[..i], o)
        });
    let since = history
        .iter()
        .rposition(|o| matches!(o.seen, Seen::Registered { .. }))
        .map_or(0, |i| i + 1);
    let recent = &history[since..];
    let mut findings = Vec::new();
    let hunts = hunts(recent);
    let in_a_row = |like: fn(&Hunt) -> bool| hunts.iter().rev().take_while(|h| like(h)).count();
    let empty = in_a_row(|h| !h.found);
    if empty >= HUNTS_IN_A_ROW {
        findings.push(Finding::HuntingWithoutConfig { hunts: empty });
    }
    let naming_no_load = in_a_row(|h| h.found && h.by_loader);
    if naming_no_load >= HUNTS_IN_A_ROW {
        findings.push(Finding::NoLoadNamed {
            hunts: naming_no_load,
        });
    }
    findings.extend(again_and_again(recent));
    findings.extend(only_dhcp(recent));
    findings.extend(rejected_images(recent));
    for (i, o) in recent.iter().enumerate() {
        let later = &recent[i + 1..];
        // Whether a later request got the file (under its own name, when
        // `exactly`).
        let served_later = |name: &str, exactly: bool| {
            later.iter().enumerate().any(|(j, l)| {
                let other_case = later
                    .get(j + 1)
                    .is_some_and(|n| matches!(n.seen, Seen::OtherCase { .. }));
                matches!(&l.seen, Seen::Fetch { name: n, outcome: Fetched::Sent } if same_file(n, name))
                    && !(exactly && other_case)
            })
        };
        let finding = match &o.seen {
            Seen::Fetch { name, outcome } if !served_later(name, false) => {
                unserved(name, *outcome, &recent[..i], o.at)
            }
            Seen::OtherCase { name, on_disk }
                if PhoneFile::parse(file_name(name)).is_some() && !served_later(name, true) =>
            {
                Some(Finding::MacInOtherCase {
                    name: file_name(name).to_owned(),
                    on_disk: on_disk.clone(),
                })
            }
            Seen::AuthFailed { line, cause } => Some(Finding::PasswordRefused {
                line: line.clone(),
                cause: cause.clone(),
            }),
            _ => None,
        };
        if let Some(finding) = finding.filter(|f| !findings.contains(f)) {
            findings.push(finding);
        }
    }
    Inference { stage, findings }
}

/// The part of `history` that counts: what came after the operator last
/// re-provisioned the phone (all of it when they never did).
pub fn since_start_over(history: &[Observation]) -> &[Observation] {
    let start = history
        .iter()
        .rposition(|o| o.seen == Seen::StartedOver)
        .map_or(0, |i| i + 1);
    &history[start..]
}

/// The kinds of file the stage table tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// CTLSEP, SEP.cnf.xml, MGC.cnf, XMLDefault.cnf.xml: the loader's hunt.
    Hunt,
    /// SIP<MAC>.cnf: in a hunt, or read by the SIP application.
    SipPhone,
    SipDefault,
    /// RINGLIST.DAT, dialplan.xml: the end of the SIP application's read.
    SipExtras,
    SyncInfo,
    Loads,
    LoaderImage,
    ApplicationImage,
    Locale,
    Os79xx,
    Other,
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn same_file(a: &str, b: &str) -> bool {
    file_name(a).eq_ignore_ascii_case(file_name(b))
}

fn kind(path: &str) -> Kind {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    match PhoneFile::parse(name) {
        Some((PhoneFile::SipCnf, _)) => return Kind::SipPhone,
        Some(_) => return Kind::Hunt,
        None => {}
    }
    let ends = |suffix: &str| lower.ends_with(suffix);
    match lower.as_str() {
        "xmldefault.cnf.xml" => Kind::Hunt,
        "sipdefault.cnf" => Kind::SipDefault,
        "ringlist.dat" | "dialplan.xml" => Kind::SipExtras,
        "syncinfo.xml" => Kind::SyncInfo,
        "os79xx.txt" => Kind::Os79xx,
        _ if ends(".loads") => Kind::Loads,
        _ if ends(".sbn") || ends(".bin") => Kind::LoaderImage,
        _ if ends(".sb2") => Kind::ApplicationImage,
        _ if ends("-font.xml") || ends("-tones.xml") || ends("-dictionary.xml") => Kind::Locale,
        _ => Kind::Other,
    }
}

/// The fetches among `earlier` within a burst of `at`, newest first.
fn burst_before(earlier: &[Observation], at: SystemTime) -> impl Iterator<Item = Kind> + '_ {
    earlier
        .iter()
        .rev()
        .take_while(move |o| at.duration_since(o.at).unwrap_or_default() <= BURST)
        .filter_map(|o| match &o.seen {
            Seen::Fetch { name, .. } => Some(kind(name)),
            _ => None,
        })
}

/// Read by the SIP application (after SIPDefault.cnf), not in a hunt.
fn read_by_sip_application(earlier: &[Observation], at: SystemTime) -> bool {
    burst_before(earlier, at)
        .find(|k| matches!(k, Kind::Hunt | Kind::SipDefault))
        .is_some_and(|k| k == Kind::SipDefault)
        || matches!(earlier.last(), Some(o) if matches!(&o.seen, Seen::Fetch { name, .. } if kind(name) == Kind::SipPhone))
}

fn next_stage(stage: Stage, earlier: &[Observation], o: &Observation) -> Stage {
    let (name, outcome) = match &o.seen {
        Seen::Address => return Stage::Addressed,
        Seen::Registered { .. } => return Stage::Registered,
        Seen::OtherDhcpServer { .. } => return Stage::Addressed,
        Seen::AuthFailed { .. } | Seen::OtherCase { .. } => return stage,
        Seen::StartedOver => return Stage::NotSeen,
        Seen::Fetch { name, outcome } => (name, *outcome),
    };
    let owned = || file_name(name).to_owned();
    match kind(name) {
        Kind::Hunt => Stage::Hunting,
        Kind::SipPhone if read_by_sip_application(earlier, o.at) => Stage::SipReadingConfig,
        Kind::SipPhone => Stage::Hunting,
        Kind::SipDefault => Stage::SipReadingConfig,
        Kind::SipExtras if matches!(stage, Stage::SipReadingConfig | Stage::SipProvisioned) => {
            Stage::SipProvisioned
        }
        Kind::SyncInfo => Stage::CheckSync,
        Kind::SipExtras if stage == Stage::Registered || stage == Stage::CheckSync => {
            Stage::CheckSync
        }
        Kind::Loads => Stage::ComparingLoad(owned().trim_end_matches(".loads").to_owned()),
        Kind::LoaderImage if outcome == Fetched::Sent => Stage::FlashingLoader(owned()),
        Kind::ApplicationImage if outcome == Fetched::Sent => Stage::FlashingApplication(owned()),
        Kind::Locale => Stage::SccpRunning,
        Kind::Os79xx => Stage::OldBoot,
        _ => stage,
    }
}

/// One search for a configuration file.
struct Hunt {
    /// It found one.
    found: bool,
    /// It began with the trust list: the Universal Application Loader's,
    /// which goes on to a `.loads` whenever the file found names a load.
    by_loader: bool,
}

/// The hunts in a row at the end of the history: a hunt starts with the
/// trust list (CTLSEP, the first name the loader tries), or after a pause;
/// anything but a hunt file ends it, and the phone going on to anything
/// else (a `.loads`, an image, the SIP application's files) ends the row.
fn hunts(recent: &[Observation]) -> Vec<Hunt> {
    let mut hunts: Vec<Hunt> = Vec::new();
    let mut in_hunt = false;
    let mut last_at: Option<SystemTime> = None;
    for (i, o) in recent.iter().enumerate() {
        let Seen::Fetch { name, outcome } = &o.seen else {
            continue;
        };
        let pause = last_at.is_none_or(|t| o.at.duration_since(t).unwrap_or_default() > BURST);
        last_at = Some(o.at);
        let hunt_file = match kind(name) {
            Kind::Hunt => true,
            Kind::SipPhone => !read_by_sip_application(&recent[..i], o.at),
            _ => false,
        };
        if !hunt_file {
            hunts.clear();
            in_hunt = false;
            continue;
        }
        let trust_list = matches!(PhoneFile::parse(name), Some((PhoneFile::TrustList, _)));
        if pause || !in_hunt || trust_list {
            hunts.push(Hunt {
                found: false,
                by_loader: trust_list,
            });
            in_hunt = true;
        }
        if let Some(hunt) = hunts.last_mut() {
            hunt.found |= *outcome == Fetched::Sent;
        }
    }
    hunts
}

/// SIP<MAC>.cnf asked for again and again at the end of the history.
fn again_and_again(recent: &[Observation]) -> Option<Finding> {
    let mut fetches = recent.iter().rev().filter_map(|o| match &o.seen {
        Seen::Fetch { name, .. } => Some(name),
        _ => None,
    });
    let last = fetches.next().filter(|n| kind(n) == Kind::SipPhone)?;
    let times = 1 + fetches.take_while(|n| same_file(n, last)).count();
    (times >= AGAIN_AND_AGAIN).then(|| Finding::SipConfigAgainAndAgain {
        name: file_name(last).to_owned(),
        times,
    })
}

/// What the phone did since its last file request, when that is only
/// DHCP: the newest decides. Another server's address explains why nothing
/// came; several of phoneprov's mean its requests do not arrive.
fn only_dhcp(recent: &[Observation]) -> Option<Finding> {
    let mut since = recent
        .iter()
        .rev()
        .map(|o| &o.seen)
        .take_while(|s| matches!(s, Seen::Address | Seen::OtherDhcpServer { .. }));
    match since.next()? {
        Seen::OtherDhcpServer { server } => Some(Finding::OtherDhcpServer { server: *server }),
        _ => {
            let addresses = 1 + since.filter(|s| **s == Seen::Address).count();
            (addresses >= ADDRESSES_IN_A_ROW).then_some(Finding::NoFileRequests { addresses })
        }
    }
}

/// What a request that got nothing, and was not served since, says.
fn unserved(
    name: &str,
    outcome: Fetched,
    earlier: &[Observation],
    at: SystemTime,
) -> Option<Finding> {
    let file = file_name(name).to_owned();
    let kind = kind(name);
    match outcome {
        Fetched::Sent => None,
        _ if blank_before_extension(name) => Some(Finding::SpaceInName { name: file }),
        _ if kind == Kind::ApplicationImage && loader_written(earlier) => {
            Some(Finding::NoApplication { image: file })
        }
        Fetched::NotFound if kind == Kind::SipPhone && read_by_sip_application(earlier, at) => {
            Some(Finding::Unprovisioned { name: file })
        }
        Fetched::NotFound if needed(kind) => Some(Finding::Missing { name: file }),
        Fetched::NotFound => None,
        Fetched::Failed if kind == Kind::SipDefault && read_os79xx_first(earlier) => {
            Some(Finding::BufferFull { name: file })
        }
        Fetched::Failed => Some(Finding::TransferFailed { name: file }),
    }
}

/// A blank before the extension or at the end: OS79XX.TXT's trailing space
/// carried into the name (CSCdv19260).
fn blank_before_extension(name: &str) -> bool {
    let file = file_name(name);
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    file.ends_with(char::is_whitespace) || stem.ends_with(char::is_whitespace)
}

/// The last image sent was a loader (not an application).
fn loader_written(earlier: &[Observation]) -> bool {
    let last_image = earlier.iter().rev().find_map(|o| match &o.seen {
        Seen::Fetch {
            name,
            outcome: Fetched::Sent,
        } => Some(kind(name)).filter(|k| matches!(k, Kind::LoaderImage | Kind::ApplicationImage)),
        _ => None,
    });
    last_image == Some(Kind::LoaderImage)
}

/// The phone read OS79XX.TXT just before (SIPDefault.cnf's own retries
/// aside): firmware that boots the old way.
fn read_os79xx_first(earlier: &[Observation]) -> bool {
    earlier.iter().rev().find_map(|o| match &o.seen {
        Seen::Fetch { name, .. } if kind(name) != Kind::SipDefault => Some(kind(name)),
        _ => None,
    }) == Some(Kind::Os79xx)
}

/// Application images sent twice in a row (only `.loads` between them).
fn rejected_images(recent: &[Observation]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut previous: Option<&str> = None;
    for o in recent {
        let Seen::Fetch { name, outcome } = &o.seen else {
            continue;
        };
        match kind(name) {
            Kind::Loads => continue,
            Kind::ApplicationImage if *outcome == Fetched::Sent => {
                if previous.is_some_and(|p| same_file(p, name)) {
                    let finding = Finding::ImageRejected {
                        image: file_name(name).to_owned(),
                    };
                    if !findings.contains(&finding) {
                        findings.push(finding);
                    }
                }
                previous = Some(name);
            }
            _ => previous = None,
        }
    }
    findings
}

/// A missing file is a problem unless it is one of the hunt's normal
/// misses (the loader tries the next name), an optional file, or a locale
/// file of SCCP's. (The SIP application's own SIP<MAC>.cnf missing leaves
/// it unprovisioned.)
fn needed(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Hunt | Kind::SipPhone | Kind::Other | Kind::Locale | Kind::SipExtras
    )
}

/// Why a request for `name` that was not found is normal, in words: the
/// phone goes on without the file (reference §1.3, §1.4). None when the
/// miss is a problem, as [`infer`] judges it; `earlier` is what the phone
/// did before the request, at `at` (the SIP application's own
/// SIP<MAC>.cnf is needed, the loader's hunt for it is not).
pub fn normal_miss(name: &str, earlier: &[Observation], at: SystemTime) -> Option<&'static str> {
    if unserved(name, Fetched::NotFound, earlier, at).is_some() {
        return None;
    }
    Some(match (kind(name), PhoneFile::parse(file_name(name))) {
        (_, Some((PhoneFile::TrustList, _))) => {
            "normal: the phone has no security file (CTL) and goes on without it"
        }
        (Kind::Hunt | Kind::SipPhone, _) => "normal: the loader's hunt goes on to the next name",
        (Kind::Locale, _) => "normal: SCCP firmware goes on without its locale files",
        _ => "normal: the phone goes on without it",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use Fetched::{Failed, NotFound, Sent};

    /// What was seen `secs` into the history.
    fn at(secs: u64, seen: Seen) -> Observation {
        Observation {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs),
            seen,
        }
    }

    /// A history from (seconds, file, outcome) rows, as a TFTP log reads.
    fn log(rows: &[(u64, &str, Fetched)]) -> Vec<Observation> {
        rows.iter()
            .map(|&(secs, name, outcome)| {
                let name = name.into();
                at(secs, Seen::Fetch { name, outcome })
            })
            .collect()
    }

    fn then(history: &mut Vec<Observation>, secs: u64, seen: Seen) {
        history.push(at(secs, seen));
    }

    /// Reference §1.2 A: a 7960 on SIP 8.12 whose SEP file names its load.
    #[test]
    fn a_sip_phone_reads_its_files_then_registers() {
        let mut history = log(&[
            (0, "CTLSEP000E84C060A6.tlv", NotFound),
            (0, "SEP000E84C060A6.cnf.xml", Sent),
            (0, "P0S3-8-12-00.loads", Sent),
            (23, "SIPDefault.cnf", Sent),
            (23, "./SIP000E84C060A6.cnf", Sent),
            (23, "RINGLIST.DAT", Sent),
            (24, "dialplan.xml", Sent),
        ]);
        let inferred = |h: &[Observation]| infer(h);
        assert_eq!(inferred(&history[..2]).stage, Stage::Hunting);
        assert_eq!(
            inferred(&history[..3]).stage,
            Stage::ComparingLoad("P0S3-8-12-00".into())
        );
        assert_eq!(inferred(&history[..5]).stage, Stage::SipReadingConfig);
        let provisioned = inferred(&history);
        assert_eq!(provisioned.stage, Stage::SipProvisioned);
        assert_eq!(
            provisioned.findings,
            vec![],
            "the trust list is a normal miss"
        );
        then(
            &mut history,
            25,
            Seen::Registered {
                line: "1001".into(),
                agent: Some("Cisco-CP7960G/8.0".into()),
            },
        );
        assert_eq!(inferred(&history).stage, Stage::Registered);
        // check-sync: syncinfo.xml and dialplan.xml at runtime.
        history.extend(log(&[
            (600, "syncinfo.xml", Sent),
            (600, "dialplan.xml", Sent),
        ]));
        assert_eq!(inferred(&history).stage, Stage::CheckSync);
    }

    /// Reference §1.2 B: the UAL hunt, the loader, the application, then a
    /// SIP application that keeps asking for a phone file it does not get.
    #[test]
    fn the_sccp_to_sip_conversion_and_a_phone_file_asked_for_again_and_again() {
        let hunt = |at: u64| {
            log(&[
                (at, "CTLSEP001DA219AFA7.tlv", NotFound),
                (at, "SEP001DA219AFA7.cnf.xml", NotFound),
                (at, "SIP001DA219AFA7.cnf", NotFound),
                (at, "MGC001DA219AFA7.cnf", NotFound),
                (at, "XMLDefault.cnf.xml", Sent),
            ])
        };
        let mut history = hunt(0);
        history.extend(log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (1, "P003-8-12-00.sbn", Sent),
        ]));
        assert_eq!(
            infer(&history).stage,
            Stage::FlashingLoader("P003-8-12-00.sbn".into())
        );
        history.extend(hunt(27));
        history.extend(log(&[
            (28, "P0S3-8-12-00.loads", Sent),
            (30, "P0S3-8-12-00.sb2", Sent),
        ]));
        let flashing = infer(&history);
        assert_eq!(
            flashing.stage,
            Stage::FlashingApplication("P0S3-8-12-00.sb2".into())
        );
        assert_eq!(flashing.findings, vec![], "hunt misses are normal");
        history.extend(log(&[
            (76, "SIPDefault.cnf", Sent),
            (76, "SIP001DA219AFA7.cnf", NotFound),
            (108, "SIP001DA219AFA7.cnf", NotFound),
            (139, "SIP001DA219AFA7.cnf", NotFound),
            (170, "SIP001DA219AFA7.cnf", NotFound),
        ]));
        let stuck = infer(&history);
        assert_eq!(stuck.stage, Stage::SipReadingConfig);
        assert_eq!(
            stuck.findings,
            vec![
                Finding::SipConfigAgainAndAgain {
                    name: "SIP001DA219AFA7.cnf".into(),
                    times: 4
                },
                Finding::Unprovisioned {
                    name: "SIP001DA219AFA7.cnf".into()
                },
            ]
        );
        for finding in &stuck.findings {
            assert!(!finding.problem().is_empty() && !finding.fix().is_empty());
        }
    }

    /// Reference §1.2 C: an SCCP 8.x phone nobody configured loops on the
    /// trust list and its SEP file; once configured, it runs SCCP.
    #[test]
    fn an_unconfigured_sccp_phone_hunts_forever() {
        let mut history = Vec::new();
        for cycle in 0..3 {
            history.extend(log(&[
                (cycle * 180, "CTLSEP0011BB73AD61.tlv", NotFound),
                (cycle * 180 + 1, "SEP0011BB73AD61.cnf.xml", NotFound),
            ]));
        }
        let looping = infer(&history);
        assert_eq!(looping.stage, Stage::Hunting);
        assert_eq!(
            looping.findings,
            vec![Finding::HuntingWithoutConfig { hunts: 3 }]
        );
        history.extend(log(&[
            (600, "CTLSEP0011BB73AD61.tlv", NotFound),
            (600, "SEP0011BB73AD61.cnf.xml", Sent),
            (620, "/7960-font.xml", Sent),
            (620, "US/7960-tones.xml", Sent),
        ]));
        let running = infer(&history);
        assert_eq!(running.stage, Stage::SccpRunning);
        assert_eq!(running.findings, vec![]);
    }

    #[test]
    fn old_firmware_reads_os79xx() {
        let history = log(&[(0, "OS79XX.TXT", Sent), (0, "SIPDefault.cnf", Sent)]);
        assert_eq!(infer(&history[..1]).stage, Stage::OldBoot);
        assert_eq!(infer(&history).stage, Stage::SipReadingConfig);
    }

    /// Reference §1.4: the `.sb2` fetched twice, then the old application.
    #[test]
    fn an_image_fetched_twice_in_a_row_was_rejected() {
        let mut history = image_rejected();
        history.extend(log(&[(30, "SIPDefault.cnf", Sent)]));
        assert_eq!(
            infer(&history).findings,
            vec![Finding::ImageRejected {
                image: "P0S3-8-12-00.sb2".into()
            }]
        );
    }

    #[test]
    fn a_missing_image_is_a_finding_until_it_is_served() {
        let mut history = file_not_found();
        let missing = infer(&history);
        assert_eq!(
            missing.findings,
            vec![Finding::Missing {
                name: "P0S3-8-12-00.sb2".into()
            }]
        );
        assert!(missing.findings[0].fix().contains("firmware import"));
        history.extend(log(&[(300, "P0S3-8-12-00.sb2", Sent)]));
        assert_eq!(infer(&history).findings, vec![]);
    }

    #[test]
    fn a_broken_transfer_and_a_refused_password_are_findings_until_settled() {
        assert_eq!(
            infer(&transfer_failed()).findings,
            vec![Finding::TransferFailed {
                name: "P0S3-8-12-00.sb2".into()
            }]
        );
        let mut history = password_refused();
        let failing = infer(&history);
        assert_eq!(failing.stage, Stage::SipReadingConfig);
        assert!(
            matches!(&failing.findings[..], [Finding::PasswordRefused { line, .. }] if line == "1001")
        );
        then(
            &mut history,
            60,
            Seen::Registered {
                line: "1001".into(),
                agent: Some("Cisco-CP7960G/8.0".into()),
            },
        );
        let fixed = infer(&history);
        assert_eq!((fixed.stage, fixed.findings), (Stage::Registered, vec![]));
    }

    #[test]
    fn every_stage_has_a_sentence() {
        let stages = [
            Stage::NotSeen,
            Stage::Addressed,
            Stage::OldBoot,
            Stage::Hunting,
            Stage::ComparingLoad("P0S3-8-12-00".into()),
            Stage::FlashingLoader("P003-8-12-00.sbn".into()),
            Stage::FlashingApplication("P0S3-8-12-00.sb2".into()),
            Stage::SipReadingConfig,
            Stage::SipProvisioned,
            Stage::Registered,
            Stage::CheckSync,
            Stage::SccpRunning,
        ];
        let sentences: std::collections::BTreeSet<String> =
            stages.iter().map(Stage::sentence).collect();
        assert_eq!(
            sentences.len(),
            stages.len(),
            "each says something of its own"
        );
    }

    /// Reference §1.2 B's hunt at `secs`: nothing for the phone, then
    /// XMLDefault.cnf.xml as `default` got it.
    fn ual_hunt(secs: u64, default: Fetched) -> Vec<Observation> {
        log(&[
            (secs, "CTLSEP001DA219AFA7.tlv", NotFound),
            (secs, "SEP001DA219AFA7.cnf.xml", NotFound),
            (secs, "SIP001DA219AFA7.cnf", NotFound),
            (secs, "MGC001DA219AFA7.cnf", NotFound),
            (secs, "XMLDefault.cnf.xml", default),
        ])
    }

    fn hunting_without_config() -> Vec<Observation> {
        [ual_hunt(0, NotFound), ual_hunt(180, NotFound)].concat()
    }

    fn sip_config_again_and_again() -> Vec<Observation> {
        log(&[
            (76, "SIPDefault.cnf", Sent),
            (76, "SIP001DA219AFA7.cnf", NotFound),
            (108, "SIP001DA219AFA7.cnf", NotFound),
            (139, "SIP001DA219AFA7.cnf", NotFound),
        ])
    }

    fn image_rejected() -> Vec<Observation> {
        log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (1, "P0S3-8-12-00.sb2", Sent),
            (9, "P0S3-8-12-00.sb2", Sent),
        ])
    }

    fn file_not_found() -> Vec<Observation> {
        log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (0, "P0S3-8-12-00.sb2", NotFound),
        ])
    }

    fn transfer_failed() -> Vec<Observation> {
        log(&[(0, "P0S3-8-12-00.sb2", Failed)])
    }

    fn password_refused() -> Vec<Observation> {
        let mut history = log(&[
            (0, "SIPDefault.cnf", Sent),
            (0, "SIP0018B9000001.cnf", Sent),
        ]);
        let refused = Seen::AuthFailed {
            line: "1001".into(),
            cause: "wrong password".into(),
        };
        then(&mut history, 5, refused);
        history
    }

    /// §1.2 B up to the loader's reboot, then its application is missing.
    fn protocol_application_invalid() -> Vec<Observation> {
        let mut history = ual_hunt(0, Sent);
        history.extend(log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (1, "P003-8-12-00.sbn", Sent),
        ]));
        history.extend(ual_hunt(27, Sent));
        history.extend(log(&[
            (28, "P0S3-8-12-00.loads", Sent),
            (30, "P0S3-8-12-00.sb2", NotFound),
        ]));
        history
    }

    /// §1.2 B's hunt for a phone phoneprov does not list: XMLDefault.cnf.xml
    /// names no load, and the loader starts over.
    fn no_load_specified() -> Vec<Observation> {
        [ual_hunt(0, Sent), ual_hunt(180, Sent)].concat()
    }

    /// The SIP firmware's first boot in the seed's guide: "Phone Unprovisioned".
    fn unprovisioned() -> Vec<Observation> {
        log(&[
            (76, "SIPDefault.cnf", Sent),
            (76, "SIP001DA219AFA7.cnf", NotFound),
        ])
    }

    /// "TFTP Timeout", then "Configuring IP" again (the seed's 7940).
    fn tftp_timeout() -> Vec<Observation> {
        vec![at(0, Seen::Address), at(60, Seen::Address)]
    }

    fn w210_buffer_full() -> Vec<Observation> {
        log(&[(0, "OS79XX.TXT", Sent), (0, "SIPDefault.cnf", Failed)])
    }

    fn os79xx_trailing_space() -> Vec<Observation> {
        log(&[(0, "OS79XX.TXT", Sent), (0, "P0S30203 .bin", NotFound)])
    }

    fn mac_wrong_case() -> Vec<Observation> {
        let mut history = log(&[
            (0, "CTLSEP0018B9000001.tlv", NotFound),
            (0, "SEP0018B9000001.cnf.xml", Sent),
        ]);
        history.push(at(
            0,
            Seen::OtherCase {
                name: "SEP0018B9000001.cnf.xml".into(),
                on_disk: "sep0018b9000001.cnf.xml".into(),
            },
        ));
        history
    }

    fn another_dhcp_server() -> Vec<Observation> {
        vec![at(
            0,
            Seen::OtherDhcpServer {
                server: Ipv4Addr::new(10, 0, 0, 1),
            },
        )]
    }

    /// Builds a history that shows one catalog entry.
    type Pattern = fn() -> Vec<Observation>;

    /// Every catalog entry that events can show, and a history that shows it.
    const PATTERNS: [(&str, Pattern); 14] = [
        ("hunting-without-config", hunting_without_config),
        ("sip-config-again-and-again", sip_config_again_and_again),
        ("image-rejected", image_rejected),
        ("file-not-found", file_not_found),
        ("transfer-failed", transfer_failed),
        ("password-refused", password_refused),
        ("protocol-application-invalid", protocol_application_invalid),
        ("no-load-specified", no_load_specified),
        ("unprovisioned", unprovisioned),
        ("tftp-timeout", tftp_timeout),
        ("w210-buffer-full", w210_buffer_full),
        ("os79xx-trailing-space", os79xx_trailing_space),
        ("mac-wrong-case", mac_wrong_case),
        ("another-dhcp-server", another_dhcp_server),
    ];

    #[test]
    fn every_diagnosis_seen_in_events_has_a_pattern_that_reveals_it() {
        let mut covered: Vec<&str> = PATTERNS.iter().map(|(id, _)| *id).collect();
        let mut seen: Vec<&str> = diagnosis::catalog()
            .iter()
            .filter(|d| d.seen_in_events())
            .map(|d| d.id.as_str())
            .collect();
        covered.sort();
        seen.sort();
        assert_eq!(covered, seen);
        for (id, pattern) in PATTERNS {
            let findings = infer(&pattern()).findings;
            assert!(
                findings.iter().any(|f| f.diagnosis().id == id),
                "{id}: {findings:?}"
            );
            for finding in findings {
                let problem = finding.problem();
                assert!(!problem.contains('{'), "{id}: {problem}");
            }
        }
    }

    #[test]
    fn an_application_missing_after_the_loader_is_protocol_application_invalid() {
        let history = protocol_application_invalid();
        assert_eq!(
            infer(&history).findings,
            vec![Finding::NoApplication {
                image: "P0S3-8-12-00.sb2".into()
            }],
            "not also a plain missing file"
        );
        let mut served = history.clone();
        served.extend(log(&[(300, "P0S3-8-12-00.sb2", Sent)]));
        assert_eq!(infer(&served).findings, vec![]);
    }

    #[test]
    fn hunts_that_find_a_file_naming_no_load_are_no_load_specified() {
        let looping = infer(&no_load_specified());
        assert_eq!(looping.stage, Stage::Hunting);
        assert_eq!(looping.findings, vec![Finding::NoLoadNamed { hunts: 2 }]);
        let once = infer(&ual_hunt(0, Sent));
        assert_eq!(once.findings, vec![], "one hunt may go on to its load");
        let old_sccp_boots = log(&[
            (0, "SEP0011BB73AD61.cnf.xml", Sent),
            (300, "SEP0011BB73AD61.cnf.xml", Sent),
        ]);
        assert_eq!(
            infer(&old_sccp_boots).findings,
            vec![],
            "SCCP before the loader reads no .loads"
        );
    }

    #[test]
    fn addresses_without_requests_are_a_tftp_timeout_until_a_request_comes() {
        let mut history = tftp_timeout();
        history.push(at(120, Seen::Address));
        assert_eq!(
            infer(&history).findings,
            vec![Finding::NoFileRequests { addresses: 3 }]
        );
        assert_eq!(infer(&history[..1]).findings, vec![], "one boot's address");
        history.extend(log(&[(130, "OS79XX.TXT", Sent)]));
        assert_eq!(infer(&history).findings, vec![]);
    }

    #[test]
    fn another_servers_address_matters_until_the_phone_asks_for_a_file() {
        let mut history = vec![at(0, Seen::Address)];
        history.extend(another_dhcp_server());
        let other = infer(&history);
        assert_eq!(other.stage, Stage::Addressed);
        assert_eq!(
            other.findings,
            vec![Finding::OtherDhcpServer {
                server: Ipv4Addr::new(10, 0, 0, 1)
            }]
        );
        history.extend(log(&[(5, "CTLSEP0018B9000001.tlv", NotFound)]));
        assert_eq!(
            infer(&history).findings,
            vec![],
            "it found phoneprov anyway"
        );
    }

    #[test]
    fn sipdefault_breaking_off_on_old_firmware_is_buffer_full_with_its_retries() {
        let mut history = w210_buffer_full();
        history.extend(log(&[(4, "SIPDefault.cnf", Failed)]));
        assert_eq!(
            infer(&history).findings,
            vec![Finding::BufferFull {
                name: "SIPDefault.cnf".into()
            }]
        );
        let after_a_hunt = log(&[
            (0, "XMLDefault.cnf.xml", Sent),
            (0, "SIPDefault.cnf", Failed),
        ]);
        assert_eq!(
            infer(&after_a_hunt).findings,
            vec![Finding::TransferFailed {
                name: "SIPDefault.cnf".into()
            }]
        );
    }

    #[test]
    fn a_blank_before_the_extension_comes_from_os79xx() {
        assert_eq!(
            infer(&os79xx_trailing_space()).findings,
            vec![Finding::SpaceInName {
                name: "P0S30203 .bin".into()
            }]
        );
        assert!(blank_before_extension("P0S30203.bin "));
        assert!(!blank_before_extension("P0S3-8-12-00.sb2"));
        assert!(!blank_before_extension("US/7960-tones.xml"));
    }

    #[test]
    fn a_mac_file_in_another_case_counts_until_it_is_found_under_its_own_name() {
        let mut history = mac_wrong_case();
        assert_eq!(
            infer(&history).findings,
            vec![Finding::MacInOtherCase {
                name: "SEP0018B9000001.cnf.xml".into(),
                on_disk: "sep0018b9000001.cnf.xml".into()
            }]
        );
        history.extend(log(&[
            (300, "CTLSEP0018B9000001.tlv", NotFound),
            (300, "SEP0018B9000001.cnf.xml", Sent),
            (300, "P0S3-8-12-00.loads", Sent),
        ]));
        assert_eq!(infer(&history).findings, vec![], "renamed");
        let mut fixed_name = log(&[(0, "xmlDefault.CNF.XML", Sent)]);
        fixed_name.push(at(
            0,
            Seen::OtherCase {
                name: "xmlDefault.CNF.XML".into(),
                on_disk: "XMLDefault.cnf.xml".into(),
            },
        ));
        assert_eq!(
            infer(&fixed_name).findings,
            vec![],
            "a phone's own odd spelling of a fixed name is no fault of the folder"
        );
    }

    /// The Files table's grey misses: the trust list and the hunt's names
    /// are normal, the SIP application's own phone file and a load's
    /// images are not.
    #[test]
    fn a_miss_is_normal_when_the_phone_goes_on_without_the_file() {
        let history = log(&[
            (0, "CTLSEP001DA219AFA7.tlv", NotFound),
            (0, "SEP001DA219AFA7.cnf.xml", NotFound),
            (0, "SIP001DA219AFA7.cnf", NotFound),
            (0, "XMLDefault.cnf.xml", Sent),
            (0, "P0S3-8-12-00.loads", NotFound),
            (76, "SIPDefault.cnf", Sent),
            (76, "SIP001DA219AFA7.cnf", NotFound),
        ]);
        let misses: Vec<(&str, Option<&str>)> = history
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match &o.seen {
                Seen::Fetch {
                    name,
                    outcome: NotFound,
                } => Some((name.as_str(), normal_miss(name, &history[..i], o.at))),
                _ => None,
            })
            .collect();
        let hunt = Some("normal: the loader's hunt goes on to the next name");
        assert_eq!(
            misses,
            vec![
                (
                    "CTLSEP001DA219AFA7.tlv",
                    Some("normal: the phone has no security file (CTL) and goes on without it")
                ),
                ("SEP001DA219AFA7.cnf.xml", hunt),
                ("SIP001DA219AFA7.cnf", hunt),
                ("P0S3-8-12-00.loads", None),
                ("SIP001DA219AFA7.cnf", None),
            ]
        );
    }
}
