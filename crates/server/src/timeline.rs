//! Every phone's timeline: the DHCP, TFTP and SIP events of the bus, tied
//! to the phone they are about, as `cisco::stage` reads them. A TFTP
//! request is tied to a phone by the MAC in the file name, else by the
//! address phoneprov's DHCP server gave it, else by the kernel's neighbour
//! table. Kept in memory, a bounded history per phone.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use phoneprov_cisco::ladder::{observed, Firmware, FirmwareFolder, FirmwareWatch};
use phoneprov_cisco::stage::{infer, Fetched, Inference, Observation, Seen};
use phoneprov_cisco::LoadName;
use phoneprov_cisco::{Mac, PhoneFile};
use phoneprov_dhcp::{DhcpEvent, IgnoreReason, RequestState};
use phoneprov_sip::SipEvent;
use phoneprov_store::{Entry, SqliteTimeline, StoreError};
use tokio_util::sync::CancellationToken;

use crate::events::{next_event, Event, EventBus, TftpOutcome};

/// Observations kept per phone: a few boots' worth.
pub const KEPT_PER_PHONE: usize = 512;
/// Phones followed at most (unknown MACs seen on a busy LAN included).
pub const PHONES_FOLLOWED: usize = 4096;

/// The timelines, shared with whoever asks for a phone's stage.
#[derive(Clone)]
pub struct Timelines {
    inner: Arc<Mutex<Book>>,
    /// Looks an address up in the kernel's neighbour table.
    neighbour: fn(IpAddr) -> Option<Mac>,
    /// Where the timelines are kept over a restart.
    store: Option<Arc<SqliteTimeline>>,
}

#[derive(Default)]
struct Book {
    phones: HashMap<Mac, VecDeque<Observation>>,
    /// The addresses phoneprov's DHCP server gave.
    leased: HashMap<IpAddr, Mac>,
    /// Noted, not yet in the store.
    unwritten: Vec<Entry>,
}

impl Book {
    /// `ip` is `phone`'s now, and no address it had before is.
    fn lease(&mut self, ip: IpAddr, phone: Mac) {
        self.leased.retain(|_, holder| *holder != phone);
        self.leased.insert(ip, phone);
    }

    /// Files `observations` in `phone`'s timeline; false when the phone is
    /// one too many to follow.
    fn file(&mut self, phone: Mac, observations: Vec<Observation>) -> bool {
        if !self.phones.contains_key(&phone) && self.phones.len() >= PHONES_FOLLOWED {
            return false;
        }
        let timeline = self.phones.entry(phone).or_default();
        for observation in observations {
            if timeline.len() == KEPT_PER_PHONE {
                timeline.pop_front();
            }
            // A transfer reaches the bus when it ends, maybe after the
            // REGISTER that followed it: file each event by when it began.
            let at = timeline
                .iter()
                .rposition(|o| o.at <= observation.at)
                .map_or(0, |i| i + 1);
            timeline.insert(at, observation);
        }
        true
    }
}

/// How often noted observations are written to the store.
const STORE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// One phone's stage, for `phoneprov status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneStatus {
    pub phone: Mac,
    pub inference: Inference,
    pub last_seen: Option<std::time::SystemTime>,
}

impl Timelines {
    /// Timelines whose requests from an address phoneprov did not lease
    /// are tied to a phone by `neighbour` (the kernel's neighbour table).
    pub fn new(neighbour: fn(IpAddr) -> Option<Mac>) -> Timelines {
        Timelines {
            inner: Arc::default(),
            neighbour,
            store: None,
        }
    }

    /// The phone at `ip`: the one phoneprov's DHCP server leased it to,
    /// else the one the neighbour table names. The TFTP server asks this
    /// too, to give a phone its own files when their names carry no MAC.
    pub fn phone_at(&self, ip: IpAddr) -> Option<Mac> {
        let leased = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .leased
            .get(&ip)
            .copied();
        leased.or_else(|| (self.neighbour)(ip))
    }

    /// Keeps the timelines in `store`, beginning with what it kept (an
    /// entry this phoneprov cannot read, written by a newer one, is left
    /// out). Noted observations reach it in one batch a second while
    /// [`Timelines::follow`]ing, and at [`Timelines::write_down`].
    pub fn kept_in(self, store: Arc<SqliteTimeline>) -> Result<Timelines, StoreError> {
        let mut timelines = self.restored(store.load()?);
        timelines.store = Some(store);
        Ok(timelines)
    }

    /// Timelines that begin with `entries` (as a store keeps them).
    pub fn restored(self, entries: Vec<Entry>) -> Timelines {
        {
            let mut book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            for entry in entries {
                if let Ok(seen) = serde_json::from_str(&entry.seen) {
                    book.file(Mac(entry.phone), vec![observe(entry.at, seen)]);
                }
            }
        }
        self
    }

    /// Notes that phoneprov's DHCP server gave `ip` to `phone`, at once
    /// (the event of the exchange comes later, through the bus).
    pub fn leased(&self, ip: IpAddr, phone: Mac) {
        let mut book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        book.lease(ip, phone);
    }

    /// Follows `events` until `shutdown`.
    pub fn follow(&self, events: &EventBus, shutdown: CancellationToken) {
        let mut feed = events.subscribe();
        let timelines = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(STORE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let timelines = timelines.clone();
                        let _ = tokio::task::spawn_blocking(move || timelines.write_down()).await;
                    }
                    event = next_event(&mut feed, &shutdown) => match event {
                        Some(event) => {
                            timelines.note(&event);
                        }
                        None => return,
                    },
                }
            }
        });
    }

    /// Writes what was noted since the last time to the store (blocking).
    /// A failure is said and that batch dropped: the timelines in memory
    /// go on.
    pub fn write_down(&self) {
        let Some(store) = &self.store else {
            return;
        };
        let batch = std::mem::take(
            &mut self
                .inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unwritten,
        );
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.append(&batch) {
            eprintln!("warning: the phones' timeline was not written: {e}");
        }
    }

    /// Adds what `event` says to the timeline of its phone, if it names
    /// one; returns the phone and what was added.
    pub fn note(&self, event: &Event) -> Option<(Mac, Vec<Observation>)> {
        let mut book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (phone, observations) = match event {
            Event::Dhcp(exchange) => {
                let hwaddr = exchange.hwaddr?;
                let phone = Mac(hwaddr.octets());
                let seen = match exchange.event {
                    DhcpEvent::Acked { ip, state, .. } => {
                        book.lease(IpAddr::V4(ip), phone);
                        // A renewal is no boot: the phone goes on as it was.
                        if matches!(state, RequestState::Renewing | RequestState::Rebinding) {
                            return None;
                        }
                        Seen::Address
                    }
                    DhcpEvent::Ignored {
                        why: IgnoreReason::ChoseAnotherServer(server),
                    } => Seen::OtherDhcpServer { server },
                    _ => return None,
                };
                (phone, vec![observe(exchange.at, seen)])
            }
            Event::Tftp(tftp) => {
                let outcome = match tftp.outcome {
                    TftpOutcome::Sent => Fetched::Sent,
                    TftpOutcome::NotFound { .. } => Fetched::NotFound,
                    TftpOutcome::Denied { .. }
                    | TftpOutcome::TimedOut
                    | TftpOutcome::DeadlineExceeded
                    | TftpOutcome::ClientError { .. } => Fetched::Failed,
                    // Not the phone's doing, or not a file request at all.
                    TftpOutcome::OptionRefused { .. }
                    | TftpOutcome::Illegal { .. }
                    | TftpOutcome::Busy { .. } => return None,
                };
                let ip = tftp.client.ip();
                let phone = PhoneFile::parse(&tftp.requested)
                    .map(|(_, mac)| mac)
                    .or_else(|| book.leased.get(&ip).copied())
                    .or_else(|| (self.neighbour)(ip));
                let phone = phone?;
                let mut seen = vec![Seen::Fetch {
                    name: tftp.requested.clone(),
                    outcome,
                }];
                if let (true, Some(on_disk)) = (tftp.case_mismatch, &tftp.served_as) {
                    seen.push(Seen::OtherCase {
                        name: tftp.requested.clone(),
                        on_disk: on_disk.clone(),
                    });
                }
                (
                    phone,
                    seen.into_iter().map(|s| observe(tftp.at, s)).collect(),
                )
            }
            Event::Sip(exchange) => {
                let phone = exchange.phone?;
                let seen = match &exchange.event {
                    SipEvent::Registered {
                        line, user_agent, ..
                    } => Seen::Registered {
                        line: line.clone(),
                        agent: user_agent.clone(),
                    },
                    SipEvent::AuthFailed {
                        line: Some(line),
                        cause,
                        ..
                    } => Seen::AuthFailed {
                        line: line.clone(),
                        cause: cause.to_string(),
                    },
                    _ => return None,
                };
                (phone, vec![observe(exchange.at, seen)])
            }
        };
        self.keep(&mut book, phone, observations.clone())
            .then_some((phone, observations))
    }

    /// Files `observations` in `phone`'s timeline and, when there is a
    /// store, for the next batch; false when the phone is one too many.
    fn keep(&self, book: &mut Book, phone: Mac, observations: Vec<Observation>) -> bool {
        let entries: Vec<Entry> = match &self.store {
            Some(_) => observations
                .iter()
                .map(|o| Entry {
                    phone: phone.0,
                    at: o.at,
                    seen: serde_json::to_string(&o.seen).expect("an observation serializes"),
                })
                .collect(),
            None => Vec::new(),
        };
        let filed = book.file(phone, observations);
        if filed {
            book.unwritten.extend(entries);
        }
        filed
    }

    /// Re-provisions `phone`: its timeline goes on, but from now on only
    /// what follows counts for its stage, problems and firmware.
    pub fn start_over(&self, phone: Mac) {
        let mut book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = observe(std::time::SystemTime::now(), Seen::StartedOver);
        self.keep(&mut book, phone, vec![now]);
    }

    /// The address phoneprov's DHCP server gave `phone` last, when it gave one.
    pub fn address_of(&self, phone: Mac) -> Option<IpAddr> {
        let book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        book.leased
            .iter()
            .find(|(_, mac)| **mac == phone)
            .map(|(ip, _)| *ip)
    }

    /// `phone`'s timeline, oldest first.
    pub fn history(&self, phone: Mac) -> Vec<Observation> {
        let book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        book.phones
            .get(&phone)
            .map(|timeline| timeline.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every phone seen, and its stage, by MAC.
    pub fn status(&self) -> Vec<PhoneStatus> {
        let book = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<PhoneStatus> = book
            .phones
            .iter()
            .map(|(phone, timeline)| {
                let history: Vec<Observation> = timeline.iter().cloned().collect();
                PhoneStatus {
                    phone: *phone,
                    inference: infer(&history),
                    last_seen: history.last().map(|o| o.at),
                }
            })
            .collect();
        all.sort_by_key(|s| s.phone.0);
        all
    }
}

/// What the timelines show each phone runs, and the complete loads of the
/// firmware folder: where serve's phones are on their ladders.
pub struct SeenFirmware {
    pub timelines: Timelines,
    pub folder: FirmwareFolder,
}

impl FirmwareWatch for SeenFirmware {
    fn running(&self, phone: Mac) -> Option<Firmware> {
        observed(&self.timelines.history(phone))
    }

    fn loads(&self) -> Vec<LoadName> {
        self.folder.loads()
    }
}

fn observe(at: std::time::SystemTime, seen: Seen) -> Observation {
    Observation { at, seen }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use std::time::{Duration, SystemTime};

    use phoneprov_cisco::stage::{Finding, Stage};
    use phoneprov_dhcp::{HwAddr, RequestState};

    use super::*;
    use crate::events::{DhcpExchange, TftpEvent};

    const PHONE: Mac = Mac([0x00, 0x18, 0xB9, 0x00, 0x00, 0x01]);
    const LEASED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

    fn fetch(from: Ipv4Addr, name: &str, outcome: TftpOutcome) -> Event {
        Event::Tftp(TftpEvent {
            at: SystemTime::now(),
            client: SocketAddr::from((from, 50_000)),
            requested: name.into(),
            served_as: None,
            case_mismatch: false,
            options_asked: Vec::new(),
            options_granted: Vec::new(),
            outcome,
            bytes: 0,
            blocks: 0,
            blocks_retransmitted: 0,
            duration: Duration::ZERO,
        })
    }

    fn nobody(_: IpAddr) -> Option<Mac> {
        None
    }

    /// The phone's DHCP exchange that ended in `event`.
    fn dhcp(event: DhcpEvent) -> Event {
        Event::Dhcp(DhcpExchange {
            at: SystemTime::now(),
            from: SocketAddrV4::new(LEASED, 68),
            hwaddr: Some(HwAddr::new(PHONE.0)),
            vendor_class: None,
            event,
        })
    }

    fn acked(state: RequestState) -> Event {
        dhcp(DhcpEvent::Acked {
            ip: LEASED,
            state,
            expires: SystemTime::now(),
        })
    }

    fn findings(timelines: &Timelines) -> Vec<Finding> {
        timelines.status()[0].inference.findings.clone()
    }

    #[test]
    fn requests_are_tied_to_the_phone_by_file_name_then_by_lease() {
        let timelines = Timelines::new(nobody);
        timelines.note(&acked(RequestState::Selecting));
        assert_eq!(timelines.phone_at(IpAddr::V4(LEASED)), Some(PHONE));
        let not_found = || TftpOutcome::NotFound {
            reason: "none".into(),
        };
        // Named by its MAC, from an address nobody leased.
        timelines.note(&fetch(
            Ipv4Addr::new(10, 0, 0, 77),
            "SEP0018B9000001.cnf.xml",
            TftpOutcome::Sent,
        ));
        // No MAC in the name: the lease says whose.
        timelines.note(&fetch(LEASED, "P0S3-8-12-00.loads", TftpOutcome::Sent));
        timelines.note(&fetch(LEASED, "P0S3-8-12-00.sb2", not_found()));
        // Nobody's: not followed.
        timelines.note(&fetch(
            Ipv4Addr::new(10, 0, 0, 99),
            "XMLDefault.cnf.xml",
            TftpOutcome::Sent,
        ));
        let status = timelines.status();
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].phone, PHONE);
        assert_eq!(
            status[0].inference.stage,
            Stage::ComparingLoad("P0S3-8-12-00".into())
        );
        assert_eq!(
            status[0].inference.findings,
            vec![Finding::Missing {
                name: "P0S3-8-12-00.sb2".into()
            }]
        );
    }

    #[test]
    fn a_phone_is_at_the_address_it_was_leased_last() {
        let timelines = Timelines::new(nobody);
        let earlier = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 60));
        timelines.leased(earlier, PHONE);
        assert_eq!(timelines.address_of(PHONE), Some(earlier));
        timelines.note(&acked(RequestState::Selecting));
        assert_eq!(timelines.address_of(PHONE), Some(IpAddr::V4(LEASED)));
        assert_eq!(timelines.phone_at(earlier), None);
        assert_eq!(timelines.address_of(Mac([0, 0x18, 0xb9, 0, 0, 9])), None);
    }

    /// A phone that got an address twice and asked for no file: "TFTP
    /// Timeout".
    fn two_boots_without_requests() -> Timelines {
        let timelines = Timelines::new(nobody);
        timelines.note(&acked(RequestState::Selecting));
        timelines.note(&acked(RequestState::InitReboot));
        assert_eq!(
            findings(&timelines),
            vec![Finding::NoFileRequests { addresses: 2 }]
        );
        timelines
    }

    #[test]
    fn boots_without_requests_are_a_tftp_timeout_and_renewals_are_no_boot() {
        let timelines = two_boots_without_requests();
        timelines.note(&fetch(LEASED, "OS79XX.TXT", TftpOutcome::Sent));
        for state in [RequestState::Renewing, RequestState::Rebinding] {
            timelines.note(&acked(state));
        }
        let status = timelines.status();
        assert_eq!(status[0].inference.stage, Stage::OldBoot, "still booting");
        assert_eq!(status[0].inference.findings, vec![]);
        assert_eq!(timelines.phone_at(IpAddr::V4(LEASED)), Some(PHONE));
    }

    #[test]
    fn a_phone_started_over_is_judged_only_by_what_follows() {
        let timelines = two_boots_without_requests();
        timelines.start_over(PHONE);
        let status = timelines.status();
        assert_eq!(status[0].inference.stage, Stage::NotSeen);
        assert_eq!(status[0].inference.findings, vec![]);
        assert_eq!(timelines.history(PHONE).len(), 3, "the timeline is kept");
        timelines.note(&fetch(LEASED, "OS79XX.TXT", TftpOutcome::Sent));
        assert_eq!(timelines.status()[0].inference.stage, Stage::OldBoot);
    }

    #[test]
    fn a_phone_taking_another_servers_offer_is_a_finding() {
        let timelines = Timelines::new(nobody);
        let other = Ipv4Addr::new(10, 0, 0, 1);
        timelines.note(&dhcp(DhcpEvent::Ignored {
            why: IgnoreReason::ChoseAnotherServer(other),
        }));
        assert_eq!(
            findings(&timelines),
            vec![Finding::OtherDhcpServer { server: other }]
        );
    }

    #[test]
    fn a_file_found_only_in_another_case_is_noted_beside_the_request() {
        let timelines = Timelines::new(nobody);
        let mut misnamed = fetch(LEASED, "SEP0018B9000001.cnf.xml", TftpOutcome::Sent);
        if let Event::Tftp(request) = &mut misnamed {
            request.served_as = Some("sep0018b9000001.cnf.xml".into());
            request.case_mismatch = true;
        }
        timelines.note(&misnamed);
        let status = timelines.status();
        assert_eq!(status[0].inference.stage, Stage::Hunting);
        assert_eq!(
            status[0].inference.findings,
            vec![Finding::MacInOtherCase {
                name: "SEP0018B9000001.cnf.xml".into(),
                on_disk: "sep0018b9000001.cnf.xml".into()
            }]
        );
    }

    #[test]
    fn the_neighbour_table_names_a_phone_with_a_fixed_address() {
        fn desk_phone(ip: IpAddr) -> Option<Mac> {
            (ip == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 23))).then_some(PHONE)
        }
        let timelines = Timelines::new(desk_phone);
        timelines.note(&fetch(
            Ipv4Addr::new(10, 0, 0, 23),
            "OS79XX.TXT",
            TftpOutcome::Sent,
        ));
        assert_eq!(timelines.status()[0].inference.stage, Stage::OldBoot);
    }

    #[test]
    fn events_are_filed_by_when_they_began() {
        let timelines = Timelines::new(nobody);
        timelines.note(&acked(RequestState::Selecting));
        // dialplan.xml asked for before the address above, its transfer
        // ending (and reaching the bus) after it.
        let mut late = fetch(LEASED, "dialplan.xml", TftpOutcome::Sent);
        if let Event::Tftp(transfer) = &mut late {
            transfer.at -= Duration::from_secs(1);
        }
        timelines.note(&late);
        let history = timelines.history(PHONE);
        assert!(matches!(&history[0].seen, Seen::Fetch { name, .. } if name == "dialplan.xml"));
        assert_eq!(history[1].seen, Seen::Address);
    }

    #[test]
    fn a_timeline_keeps_its_newest_observations() {
        let timelines = Timelines::new(nobody);
        for _ in 0..KEPT_PER_PHONE + 10 {
            timelines.note(&fetch(LEASED, "SIP0018B9000001.cnf", TftpOutcome::Sent));
        }
        let book = timelines.inner.lock().unwrap();
        assert_eq!(book.phones[&PHONE].len(), KEPT_PER_PHONE);
    }
}
