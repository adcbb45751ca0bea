//! The check-sync NOTIFY of reference §9.2, as a client transaction.

use std::time::{Duration, Instant};

use phoneprov_sip::{CheckSyncError, HeaderName, Method, SipEvent};

use crate::support::*;

#[test]
fn notify_goes_to_the_contact_and_is_answered() {
    let t0 = Instant::now();
    let mut core = core(t0);
    assert_eq!(
        core.check_sync("101", t0),
        Err(CheckSyncError::NotRegistered("101".into()))
    );
    assert_eq!(
        core.check_sync("999", t0),
        Err(CheckSyncError::UnknownLine("999".into()))
    );
    registered(&mut core, "101", "reception", "s3cret", RECEPTION, t0);
    let out = core.check_sync("101", t0).unwrap();
    assert_eq!(out.transmits[0].to, addr(RECEPTION));
    let notify = only_request(&out);
    assert_eq!(notify.method, Method::Notify);
    assert_eq!(
        notify.uri.to_string(),
        "sip:101@192.168.1.99:5061;transport=udp"
    );
    assert_eq!(notify.head.to.uri.to_string(), "sip:101@192.168.1.99:5061");
    assert_eq!(notify.head.get(&HeaderName::Event), Some("check-sync"));
    assert_eq!(notify.head.cseq.method, Method::Notify);
    assert!(notify.body.is_empty());

    let mut ok = notify.response(200);
    ok.head.to.params.set("tag", Some("phone".into()));
    let out = core.receive(
        &ok.to_bytes(),
        addr(RECEPTION),
        t0 + Duration::from_millis(40),
    );
    assert_eq!(
        out.events,
        [SipEvent::CheckSyncAnswered {
            line: "101".into(),
            status: 200
        }]
    );
    // The retransmitted 200 is absorbed.
    let again = core.receive(
        &ok.to_bytes(),
        addr(RECEPTION),
        t0 + Duration::from_millis(600),
    );
    assert!(again.events.is_empty());
}

#[test]
fn an_unanswered_notify_is_retransmitted_then_given_up() {
    let t0 = Instant::now();
    let mut core = core(t0);
    registered(&mut core, "101", "reception", "s3cret", RECEPTION, t0);
    let first = core.check_sync("101", t0).unwrap().transmits[0]
        .bytes
        .clone();
    let mut sent = Vec::new();
    let mut gave_up = None;
    while let Some(at) = core.next_timeout() {
        if at > t0 + Duration::from_secs(40) {
            break;
        }
        let out = core.handle_timeout(at);
        for t in &out.transmits {
            assert_eq!(t.bytes, first);
            sent.push((at - t0).as_millis());
        }
        if out
            .events
            .iter()
            .any(|e| matches!(e, SipEvent::CheckSyncTimedOut { .. }))
        {
            gave_up = Some((at - t0).as_millis());
        }
    }
    // Timer E: 500 ms doubling to T2 = 4 s; Timer F: 64*T1 = 32 s.
    assert_eq!(&sent[..6], [500, 1500, 3500, 7500, 11500, 15500]);
    assert_eq!(gave_up, Some(32_000));
}
