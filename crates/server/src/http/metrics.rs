//! `/metrics` in Prometheus' text format: counters followed on the event
//! bus since serve started, and gauges read when asked.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::http::header;
use axum::response::IntoResponse;
use phoneprov_cisco::stage::Stage;
use phoneprov_dhcp::DhcpEvent;
use tokio_util::sync::CancellationToken;

use super::State;
use crate::events::{next_event, Event, EventBus, TftpOutcome};

/// What the bus said so far.
#[derive(Default)]
struct Counts {
    /// TFTP requests by outcome.
    transfers: BTreeMap<&'static str, u64>,
    bytes_sent: u64,
    blocks_retransmitted: u64,
    /// DHCP exchanges by what the server did.
    dhcp: BTreeMap<&'static str, u64>,
}

pub(super) struct Metrics {
    counts: Arc<Mutex<Counts>>,
}

impl Metrics {
    /// Counts the events of `events` until `shutdown`.
    pub(super) fn follow(events: &EventBus, shutdown: CancellationToken) -> Metrics {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let mut feed = events.subscribe();
        let counting = Arc::clone(&counts);
        tokio::spawn(async move {
            while let Some(event) = next_event(&mut feed, &shutdown).await {
                counting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .count(&event);
            }
        });
        Metrics { counts }
    }
}

impl Counts {
    fn count(&mut self, event: &Event) {
        match event {
            Event::Tftp(tftp) => {
                *self.transfers.entry(outcome(&tftp.outcome)).or_default() += 1;
                if tftp.outcome == TftpOutcome::Sent {
                    self.bytes_sent += tftp.bytes;
                }
                self.blocks_retransmitted += tftp.blocks_retransmitted;
            }
            Event::Dhcp(exchange) => *self.dhcp.entry(dhcp(&exchange.event)).or_default() += 1,
            Event::Sip(_) => {}
        }
    }
}

/// The outcome's name, as the API and `/metrics` say it.
pub(super) fn outcome(outcome: &TftpOutcome) -> &'static str {
    match outcome {
        TftpOutcome::Sent => "sent",
        TftpOutcome::NotFound { .. } => "not_found",
        TftpOutcome::Denied { .. } => "denied",
        TftpOutcome::OptionRefused { .. } => "option_refused",
        TftpOutcome::Illegal { .. } => "illegal",
        TftpOutcome::Busy { .. } => "busy",
        TftpOutcome::TimedOut => "timed_out",
        TftpOutcome::DeadlineExceeded => "deadline_exceeded",
        TftpOutcome::ClientError { .. } => "client_error",
    }
}

/// The DHCP event's name, as the API and `/metrics` say it.
pub(super) fn dhcp(event: &DhcpEvent) -> &'static str {
    match event {
        DhcpEvent::Offered { .. } => "offered",
        DhcpEvent::Acked { .. } => "acked",
        DhcpEvent::Naked { .. } => "naked",
        DhcpEvent::Declined { .. } => "declined",
        DhcpEvent::Released { .. } => "released",
        DhcpEvent::Informed { .. } => "informed",
        DhcpEvent::Ignored { .. } => "ignored",
    }
}

fn stage(stage: &Stage) -> &'static str {
    match stage {
        Stage::NotSeen => "not_seen",
        Stage::Addressed => "addressed",
        Stage::OldBoot => "old_boot",
        Stage::Hunting => "hunting",
        Stage::ComparingLoad(_) => "comparing_load",
        Stage::FlashingLoader(_) => "flashing_loader",
        Stage::FlashingApplication(_) => "flashing_application",
        Stage::SipReadingConfig => "sip_reading_config",
        Stage::SipProvisioned => "sip_provisioned",
        Stage::Registered => "registered",
        Stage::CheckSync => "check_sync",
        Stage::SccpRunning => "sccp_running",
    }
}

pub(super) async fn render(state: State) -> impl IntoResponse {
    let registrations = match &state.app.sip {
        Some(sip) => sip.registrations().await.map_or(0, |c| c.len()),
        None => 0,
    };
    let mut leases: BTreeMap<&str, u64> = BTreeMap::new();
    if let Some(store) = state.app.leases.clone() {
        for lease in super::api::held(store).await.unwrap_or_default() {
            *leases.entry(lease.state.name()).or_default() += 1;
        }
    }
    let seen = state.app.timelines.status();
    let mut stages: BTreeMap<&str, u64> = BTreeMap::new();
    for status in &seen {
        *stages.entry(stage(&status.inference.stage)).or_default() += 1;
    }
    let unseen = state
        .app
        .files
        .provisioning()
        .site()
        .phones
        .iter()
        .filter(|p| !seen.iter().any(|s| s.phone == p.mac))
        .count() as u64;
    if unseen > 0 {
        *stages.entry(stage(&Stage::NotSeen)).or_default() += unseen;
    }
    let counts = state
        .metrics
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    family(
        &mut out,
        "phoneprov_tftp_transfers_total",
        "counter",
        "TFTP requests since start, by outcome.",
        counts
            .transfers
            .iter()
            .map(|(k, v)| (Some(("outcome", *k)), *v)),
    );
    family(
        &mut out,
        "phoneprov_tftp_bytes_sent_total",
        "counter",
        "Bytes of files sent whole over TFTP since start.",
        [(None, counts.bytes_sent)],
    );
    family(
        &mut out,
        "phoneprov_tftp_blocks_retransmitted_total",
        "counter",
        "TFTP DATA blocks sent again since start.",
        [(None, counts.blocks_retransmitted)],
    );
    family(
        &mut out,
        "phoneprov_dhcp_events_total",
        "counter",
        "DHCP exchanges since start, by what the server did.",
        counts.dhcp.iter().map(|(k, v)| (Some(("event", *k)), *v)),
    );
    family(
        &mut out,
        "phoneprov_dhcp_leases",
        "gauge",
        "Leases phoneprov's DHCP server holds now, by state (none without [dhcp]).",
        leases.iter().map(|(k, v)| (Some(("state", *k)), *v)),
    );
    family(
        &mut out,
        "phoneprov_sip_registrations",
        "gauge",
        "Contacts registered with phoneprov's registrar now.",
        [(None, registrations as u64)],
    );
    family(
        &mut out,
        "phoneprov_phones",
        "gauge",
        "Phones by boot stage (listed phones not seen yet are not_seen).",
        stages.iter().map(|(k, v)| (Some(("stage", *k)), *v)),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

/// One metric family: its HELP and TYPE lines, then one sample a label.
fn family<'a>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Option<(&'a str, &'a str)>, u64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (label, value) in samples {
        match label {
            Some((key, label)) => {
                let _ = writeln!(out, "{name}{{{key}=\"{label}\"}} {value}");
            }
            None => {
                let _ = writeln!(out, "{name} {value}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn transfers_are_counted_by_outcome_with_bytes_and_resends() {
        let mut counts = Counts::default();
        let tftp = |outcome: TftpOutcome, bytes, resent| {
            Event::Tftp(crate::events::TftpEvent {
                at: SystemTime::UNIX_EPOCH,
                client: "127.0.0.1:1000".parse().unwrap(),
                requested: "OS79XX.TXT".into(),
                served_as: None,
                case_mismatch: false,
                options_asked: Vec::new(),
                options_granted: Vec::new(),
                outcome,
                bytes,
                blocks: 1,
                blocks_retransmitted: resent,
                duration: Duration::ZERO,
            })
        };
        counts.count(&tftp(TftpOutcome::Sent, 13, 1));
        counts.count(&tftp(TftpOutcome::Sent, 7, 0));
        counts.count(&tftp(TftpOutcome::TimedOut, 512, 5));
        assert_eq!(counts.transfers.get("sent"), Some(&2));
        assert_eq!(counts.transfers.get("timed_out"), Some(&1));
        assert_eq!(counts.bytes_sent, 20);
        assert_eq!(counts.blocks_retransmitted, 6);
    }
}
