//! Properties: messages survive writing and reading; no wrong password is
//! ever accepted; transactions retransmit within RFC 3261's bounds.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use phoneprov_sip::{
    ClientTimeout, ClientTransaction, Contact, HeaderName, Message, Method, NameAddr, Request,
    SipUri, Timers, Via,
};

use crate::support::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,2}",
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        proptest::option::of("[a-z0-9][a-z0-9._+-]{0,9}"),
        host(),
        proptest::option::of(1u16..),
        proptest::option::of(token()),
    )
        .prop_map(|(secure, user, host, port, param)| {
            let mut uri = SipUri::new(user.as_deref(), &host, port);
            uri.secure = secure;
            if let Some(p) = param {
                uri.params.set("transport", Some(p));
            }
            uri
        })
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        uri(),
        proptest::option::of("[ -~]{0,10}"),
        proptest::option::of(token()),
        proptest::option::of("[ -~]{0,12}"),
    )
        .prop_map(|(uri, display, tag, quoted)| {
            let mut a = NameAddr::new(uri);
            a.display = display.map(|d| phoneprov_sip::quote(&d));
            if let Some(t) = tag {
                a.params.set("tag", Some(t));
            }
            if let Some(q) = quoted {
                a.params
                    .set("+sip.instance", Some(phoneprov_sip::quote(&q)));
            }
            a
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Register),
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Cancel),
        Just(Method::Options),
        Just(Method::Notify),
        "[A-Z]{3,9}".prop_filter_map("known", |m| match Method::parse(&m)? {
            Method::Other(m) => Some(Method::Other(m)),
            _ => None,
        }),
    ]
}

prop_compose! {
    fn request()(
        method in method(),
        target in uri(),
        vias in proptest::collection::vec((any::<[u8; 4]>(), proptest::option::of(1u16..), token()), 1..4),
        from in name_addr(),
        to in name_addr(),
        call_id in "[!-~]{1,40}",
        seq in 0u32..(1 << 31),
        max_forwards in proptest::option::of(any::<u8>()),
        contacts in proptest::option::of(proptest::collection::vec(name_addr(), 0..3)),
        expires in proptest::option::of(any::<u32>()),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,8}", "[!-~]([ -~]{0,30}[!-~])?"), 0..4),
        user_agent in proptest::option::of("[!-~]{1,20}"),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) -> Request {
        let mut r = register_7940();
        r.method = method.clone();
        r.uri = target;
        r.head.via = vias.into_iter().map(|(ip, port, branch)| {
            let mut via = Via::udp(std::net::SocketAddr::new(ip.into(), port.unwrap_or(5060)), &format!("z9hG4bK{branch}"));
            via.port = port;
            via
        }).collect();
        r.head.from = from;
        r.head.to = to;
        r.head.call_id = call_id;
        r.head.cseq = phoneprov_sip::CSeq { seq, method };
        r.head.max_forwards = max_forwards;
        r.head.contact = contacts.map(|c| if c.is_empty() { Contact::Any } else { Contact::Addresses(c) });
        r.head.expires = expires;
        r.head.extra.clear();
        for (name, value) in extra {
            r.head.push(HeaderName::Other(name), value);
        }
        if let Some(ua) = user_agent {
            r.head.push(HeaderName::UserAgent, ua);
        }
        r.body = body;
        r
    }
}

proptest! {
    #[test]
    fn a_request_reads_back_as_written(r in request()) {
        let bytes = r.to_bytes();
        prop_assert_eq!(Message::parse(&bytes), Ok(Message::Request(r)));
    }

    #[test]
    fn a_response_reads_back_as_written(r in request(), status in 100u16..700) {
        let mut response = r.response(status);
        response.head.extra = r.head.extra.clone();
        response.body = r.body.clone();
        prop_assert_eq!(Message::parse(&response.to_bytes()), Ok(Message::Response(response)));
    }

    #[test]
    fn what_reads_writes_back_the_same(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = Message::parse(&bytes) {
            prop_assert_eq!(Message::parse(&m.to_bytes()), Ok(m));
        }
    }

    #[test]
    fn a_wrong_password_is_never_accepted(
        guess in "[ -~]{0,16}",
        qop in any::<bool>(),
        authname in prop_oneof![Just("reception"), Just("102"), Just("103"), Just("nobody")],
    ) {
        let t0 = Instant::now();
        let mut core = core(t0);
        let first = register_from("101", RECEPTION);
        let challenge = only_response(&core.receive(&first.to_bytes(), addr(RECEPTION), t0));
        let right = authname == "reception" && guess == "s3cret";
        let attempt = answer(&first, &challenge, authname, &guess, qop);
        let response = only_response(&core.receive(&attempt.to_bytes(), addr(RECEPTION), t0));
        prop_assert_eq!(response.status == 200, right);
        prop_assert_eq!(core.registrar().bindings("101", t0).count() == 1, right);
    }

    #[test]
    fn a_notify_retransmits_within_t2_and_gives_up_at_64_t1(answer_after in proptest::option::of(0u64..40_000), provisional in any::<bool>()) {
        let t0 = Instant::now();
        let timers = Timers::default();
        let mut core = core(t0);
        registered(&mut core, "101", "reception", "s3cret", RECEPTION, t0);
        let notify = only_request(&core.check_sync("101", t0).unwrap());
        let mut t = ClientTransaction::start(&notify, addr(RECEPTION), timers, t0);
        let mut last = t0;
        let mut answered = false;
        while let Some(at) = t.next_timeout() {
            prop_assert!(at >= last);
            if let Some(after) = answer_after {
                let answer_at = t0 + Duration::from_millis(after);
                if !answered && answer_at <= at {
                    if provisional {
                        prop_assert_eq!(t.on_response(&notify.response(100), answer_at), None);
                    }
                    prop_assert_eq!(t.on_response(&notify.response(200), answer_at), Some(200));
                    prop_assert_eq!(t.on_response(&notify.response(200), answer_at), None);
                    answered = true;
                    last = answer_at;
                    continue;
                }
            }
            prop_assert!(at - last <= timers.t2 || answered);
            match t.on_timeout(at) {
                ClientTimeout::Retransmit(bytes) => prop_assert_eq!(bytes, notify.to_bytes()),
                ClientTimeout::TimedOut => prop_assert_eq!(at, t0 + 64 * timers.t1),
                ClientTimeout::Quiet => {}
            }
            last = at;
        }
        prop_assert!(last <= t0 + 64 * timers.t1 + timers.t4);
    }

    #[test]
    fn a_retransmitted_register_always_gets_the_same_answer(gaps in proptest::collection::vec(0u64..40_000, 1..6)) {
        let t0 = Instant::now();
        let mut core = core(t0);
        let first = register_7940().to_bytes();
        let answer = core.receive(&first, addr(RECEPTION), t0).transmits[0].bytes.clone();
        let mut now = t0;
        for gap in gaps {
            now += Duration::from_millis(gap);
            core.handle_timeout(now);
            let out = core.receive(&first, addr(RECEPTION), now);
            let expired = now >= t0 + Duration::from_secs(32);
            prop_assert_eq!(out.transmits[0].bytes == answer, !expired);
            if expired {
                break;
            }
        }
    }
}
