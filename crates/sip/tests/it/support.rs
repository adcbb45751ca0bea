//! A site of two phones and helpers to play them against a [`Core`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use phoneprov_sip::{
    digest_response, ha1, Account, Core, CoreSettings, Credentials, HeaderName, Message, Output,
    Password, QopAuth, Registrar, RegistrarSettings, Request, Response,
};

pub const SERVER: &str = "192.168.1.1:5060";
pub const RECEPTION: &str = "192.168.1.99:5061";
pub const OFFICE: &str = "192.168.1.98:5060";
pub const REALM: &str = "192.168.1.1";

/// A branch no other request of the test run has, as a phone makes one per request.
pub fn fresh_branch() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("z9hG4bKtest{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The 7940's REGISTER of reference §9.1 (CSeq 143, no credentials).
pub fn register_7940() -> Request {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/messages/7940-register.sip"
    ))
    .unwrap();
    match Message::parse(&bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    }
}

pub fn accounts() -> Vec<Account> {
    vec![
        Account {
            line: "101".into(),
            authname: "reception".into(),
            password: Password::new("s3cret"),
        },
        Account {
            line: "102".into(),
            authname: "102".into(),
            password: Password::new("other"),
        },
        Account {
            line: "103".into(),
            authname: "103".into(),
            password: Password::new("never-registers"),
        },
    ]
}

pub fn core_with(settings: RegistrarSettings, t0: Instant) -> Core {
    let registrar = Registrar::new(settings, accounts(), b"test secret 0123", t0).unwrap();
    Core::new(
        CoreSettings::new(
            addr(SERVER),
            vec!["192.168.1.1".into(), "pbx.office".into()],
        ),
        registrar,
    )
}

pub fn core(t0: Instant) -> Core {
    core_with(RegistrarSettings::new(REALM), t0)
}

pub fn only_response(out: &Output) -> Response {
    assert_eq!(out.transmits.len(), 1, "{out:?}");
    match Message::parse(&out.transmits[0].bytes).unwrap() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("a response, not {r}"),
    }
}

pub fn only_request(out: &Output) -> Request {
    assert_eq!(out.transmits.len(), 1, "{out:?}");
    match Message::parse(&out.transmits[0].bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(r) => panic!("a request, not {r}"),
    }
}

/// The same request, answered to `challenge` (a 401) with `authname` and
/// `password`, and the next CSeq; `qop` uses qop=auth.
pub fn answer(
    request: &Request,
    challenge: &Response,
    authname: &str,
    password: &str,
    qop: bool,
) -> Request {
    let www = challenge
        .head
        .get(&HeaderName::WwwAuthenticate)
        .expect("a challenge");
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let uri = request.uri.to_string();
    let qop_auth = qop.then(|| QopAuth {
        nc: "00000001".into(),
        cnonce: "0a4f113b".into(),
    });
    let credentials = Credentials {
        username: authname.into(),
        realm: REALM.into(),
        response: digest_response(
            &ha1(authname, REALM, password),
            &nonce,
            "REGISTER",
            &uri,
            qop_auth.as_ref(),
        ),
        nonce,
        uri,
        qop_auth,
        opaque: None,
    };
    let mut next = request.clone();
    next.head.cseq.seq += 1;
    next.head.via[0].params.set("branch", Some(fresh_branch()));
    next.head
        .extra
        .retain(|h| h.name != HeaderName::Authorization);
    next.head
        .push(HeaderName::Authorization, credentials.to_string());
    next
}

/// A REGISTER for `line` from `from` with `authname` and no credentials yet.
pub fn register_from(line: &str, from: &str) -> Request {
    let mut r = register_7940();
    r.head.to.uri.user = Some(line.into());
    r.head.from.uri.user = Some(line.into());
    r.head.call_id = format!("{line}-call@{from}");
    let from = addr(from);
    r.head.via[0].host = from.ip().to_string();
    r.head.via[0].port = Some(from.port());
    r.head.via[0].params.set("branch", Some(fresh_branch()));
    let contact = &mut r.head.contacts().to_vec()[0];
    contact.uri.user = Some(line.into());
    contact.uri.host = from.ip().to_string();
    contact.uri.port = Some(from.port());
    contact.params.remove("+sip.instance");
    r.head.contact = Some(phoneprov_sip::Contact::Addresses(vec![contact.clone()]));
    r
}

/// Registers `line` from `from` (401, then 200) and returns the 200.
pub fn registered(
    core: &mut Core,
    line: &str,
    authname: &str,
    password: &str,
    from: &str,
    now: Instant,
) -> Response {
    let first = register_from(line, from);
    let challenge = only_response(&core.receive(&first.to_bytes(), addr(from), now));
    assert_eq!(challenge.status, 401);
    let second = answer(&first, &challenge, authname, password, false);
    let ok = only_response(&core.receive(&second.to_bytes(), addr(from), now));
    assert_eq!(ok.status, 200, "{ok:?}");
    ok
}
