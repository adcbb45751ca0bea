//! The malformed and hostile messages of `tests/malformed/`, each with the
//! error `EXPECTED` says it must give.

use std::fs;
use std::path::Path;

use phoneprov_sip::Message;

#[test]
fn every_malformed_message_gives_its_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let expected = fs::read_to_string(dir.join("EXPECTED")).unwrap();
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let (file, error) = line.split_once(": ").unwrap();
        let bytes = fs::read(dir.join(file)).unwrap();
        match Message::parse(&bytes) {
            Ok(m) => panic!("{file} parsed: {m:?}"),
            Err(e) => assert_eq!(e.to_string(), error, "{file}"),
        }
        checked += 1;
    }
    let files = fs::read_dir(&dir).unwrap().count() - 1;
    assert_eq!(
        checked, files,
        "every file of tests/malformed is in EXPECTED"
    );
}

#[test]
fn the_7940_register_reads_as_it_was_sent() {
    let bytes = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/messages/7940-register.sip"
    ))
    .unwrap();
    let Message::Request(r) = Message::parse(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(r.to_string(), "REGISTER sip:192.168.1.1");
    assert_eq!(r.head.expires, Some(60));
    assert_eq!(r.head.max_forwards, Some(70));
    let contact = &r.head.contacts()[0];
    assert_eq!(
        contact
            .params
            .value(phoneprov_sip::CISCO_MODEL_PARAM)
            .as_deref(),
        Some("7")
    );
    assert_eq!(
        r.head.get(&phoneprov_sip::HeaderName::Date),
        Some("Sat, 13 Jun 2009 03:28:51 GMT")
    );
    assert_eq!(Message::parse(&r.to_bytes()).unwrap(), Message::Request(r));
}

#[test]
fn tolerated_forms_compact_names_folding_and_bare_lf() {
    let text = "INVITE sip:102@192.168.1.1 SIP/2.0\n\
v: SIP/2.0/UDP 192.168.1.99;branch=z9hG4bKa, SIP / 2.0 / UDP 10.0.0.1:5070 ;branch=z9hG4bKb\n\
f: \"Front, Desk\" <sip:101@192.168.1.1>;tag=1\n\
t: sip:102@192.168.1.1\n\
i: abc@host\n\
CSeq: 1\n   INVITE\n\
m: <sip:101@192.168.1.99>\n\
l: 4\n\
\n\
v=0\ntrailing bytes past Content-Length";
    let Message::Request(r) = Message::parse(text.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(r.head.via.len(), 2);
    assert_eq!(r.head.via[1].sent_by(), "10.0.0.1:5070");
    assert_eq!(r.head.cseq.seq, 1);
    assert_eq!(r.head.from.display.as_deref(), Some("\"Front, Desk\""));
    assert_eq!(r.body, b"v=0\n");
    // Keep-alive CRLFs before a message are skipped.
    let mut padded = b"\r\n\r\n".to_vec();
    padded.extend_from_slice(&r.to_bytes());
    assert_eq!(Message::parse(&padded).unwrap(), Message::Request(r));
}
