//! The upgrade ladder (reference §3): from the firmware a phone runs to its
//! target, one load per boot, through the loads of the firmware folder.
//!
//! The rules are data. Each says: a phone running a load of band `from`
//! (optionally: only when its target is `to`) must first run a load of band
//! `via`, unless the target is itself in `from` or `via`. The first rule
//! that applies picks the next rung; when none applies, the next rung is the
//! target. The defaults follow Cisco's documented rules (§3.1) and the
//! reference's advice (§3.4); the sources disagree on some rungs, so
//! phoneprov.toml can replace them (`[[ladder]]`).
//!
//! Two things are not rules but facts of the phone: signed firmware (5.x on)
//! never takes an unsigned load again, and a phone running the Universal
//! Application Loader switches to any load of the loader era directly.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::firmware::{parse_image_name, Catalog, ImageKind};
use crate::load::{Era, LoadName, Protocol, Version};
use crate::phone::{Mac, PhoneFile};
use crate::site::TargetProtocol;
use crate::stage::{since_start_over, Fetched, Observation, Seen};

/// Versions of one protocol, by major.minor, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub protocol: TargetProtocol,
    low: (u8, u8),
    high: (u8, u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a firmware band: {why} (write e.g. \"sip 7\", \"sip 4.4\", \"sccp 0-4\", \"sip 2-4.3\")")]
pub struct BandError {
    pub text: String,
    pub why: &'static str,
}

impl Band {
    /// `"sip 7"` (every 7.x), `"sip 4.4"`, `"sccp 0-4"`, `"sip 4.4-4"`.
    pub fn parse(text: &str) -> Result<Band, BandError> {
        let fail = |why| BandError {
            text: text.to_owned(),
            why,
        };
        let (protocol, versions) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| fail("it needs a protocol and versions"))?;
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "sip" => TargetProtocol::Sip,
            "sccp" => TargetProtocol::Sccp,
            _ => return Err(fail("the protocol is sip or sccp")),
        };
        let (low, high) = versions
            .trim()
            .split_once('-')
            .unwrap_or((versions, versions));
        let bound = |text: &str, open: u8| -> Option<(u8, u8)> {
            let text = text.trim();
            match text.split_once('.') {
                Some((major, minor)) => Some((major.parse().ok()?, minor.parse().ok()?)),
                None => Some((text.parse().ok()?, open)),
            }
        };
        let low = bound(low, 0).ok_or_else(|| fail("a version is major or major.minor"))?;
        let high = bound(high, u8::MAX).ok_or_else(|| fail("a version is major or major.minor"))?;
        if low > high {
            return Err(fail("the first version is above the second"));
        }
        Ok(Band {
            protocol,
            low,
            high,
        })
    }

    /// Whether a `protocol` application of `version` is in the band.
    pub fn holds(&self, protocol: Protocol, version: Version) -> bool {
        target_protocol(protocol) == Some(self.protocol)
            && (self.low..=self.high).contains(&(version.major, version.minor))
    }

    fn holds_load(&self, load: &LoadName) -> bool {
        self.holds(load.protocol, load.version)
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            TargetProtocol::Sip => "SIP",
            TargetProtocol::Sccp => "SCCP",
        };
        let show = |(major, minor): (u8, u8)| match minor {
            u8::MAX => format!("{major}.x"),
            _ => format!("{major}.{minor}"),
        };
        match (self.low, self.high) {
            ((lo, 0), (hi, u8::MAX)) if lo == hi => write!(f, "{protocol} {lo}.x"),
            (low, high) if low == high => write!(f, "{protocol} {}", show(low)),
            (low, high) => write!(f, "{protocol} {} to {}", show(low), show(high)),
        }
    }
}

fn target_protocol(protocol: Protocol) -> Option<TargetProtocol> {
    match protocol {
        Protocol::Sip => Some(TargetProtocol::Sip),
        Protocol::Sccp => Some(TargetProtocol::Sccp),
        Protocol::Mgcp | Protocol::Loader => None,
    }
}

/// One rule of the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub from: Band,
    /// Only for phones whose target runs this protocol.
    pub to: Option<TargetProtocol>,
    pub via: Band,
    /// A load that fits `via`, named when the folder has none.
    pub example: Option<String>,
}

/// The rules in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    pub rules: Vec<Rule>,
}

/// The default rules: (from, to, via, example).
const DEFAULT_RULES: [(&str, Option<TargetProtocol>, &str, &str); 7] = [
    // §3.1 rule 2: SIP 2.x–4.x → 4.4 → 5.3 → 6.x → 7.x.
    ("sip 0-4.3", None, "sip 4.4", "P0S3-04-4-00"),
    ("sip 4.4-4", None, "sip 5.3", "P0S3-05-3-00"),
    ("sip 5", None, "sip 6", "P0S3-06-3-00"),
    ("sip 6", None, "sip 7", "P0S3-07-4-00"),
    // §3.1 rule 3: a SIP downgrade goes through 7.x first.
    (
        "sip 8-99",
        Some(TargetProtocol::Sip),
        "sip 7",
        "P0S3-07-4-00",
    ),
    // §3.1 rule 4: SCCP must be 5.x before SIP …
    (
        "sccp 0-4",
        Some(TargetProtocol::Sip),
        "sccp 5",
        "P00305000200",
    ),
    // … and CME's procedure takes SCCP 5.x to SIP 7.x, which brings the
    // Universal Application Loader (§3.4).
    ("sccp 5", Some(TargetProtocol::Sip), "sip 7", "P0S3-07-4-00"),
];

impl Default for Ladder {
    fn default() -> Ladder {
        let band = |text| Band::parse(text).expect("default bands parse");
        Ladder {
            rules: DEFAULT_RULES
                .iter()
                .map(|&(from, to, via, example)| Rule {
                    from: band(from),
                    to,
                    via: band(via),
                    example: Some(example.to_owned()),
                })
                .collect(),
        }
    }
}

/// What phoneprov knows a phone runs, from what it saw it do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// This load: it installed it, or its loader found it up to date.
    Load(LoadName),
    /// A SIP application of this version (from its User-Agent).
    Sip(Version),
    /// The Universal Application Loader (the one it installed, when seen).
    Loader(Option<LoadName>),
    /// It boots the old way, through OS79XX.TXT; which load is unknown.
    OldBoot,
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Firmware::Load(load) => write!(f, "{} {} ({load})", load.protocol, load.version),
            Firmware::Sip(version) => write!(f, "SIP {version}"),
            Firmware::Loader(Some(loader)) => {
                write!(f, "the Universal Application Loader ({loader})")
            }
            Firmware::Loader(None) => f.write_str("the Universal Application Loader"),
            Firmware::OldBoot => f.write_str("old firmware (reads OS79XX.TXT), version unknown"),
        }
    }
}

/// Which file the phone is reading, which says how it boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// OS79XX.TXT: the old boot path.
    OldBoot,
    /// XMLDefault.cnf.xml or SEP<MAC>.cnf.xml: the loader.
    Loader,
    /// SIP<MAC>.cnf or SIPDefault.cnf: the SIP application.
    SipApplication,
    /// Not a request (`phoneprov plan`).
    Nobody,
}

/// Where a plan starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// An application of this protocol and version.
    At(Protocol, Version),
    /// The Universal Application Loader: any load of its era is one step.
    Loader,
    /// Not known: nothing that changes the firmware is served.
    Unknown,
}

/// Where a phone is, from what was seen (`observed`), what the operator
/// declared (`current`) and the file it is reading now.
pub fn position(
    observed: Option<&Firmware>,
    current: Option<&LoadName>,
    reader: Reader,
) -> Position {
    let at = |load: &LoadName| Position::At(load.protocol, load.version);
    match observed {
        Some(Firmware::Load(load)) => at(load),
        Some(Firmware::Sip(version)) => Position::At(Protocol::Sip, *version),
        // A new loader does not change the application: a declared one,
        // of either era, is still what runs.
        Some(Firmware::Loader(_)) => current.map(at).unwrap_or(Position::Loader),
        Some(Firmware::OldBoot) => current
            .filter(|load| load.era() == Era::Os79xx)
            .map(at)
            .unwrap_or(Position::Unknown),
        None => match (current, reader) {
            (Some(load), _) => at(load),
            (None, Reader::Loader) => Position::Loader,
            (None, _) => Position::Unknown,
        },
    }
}

/// Why a plan stops before the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// What the phone runs is not known yet.
    Unknown,
    /// The next rung needs a load the firmware folder lacks.
    Missing { band: Band, example: Option<String> },
    /// The phone cannot go on (signed firmware never takes an unsigned load).
    Blocked(String),
}

impl Stop {
    /// The problem, for a newcomer.
    pub fn problem(&self, target: &LoadName) -> String {
        match self {
            Stop::Unknown => {
                "phoneprov does not know yet which firmware this phone runs: on the loader (SCCP 6.x \
                 or later, SIP 7.x or later) it is told its target when it asks; older firmware is \
                 told nothing until phoneprov knows its version"
                    .into()
            }
            Stop::Missing { band, .. } => {
                format!(
                    "needs a {band} load on its way to {target}, and the firmware folder has none"
                )
            }
            Stop::Blocked(why) => why.clone(),
        }
    }

    pub fn fix(&self) -> String {
        match self {
            Stop::Unknown => "nothing, for a phone on the loader; for older firmware set current = \"LOAD\" in its [[phone]] (Settings > Status > Firmware Versions on the phone), or let it register once on SIP (it names its version)".into(),
            Stop::Missing { band, example } => match example {
                Some(example) => format!("import a {band} load, e.g. {example} (`phoneprov firmware import FILE.zip`)"),
                None => format!("import a {band} load (`phoneprov firmware import FILE.zip`)"),
            },
            Stop::Blocked(_) => "choose a signed target (5.x or later) for this phone".into(),
        }
    }
}

/// The way from a position to a target: the loads in order, the target
/// last, unless `stop` says why the way ends before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: LoadName,
    pub rungs: Vec<LoadName>,
    pub stop: Option<Stop>,
}

impl Plan {
    /// The load to tell the phone about now: the first rung, the target once
    /// it is there, none while the way is unknown or blocked at once.
    pub fn next(&self) -> Option<&LoadName> {
        match (self.rungs.first(), &self.stop) {
            (Some(rung), _) => Some(rung),
            (None, None) => Some(&self.target),
            (None, Some(_)) => None,
        }
    }
}

/// More rungs than any real ladder has: a set of rules that loops.
const MOST_RUNGS: usize = 12;

impl Ladder {
    /// The loads the rules name as examples, in rule order without repeats:
    /// with the targets, a firmware folder that holds every rung.
    pub fn examples(&self) -> Vec<String> {
        let mut examples: Vec<String> = Vec::new();
        for example in self.rules.iter().filter_map(|rule| rule.example.as_ref()) {
            if !examples.contains(example) {
                examples.push(example.clone());
            }
        }
        examples
    }

    /// The way from `from` to `target`, through the complete `loads` of the
    /// firmware folder (the target counts as available: a missing target is
    /// the configuration check's finding).
    pub fn plan(&self, from: &Position, target: &LoadName, loads: &[LoadName]) -> Plan {
        let mut plan = Plan {
            target: target.clone(),
            rungs: Vec::new(),
            stop: None,
        };
        let (mut protocol, mut version) = match from {
            Position::At(protocol, version) => (*protocol, *version),
            Position::Unknown => {
                plan.stop = Some(Stop::Unknown);
                return plan;
            }
            Position::Loader if target.era() == Era::Ual => {
                plan.rungs.push(target.clone());
                return plan;
            }
            Position::Loader => {
                plan.stop = Some(Stop::Unknown);
                return plan;
            }
        };
        while (protocol, version) != (target.protocol, target.version) {
            if let Some(why) = unsigned_after_signed(protocol, version, target) {
                plan.stop = Some(Stop::Blocked(why));
                return plan;
            }
            if plan.rungs.len() == MOST_RUNGS {
                plan.stop = Some(Stop::Blocked(format!(
                    "the ladder rules loop after {MOST_RUNGS} rungs; check [[ladder]] in phoneprov.toml"
                )));
                return plan;
            }
            let next = match self.rule_for(protocol, version, target) {
                None => target.clone(),
                Some(rule) => {
                    let fitting = loads
                        .iter()
                        .filter(|load| rule.via.holds_load(load))
                        .max_by(|a, b| (a.version, a.as_str()).cmp(&(b.version, b.as_str())));
                    match fitting {
                        Some(load) => load.clone(),
                        None => {
                            plan.stop = Some(Stop::Missing {
                                band: rule.via.clone(),
                                example: rule.example.clone(),
                            });
                            return plan;
                        }
                    }
                }
            };
            if let Some(why) = unsigned_after_signed(protocol, version, &next) {
                plan.stop = Some(Stop::Blocked(why));
                return plan;
            }
            (protocol, version) = (next.protocol, next.version);
            plan.rungs.push(next);
        }
        plan
    }

    fn rule_for(&self, protocol: Protocol, version: Version, target: &LoadName) -> Option<&Rule> {
        let target_protocol = target_protocol(target.protocol);
        self.rules.iter().find(|rule| {
            rule.from.holds(protocol, version)
                && rule.to.is_none_or(|to| Some(to) == target_protocol)
                && !rule.from.holds_load(target)
                && !rule.via.holds_load(target)
        })
    }
}

/// What the rungs are chosen from: what each phone was seen running, and
/// the complete loads on hand.
pub trait FirmwareWatch: Send + Sync {
    fn running(&self, phone: Mac) -> Option<Firmware>;
    fn loads(&self) -> Vec<LoadName>;
}

/// A firmware folder, and no phone seen: what `phoneprov render` and
/// `plan` show without a running server.
pub struct FirmwareFolder(pub PathBuf);

impl FirmwareWatch for FirmwareFolder {
    fn running(&self, _: Mac) -> Option<Firmware> {
        None
    }

    fn loads(&self) -> Vec<LoadName> {
        complete_loads(&self.0)
    }
}

/// The loads of `dir` a phone can install (every file they need is there);
/// none when it cannot be read.
pub fn complete_loads(dir: &Path) -> Vec<LoadName> {
    Catalog::scan(dir)
        .map(|catalog| {
            catalog
                .loads()
                .iter()
                .filter(|load| load.is_complete())
                .map(|load| load.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Why a phone running a `protocol` application of `version` cannot take
/// `aim`, as Cisco documents it (reference §3.1), whatever the rules in
/// effect say: SIP climbs 4.4, 5.3, 6.x, 7.x one at a time; SCCP goes to SIP
/// only from 5.x; SIP goes to SCCP only from 7.x. What the simulated phones
/// refuse, and what the fuzzing checks every plan against.
pub fn forbidden_jump(protocol: Protocol, version: Version, aim: &LoadName) -> Option<String> {
    let (from, to) = (
        (version.major, version.minor),
        (aim.version.major, aim.version.minor),
    );
    match (protocol, aim.protocol) {
        (Protocol::Sip, Protocol::Sip) if to > from => {
            let highest = match from {
                (0..=3, _) | (4, 0..=3) => (4, 4),
                (4, _) => (5, 3),
                (5, _) => (6, u8::MAX),
                (6, _) => (7, u8::MAX),
                _ => return None,
            };
            (to > highest).then(|| {
                format!(
                    "SIP {version} cannot go straight to SIP {}: the SIP ladder is 4.4, 5.3, 6.x, 7.x",
                    aim.version
                )
            })
        }
        (Protocol::Sccp, Protocol::Sip) if from.0 < 5 => Some(format!(
            "SCCP {version} cannot go to SIP: SCCP must be 5.x first"
        )),
        (Protocol::Sip, Protocol::Sccp) if from.0 < 7 => Some(format!(
            "SIP {version} cannot go to SCCP: SIP must be 7.x first"
        )),
        _ => None,
    }
}

/// Why a phone on `protocol` `version` cannot take `next`: signed firmware
/// (5.x on) never takes an unsigned load again (§3.1).
fn unsigned_after_signed(protocol: Protocol, version: Version, next: &LoadName) -> Option<String> {
    (version.major >= crate::load::SIGNED_FROM && !next.signed()).then(|| {
        format!("it runs signed firmware ({protocol} {version}), which never takes the unsigned {next} again")
    })
}

/// What `history` (oldest first) shows the phone runs: the last load it
/// installed (an image sent, then a new boot: an address, the trust list
/// or OS79XX.TXT), the load its loader found up to date (`.loads` sent,
/// then no image), its User-Agent's version, or at least how it boots. An
/// image sent and not followed by a boot was refused (the phone went on
/// with its old firmware). Only what came after the phone was last
/// re-provisioned counts.
pub fn observed(history: &[Observation]) -> Option<Firmware> {
    let mut running: Option<Firmware> = None;
    let mut installing: Option<(LoadName, ImageKind)> = None;
    let mut compared: Option<LoadName> = None;
    for observation in since_start_over(history) {
        let name = match &observation.seen {
            Seen::Address => {
                if let Some(image) = installing.take() {
                    running = Some(installed(image, running));
                }
                compared = None;
                continue;
            }
            Seen::Registered { agent, .. } => {
                if let Some(version) = agent.as_deref().and_then(agent_version) {
                    let same = |load: &LoadName| {
                        load.protocol == Protocol::Sip
                            && (load.version.major, load.version.minor)
                                == (version.major, version.minor)
                    };
                    if !matches!(&running, Some(Firmware::Load(load)) if same(load)) {
                        running = Some(Firmware::Sip(version));
                    }
                }
                continue;
            }
            Seen::Fetch { name, outcome } => (name, *outcome),
            _ => continue,
        };
        let (name, outcome) = name;
        let file = name.rsplit('/').next().unwrap_or(name);
        if let Some((load, kind)) = parse_image_name(file) {
            if outcome != Fetched::Sent {
                continue;
            }
            if kind == ImageKind::Loads {
                compared = Some(load);
            } else if installing.as_ref() == Some(&(load.clone(), kind)) {
                // Fetched again without a boot between: refused (§1.4).
                installing = None;
            } else {
                installing = Some((load, kind));
                compared = None;
            }
            continue;
        }
        if is_boot_start(file) {
            if let Some(image) = installing.take() {
                running = Some(installed(image, running));
            }
            compared = None;
        } else {
            if let Some(load) = compared.take() {
                running = Some(Firmware::Load(load));
            }
            installing = None;
        }
        let hunting = file.eq_ignore_ascii_case("XMLDefault.cnf.xml")
            || matches!(
                PhoneFile::parse(file),
                Some((PhoneFile::TrustList | PhoneFile::SepXml, _))
            );
        match &running {
            None | Some(Firmware::OldBoot) if hunting => running = Some(Firmware::Loader(None)),
            None if file.eq_ignore_ascii_case("OS79XX.TXT") => running = Some(Firmware::OldBoot),
            _ => {}
        }
    }
    running
}

/// The first file of a boot: the trust list (the loader) or OS79XX.TXT.
fn is_boot_start(file: &str) -> bool {
    file.eq_ignore_ascii_case("OS79XX.TXT")
        || matches!(PhoneFile::parse(file), Some((PhoneFile::TrustList, _)))
}

/// What a phone runs once `image` is in its flash.
fn installed((load, kind): (LoadName, ImageKind), before: Option<Firmware>) -> Firmware {
    let loader_stage =
        load.protocol == Protocol::Loader || (load.era() == Era::Ual && kind != ImageKind::Sb2);
    if !loader_stage {
        return Firmware::Load(load);
    }
    match before {
        // The application stays until its own image comes: a phone on SIP
        // 6.3 that took the 7.4 loader still runs SIP 6.3 until the 7.4
        // application is in.
        Some(Firmware::Load(app)) => Firmware::Load(app),
        _ => Firmware::Loader(Some(load)),
    }
}

/// The version in a Cisco User-Agent: `Cisco-CP7960G/8.0` → 8.0.
pub fn agent_version(agent: &str) -> Option<Version> {
    if !agent.starts_with("Cisco") {
        return None;
    }
    let (_, version) = agent.rsplit_once('/')?;
    let mut numbers = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next().map_or(Some(0), |n| n.parse().ok())?;
    Some(Version {
        major,
        minor,
        maintenance: None,
        service: None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn load(name: &str) -> LoadName {
        LoadName::parse(name).unwrap()
    }

    fn loads(names: &[&str]) -> Vec<LoadName> {
        names.iter().map(|n| load(n)).collect()
    }

    fn at(name: &str) -> Position {
        let load = load(name);
        Position::At(load.protocol, load.version)
    }

    fn rungs(plan: &Plan) -> Vec<&str> {
        plan.rungs.iter().map(LoadName::as_str).collect()
    }

    /// Every load of the default ladder: its examples and the targets.
    fn folder() -> Vec<LoadName> {
        let mut names = Ladder::default().examples();
        names.extend(["P0S3-8-12-00".into(), "P00308010200".into()]);
        names.iter().map(|name| load(name)).collect()
    }

    #[test]
    fn jumps_cisco_documents_as_impossible_are_refused() {
        let refused = |from: &str, to: &str| {
            let from = load(from);
            forbidden_jump(from.protocol, from.version, &load(to))
        };
        for (from, to) in [
            ("P0S30203", "P0S3-05-3-00"),
            ("P0S3-04-4-00", "P0S3-06-3-00"),
            ("P0S3-05-3-00", "P0S3-07-4-00"),
            ("P0S3-06-3-00", "P0S3-8-12-00"),
            ("P00303030300", "P0S3-07-4-00"),
            ("P0S3-06-3-00", "P00308010200"),
        ] {
            assert!(refused(from, to).is_some(), "{from} -> {to}");
        }
        for (from, to) in [
            ("P0S30203", "P0S3-04-4-00"),
            ("P0S3-04-4-00", "P0S3-05-3-00"),
            ("P0S3-06-3-00", "P0S3-07-4-00"),
            ("P0S3-07-4-00", "P0S3-8-12-00"),
            ("P00305000200", "P0S3-07-4-00"),
            ("P00303030300", "P00305000200"),
            ("P0S3-8-12-00", "P00308010200"),
            ("P0S3-8-12-00", "P0S3-05-3-00"),
        ] {
            assert_eq!(refused(from, to), None, "{from} -> {to}");
        }
    }

    #[test]
    fn bands_parse_and_hold() {
        let band = Band::parse("sip 2-4.3").unwrap();
        assert!(band.holds_load(&load("P0S30203")));
        assert!(band.holds_load(&load("P0S3-04-3-00")));
        assert!(!band.holds_load(&load("P0S3-04-4-00")));
        assert!(!band.holds_load(&load("P00303030300")));
        assert_eq!(band.to_string(), "SIP 2.0 to 4.3");
        assert_eq!(Band::parse("sip 7").unwrap().to_string(), "SIP 7.x");
        assert_eq!(Band::parse("SCCP 5.0").unwrap().to_string(), "SCCP 5.0");
        assert!(Band::parse("sip 8-99")
            .unwrap()
            .holds_load(&load("P0S3-8-12-00")));
        for bad in ["sip", "mgcp 7", "sip x", "sip 5-4", "sip 4.4.1"] {
            assert!(Band::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_ladder_climbs_one_documented_rung_at_a_time() {
        let ladder = Ladder::default();
        let folder = folder();
        let sip = load("P0S3-8-12-00");
        let cases: [(&str, &[&str]); 6] = [
            // SIP 2.3 up the whole SIP ladder.
            (
                "P0S30203",
                &[
                    "P0S3-04-4-00",
                    "P0S3-05-3-00",
                    "P0S3-06-3-00",
                    "P0S3-07-4-00",
                    "P0S3-8-12-00",
                ],
            ),
            (
                "P0S3-05-3-00",
                &["P0S3-06-3-00", "P0S3-07-4-00", "P0S3-8-12-00"],
            ),
            // SCCP 3.3 first to signed SCCP 5, then SIP 7.x, then the target.
            (
                "P00303030300",
                &["P00305000200", "P0S3-07-4-00", "P0S3-8-12-00"],
            ),
            ("P00305000200", &["P0S3-07-4-00", "P0S3-8-12-00"]),
            // With the loader: straight there.
            ("P00308010200", &["P0S3-8-12-00"]),
            ("P0S3-8-12-00", &[]),
        ];
        for (from, expected) in cases {
            let plan = ladder.plan(&at(from), &sip, &folder);
            assert_eq!(rungs(&plan), expected, "from {from}");
            assert_eq!(plan.stop, None, "from {from}");
            assert_eq!(
                plan.next(),
                Some(expected.first().map_or(&sip, |_| &plan.rungs[0]))
            );
        }
        // Back to SCCP: SIP 4.4 climbs to 7.x first (§3.1 rule 5).
        let sccp = load("P00308010200");
        let plan = ladder.plan(&at("P0S3-04-4-00"), &sccp, &folder);
        assert_eq!(
            rungs(&plan),
            [
                "P0S3-05-3-00",
                "P0S3-06-3-00",
                "P0S3-07-4-00",
                "P00308010200"
            ]
        );
        assert_eq!(
            rungs(&ladder.plan(&at("P0S3-8-12-00"), &sccp, &folder)),
            ["P00308010200"]
        );
        // A SIP downgrade goes through 7.x.
        let plan = ladder.plan(&at("P0S3-8-12-00"), &load("P0S3-06-3-00"), &folder);
        assert_eq!(rungs(&plan), ["P0S3-07-4-00", "P0S3-06-3-00"]);
    }

    #[test]
    fn the_examples_are_the_intermediate_loads_once_each() {
        assert_eq!(
            Ladder::default().examples(),
            [
                "P0S3-04-4-00",
                "P0S3-05-3-00",
                "P0S3-06-3-00",
                "P0S3-07-4-00",
                "P00305000200"
            ]
        );
    }

    #[test]
    fn a_missing_rung_names_what_to_import() {
        let folder = loads(&["P0S3-8-12-00", "P00305000200"]);
        let plan = Ladder::default().plan(&at("P00303030300"), &load("P0S3-8-12-00"), &folder);
        assert_eq!(rungs(&plan), ["P00305000200"]);
        let stop = plan.stop.clone().unwrap();
        assert_eq!(
            stop,
            Stop::Missing {
                band: Band::parse("sip 7").unwrap(),
                example: Some("P0S3-07-4-00".into())
            }
        );
        assert!(
            stop.problem(&plan.target).contains("SIP 7.x"),
            "{}",
            stop.problem(&plan.target)
        );
        assert!(stop.fix().contains("P0S3-07-4-00"));
        // The phone still takes the rungs that are there.
        assert_eq!(plan.next().unwrap().as_str(), "P00305000200");
        // Stuck at once: nothing is served.
        let plan = Ladder::default().plan(&at("P00305000200"), &load("P0S3-8-12-00"), &folder);
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn the_newest_fitting_load_is_the_rung() {
        let folder = loads(&["P0S3-07-4-00", "P0S3-07-5-00", "P0S3-06-0-00"]);
        let plan = Ladder::default().plan(&at("P0S3-06-0-00"), &load("P0S3-8-12-00"), &folder);
        assert_eq!(rungs(&plan), ["P0S3-07-5-00", "P0S3-8-12-00"]);
    }

    #[test]
    fn signed_firmware_never_goes_back_to_unsigned() {
        let plan = Ladder::default().plan(&at("P00305000200"), &load("P0S30203"), &[]);
        assert_eq!(plan.next(), None);
        assert!(matches!(plan.stop, Some(Stop::Blocked(ref why)) if why.contains("unsigned")));
    }

    #[test]
    fn rules_that_loop_stop() {
        let ladder = Ladder {
            rules: vec![
                Rule {
                    from: Band::parse("sip 7").unwrap(),
                    to: None,
                    via: Band::parse("sip 6").unwrap(),
                    example: None,
                },
                Rule {
                    from: Band::parse("sip 6").unwrap(),
                    to: None,
                    via: Band::parse("sip 7").unwrap(),
                    example: None,
                },
            ],
        };
        let folder = loads(&["P0S3-06-3-00", "P0S3-07-4-00"]);
        let plan = ladder.plan(&at("P0S3-07-4-00"), &load("P0S3-8-12-00"), &folder);
        assert!(matches!(plan.stop, Some(Stop::Blocked(ref why)) if why.contains("loop")));
    }

    #[test]
    fn position_prefers_what_was_seen() {
        let declared = load("P00305000200");
        assert_eq!(
            position(None, Some(&declared), Reader::OldBoot),
            at("P00305000200")
        );
        assert_eq!(position(None, None, Reader::OldBoot), Position::Unknown);
        assert_eq!(position(None, None, Reader::Loader), Position::Loader);
        let seen = Firmware::Load(load("P0S3-07-4-00"));
        assert_eq!(
            position(Some(&seen), Some(&declared), Reader::Nobody),
            at("P0S3-07-4-00")
        );
        // Seen booting the old way: a declared old load fits, a new one does not.
        assert_eq!(
            position(Some(&Firmware::OldBoot), Some(&declared), Reader::Nobody),
            at("P00305000200")
        );
        let new = load("P00308010200");
        assert_eq!(
            position(Some(&Firmware::OldBoot), Some(&new), Reader::Nobody),
            Position::Unknown
        );
        assert_eq!(
            position(Some(&Firmware::Loader(None)), Some(&new), Reader::Nobody),
            at("P00308010200")
        );
        assert_eq!(
            position(Some(&Firmware::Loader(None)), None, Reader::Nobody),
            Position::Loader
        );
        // SIP 6.3 that took the 7.4 loader still runs SIP 6.3.
        let sip6 = load("P0S3-06-3-00");
        assert_eq!(
            position(Some(&Firmware::Loader(None)), Some(&sip6), Reader::Loader),
            at("P0S3-06-3-00")
        );
    }

    fn history(events: &[(u64, Seen)]) -> Vec<Observation> {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        events
            .iter()
            .map(|(at, seen)| Observation {
                at: start + Duration::from_secs(*at),
                seen: seen.clone(),
            })
            .collect()
    }

    fn sent(name: &str) -> Seen {
        Seen::Fetch {
            name: name.into(),
            outcome: Fetched::Sent,
        }
    }

    fn missing(name: &str) -> Seen {
        Seen::Fetch {
            name: name.into(),
            outcome: Fetched::NotFound,
        }
    }

    #[test]
    fn what_came_before_a_start_over_does_not_say_what_the_phone_runs() {
        let agent = Some("Cisco-CP7960G/8.12".to_string());
        let line = "2001".to_string();
        let mut events = vec![(0, Seen::Registered { line, agent })];
        assert!(observed(&history(&events)).is_some());
        events.push((1, Seen::StartedOver));
        assert_eq!(observed(&history(&events)), None);
        events.push((2, sent("OS79XX.TXT")));
        assert_eq!(observed(&history(&events)), Some(Firmware::OldBoot));
    }

    #[test]
    fn the_conversion_log_of_reference_1_2_b() {
        let mac = "001DA219AFA7";
        let hunt = |t: u64| -> Vec<(u64, Seen)> {
            vec![
                (t, missing(&format!("CTLSEP{mac}.tlv"))),
                (t, missing(&format!("SEP{mac}.cnf.xml"))),
                (t, missing(&format!("SIP{mac}.cnf"))),
                (t, missing(&format!("MGC{mac}.cnf"))),
                (t, sent("XMLDefault.cnf.xml")),
            ]
        };
        let mut events = hunt(0);
        assert_eq!(observed(&history(&events)), Some(Firmware::Loader(None)));
        events.extend([
            (0, sent("P0S3-8-12-00.loads")),
            (1, sent("P003-8-12-00.sbn")),
        ]);
        // Flashing: not installed until the phone boots again.
        assert_eq!(observed(&history(&events)), Some(Firmware::Loader(None)));
        events.extend(hunt(27));
        assert_eq!(
            observed(&history(&events)),
            Some(Firmware::Loader(Some(load("P003-8-12-00"))))
        );
        events.extend([
            (28, sent("P0S3-8-12-00.loads")),
            (30, sent("P0S3-8-12-00.sb2")),
        ]);
        events.extend(hunt(60));
        events.push((60, sent("P0S3-8-12-00.loads")));
        assert_eq!(
            observed(&history(&events)),
            Some(Firmware::Load(load("P0S3-8-12-00")))
        );
        events.extend([
            (76, sent("SIPDefault.cnf")),
            (76, sent(&format!("SIP{mac}.cnf"))),
        ]);
        events.push((
            80,
            Seen::Registered {
                line: "1001".into(),
                agent: Some("Cisco-CP7960G/8.12".into()),
            },
        ));
        assert_eq!(
            observed(&history(&events)),
            Some(Firmware::Load(load("P0S3-8-12-00")))
        );
    }

    #[test]
    fn an_image_fetched_twice_without_a_boot_was_refused() {
        let events = [
            (0, sent("OS79XX.TXT")),
            (0, sent("P00305000200.sbn")),
            (5, Seen::Address),
            (30, sent("OS79XX.TXT")),
            (30, sent("P0S3-07-4-00.loads")),
            (31, sent("P0S3-07-4-00.sb2")),
            (40, sent("P0S3-07-4-00.sb2")),
            (50, sent("SEP0018B9000001.cnf.xml")),
        ];
        // SCCP 5.0(2) was installed; the 7.4 application was refused.
        assert_eq!(
            observed(&history(&events)),
            Some(Firmware::Load(load("P00305000200")))
        );
    }

    #[test]
    fn old_boot_then_a_sip_user_agent() {
        let mut events = vec![(0, sent("OS79XX.TXT")), (0, sent("SIPDefault.cnf"))];
        assert_eq!(observed(&history(&events)), Some(Firmware::OldBoot));
        events.push((
            5,
            Seen::Registered {
                line: "1001".into(),
                agent: Some("Cisco-CP7940G/6.3".into()),
            },
        ));
        let version = agent_version("Cisco-CP7940G/6.3").unwrap();
        assert_eq!((version.major, version.minor), (6, 3));
        assert_eq!(observed(&history(&events)), Some(Firmware::Sip(version)));
        assert_eq!(agent_version("Linphone/5.0"), None);
        assert_eq!(agent_version("Cisco-CP7960G"), None);
    }
}
