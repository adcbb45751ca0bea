//! What phoneprov tells about its phones, in words and in JSON: one
//! implementation for the control socket (`phoneprov status`, `plan`, `show`,
//! `registrations`, `reboot`) and the HTTP API.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use phoneprov_cisco::ladder::Reader;
use phoneprov_cisco::render::Provisioning;
use phoneprov_cisco::site::Phone;
use phoneprov_cisco::stage::{normal_miss, Fetched, Observation, Seen, Stage};
use phoneprov_cisco::{Mac, Model};
use serde::{Deserialize, Serialize};

use crate::sip::RegisteredContact;
use crate::timeline::{PhoneStatus, Timelines};

/// One phone, as `phoneprov status` and `GET /api/phones` show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneRow {
    pub phone: String,
    /// Its description in phoneprov.toml; `None` for a phone not listed there.
    pub listed: Option<String>,
    /// The model in phoneprov.toml, else the one its REGISTER named.
    pub model: Option<String>,
    /// The address phoneprov leased it, else the one it registered from.
    pub address: Option<IpAddr>,
    pub stage: String,
    /// What it runs, as far as phoneprov knows.
    pub firmware: Option<String>,
    /// Where it is on its way to its target.
    pub ladder: Option<String>,
    /// Its lines registered with phoneprov now.
    pub lines: Vec<String>,
    /// Seconds ago.
    pub last_seen: Option<u64>,
    /// Each problem with its fix.
    pub findings: Vec<Finding>,
}

/// A problem and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub problem: String,
    pub fix: String,
}

impl PhoneRow {
    /// As `phoneprov status` prints it.
    pub fn paragraph(&self) -> Vec<String> {
        let who = match &self.listed {
            Some(description) if !description.is_empty() => description.clone(),
            Some(_) => "listed".into(),
            None => "not in phoneprov.toml".into(),
        };
        let seen = match self.last_seen {
            Some(secs) => format!("  (last seen {secs} s ago)"),
            None => String::new(),
        };
        let mut lines = vec![format!("{}  {who}: {}{seen}", self.phone, self.stage)];
        if let Some(firmware) = &self.firmware {
            lines.push(format!("    firmware: {firmware}"));
        }
        if let Some(ladder) = &self.ladder {
            lines.push(format!("    ladder: {ladder}"));
        }
        for finding in &self.findings {
            lines.push(format!("    PROBLEM: {}", finding.problem));
            lines.push(format!("      fix: {}", finding.fix));
        }
        lines
    }
}

/// Every listed phone, then every other phone seen, with its stage;
/// `registered` is what the registrar holds now.
pub fn phone_rows(
    provisioning: &Provisioning,
    timelines: &Timelines,
    registered: &[RegisteredContact],
) -> Vec<PhoneRow> {
    let mut seen: HashMap<Mac, PhoneStatus> = timelines
        .status()
        .into_iter()
        .map(|s| (s.phone, s))
        .collect();
    let now = SystemTime::now();
    let row = |phone: Mac, listed: Option<&Phone>, status: Option<PhoneStatus>| {
        let (stage, last_seen, mut findings) = match &status {
            Some(s) => (
                s.inference.stage.sentence(),
                s.last_seen
                    .map(|at| now.duration_since(at).unwrap_or_default().as_secs()),
                s.inference
                    .findings
                    .iter()
                    .map(|f| Finding {
                        problem: f.problem(),
                        fix: f.fix(),
                    })
                    .collect(),
            ),
            None => (Stage::NotSeen.sentence(), None, Vec::new()),
        };
        let way = listed.and_then(|p| Way::of(provisioning, p));
        if let Some(way) = &way {
            // Not knowing an unseen phone's firmware is no problem yet.
            let problem = way.problem.clone().filter(|_| status.is_some());
            findings.extend(problem);
        }
        let firmware = provisioning
            .watch()
            .and_then(|watch| watch.running(phone))
            .map(|f| f.to_string())
            .or_else(|| {
                let current = listed?.current.as_ref()?;
                Some(format!("{current} (declared in phoneprov.toml)"))
            });
        let contacts: Vec<&RegisteredContact> = registered
            .iter()
            .filter(|c| c.phone == Some(phone))
            .collect();
        let mut lines: Vec<String> = contacts.iter().map(|c| c.line.clone()).collect();
        lines.dedup();
        PhoneRow {
            phone: phone.colons(),
            listed: listed.map(|p| p.description.clone().unwrap_or_default()),
            model: listed
                .map(|p| p.model)
                .or_else(|| contacts.iter().find_map(|c| c.model))
                .map(|model| model.to_string()),
            address: timelines
                .address_of(phone)
                .or_else(|| contacts.first().map(|c| c.source.ip())),
            stage,
            firmware,
            ladder: way.map(|way| way.progress),
            lines,
            last_seen,
            findings,
        }
    };
    let site = provisioning.site();
    let mut phones: Vec<PhoneRow> = site
        .phones
        .iter()
        .map(|p| row(p.mac, Some(p), seen.remove(&p.mac)))
        .collect();
    let mut others: Vec<PhoneStatus> = seen.into_values().collect();
    others.sort_by_key(|s| s.phone.0);
    phones.extend(others.into_iter().map(|s| row(s.phone, None, Some(s))));
    phones
}

/// A listed phone's way to its target, in words.
pub struct Way {
    /// `at its target P0S3-8-12-00`, or the rungs still to go.
    pub progress: String,
    /// Why it cannot go on, with the fix.
    pub problem: Option<Finding>,
}

impl Way {
    /// None for a phone with no target (nothing to reach).
    pub fn of(provisioning: &Provisioning, phone: &Phone) -> Option<Way> {
        let plan = provisioning.plan(phone, Reader::Nobody)?;
        let target = &plan.target;
        let rungs: Vec<&str> = plan.rungs.iter().map(|l| l.as_str()).collect();
        let progress = match (&plan.stop, rungs.is_empty()) {
            (None, true) => format!("at its target {target}"),
            (None, false) => format!(
                "{} to go: {}",
                plural(rungs.len(), "load"),
                rungs.join(" -> ")
            ),
            (Some(_), true) => format!("stopped on its way to {target}"),
            (Some(_), false) => format!(
                "{} to go, then stopped on its way to {target}: {}",
                plural(rungs.len(), "load"),
                rungs.join(" -> ")
            ),
        };
        Some(Way {
            progress,
            problem: plan.stop.map(|stop| Finding {
                problem: stop.problem(target),
                fix: stop.fix(),
            }),
        })
    }
}

/// `1 phone`, `2 phones`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A listed phone's way as data: its target, the loads still to go (one a
/// boot) and why it stops, if it does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanView {
    pub target: String,
    /// `runs P0S3-8-12-00 (seen by phoneprov)`, or what is declared.
    pub runs: String,
    /// One load a boot, the next first.
    pub rungs: Vec<RungView>,
    pub stop: Option<Finding>,
}

/// A load on a phone's way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RungView {
    pub load: String,
    pub protocol: String,
    pub version: String,
}

impl PlanView {
    /// None for a phone with no target in [firmware].
    pub fn of(provisioning: &Provisioning, phone: &Phone) -> Option<PlanView> {
        let plan = provisioning.plan(phone, Reader::Nobody)?;
        let running = provisioning
            .watch()
            .and_then(|watch| watch.running(phone.mac));
        let runs = match (&running, &phone.current) {
            (Some(firmware), _) => format!("runs {firmware} (seen by phoneprov)"),
            (None, Some(current)) => format!("runs {current} (declared in phoneprov.toml)"),
            (None, None) => "runs firmware phoneprov has not seen yet".into(),
        };
        Some(PlanView {
            stop: plan.stop.as_ref().map(|stop| Finding {
                problem: stop.problem(&plan.target),
                fix: stop.fix(),
            }),
            rungs: plan
                .rungs
                .iter()
                .map(|load| RungView {
                    load: load.to_string(),
                    protocol: load.protocol.to_string(),
                    version: load.version.to_string(),
                })
                .collect(),
            target: plan.target.to_string(),
            runs,
        })
    }
}

/// `phone`'s way, in lines: target, what it runs, the rungs, why it stops.
pub fn describe_plan(provisioning: &Provisioning, phone: &Phone) -> Vec<String> {
    match PlanView::of(provisioning, phone) {
        Some(plan) => plan.lines(phone.mac),
        None => vec![no_target(phone)],
    }
}

/// The plan of a phone with no target in [firmware].
pub fn no_target(phone: &Phone) -> String {
    format!(
        "{}: no {} target in [firmware]: its firmware is left as it is",
        phone.mac.colons(),
        phone.protocol
    )
}

impl PlanView {
    /// As `phoneprov plan` prints it.
    pub fn lines(&self, phone: Mac) -> Vec<String> {
        let mut lines = vec![
            format!("{}: target {}", phone.colons(), self.target),
            format!("  {}", self.runs),
        ];
        if self.rungs.is_empty() && self.stop.is_none() {
            lines.push("  at its target: nothing to do".into());
        }
        for (i, rung) in self.rungs.iter().enumerate() {
            let when = if i == 0 { "next boot" } else { "then" };
            lines.push(format!(
                "  {}. {} ({} {}): {when}",
                i + 1,
                rung.load,
                rung.protocol,
                rung.version
            ));
        }
        if let Some(stop) = &self.stop {
            lines.push(format!("  stops: {}", stop.problem));
            lines.push(format!("  fix: {}", stop.fix));
        }
        lines
    }
}

/// Everything known about one phone, as `GET /api/phones/{mac}` answers
/// and `phoneprov show` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneDetail {
    pub phone: PhoneRow,
    /// Its way to its target; None for a phone not listed or with no target.
    pub plan: Option<PlanView>,
    /// The files phoneprov generates for it, by the names it asks for.
    pub files: Vec<String>,
    /// Each file it asked for over TFTP, in the order it first did.
    pub asked: Vec<AskedFile>,
    /// Every event, oldest first.
    pub timeline: Vec<Moment>,
}

/// A file a phone asked for over TFTP, and what its last request got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskedFile {
    /// As the phone asked for it.
    pub name: String,
    pub times: usize,
    pub outcome: Fetched,
    /// Why the last request finding nothing is normal (the phone goes on
    /// without the file), in words; None when it is a problem or the file
    /// was sent.
    pub normal_miss: Option<String>,
}

/// Each file `history` (oldest first) shows the phone asking for.
pub fn asked_files(history: &[Observation]) -> Vec<AskedFile> {
    let mut asked: Vec<AskedFile> = Vec::new();
    for (i, o) in history.iter().enumerate() {
        let Seen::Fetch { name, outcome } = &o.seen else {
            continue;
        };
        let normal_miss = match outcome {
            Fetched::NotFound => normal_miss(name, &history[..i], o.at).map(String::from),
            _ => None,
        };
        match asked.iter_mut().find(|file| file.name == *name) {
            Some(file) => {
                file.times += 1;
                file.outcome = *outcome;
                file.normal_miss = normal_miss;
            }
            None => asked.push(AskedFile {
                name: name.clone(),
                times: 1,
                outcome: *outcome,
                normal_miss,
            }),
        }
    }
    asked
}

impl PhoneDetail {
    /// The status paragraph, the way, then the timeline.
    pub fn lines(&self, phone: Mac) -> Vec<String> {
        let mut lines = self.phone.paragraph();
        if let Some(plan) = &self.plan {
            lines.push(String::new());
            lines.extend(plan.lines(phone));
        }
        lines.push(String::new());
        lines.push(format!(
            "timeline ({} events, oldest first):",
            self.timeline.len()
        ));
        lines.extend(self.timeline.iter().map(|m| format!("  {}", m.line())));
        lines
    }
}

/// One observation of a phone's timeline, for the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Moment {
    /// Milliseconds since 1970 (UTC).
    pub at: u64,
    /// What happened, in words.
    pub what: String,
    pub seen: Seen,
}

impl Moment {
    pub fn of(observation: &Observation) -> Moment {
        Moment {
            at: unix_millis(observation.at),
            what: what(&observation.seen),
            seen: observation.seen.clone(),
        }
    }

    /// As the timeline prints it:
    /// `09:12:01.337 UTC  asked for P0S3-8-12-00.loads: sent`.
    pub fn line(&self) -> String {
        let secs = self.at / 1000 % 86_400;
        format!(
            "{:02}:{:02}:{:02}.{:03} UTC  {}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            self.at % 1000,
            self.what
        )
    }
}

/// Milliseconds since 1970, 0 for a time before.
pub fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn what(seen: &Seen) -> String {
    match seen {
        Seen::Address => "got an address from phoneprov's DHCP server".into(),
        Seen::Fetch { name, outcome } => {
            let got = match outcome {
                Fetched::Sent => "sent",
                Fetched::NotFound => "not found",
                Fetched::Failed => "FAILED",
            };
            format!("asked for {name}: {got}")
        }
        Seen::Registered { line, agent } => match agent {
            Some(agent) => format!("line {line} registered ({agent})"),
            None => format!("line {line} registered"),
        },
        Seen::AuthFailed { line, cause } => format!("line {line} refused: {cause}"),
        Seen::OtherDhcpServer { server } => format!("took the DHCP offer of {server}, not ours"),
        Seen::OtherCase { name, on_disk } => {
            format!("asked for {name}, found only as {on_disk}")
        }
        Seen::StartedOver => {
            "re-provisioned: only what follows counts for its stage, problems and firmware".into()
        }
    }
}

/// A registered contact of a line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    pub line: String,
    pub phone: Option<String>,
    pub contact: String,
    pub source: String,
    /// Seconds.
    pub expires_in: u64,
    /// `7940` or `7960`, as its REGISTER says.
    pub model: Option<String>,
    pub user_agent: Option<String>,
}

impl From<RegisteredContact> for Contact {
    fn from(c: RegisteredContact) -> Contact {
        Contact {
            line: c.line,
            phone: c.phone.map(|mac| mac.colons()),
            contact: c.contact,
            source: c.source.to_string(),
            expires_in: c.expires_in.as_secs(),
            model: c.model.map(|model| model.to_string()),
            user_agent: c.user_agent,
        }
    }
}

/// What `phoneprov reboot` did: the new SYNC value, and each phone's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rebooted {
    pub sync: u32,
    pub phones: Vec<RebootedPhone>,
}

impl Rebooted {
    /// As `phoneprov reboot` prints it: the SYNC value, each phone's answer.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("syncinfo.xml now says SYNC {}", self.sync)];
        lines.extend(
            self.phones
                .iter()
                .map(|p| format!("{}  {}", p.phone, p.outcome)),
        );
        lines
    }

    /// Every phone answered the NOTIFY.
    pub fn all_told(&self) -> bool {
        self.phones.iter().all(|p| p.notified)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RebootedPhone {
    pub phone: String,
    /// The phone answered the NOTIFY.
    pub notified: bool,
    pub outcome: String,
}

/// What re-provisioning a phone did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reprovisioned {
    pub phone: String,
    /// What happens next, in words.
    pub outcome: String,
    /// Its reboot, when it is in phoneprov.toml and the registrar is on.
    pub rebooted: Option<Rebooted>,
}

/// A phone to add to phoneprov.toml as a `[[phone]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub mac: Mac,
    pub model: Model,
    pub description: Option<String>,
}

/// What adopting a phone did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adopted {
    pub phone: String,
    /// The configuration file it was added to.
    pub file: String,
    /// The `[[phone]]` as written.
    pub added: String,
}

/// Why a request was not carried out, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub error: String,
    pub fix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The request names something that is not there (a phone, a file).
    Unknown,
    /// The request is malformed (a MAC that is not one).
    Malformed,
    /// What it needs is switched off (the registrar).
    Off,
    /// What it would add is there already (a listed phone).
    Exists,
    /// It was tried and failed.
    Failed,
}

impl Refusal {
    pub fn new(kind: RefusalKind, error: impl Into<String>, fix: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            error: error.into(),
            fix: fix.into(),
        }
    }

    /// `MAC` is not in phoneprov.toml.
    pub fn not_listed(mac: Mac) -> Refusal {
        Refusal::new(
            RefusalKind::Unknown,
            format!("{} is not in phoneprov.toml", mac.colons()),
            "add a [[phone]] with its MAC to phoneprov.toml",
        )
    }

    /// `mac` is neither listed nor seen.
    pub fn unknown(mac: Mac) -> Refusal {
        Refusal::new(
            RefusalKind::Unknown,
            format!(
                "{} is neither in phoneprov.toml nor seen since phoneprov serve started",
                mac.colons()
            ),
            "check the MAC on the phone's label, or add a [[phone]] for it",
        )
    }

    /// Text that is not a MAC.
    pub fn not_a_mac(text: &str) -> Refusal {
        Refusal::new(
            RefusalKind::Malformed,
            format!("{text:?} is not a MAC address"),
            "write it like 00:18:B9:FF:FF:FF, 0018.b9ff.ffff, 0018b9ffffff or SEP0018B9FFFFFF",
        )
    }

    /// The registrar is off.
    pub fn registrar_off() -> Refusal {
        Refusal::new(
            RefusalKind::Off,
            "phoneprov's registrar is off ([sip] registrar = false)",
            "your PBX knows the phones (Asterisk: `sip notify cisco-check-cfg <peer>` reboots one)",
        )
    }

    /// As one line, for the command line.
    pub fn sentence(&self) -> String {
        format!("{}: {}", self.error, self.fix)
    }
}

/// Parses a MAC as the API and the control socket take it.
pub fn mac(text: &str) -> Result<Mac, Refusal> {
    text.parse::<Mac>().map_err(|_| Refusal::not_a_mac(text))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_file_asked_is_counted_once_with_its_last_answer() {
        let fetch = |secs, name: &str, outcome| Observation {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            seen: Seen::Fetch {
                name: name.into(),
                outcome,
            },
        };
        let history = [
            fetch(0, "CTLSEP0018B9000001.tlv", Fetched::NotFound),
            fetch(0, "SIP0018B9000001.cnf", Fetched::Failed),
            fetch(5, "SIP0018B9000001.cnf", Fetched::Sent),
        ];
        let asked = |name: &str, times, outcome, normal_miss: Option<&str>| AskedFile {
            name: name.into(),
            times,
            outcome,
            normal_miss: normal_miss.map(String::from),
        };
        assert_eq!(
            asked_files(&history),
            vec![
                asked(
                    "CTLSEP0018B9000001.tlv",
                    1,
                    Fetched::NotFound,
                    Some("normal: the phone has no security file (CTL) and goes on without it")
                ),
                asked("SIP0018B9000001.cnf", 2, Fetched::Sent, None),
            ]
        );
    }
}
