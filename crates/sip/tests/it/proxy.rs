//! Two registered phones calling each other through the stateless proxy.

use std::time::Instant;

use phoneprov_sip::{Message, Method, Request, SipEvent, SipUri, Via};

use crate::support::*;

fn invite(to: &str, from_line: &str, from: &str) -> Request {
    let mut r = register_from(from_line, from);
    r.method = Method::Invite;
    r.uri = SipUri::parse(&format!("sip:{to}@192.168.1.1")).unwrap();
    r.head.to.uri = r.uri.clone();
    r.head.cseq.method = Method::Invite;
    r.head.cseq.seq = 101;
    r.head.expires = None;
    r.head.call_id = "call-1@192.168.1.99".into();
    r.head.via[0]
        .params
        .set("branch", Some("z9hG4bKinvite1".into()));
    r.body = b"v=0\r\n".to_vec();
    r
}

fn two_phones(t0: Instant) -> phoneprov_sip::Core {
    let mut core = core(t0);
    registered(&mut core, "101", "reception", "s3cret", RECEPTION, t0);
    registered(&mut core, "102", "102", "other", OFFICE, t0);
    core
}

#[test]
fn a_call_is_forwarded_and_its_answer_comes_back() {
    let t0 = Instant::now();
    let mut core = two_phones(t0);
    let call = invite("102", "101", RECEPTION);
    let out = core.receive(&call.to_bytes(), addr(RECEPTION), t0);
    assert_eq!(out.transmits[0].to, addr(OFFICE));
    let forwarded = only_request(&out);
    assert_eq!(
        forwarded.uri.to_string(),
        "sip:102@192.168.1.98:5060;transport=udp"
    );
    assert_eq!(forwarded.head.via.len(), 2);
    assert_eq!(forwarded.head.via[0].sent_by(), "192.168.1.1:5060");
    assert!(forwarded.head.via[0]
        .branch()
        .unwrap()
        .starts_with("z9hG4bK"));
    assert_eq!(forwarded.head.via[1], call.head.via[0]);
    assert_eq!(forwarded.head.max_forwards, Some(69));
    assert_eq!(forwarded.body, call.body);
    assert!(
        matches!(&out.events[..], [SipEvent::CallRouted { to, from, .. }] if to == "102" && from.as_deref() == Some("101"))
    );

    // The CANCEL of that INVITE gets the same branch.
    let mut cancel = call.clone();
    cancel.method = Method::Cancel;
    cancel.head.cseq.method = Method::Cancel;
    cancel.body.clear();
    let cancelled = only_request(&core.receive(&cancel.to_bytes(), addr(RECEPTION), t0));
    assert_eq!(
        cancelled.head.via[0].branch(),
        forwarded.head.via[0].branch()
    );

    // 180 and 200 from the called phone go back to the caller, our Via removed.
    let mut ringing = forwarded.response(180);
    ringing.head.to.params.set("tag", Some("callee".into()));
    let out = core.receive(&ringing.to_bytes(), addr(OFFICE), t0);
    assert_eq!(out.transmits[0].to, addr(RECEPTION));
    let back = match Message::parse(&out.transmits[0].bytes).unwrap() {
        Message::Response(r) => r,
        _ => panic!(),
    };
    assert_eq!(back.status, 180);
    assert_eq!(back.head.via, call.head.via);
}

#[test]
fn unknown_unregistered_looping_and_exhausted_calls_are_refused() {
    let t0 = Instant::now();
    let mut core = two_phones(t0);
    let status = |core: &mut phoneprov_sip::Core, r: &Request| {
        let answer = only_response(&core.receive(&r.to_bytes(), addr(RECEPTION), t0));
        assert!(
            answer.head.to.tag().is_some(),
            "our own answer tags To (RFC 3261 §8.2.6.2)"
        );
        answer.status
    };
    assert_eq!(status(&mut core, &invite("999", "101", RECEPTION)), 404);
    let out = core.receive(
        &invite("103", "101", RECEPTION).to_bytes(),
        addr(RECEPTION),
        t0,
    );
    assert_eq!(only_response(&out).status, 480);
    assert!(matches!(
        &out.events[..],
        [SipEvent::CallRefused { status: 480, .. }]
    ));

    let mut exhausted = invite("102", "101", RECEPTION);
    exhausted.head.max_forwards = Some(0);
    assert_eq!(status(&mut core, &exhausted), 483);

    let mut looped = invite("102", "101", RECEPTION);
    looped
        .head
        .via
        .insert(1, Via::udp(addr(SERVER), "z9hG4bKours"));
    assert_eq!(status(&mut core, &looped), 482);

    // Not a relay: a request for an address that is not a registered phone.
    let mut relay = invite("102", "101", RECEPTION);
    relay.uri = SipUri::parse("sip:someone@198.51.100.7").unwrap();
    assert_eq!(status(&mut core, &relay), 403);

    // An ACK that cannot be routed is dropped, never answered.
    let mut ack = invite("999", "101", RECEPTION);
    ack.method = Method::Ack;
    ack.head.cseq.method = Method::Ack;
    let out = core.receive(&ack.to_bytes(), addr(RECEPTION), t0);
    assert!(out.transmits.is_empty() && out.dropped.is_some());
}

#[test]
fn forged_responses_are_not_forwarded() {
    let t0 = Instant::now();
    let mut core = two_phones(t0);
    let call = invite("102", "101", RECEPTION);
    let forwarded = only_request(&core.receive(&call.to_bytes(), addr(RECEPTION), t0));
    let mut ringing = forwarded.response(180);
    ringing.head.to.params.set("tag", Some("callee".into()));
    // Our Via with a branch phoneprov never made for the Via below it.
    let mut forged = ringing.clone();
    forged.head.via[0]
        .params
        .set("branch", Some("z9hG4bKforged".into()));
    let out = core.receive(&forged.to_bytes(), addr(OFFICE), t0);
    assert!(out.transmits.is_empty(), "{out:?}");
    // A genuine-looking response for an address that is no phone's.
    let mut elsewhere = ringing.clone();
    elsewhere.head.via[1] = Via::udp("198.51.100.7:5060".parse().unwrap(), "x-no-cookie");
    let out = core.receive(&elsewhere.to_bytes(), addr(OFFICE), t0);
    assert!(out.transmits.is_empty(), "{out:?}");
    // The real one still goes back to the caller.
    let out = core.receive(&ringing.to_bytes(), addr(OFFICE), t0);
    assert_eq!(out.transmits[0].to, addr(RECEPTION));
}

#[test]
fn in_dialog_requests_through_the_proxy_reach_only_registered_phones() {
    let t0 = Instant::now();
    let mut core = two_phones(t0);
    let mut bye = invite("102", "101", RECEPTION);
    bye.method = Method::Bye;
    bye.head.cseq.method = Method::Bye;
    bye.uri = SipUri::parse("sip:102@192.168.1.98:5060").unwrap();
    let out = core.receive(&bye.to_bytes(), addr(RECEPTION), t0);
    assert_eq!(out.transmits[0].to, addr(OFFICE));
    assert_eq!(only_request(&out).uri, bye.uri);
}
