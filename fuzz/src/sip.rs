//! The bodies of the SIP fuzz targets, with every property they check.
//!
//! This file is compiled twice: as the `sip` module of the `phoneprov_fuzz`
//! library that the cargo-fuzz binaries call, and as a module that
//! `crates/sip/tests/it/fuzz_replay.rs` includes with `#[path]`, so that
//! `cargo test -p phoneprov-sip` replays the committed corpus through
//! exactly these checks. It may therefore use only `std` and
//! `phoneprov_sip`, and no `crate::` or `super::` paths.
//!
//! `sip_registrar` input layout: one settings byte (bit 0 offers qop, bits
//! 1–7 the clock's step between datagrams in units of 3 s), then frames,
//! each a flags byte and a length (u16, big-endian; a frame cut short keeps
//! what is there) before the datagram. Flag bits: 0–1 which of four phones
//! sends it; 2 sign it (the harness writes the Authorization, since the
//! fuzzer cannot compute MD5), 3 with the line's right password (else a
//! wrong one), 4 with qop=auth; 5 send a check-sync NOTIFY to line 101
//! first. An empty frame fires the timers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use phoneprov_sip::{
    digest_response, ha1, Account, Core, CoreSettings, Credentials, Dropped, HeaderName, Message,
    Method, Output, Password, QopAuth, Registrar, RegistrarSettings, SipEvent,
};

/// One datagram: reading never panics, and what reads writes back to bytes
/// that read as the same message, no longer than the largest datagram
/// allows for what was read.
pub fn sip_message(datagram: &[u8]) {
    let Ok(message) = Message::parse(datagram) else {
        return;
    };
    let bytes = message.to_bytes();
    let again = Message::parse(&bytes).expect("a written message reads");
    assert_eq!(again, message, "written and read back");
    assert!(!message.head().via.is_empty());
    assert_eq!(again.to_bytes(), bytes, "writing is stable");
}

const REALM: &str = "10.0.0.1";
const LINES: [(&str, &str, &str); 3] = [
    ("101", "reception", "s3cret"),
    ("102", "102", "other"),
    ("103", "103", "third"),
];

fn phone(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 10 + i], 5060 + u16::from(i)))
}

/// The nonce of the last challenge sent to `to`, if any.
fn nonce_of(bytes: &[u8]) -> Option<String> {
    let Ok(Message::Response(r)) = Message::parse(bytes) else {
        return None;
    };
    let www = r.head.get(&HeaderName::WwwAuthenticate)?;
    let start = www.find("nonce=\"")? + 7;
    let len = www[start..].find('"')?;
    Some(www[start..start + len].to_owned())
}

/// Datagrams from four phones into the whole engine: it never panics;
/// everything it sends reads as a SIP message and goes to one of the phones
/// (the only hosts known to it); a datagram gets at most one datagram back;
/// a line is registered only by a REGISTER signed with that line's right
/// password; a locked-out phone gets nothing; no line holds more than four
/// contacts; timers never go back in time; the registrar's earliest expiry
/// is the earliest of its bindings'.
pub fn sip_registrar(data: &[u8]) {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut settings = RegistrarSettings::new(REALM);
    settings.offer_qop = config & 1 != 0;
    let step = Duration::from_secs(3 * u64::from(config >> 1));
    let accounts = LINES
        .iter()
        .map(|(line, authname, password)| Account {
            line: (*line).to_owned(),
            authname: (*authname).to_owned(),
            password: Password::new(*password),
        })
        .collect();
    let registrar = Registrar::new(settings, accounts, b"fuzz secret", t0).expect("valid accounts");
    let local: SocketAddr = "10.0.0.1:5060".parse().expect("an address");
    let mut core = Core::new(CoreSettings::new(local, vec![REALM.to_owned()]), registrar);
    let mut nonces: HashMap<SocketAddr, String> = HashMap::new();
    let mut now = t0;

    while let [flags, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (frame, after) = tail.split_at(len);
        rest = after;
        now += step;
        let from = phone(flags & 3);
        if flags & 0x20 != 0 {
            if let Ok(o) = core.check_sync("101", now) {
                check_output(&o, now);
            }
        }
        if frame.is_empty() {
            if let Some(at) = core.next_timeout() {
                now = now.max(at);
            }
            check_output(&core.handle_timeout(now), now);
        } else {
            let (datagram, signed_right_for) = sign(frame, *flags, nonces.get(&from));
            let o = core.receive(&datagram, from, now);
            check_output(&o, now);
            assert!(o.transmits.len() <= 1, "one answer per datagram");
            for event in &o.events {
                if let SipEvent::Registered { line, .. } = event {
                    assert_eq!(
                        signed_right_for.as_deref(),
                        Some(line.as_str()),
                        "registered without the right password"
                    );
                }
            }
            if o.dropped == Some(Dropped::LockedOut) {
                assert!(o.transmits.is_empty());
            }
            for t in &o.transmits {
                if let Some(nonce) = nonce_of(&t.bytes) {
                    nonces.insert(t.to, nonce);
                }
            }
        }
        for (_, bindings) in core.registrar().registrations() {
            assert!(bindings.len() <= 4, "more contacts than a line may have");
        }
        let earliest = core
            .registrar()
            .registrations()
            .flat_map(|(_, bindings)| bindings.iter().map(|b| b.expires_at))
            .min();
        assert_eq!(
            core.registrar().next_expiry(),
            earliest,
            "the expiry index agrees with the bindings"
        );
    }
}

/// Everything sent reads as SIP, goes out no sooner than `now`, and is a
/// response, a forwarded call request or a NOTIFY.
fn check_output(out: &Output, now: Instant) {
    for t in &out.transmits {
        let message = Message::parse(&t.bytes).expect("what the engine sends reads");
        assert!(t.at >= now, "sent in the past");
        if let Message::Request(r) = &message {
            assert!(
                matches!(
                    r.method,
                    Method::Invite | Method::Ack | Method::Bye | Method::Cancel | Method::Notify
                ),
                "the engine only forwards calls and sends NOTIFYs"
            );
        }
    }
}

/// The frame with an Authorization the harness wrote when flag bit 2 asks
/// for one (see the header), and the line it was signed for with that
/// line's right password, if it was.
fn sign(frame: &[u8], flags: u8, nonce: Option<&String>) -> (Vec<u8>, Option<String>) {
    let Ok(Message::Request(mut request)) = Message::parse(frame) else {
        return (frame.to_vec(), None);
    };
    if flags & 4 == 0 {
        return (frame.to_vec(), None);
    }
    let user = request.head.to.uri.user_name().unwrap_or("").to_owned();
    let mut signed_right_for = None;
    let (authname, password) = match LINES.iter().find(|(l, ..)| *l == user) {
        Some((line, authname, password)) if flags & 8 != 0 => {
            signed_right_for = Some((*line).to_owned());
            (*authname, *password)
        }
        Some((_, authname, _)) => (*authname, "wrong"),
        None => ("stranger", "wrong"),
    };
    let nonce = nonce.cloned().unwrap_or_default();
    let uri = request.uri.to_string();
    let qop_auth = (flags & 0x10 != 0).then(|| QopAuth {
        nc: "00000001".to_owned(),
        cnonce: "fuzz".to_owned(),
    });
    let response = digest_response(
        &ha1(authname, REALM, password),
        &nonce,
        request.method.as_str(),
        &uri,
        qop_auth.as_ref(),
    );
    let credentials = Credentials {
        username: authname.to_owned(),
        realm: REALM.to_owned(),
        nonce,
        uri,
        response,
        qop_auth,
        opaque: None,
    };
    request
        .head
        .extra
        .retain(|h| h.name != HeaderName::Authorization);
    request
        .head
        .push(HeaderName::Authorization, credentials.to_string());
    (request.to_bytes(), signed_right_for)
}
