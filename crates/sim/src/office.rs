//! An office of simulated phones powered on at once, as after a power cut:
//! which firmware each starts from, the boots run side by side, and how
//! each ended, in words.

use std::fmt;

use phoneprov_cisco::{Mac, Model};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::{phone_mac, BootError, Flash, FlashError, Network, Phone, PhoneEvent, Running, Timing};

/// Starting firmware by family, as `phoneprov sim --from` takes it: one
/// real load of each (reference §2.1, §2.3).
pub const FAMILIES: [(&str, &str); 9] = [
    ("sccp-3", "P00303030300"),
    ("sccp-5", "P00305000200"),
    ("sccp-7", "P00307020300"),
    ("sccp-8", "P00308010200"),
    ("sip-4", "P0S3-04-4-00"),
    ("sip-5", "P0S3-05-2-00"),
    ("sip-6", "P0S3-06-0-00"),
    ("sip-7", "P0S3-07-4-00"),
    ("sip-8", "P0S3-8-12-00"),
];

/// The flash of a phone shipped with `family` (`sccp-8`, see [`FAMILIES`])
/// or an exact load name (`P0S3-05-3-00`).
pub fn starting_flash(family: &str) -> Result<Flash, FlashError> {
    let load = FAMILIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(family))
        .map_or(family, |(_, load)| load);
    Flash::with(load)
}

/// One phone of the office, before it is powered on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    pub mac: Mac,
    pub model: Model,
    pub flash: Flash,
}

/// `count` phones: phone i (from 1) has MAC [`phone_mac`]`(i)`, is a 7940
/// when i is odd and a 7960 when it is even, and starts from the next of
/// `firmware` in turn.
pub fn desks(count: u32, firmware: &[Flash]) -> Vec<Desk> {
    (1..=count)
        .zip(firmware.iter().cycle())
        .map(|(i, flash)| Desk {
            mac: phone_mac(i).parse().expect("phone_mac is a MAC"),
            model: if i % 2 == 1 {
                Model::Cp7940
            } else {
                Model::Cp7960
            },
            flash: flash.clone(),
        })
        .collect()
}

/// How one phone's boot ended.
#[derive(Debug)]
pub struct Outcome {
    /// The phone as it was powered on.
    pub desk: Desk,
    /// Its flash at the end.
    pub flash: Flash,
    pub ended: Result<Running, BootError>,
    pub events: Vec<PhoneEvent>,
}

/// Powers every phone on at once and lets each boot until its application
/// is up or it gives up (each boot is bounded: a few power cycles, a few
/// tries per request). Every event goes to `listener` as it happens.
/// Outcomes are in the order of `desks`.
pub async fn run(
    desks: Vec<Desk>,
    network: Network,
    timing: Timing,
    listener: UnboundedSender<(Mac, PhoneEvent)>,
) -> Vec<Outcome> {
    let mut boots = JoinSet::new();
    for (i, desk) in desks.into_iter().enumerate() {
        let listener = listener.clone();
        boots.spawn(async move {
            let mut phone =
                Phone::new(desk.mac, desk.model, desk.flash.clone(), timing).report_to(listener);
            let ended = phone.boot(&network).await;
            let outcome = Outcome {
                desk,
                flash: phone.flash().clone(),
                ended,
                events: phone.events().to_vec(),
            };
            (i, outcome)
        });
    }
    let mut outcomes: Vec<(usize, Outcome)> = boots.join_all().await.into_iter().collect();
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// Where a phone ended, in the operator's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On SIP with these lines registered.
    Registered { lines: Vec<String> },
    /// Running SCCP; `held_back` says why, when an upgrade failed.
    Sccp {
        load: String,
        held_back: Option<String>,
    },
    /// On SIP, with no line registered.
    NotRegistered { load: String, why: String },
    /// It did not come up.
    Failed { why: String },
}

impl Verdict {
    /// Whether the phone runs: SIP with a line registered, or SCCP.
    pub fn came_up(&self) -> bool {
        matches!(self, Verdict::Registered { .. } | Verdict::Sccp { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Registered { lines } => {
                write!(f, "registered on SIP (line {})", lines.join(", "))
            }
            Verdict::Sccp {
                load,
                held_back: None,
            } => write!(f, "running SCCP {load}"),
            Verdict::Sccp {
                load,
                held_back: Some(why),
            } => write!(f, "running SCCP {load}; {why}"),
            Verdict::NotRegistered { load, why } => {
                write!(f, "running SIP {load}, not registered: {why}")
            }
            Verdict::Failed { why } => write!(f, "did not come up: {why}"),
        }
    }
}

impl Outcome {
    pub fn verdict(&self) -> Verdict {
        let load = self.flash.app.to_string();
        match &self.ended {
            Err(error) => Verdict::Failed {
                why: error.to_string(),
            },
            Ok(Running::Sip { registered, .. }) if !registered.is_empty() => Verdict::Registered {
                lines: registered.clone(),
            },
            Ok(Running::Sip { .. }) => Verdict::NotRegistered {
                load,
                why: self
                    .events
                    .iter()
                    .find_map(|event| match event {
                        PhoneEvent::RegisterFailed { line, why } => {
                            Some(format!("line {line}: {why}"))
                        }
                        PhoneEvent::Unprovisioned => Some(event.to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "no line in its configuration".into()),
            },
            Ok(Running::Sccp) => Verdict::Sccp {
                load,
                held_back: self.events.iter().rev().find_map(|event| match event {
                    PhoneEvent::ImageMissing { .. }
                    | PhoneEvent::ImageRefused { .. }
                    | PhoneEvent::BadLoadName { .. } => Some(event.to_string()),
                    _ => None,
                }),
            },
        }
    }
}

/// How many phones ended where, e.g. "8 phones: 6 registered on SIP,
/// 1 running SCCP, 1 did not come up".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub phones: usize,
    pub registered: usize,
    pub sccp: usize,
    pub not_registered: usize,
    pub failed: usize,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut tally = Tally {
            phones: outcomes.len(),
            ..Tally::default()
        };
        for outcome in outcomes {
            match outcome.verdict() {
                Verdict::Registered { .. } => tally.registered += 1,
                Verdict::Sccp { .. } => tally.sccp += 1,
                Verdict::NotRegistered { .. } => tally.not_registered += 1,
                Verdict::Failed { .. } => tally.failed += 1,
            }
        }
        tally
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} phone{}: {} registered on SIP, {} running SCCP, {} on SIP but not registered, {} did not come up",
            self.phones,
            if self.phones == 1 { "" } else { "s" },
            self.registered,
            self.sccp,
            self.not_registered,
            self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_exact_loads() {
        let flash = |text: &str| starting_flash(text).unwrap();
        assert_eq!(flash("sccp-8"), Flash::with("P00308010200").unwrap());
        assert_eq!(flash("SIP-8").app.as_str(), "P0S3-8-12-00");
        assert_eq!(flash("P0S3-05-3-00").app.as_str(), "P0S3-05-3-00");
        for (family, load) in FAMILIES {
            assert_eq!(flash(family).app.as_str(), load);
        }
        assert!(starting_flash("sccp-9").is_err());
        assert!(matches!(
            starting_flash("P003-8-12-00"),
            Err(FlashError::Loader(_))
        ));
    }

    #[test]
    fn desks_alternate_models_and_take_firmware_in_turn() {
        let firmware = [flash("sccp-3"), flash("sip-6")];
        let office = desks(3, &firmware);
        let seen: Vec<(String, Model, &str)> = office
            .iter()
            .map(|d| (d.mac.to_string(), d.model, d.flash.app.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("0018B9000001".into(), Model::Cp7940, "P00303030300"),
                ("0018B9000002".into(), Model::Cp7960, "P0S3-06-0-00"),
                ("0018B9000003".into(), Model::Cp7940, "P00303030300"),
            ]
        );
    }

    fn flash(family: &str) -> Flash {
        starting_flash(family).unwrap()
    }

    fn outcome(ended: Result<Running, BootError>, events: Vec<PhoneEvent>) -> Outcome {
        let desk = desks(1, &[flash("sccp-8")]).remove(0);
        Outcome {
            flash: desk.flash.clone(),
            desk,
            ended,
            events,
        }
    }

    #[test]
    fn verdicts_say_why() {
        let up = outcome(
            Ok(Running::Sip {
                registered: vec!["2001".into()],
                failed: vec![],
            }),
            vec![],
        );
        assert_eq!(up.verdict().to_string(), "registered on SIP (line 2001)");
        let held = outcome(
            Ok(Running::Sccp),
            vec![
                PhoneEvent::ImageMissing {
                    file: "P0S3-8-12-00.sb2".into(),
                },
                PhoneEvent::KeptFirmware {
                    loader: "P00308010200".into(),
                    app: "P00308010200".into(),
                },
            ],
        );
        assert_eq!(
            held.verdict().to_string(),
            "running SCCP P00308010200; upgrade failed: P0S3-8-12-00.sb2 is missing"
        );
        let refused = outcome(
            Ok(Running::Sip {
                registered: vec![],
                failed: vec!["2001".into()],
            }),
            vec![PhoneEvent::RegisterFailed {
                line: "2001".into(),
                why: "403 Forbidden".into(),
            }],
        );
        assert!(!refused.verdict().came_up());
        assert_eq!(
            refused.verdict().to_string(),
            "running SIP P00308010200, not registered: line 2001: 403 Forbidden"
        );
        let lost = outcome(Err(BootError::RebootLoop(8)), vec![]);
        assert_eq!(
            lost.verdict().to_string(),
            "did not come up: still rebooting after 8 power cycles"
        );
        let tally = Tally::of(&[up, held, refused, lost]);
        assert_eq!(
            tally.to_string(),
            "4 phones: 1 registered on SIP, 1 running SCCP, 1 on SIP but not registered, 1 did not come up"
        );
    }
}
