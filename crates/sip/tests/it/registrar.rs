//! REGISTER as a 7940 sends it, and the ways it goes wrong.

use std::time::{Duration, Instant};

use phoneprov_sip::{
    AuthFailure, Contact, Dropped, HeaderName, RegistrarSettings, SipEvent, UnregisterReason,
};

use crate::support::*;

#[test]
fn a_7940_registers_with_digest_without_qop() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let first = register_7940();
    let out = core.receive(&first.to_bytes(), addr(RECEPTION), t0);
    assert_eq!(out.transmits[0].to, addr(RECEPTION));
    let challenge = only_response(&out);
    assert_eq!(challenge.status, 401);
    // Via, From, Call-ID and CSeq come back as received; To gains a tag.
    assert_eq!(challenge.head.via, first.head.via);
    assert_eq!(challenge.head.from, first.head.from);
    assert_eq!(challenge.head.call_id, first.head.call_id);
    assert_eq!(challenge.head.cseq, first.head.cseq);
    assert_eq!(challenge.head.to.uri, first.head.to.uri);
    assert!(challenge.head.to.tag().is_some());
    let www = challenge.head.get(&HeaderName::WwwAuthenticate).unwrap();
    assert!(
        www.starts_with(r#"Digest realm="192.168.1.1", nonce=""#),
        "{www}"
    );
    assert!(!www.contains("qop") && !www.contains("stale"), "{www}");

    let second = answer(&first, &challenge, "reception", "s3cret", false);
    assert_eq!(second.head.cseq.seq, 144);
    let out = core.receive(&second.to_bytes(), addr(RECEPTION), t0);
    let ok = only_response(&out);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.head.expires, Some(60));
    let contacts = ok.head.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].params.value("expires").as_deref(), Some("60"));
    assert_eq!(
        contacts[0].uri.to_string(),
        "sip:101@192.168.1.99:5061;transport=udp"
    );
    match &out.events[..] {
        [SipEvent::Registered {
            line,
            target,
            model,
            user_agent,
            expires,
            renewed,
            ..
        }] => {
            assert_eq!(line, "101");
            assert_eq!(*target, addr(RECEPTION));
            assert_eq!(model.as_deref(), Some("7"));
            assert_eq!(user_agent.as_deref(), Some("Cisco-CP7960G/8.0"));
            assert_eq!(*expires, Duration::from_secs(60));
            assert!(!renewed);
        }
        other => panic!("{other:?}"),
    }
    let binding = core.registrar().bindings("101", t0).next().unwrap();
    assert_eq!(
        binding.instance.as_deref(),
        Some("<urn:uuid:00000000-0000-0000-0000-000c853bc115>")
    );
}

#[test]
fn qop_auth_is_accepted_and_can_be_offered() {
    let t0 = Instant::now();
    let mut settings = RegistrarSettings::new(REALM);
    settings.offer_qop = true;
    let mut core = core_with(settings, t0);
    let first = register_7940();
    let challenge = only_response(&core.receive(&first.to_bytes(), addr(RECEPTION), t0));
    assert!(challenge
        .head
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .contains(r#"qop="auth""#));
    let second = answer(&first, &challenge, "reception", "s3cret", true);
    assert!(second
        .head
        .get(&HeaderName::Authorization)
        .unwrap()
        .contains("qop=auth"));
    assert_eq!(
        only_response(&core.receive(&second.to_bytes(), addr(RECEPTION), t0)).status,
        200
    );
}

#[test]
fn a_wrong_password_says_why_and_a_stale_config_is_the_likely_cause() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let first = register_7940();
    let challenge = only_response(&core.receive(&first.to_bytes(), addr(RECEPTION), t0));
    let wrong = answer(&first, &challenge, "reception", "old-password", false);
    let out = core.receive(&wrong.to_bytes(), addr(RECEPTION), t0);
    assert_eq!(only_response(&out).status, 401);
    match &out.events[..] {
        [SipEvent::AuthFailed {
            cause,
            authname,
            line,
            ..
        }] => {
            assert_eq!(*cause, AuthFailure::WrongPassword);
            assert_eq!(authname, "reception");
            assert_eq!(line.as_deref(), Some("101"));
            assert!(cause.to_string().contains("stale SIP<MAC>.cnf"), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(core.registrar().bindings("101", t0).count(), 0);

    // An authname that no line has.
    let unknown = answer(&first, &challenge, "stranger", "s3cret", false);
    let out = core.receive(&unknown.to_bytes(), addr(RECEPTION), t0);
    assert!(matches!(
        &out.events[..],
        [SipEvent::AuthFailed {
            cause: AuthFailure::UnknownAuthname,
            ..
        }]
    ));

    // Line 102's credentials used to register line 101.
    let mut crossed = register_from("101", OFFICE);
    crossed.head.to.uri.user = Some("101".into());
    let challenge = only_response(&core.receive(&crossed.to_bytes(), addr(OFFICE), t0));
    let crossed = answer(&crossed, &challenge, "102", "other", false);
    let out = core.receive(&crossed.to_bytes(), addr(OFFICE), t0);
    assert_eq!(only_response(&out).status, 403);
    assert!(
        matches!(&out.events[..], [SipEvent::AuthFailed { cause: AuthFailure::WrongLine { authname_line }, .. }] if authname_line == "102")
    );
}

#[test]
fn an_expired_nonce_is_stale_only_with_the_right_password() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let first = register_7940();
    let challenge = only_response(&core.receive(&first.to_bytes(), addr(RECEPTION), t0));
    let later = t0 + Duration::from_secs(301);
    let right = answer(&first, &challenge, "reception", "s3cret", false);
    let stale = only_response(&core.receive(&right.to_bytes(), addr(RECEPTION), later));
    assert_eq!(stale.status, 401);
    assert!(stale
        .head
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .ends_with("stale=true"));
    let mut wrong = answer(&first, &challenge, "reception", "bad", false);
    wrong.head.cseq.seq += 5;
    wrong.head.via[0]
        .params
        .set("branch", Some("z9hG4bKwrong".into()));
    let out = core.receive(&wrong.to_bytes(), addr(RECEPTION), later);
    assert!(!only_response(&out)
        .head
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale"));
    assert!(matches!(&out.events[..], [SipEvent::AuthFailed { .. }]));
}

#[test]
fn a_guesser_is_slowed_then_locked_out_and_others_still_register() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let guesser = "192.168.1.66:5060";
    let first = register_from("101", guesser);
    let challenge = only_response(&core.receive(&first.to_bytes(), addr(guesser), t0));
    let mut delays = Vec::new();
    let mut locked = None;
    for n in 0..12u32 {
        let mut guess = answer(&first, &challenge, "reception", &format!("guess{n}"), false);
        guess.head.via[0]
            .params
            .set("branch", Some(format!("z9hG4bKguess{n}")));
        let out = core.receive(&guess.to_bytes(), addr(guesser), t0);
        if let Some(Dropped::LockedOut) = out.dropped {
            assert!(out.transmits.is_empty());
            locked.get_or_insert(n);
            continue;
        }
        delays.push(out.transmits[0].at - t0);
        if out
            .events
            .iter()
            .any(|e| matches!(e, SipEvent::SourceLocked { .. }))
        {
            locked = Some(n + 1);
        }
    }
    let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [0, 0, 0, 1, 2, 3, 4, 5, 6, 8]);
    assert_eq!(locked, Some(10));
    // Another phone is not held up.
    registered(&mut core, "102", "102", "other", OFFICE, t0);
    // Fifteen minutes later the guesser is answered again.
    let t1 = t0 + Duration::from_secs(15 * 60);
    let again =
        only_response(&core.receive(&register_from("101", guesser).to_bytes(), addr(guesser), t1));
    assert_eq!(again.status, 401);
}

#[test]
fn expires_zero_star_and_expiry_unregister() {
    let t0 = Instant::now();
    let mut core = core(t0);
    registered(&mut core, "102", "102", "other", OFFICE, t0);
    assert_eq!(core.registrar().bindings("102", t0).count(), 1);

    // Expires: 0 on the same contact.
    let mut bye = register_from("102", OFFICE);
    bye.head.expires = Some(0);
    bye.head.cseq.seq = 500;
    let challenge = only_response(&core.receive(&bye.to_bytes(), addr(OFFICE), t0));
    let bye = answer(&bye, &challenge, "102", "other", false);
    let out = core.receive(&bye.to_bytes(), addr(OFFICE), t0);
    let ok = only_response(&out);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.head.contact, None);
    assert!(matches!(
        &out.events[..],
        [SipEvent::Unregistered {
            reason: UnregisterReason::ByPhone,
            ..
        }]
    ));

    // Contact: * needs Expires: 0.
    registered(&mut core, "102", "102", "other", OFFICE, t0);
    let mut star = register_from("102", OFFICE);
    star.head.contact = Some(Contact::Any);
    star.head.cseq.seq = 600;
    let challenge = only_response(&core.receive(&star.to_bytes(), addr(OFFICE), t0));
    let star_60 = answer(&star, &challenge, "102", "other", false);
    assert_eq!(
        only_response(&core.receive(&star_60.to_bytes(), addr(OFFICE), t0)).status,
        400
    );
    star.head.expires = Some(0);
    star.head.cseq.seq = 700;
    star.head.via[0]
        .params
        .set("branch", Some("z9hG4bKstar0".into()));
    let star_0 = answer(&star, &challenge, "102", "other", false);
    let out = core.receive(&star_0.to_bytes(), addr(OFFICE), t0);
    assert_eq!(only_response(&out).status, 200);
    assert_eq!(core.registrar().bindings("102", t0).count(), 0);

    // A binding not refreshed expires.
    registered(&mut core, "102", "102", "other", OFFICE, t0);
    let at = core.next_timeout().unwrap();
    assert!(at <= t0 + Duration::from_secs(60));
    let out = core.handle_timeout(t0 + Duration::from_secs(60));
    assert!(out.events.iter().any(|e| matches!(e, SipEvent::Unregistered { reason: UnregisterReason::Expired, line, .. } if line == "102")));
}

#[test]
fn too_brief_gets_423_and_too_long_is_cut() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let mut brief = register_from("102", OFFICE);
    brief.head.expires = Some(30);
    let challenge = only_response(&core.receive(&brief.to_bytes(), addr(OFFICE), t0));
    let brief = answer(&brief, &challenge, "102", "other", false);
    let response = only_response(&core.receive(&brief.to_bytes(), addr(OFFICE), t0));
    assert_eq!(response.status, 423);
    assert_eq!(response.head.get(&HeaderName::MinExpires), Some("60"));

    let mut long = register_from("102", OFFICE);
    long.head.expires = None;
    let mut contact = long.head.contacts()[0].clone();
    contact.params.set("expires", Some("86400".into()));
    long.head.contact = Some(Contact::Addresses(vec![contact]));
    long.head.cseq.seq = 900;
    long.head.via[0]
        .params
        .set("branch", Some("z9hG4bKlong".into()));
    let challenge = only_response(&core.receive(&long.to_bytes(), addr(OFFICE), t0));
    let long = answer(&long, &challenge, "102", "other", false);
    let ok = only_response(&core.receive(&long.to_bytes(), addr(OFFICE), t0));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.head.expires, Some(7200));
}

#[test]
fn retransmissions_are_absorbed_and_answered_again() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let first = register_7940();
    let bytes = first.to_bytes();
    let a = core.receive(&bytes, addr(RECEPTION), t0);
    let b = core.receive(&bytes, addr(RECEPTION), t0 + Duration::from_millis(500));
    assert_eq!(
        a.transmits[0].bytes, b.transmits[0].bytes,
        "the same challenge, the same nonce"
    );
    // After Timer J (64*T1) the transaction is gone and the request is new.
    core.handle_timeout(t0 + Duration::from_secs(32));
    let c = core.receive(&bytes, addr(RECEPTION), t0 + Duration::from_secs(33));
    assert_ne!(a.transmits[0].bytes, c.transmits[0].bytes, "a fresh nonce");
}

#[test]
fn options_is_answered_and_other_methods_are_not_allowed() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let mut options = register_7940();
    options.method = phoneprov_sip::Method::Options;
    options.head.cseq.method = phoneprov_sip::Method::Options;
    let ok = only_response(&core.receive(&options.to_bytes(), addr(RECEPTION), t0));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.head.get(&HeaderName::Allow), Some(phoneprov_sip::ALLOW));
    let mut subscribe = options.clone();
    subscribe.method = phoneprov_sip::Method::Subscribe;
    subscribe.head.cseq.method = phoneprov_sip::Method::Subscribe;
    assert_eq!(
        only_response(&core.receive(&subscribe.to_bytes(), addr(RECEPTION), t0)).status,
        405
    );
}

#[test]
fn a_response_goes_to_received_and_rport() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let mut natted = register_7940();
    natted.head.via[0].params.set("rport", None);
    let out = core.receive(&natted.to_bytes(), addr("203.0.113.5:40000"), t0);
    assert_eq!(out.transmits[0].to, addr("203.0.113.5:40000"));
    let via = &only_response(&out).head.via[0];
    assert_eq!(via.params.value("received").as_deref(), Some("203.0.113.5"));
    assert_eq!(via.params.value("rport").as_deref(), Some("40000"));
}

#[test]
fn bindings_kept_over_a_restart_come_back_unless_stale_or_orphaned() {
    let t0 = Instant::now();
    let mut before = core(t0);
    registered(&mut before, "101", "reception", "s3cret", RECEPTION, t0);
    let kept: Vec<_> = before.registrar().bindings("101", t0).cloned().collect();
    assert_eq!(kept.len(), 1);

    let mut after = core(t0);
    let registrar = after.registrar_mut();
    assert!(registrar.restore("101", kept[0].clone(), t0));
    assert!(
        !registrar.restore("101", kept[0].clone(), t0),
        "a contact is bound once"
    );
    assert!(
        !registrar.restore("999", kept[0].clone(), t0),
        "the line left the configuration"
    );
    let expired = kept[0].expires_at;
    assert!(!registrar.restore("102", kept[0].clone(), expired));
    assert_eq!(registrar.bindings("101", t0).count(), 1);
    // A call reaches the restored phone without it registering again.
    let notify = after.check_sync("101", t0).unwrap();
    assert_eq!(notify.transmits[0].to, addr(RECEPTION));
}
