//! Each event of the bus in one line of words: what `phoneprov serve`
//! prints for it, and the `text` of `/api/events`.

use std::time::{Duration, Instant};

use phoneprov_dhcp::DhcpEvent;
use phoneprov_sip::{SipEvent, UnregisterReason};

use crate::dhcp::{hwaddr_or_dash, is_neighbours_traffic};
use crate::events::{DhcpExchange, Event, SipExchange, TftpEvent, TftpOutcome};

/// The line for `event`, e.g.
/// `10.0.0.23  OS79XX.TXT  sent 13 B in 1 block, 2 ms`. None when there is
/// nothing to say: other devices' DHCP traffic, and with `quiet`
/// everything that went well.
pub fn describe(event: &Event, quiet: bool) -> Option<String> {
    match event {
        Event::Tftp(tftp) if quiet && tftp.outcome == TftpOutcome::Sent => None,
        Event::Tftp(tftp) => Some(transfer(tftp)),
        Event::Dhcp(exchange) => dhcp(exchange, quiet),
        Event::Sip(exchange) => sip(exchange, quiet),
    }
}

/// `10.0.0.23  OS79XX.TXT  sent 13 B in 1 block, 2 ms`.
fn transfer(event: &TftpEvent) -> String {
    let name = if event.requested.is_empty() {
        "-"
    } else {
        &event.requested
    };
    let what = match &event.outcome {
        TftpOutcome::Sent => {
            let mut line = format!(
                "sent {} in {} block{}, {}",
                size(event.bytes),
                event.blocks,
                if event.blocks == 1 { "" } else { "s" },
                duration(event.duration)
            );
            if event.blocks_retransmitted > 0 {
                line += &format!(", {} resent", event.blocks_retransmitted);
            }
            if !event.options_granted.is_empty() {
                let options: Vec<String> = event
                    .options_granted
                    .iter()
                    .map(|(n, v)| format!("{n} {v}"))
                    .collect();
                line += &format!(" [{}]", options.join(", "));
            }
            line
        }
        TftpOutcome::NotFound { reason } => format!("NOT FOUND ({reason})"),
        TftpOutcome::Denied { reason } => format!("DENIED ({reason})"),
        TftpOutcome::OptionRefused { reason } => format!("REFUSED OPTIONS ({reason})"),
        TftpOutcome::Illegal { reason } => format!("ILLEGAL REQUEST ({reason})"),
        TftpOutcome::Busy { reason } => format!("DROPPED, BUSY ({reason})"),
        TftpOutcome::TimedOut => format!(
            "TIMED OUT after {} of {} sent, {} (the client stopped answering)",
            event.blocks,
            size(event.bytes),
            duration(event.duration)
        ),
        TftpOutcome::DeadlineExceeded => format!(
            "ABANDONED after {} (transfer deadline reached)",
            duration(event.duration)
        ),
        TftpOutcome::ClientError { code, message } => {
            format!("CLIENT GAVE UP (error {code}: {message})")
        }
    };
    let case = match (&event.served_as, event.case_mismatch) {
        (Some(served), true) => format!("  WARNING: served {served}, whose name differs in case"),
        _ => String::new(),
    };
    format!("{}  {name}  {what}{case}", event.client.ip())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    }
}

fn duration(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `00:18:B9:FF:FF:FF  DHCP ACK 10.0.0.50 (lease 1d)`.
fn dhcp(exchange: &DhcpExchange, quiet: bool) -> Option<String> {
    if is_neighbours_traffic(&exchange.event) {
        return None;
    }
    let what = match &exchange.event {
        DhcpEvent::Offered { ip } if !quiet => format!("OFFER {ip}"),
        DhcpEvent::Acked { ip, expires, .. } if !quiet => {
            let lease = expires.duration_since(exchange.at).unwrap_or_default();
            format!("ACK {ip} (lease {})", lease_time(lease))
        }
        DhcpEvent::Released { ip } if !quiet => format!("RELEASE {ip}"),
        DhcpEvent::Informed { ip } if !quiet => format!("INFORM {ip}"),
        DhcpEvent::Naked { requested, why } => format!("NAK {requested}: {why}"),
        DhcpEvent::Declined { ip } => format!("DECLINE {ip}: in use by another device"),
        DhcpEvent::Ignored { why } => format!("ignored from {}: {why}", exchange.from),
        _ => return None,
    };
    Some(format!("{}  DHCP {what}", hwaddr_or_dash(exchange.hwaddr)))
}

/// A duration the way `lease_time` is written: `1d`, `12h`, `90m`, `45s`.
fn lease_time(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `00:18:B9:00:00:01  SIP registered 1001 at sip:1001@10.0.0.23:5060 (expires 3600 s)`.
fn sip(exchange: &SipExchange, quiet: bool) -> Option<String> {
    let what = match &exchange.event {
        SipEvent::Registered {
            line,
            contact,
            expires,
            renewed,
            ..
        } if !quiet => format!(
            "{} {line} at {contact} (expires {} s)",
            if *renewed {
                "re-registered"
            } else {
                "registered"
            },
            expires.as_secs()
        ),
        SipEvent::Unregistered {
            line,
            contact,
            reason,
        } if !quiet => {
            let why = match reason {
                UnregisterReason::ByPhone => "the phone asked",
                UnregisterReason::Expired => "not refreshed in time",
                UnregisterReason::Replaced => "replaced by a newer contact",
                UnregisterReason::LineRemoved => "the line left phoneprov.toml",
            };
            format!("unregistered {line} at {contact} ({why})")
        }
        SipEvent::AuthFailed {
            source,
            authname,
            line,
            cause,
            ..
        } => format!(
            "auth failed for line {} (authname {authname}) from {source}: {cause}",
            line.as_deref().unwrap_or("?")
        ),
        SipEvent::SourceLocked { source, until } => format!(
            "{source} locked out for {} min after repeated wrong passwords; other phones are not affected",
            until
                .saturating_duration_since(Instant::now())
                .as_secs()
                .div_ceil(60)
        ),
        SipEvent::CallRouted {
            method, from, to, ..
        } if !quiet => format!(
            "{method} {} -> {to} routed",
            from.as_deref().unwrap_or("?")
        ),
        SipEvent::CallRefused { method, to, status } => {
            let why = match status {
                404 => "no such line in phoneprov.toml",
                480 => "the line is not registered",
                482 => "a loop",
                483 => "too many hops",
                _ => "refused",
            };
            format!(
                "{method} to {} refused with {status}: {why}",
                to.as_deref().unwrap_or("?")
            )
        }
        SipEvent::CheckSyncAnswered { line, status } => format!(
            "check-sync answered {status} on line {line}: the phone fetches syncinfo.xml once idle for 20 s, then reboots"
        ),
        SipEvent::CheckSyncTimedOut { line } => {
            format!("check-sync to line {line} got no answer (the phone is off or unreachable)")
        }
        _ => return None,
    };
    let phone = exchange
        .phone
        .map(|mac| mac.colons())
        .unwrap_or_else(|| "-".into());
    Some(format!("{phone}  SIP {what}"))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn an_ack_reads_like_the_lease_time_in_the_file() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ack = Event::Dhcp(DhcpExchange {
            at,
            from: "0.0.0.0:68".parse().unwrap(),
            hwaddr: Some("00:18:B9:FF:FF:FF".parse().unwrap()),
            vendor_class: None,
            event: DhcpEvent::Acked {
                ip: "10.0.0.50".parse().unwrap(),
                state: phoneprov_dhcp::RequestState::Selecting,
                expires: at + Duration::from_secs(86_400),
            },
        });
        assert_eq!(
            describe(&ack, false).as_deref(),
            Some("00:18:B9:FF:FF:FF  DHCP ACK 10.0.0.50 (lease 1d)")
        );
        assert_eq!(describe(&ack, true), None);
        assert_eq!(lease_time(Duration::from_secs(90 * 60)), "90m");
    }

    #[test]
    fn a_transfer_says_what_was_sent_unless_quiet() {
        let sent = Event::Tftp(TftpEvent {
            at: SystemTime::UNIX_EPOCH,
            client: "10.0.0.23:50000".parse().unwrap(),
            requested: "OS79XX.TXT".into(),
            served_as: Some("OS79XX.TXT".into()),
            case_mismatch: false,
            options_asked: Vec::new(),
            options_granted: Vec::new(),
            outcome: TftpOutcome::Sent,
            bytes: 13,
            blocks: 1,
            blocks_retransmitted: 0,
            duration: Duration::from_millis(2),
        });
        assert_eq!(
            describe(&sent, false).as_deref(),
            Some("10.0.0.23  OS79XX.TXT  sent 13 B in 1 block, 2 ms")
        );
        assert_eq!(describe(&sent, true), None);
    }
}
