//! Where a phone is in its boot, and what is wrong, read from what it did:
//! the files it asked for, in order, with what it got, its DHCP lease and
//! its registrations (reference §1.2–1.6, §8). Each stage and finding has a
//! sentence a newcomer understands; each finding says how to fix it.

use std::time::{Duration, SystemTime};

use crate::phone::PhoneFile;

/// One thing phoneprov saw a phone do.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// What a request for a file got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Something wrong, in the phone's terms.
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
}

impl Finding {
    pub fn problem(&self) -> String {
        match self {
            Finding::HuntingWithoutConfig { hunts } => format!(
                "looked for its configuration {hunts} times and found none, so it loops"
            ),
            Finding::SipConfigAgainAndAgain { name, times } => format!(
                "asked for {name} {times} times in a row: it is not getting a file it can use"
            ),
            Finding::ImageRejected { image } => format!(
                "fetched {image} twice in a row: the phone rejected the image and kept its old firmware"
            ),
            Finding::Missing { name } => format!("asked for {name}, which is not there"),
            Finding::TransferFailed { name } => format!("the transfer of {name} broke off"),
            Finding::PasswordRefused { line, cause } => {
                format!("line {line} cannot register: {cause}")
            }
        }
    }

    pub fn fix(&self) -> String {
        match self {
            Finding::HuntingWithoutConfig { .. } => {
                "list the phone's MAC in phoneprov.toml ([[phone]]) so phoneprov generates its files".into()
            }
            Finding::SipConfigAgainAndAgain { .. } => {
                "check the phone's [[phone]] entry and its lines (`phoneprov render MAC`); a file under another name or case is not read".into()
            }
            Finding::ImageRejected { .. } => {
                "the jump is too big for the firmware in flash: take it through an intermediate load (`phoneprov plan MAC`), and check the image is complete"
                    .into()
            }
            Finding::Missing { name } => {
                format!("import the firmware that holds {name} (`phoneprov firmware import FILE.zip`)")
            }
            Finding::TransferFailed { .. } => {
                "check the network between phone and server (a firewall passing only port 69 breaks TFTP transfers)".into()
            }
            Finding::PasswordRefused { .. } => {
                "reboot the phone so it fetches its current SIP<MAC>.cnf (`phoneprov reboot MAC`, or power-cycle it)".into()
            }
        }
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
/// How many empty hunts make a finding.
const EMPTY_HUNTS: usize = 2;
/// Requests this close together belong to one burst (one hunt, one read of
/// the configuration).
const BURST: Duration = Duration::from_secs(10);

/// What `history` (oldest first) says. Only what happened since the phone
/// last registered counts for findings, and a finding that a later
/// observation settled (the missing file served, the line registered) is
/// dropped.
pub fn infer(history: &[Observation]) -> Inference {
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
    let hunts = empty_hunts(recent);
    if hunts >= EMPTY_HUNTS {
        findings.push(Finding::HuntingWithoutConfig { hunts });
    }
    if let Some(finding) = again_and_again(recent) {
        findings.push(finding);
    }
    findings.extend(rejected_images(recent));
    for (i, o) in recent.iter().enumerate() {
        let later = &recent[i + 1..];
        let finding = match &o.seen {
            Seen::Fetch { name, outcome } => {
                let served_later = later.iter().any(|l| {
                    matches!(&l.seen, Seen::Fetch { name: n, outcome: Fetched::Sent } if same_file(n, name))
                });
                match outcome {
                    _ if served_later => None,
                    Fetched::NotFound if needed(name, o.at, &recent[..i]) => {
                        Some(Finding::Missing {
                            name: file_name(name).to_owned(),
                        })
                    }
                    Fetched::Failed => Some(Finding::TransferFailed {
                        name: file_name(name).to_owned(),
                    }),
                    _ => None,
                }
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
        Seen::AuthFailed { .. } => return stage,
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

/// How many hunts in a row found no configuration file, at the end of the
/// history: a hunt starts with the trust list (CTLSEP, the first name the
/// loader tries), or after a pause; anything but a hunt file ends it, and
/// the phone going on to anything else clears the count.
fn empty_hunts(recent: &[Observation]) -> usize {
    let mut hunts: Vec<bool> = Vec::new(); // found anything, per hunt
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
        if pause || !in_hunt || matches!(PhoneFile::parse(name), Some((PhoneFile::TrustList, _))) {
            hunts.push(false);
            in_hunt = true;
        }
        if *outcome == Fetched::Sent {
            if let Some(found) = hunts.last_mut() {
                *found = true;
            }
        }
    }
    hunts.iter().rev().take_while(|found| !**found).count()
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
/// file of SCCP's.
fn needed(name: &str, at: SystemTime, earlier: &[Observation]) -> bool {
    match kind(name) {
        Kind::Hunt | Kind::Other | Kind::Locale | Kind::SipExtras => false,
        Kind::SipPhone => read_by_sip_application(earlier, at),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Fetched::{Failed, NotFound, Sent};

    /// A history from (seconds, file, outcome) rows, as a TFTP log reads.
    fn log(rows: &[(u64, &str, Fetched)]) -> Vec<Observation> {
        rows.iter()
            .map(|&(secs, name, outcome)| Observation {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs),
                seen: Seen::Fetch {
                    name: name.into(),
                    outcome,
                },
            })
            .collect()
    }

    fn then(history: &mut Vec<Observation>, secs: u64, seen: Seen) {
        history.push(Observation {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs),
            seen,
        });
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
                Finding::Missing {
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
        let history = log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (1, "P0S3-8-12-00.sb2", Sent),
            (9, "P0S3-8-12-00.sb2", Sent),
            (30, "SIPDefault.cnf", Sent),
        ]);
        assert_eq!(
            infer(&history).findings,
            vec![Finding::ImageRejected {
                image: "P0S3-8-12-00.sb2".into()
            }]
        );
    }

    #[test]
    fn a_missing_image_is_a_finding_until_it_is_served() {
        let mut history = log(&[
            (0, "P0S3-8-12-00.loads", Sent),
            (0, "P0S3-8-12-00.sb2", NotFound),
        ]);
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
        let mut history = log(&[(0, "P0S3-8-12-00.sb2", Failed)]);
        assert_eq!(
            infer(&history).findings,
            vec![Finding::TransferFailed {
                name: "P0S3-8-12-00.sb2".into()
            }]
        );
        history = log(&[
            (0, "SIPDefault.cnf", Sent),
            (0, "SIP0018B9000001.cnf", Sent),
        ]);
        let refused = Seen::AuthFailed {
            line: "1001".into(),
            cause: "wrong password".into(),
        };
        then(&mut history, 5, refused);
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
}
