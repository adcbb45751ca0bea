//! `phoneprov serve` with `[sip]` on a high port of the loopback, spoken to
//! by real SIP user agents: SIPp scenarios (tests/peers/sip/*.xml) that
//! register as a 7940 does, refresh, unregister, retransmit and answer the
//! check-sync NOTIFY of `phoneprov reboot`; two baresip phones that call
//! each other through phoneprov's proxy; and raw UDP for digests computed
//! by hand and for malformed and hostile messages.
//!
//! Every peer runs under `timeout`, with its own receive timeouts; waits are
//! bounded and no test asserts a wall-clock duration.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{
    arg, assert_contains, curl_get, poll, printed, require, run_binary, Raw, Server, Tree,
    REPLY_WAIT,
};

/// A 7940 with one line whose digest user is its line name.
const RECEPTION: Phone = Phone {
    mac: "00:18:B9:00:00:01",
    line: "1001",
    authname: "1001",
    password: "secret",
    model: "8",
};

/// A 7960 whose line has an authname of its own.
const OFFICE: Phone = Phone {
    mac: "00:18:B9:00:00:02",
    line: "1002",
    authname: "auth1002",
    password: "hunter2",
    model: "7",
};

/// Listed, never registered: calls to it get 480.
const STOREROOM: Phone = Phone {
    mac: "00:18:B9:00:00:03",
    line: "1003",
    authname: "1003",
    password: "never-used",
    model: "8",
};

/// The SIPp scenarios of this crate.
fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/sip")
        .join(name)
}

/// How long a SIPp run may last at most, beside the `timeout` wrapper.
const SIPP_TIMEOUT: &str = "60s";

// ---------------------------------------------------------------------------
// The site

#[derive(Clone, Copy)]
struct Phone {
    mac: &'static str,
    line: &'static str,
    authname: &'static str,
    password: &'static str,
    /// Cisco's model code in the Contact: "8" a 7940, "7" a 7960.
    model: &'static str,
}

impl Phone {
    /// The MAC as 12 hex digits, for file names and the instance id.
    fn hex(&self) -> String {
        self.mac.replace(':', "")
    }

    /// The phone at `ip`, on a port the kernel says is free now: a phone
    /// keeps its SIP port (5060, or 5061 as in reference §9.1), so every
    /// SIPp run for it uses the same one.
    fn at(self, ip: &str) -> Handset {
        let port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .unwrap_or_else(|e| panic!("no free UDP port on {ip}: {e}"))
            .port();
        Handset {
            phone: self,
            addr: SocketAddr::new(ip.parse().unwrap(), port),
        }
    }
}

/// A phone at its address.
#[derive(Clone, Copy)]
struct Handset {
    phone: Phone,
    addr: SocketAddr,
}

/// A running `phoneprov serve` with TFTP and SIP on the loopback.
struct Site {
    tree: Tree,
    config: PathBuf,
    server: Server,
    sip: SocketAddr,
}

impl Site {
    /// The three phones above; `sip_extra` goes into `[sip]`.
    fn start(sip_extra: &str) -> Site {
        Site::start_with(sip_extra, &[])
    }

    /// [`Site::start`] with options for `phoneprov serve`.
    fn start_with(sip_extra: &str, serve: &[&str]) -> Site {
        let tree = Tree::new();
        std::fs::create_dir_all(tree.base().join("firmware")).unwrap();
        let config = tree.base().join("phoneprov.toml");
        let phone = |p: &Phone, model: &str| {
            let authname = if p.authname == p.line {
                String::new()
            } else {
                format!(", authname = \"{}\"", p.authname)
            };
            format!(
                "[[phone]]\nmac = \"{}\"\nmodel = \"{model}\"\n\
                 lines = [{{ name = \"{}\", password = \"{}\"{authname} }}]\n",
                p.mac, p.line, p.password
            )
        };
        std::fs::write(
            &config,
            format!(
                "[server]\naddress = \"127.0.0.1\"\n\
                 [tftp]\nbind = \"127.0.0.1:0\"\n\
                 [sip]\nbind = \"127.0.0.1:0\"\n{sip_extra}\n\
                 {}{}{}",
                phone(&RECEPTION, "7940"),
                phone(&OFFICE, "7960"),
                phone(&STOREROOM, "7940"),
            ),
        )
        .unwrap();
        let server = Server::serve_args(&config, serve);
        let sip = SocketAddr::from(([127, 0, 0, 1], server.sip_port()));
        Site {
            tree,
            config,
            server,
            sip,
        }
    }

    /// `phoneprov --config X ARGS...`, run to its end.
    fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", arg(&self.config)];
        all.extend(args);
        run_binary(&all)
    }

    /// `phoneprov --config X ARGS...` under `timeout 120`: `reboot` waits
    /// for the phones' answers, up to Timer F (64 × T1 = 32 s), longer
    /// than [`run_binary`] allows.
    fn cli_slow(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("120")
            .arg(crate::harness::BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running phoneprov")
    }

    /// What `phoneprov registrations` prints; it must succeed.
    fn registrations(&self) -> String {
        let output = self.cli(&["registrations"]);
        let text = printed(&output);
        assert!(
            output.status.success(),
            "phoneprov registrations failed ({}):\n{text}",
            output.status
        );
        text
    }

    /// The lines `phoneprov registrations` prints about `line`.
    fn registered_rows(&self, line: &str) -> Vec<String> {
        let text = self.registrations();
        text.lines()
            .filter(|l| l.split_whitespace().any(|w| w == line))
            .map(str::to_owned)
            .collect()
    }

    /// Fetches `name` over TFTP with curl, as text.
    fn tftp(&self, name: &str) -> String {
        let out = self.tree.out(name);
        let _ = std::fs::remove_file(&out);
        let output = curl_get(&self.server, "30", &[], name, &out);
        assert!(
            output.status.success(),
            "curl could not fetch {name}:\n{}",
            printed(&output)
        );
        std::fs::read_to_string(&out).unwrap()
    }

    /// The serve lines after `mark` that contain every one of `words`.
    fn lines_with(&self, mark: usize, words: &[&str]) -> Vec<String> {
        self.server
            .lines()
            .into_iter()
            .skip(mark)
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .collect()
    }

    /// Waits for a serve line after `mark` with every one of `words`.
    fn wait_words(&self, mark: usize, words: &[&str]) -> String {
        self.server.wait_line(mark, &words.join(" + "), |l| {
            words.iter().all(|w| l.contains(w))
        })
    }
}

// ---------------------------------------------------------------------------
// SIPp

/// One SIP message of a SIPp message log.
#[derive(Debug, Clone)]
struct Logged {
    sent: bool,
    text: String,
}

impl Logged {
    fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    fn status(&self) -> Option<u16> {
        let line = self.first_line();
        line.strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
    }

    /// The values of header `name` (case-insensitive), in order.
    fn headers(&self, name: &str) -> Vec<String> {
        self.text
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .collect()
    }

    fn header(&self, name: &str) -> String {
        self.headers(name).into_iter().next().unwrap_or_else(|| {
            panic!("no {name} header in:\n{}", self.text);
        })
    }
}

/// What a SIPp run did.
struct Sipp {
    output: Output,
    messages: Vec<Logged>,
    errors: String,
}

impl Sipp {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts the exit code (0 every call passed, 1 one failed, 124 killed
    /// by `timeout`).
    fn expect(&self, code: i32, what: &str) -> &Sipp {
        assert_eq!(
            self.code(),
            Some(code),
            "{what}: sipp exited {} (0 = passed, 1 = failed, 124 = killed by timeout)\n\
             output:\n{}\nerrors:\n{}\nmessages:\n{}",
            self.output.status,
            printed(&self.output),
            self.errors,
            self.show()
        );
        self
    }

    fn received(&self) -> Vec<&Logged> {
        self.messages.iter().filter(|m| !m.sent).collect()
    }

    fn sent(&self) -> Vec<&Logged> {
        self.messages.iter().filter(|m| m.sent).collect()
    }

    /// The received responses with `status`.
    fn responses(&self, status: u16) -> Vec<&Logged> {
        self.received()
            .into_iter()
            .filter(|m| m.status() == Some(status))
            .collect()
    }

    fn response(&self, status: u16) -> &Logged {
        self.responses(status)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {status} received; messages:\n{}", self.show()))
    }

    fn show(&self) -> String {
        self.messages
            .iter()
            .map(|m| {
                format!(
                    "--- {}\n{}",
                    if m.sent { "sent" } else { "received" },
                    m.text
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads SIPp's `-trace_msg` log: blocks that start with a dashed line,
/// then "UDP message sent (N bytes):" or "UDP message received [N] bytes :",
/// then the message.
fn parse_message_log(text: &str) -> Vec<Logged> {
    let mut out = Vec::new();
    let mut current: Option<(bool, Vec<&str>)> = None;
    let mut flush = |current: &mut Option<(bool, Vec<&str>)>| {
        if let Some((sent, lines)) = current.take() {
            let body = lines.join("\n").trim().to_owned();
            if !body.is_empty() {
                out.push(Logged { sent, text: body });
            }
        }
    };
    for line in text.lines() {
        if line.starts_with("----------") {
            flush(&mut current);
            continue;
        }
        if current.is_none() {
            if line.contains("message sent") {
                current = Some((true, Vec::new()));
            } else if line.contains("message received") {
                current = Some((false, Vec::new()));
            }
            continue;
        }
        if let Some((_, lines)) = current.as_mut() {
            lines.push(line.trim_end_matches('\r'));
        }
    }
    flush(&mut current);
    out
}

/// A SIPp command line for one run of `file`, in `dir`: UDP from `from`,
/// the phone's keys and credentials, message and error logs in `dir`.
fn sipp_command(
    dir: &Path,
    file: &str,
    target: Option<SocketAddr>,
    handset: &Handset,
    password: &str,
    expires: &str,
) -> Command {
    let phone = &handset.phone;
    let mut command = Command::new("timeout");
    command.arg("120").arg("sipp");
    if let Some(target) = target {
        command.arg(target.to_string());
    }
    command
        .arg("-sf")
        .arg(scenario(file))
        .args(["-m", "1", "-nostdin", "-bind_local"])
        .args(["-i", &handset.addr.ip().to_string()])
        .args(["-p", &handset.addr.port().to_string()])
        .args(["-recv_timeout", "10000", "-timeout", SIPP_TIMEOUT])
        .args(["-key", "line_name", phone.line])
        .args(["-key", "expires_s", expires])
        .args(["-key", "model_code", phone.model])
        .args(["-key", "mac_hex", &phone.hex().to_lowercase()])
        .args(["-au", phone.authname, "-ap", password])
        .args(["-trace_msg", "-message_file"])
        .arg(dir.join("messages.log"))
        .args(["-trace_err", "-error_file"])
        .arg(dir.join("errors.log"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// SIPp as the phone's side of check-sync (`check-sync-uas.xml`) on the
/// port `phone` registered from, once it listens there.
fn check_sync_uas(dir: &Path, phone: &Handset) -> Child {
    let uas = sipp_command(
        dir,
        "check-sync-uas.xml",
        None,
        phone,
        phone.phone.password,
        "3600",
    )
    .spawn()
    .expect("starting sipp");
    let listening = poll(REPLY_WAIT, Duration::from_millis(20), || {
        UdpSocket::bind(phone.addr).is_err().then_some(())
    });
    assert!(listening.is_some(), "sipp never bound {}", phone.addr);
    uas
}

fn collect(dir: &Path, output: Output) -> Sipp {
    let read = |name| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Sipp {
        output,
        messages: parse_message_log(&read("messages.log")),
        errors: read("errors.log"),
    }
}

/// Runs `file` once as `handset` against `site` and returns what happened.
fn sipp(site: &Site, file: &str, handset: &Handset, password: &str, expires: &str) -> Sipp {
    sipp_with(site, file, handset, password, expires, &[])
}

/// [`sipp`] with more SIPp options.
fn sipp_with(
    site: &Site,
    file: &str,
    handset: &Handset,
    password: &str,
    expires: &str,
    options: &[&str],
) -> Sipp {
    let dir = tempfile::tempdir().unwrap();
    let output = sipp_command(dir.path(), file, Some(site.sip), handset, password, expires)
        .args(options)
        .output()
        .expect("running sipp");
    collect(dir.path(), output)
}

/// `handset` registers its line for `expires` seconds with its password.
fn register(site: &Site, handset: &Handset, expires: &str) -> Sipp {
    let run = sipp(
        site,
        "register.xml",
        handset,
        handset.phone.password,
        expires,
    );
    run.expect(0, "REGISTER with the right password");
    run
}

// ---------------------------------------------------------------------------
// Raw SIP

/// The MD5 of `text` as lower-case hex, by coreutils' md5sum: an
/// independent implementation to check phoneprov's digests against.
fn md5_hex(text: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running md5sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap()[..32].to_owned()
}

/// A parameter of a `Digest a="b", c=d` header value.
fn digest_param(header: &str, name: &str) -> Option<String> {
    let body = header.trim().strip_prefix("Digest")?.trim();
    body.split(',').find_map(|part| {
        let (n, v) = part.trim().split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// A REGISTER as a 7940 writes it, from `from`, for `line` at `server`.
struct RegisterMsg<'a> {
    line: &'a str,
    server: SocketAddr,
    from: SocketAddr,
    branch: &'a str,
    call_id: &'a str,
    cseq: u32,
    expires: u32,
    authorization: Option<String>,
}

impl RegisterMsg<'_> {
    fn uri(&self) -> String {
        format!("sip:{}", self.server)
    }

    fn text(&self) -> String {
        let auth = self
            .authorization
            .as_ref()
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch}\r\n\
             From: <sip:{line}@{ip}>;tag=raw{branch}\r\n\
             To: <sip:{line}@{ip}>\r\n\
             Call-ID: {call_id}\r\n\
             Max-Forwards: 70\r\n\
             CSeq: {cseq} REGISTER\r\n\
             User-Agent: Cisco-CP7940G/8.0\r\n\
             Contact: <sip:{line}@{from}>;+u.sip!model.ccm.cisco.com=\"8\"\r\n\
             {auth}Content-Length: 0\r\n\
             Expires: {expires}\r\n\r\n",
            uri = self.uri(),
            from = self.from,
            branch = self.branch,
            line = self.line,
            ip = self.server.ip(),
            call_id = self.call_id,
            cseq = self.cseq,
            expires = self.expires,
        )
    }
}

/// The text of a SIP datagram.
fn text_of(datagram: &[u8]) -> String {
    String::from_utf8_lossy(datagram).into_owned()
}

/// The status code of a response datagram.
fn status_of(datagram: &[u8]) -> Option<u16> {
    text_of(datagram)
        .strip_prefix("SIP/2.0 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

/// A header of a raw message (first one, case-insensitive).
fn raw_header(text: &str, name: &str) -> Option<String> {
    Logged {
        sent: false,
        text: text.replace("\r\n", "\n"),
    }
    .headers(name)
    .into_iter()
    .next()
}

/// The next response to the request with `branch`, skipping late answers
/// to earlier ones (a slowed source gets them seconds after).
fn response_to(raw: &Raw, branch: &str) -> String {
    let deadline = Instant::now() + REPLY_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (datagram, _) = raw
            .recv_within(left)
            .unwrap_or_else(|| panic!("no response to branch {branch}"));
        let text = text_of(&datagram);
        if text.contains(&format!("branch=z9hG4bK{branch}")) {
            return text;
        }
    }
}

/// The Authorization value answering `challenge` for `method` `uri` as
/// `authname`/`password`; with `qop` the RFC 2617 qop=auth form.
fn authorization(
    challenge: &str,
    authname: &str,
    password: &str,
    uri: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let realm = digest_param(challenge, "realm").expect("realm in the challenge");
    let nonce = digest_param(challenge, "nonce").expect("nonce in the challenge");
    let ha1 = md5_hex(&format!("{authname}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("REGISTER:{uri}"));
    match qop {
        None => {
            let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"{authname}\",realm=\"{realm}\",uri=\"{uri}\",\
                 response=\"{response}\",nonce=\"{nonce}\",algorithm=MD5"
            )
        }
        Some((cnonce, nc)) => {
            let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
            format!(
                "Digest username=\"{authname}\", realm=\"{realm}\", nonce=\"{nonce}\", \
                 uri=\"{uri}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", \
                 response=\"{response}\", algorithm=MD5"
            )
        }
    }
}

// ---------------------------------------------------------------------------
// 1. REGISTER with digest, as the 7940 sends it, and with qop

#[test]
fn a_7940_registers_with_a_digest_without_qop_as_its_firmware_sends_it() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();
    let run = register(&site, &phone, "3600");

    // The challenge: MD5, the server address as realm, and no qop, which
    // is what the 7940 answers best.
    let challenge = run.response(401).header("WWW-Authenticate");
    assert!(challenge.starts_with("Digest "), "{challenge}");
    assert_eq!(
        digest_param(&challenge, "realm").as_deref(),
        Some("127.0.0.1")
    );
    assert!(digest_param(&challenge, "nonce").is_some_and(|n| !n.is_empty()));
    assert!(
        digest_param(&challenge, "qop").is_none(),
        "qop offered by default: {challenge}"
    );
    // SIPp answered it as the phone does: no qop, the Expires header.
    let answer = run.sent()[1].header("Authorization");
    assert!(digest_param(&answer, "qop").is_none(), "{answer}");
    assert_eq!(run.sent()[1].header("Expires"), "3600");

    // The 200 lists the binding with its lifetime, keeps the Cisco
    // parameters and carries a To tag.
    let ok = run.response(200);
    let contact = ok.header("Contact");
    assert_contains(
        &contact,
        &[
            &format!("sip:1001@{}", phone.addr),
            "expires=3600",
            "+u.sip!model.ccm.cisco.com=\"8\"",
        ],
    );
    assert!(ok.header("To").contains("tag="), "{}", ok.text);
    assert_eq!(ok.header("CSeq"), "102 REGISTER");

    let line = site.wait_words(mark, &["SIP registered 1001", &format!("{}", phone.addr)]);
    assert_contains(&line, &["00:18:B9:00:00:01", "3600"]);
    assert!(site.lines_with(mark, &["auth failed"]).is_empty());

    let rows = site.registered_rows("1001");
    assert_eq!(rows.len(), 1, "{}", site.registrations());
    assert_contains(&rows[0], &[&phone.addr.to_string()]);
    assert!(site.registered_rows("1002").is_empty());
}

#[test]
fn qop_auth_is_offered_when_configured_and_sipp_answers_it() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("qop = true");
    let phone = OFFICE.at("127.0.0.1");
    let mark = site.server.mark();
    let run = register(&site, &phone, "3600");

    let challenge = run.response(401).header("WWW-Authenticate");
    assert_eq!(
        digest_param(&challenge, "qop").as_deref(),
        Some("auth"),
        "{challenge}"
    );
    let answer = run.sent()[1].header("Authorization");
    assert_eq!(
        digest_param(&answer, "qop").as_deref(),
        Some("auth"),
        "{answer}"
    );
    assert!(digest_param(&answer, "cnonce").is_some(), "{answer}");
    // The 7960's line authenticates with its own authname.
    assert_eq!(
        digest_param(&answer, "username").as_deref(),
        Some("auth1002")
    );
    site.wait_words(mark, &["SIP registered 1002", "00:18:B9:00:00:02"]);
}

#[test]
fn digests_computed_by_hand_with_and_without_qop_are_accepted() {
    let site = Site::start("");
    let (raw, from) = raw_from("127.0.0.1", site.sip);
    let mark = site.server.mark();

    for (round, qop) in [(1u32, None), (2, Some(("0a4f113b", "00000001")))] {
        let call_id = format!("hand-{round}@127.0.0.1");
        let mut msg = RegisterMsg {
            line: OFFICE.line,
            server: site.sip,
            from,
            branch: &format!("hand{round}a"),
            call_id: &call_id,
            cseq: 1,
            expires: 120,
            authorization: None,
        };
        raw.send(msg.text().as_bytes());
        let challenge = response_to(&raw, &format!("hand{round}a"));
        assert_eq!(status_of(challenge.as_bytes()), Some(401), "{challenge}");
        let www = raw_header(&challenge, "WWW-Authenticate").expect("a challenge");

        let branch = format!("hand{round}b");
        msg.branch = &branch;
        msg.cseq = 2;
        msg.authorization = Some(authorization(
            &www,
            OFFICE.authname,
            OFFICE.password,
            &msg.uri(),
            qop,
        ));
        raw.send(msg.text().as_bytes());
        let ok = response_to(&raw, &branch);
        assert_eq!(
            status_of(ok.as_bytes()),
            Some(200),
            "round {round} (qop {qop:?}):\n{ok}"
        );
        assert_contains(&ok, &["expires=120"]);
    }
    // The second round refreshes the binding the first made.
    site.wait_words(
        mark,
        &["SIP registered 1002", &from.to_string(), "(expires 120 s)"],
    );
    site.wait_words(mark, &["SIP re-registered 1002", &from.to_string()]);
    assert_eq!(site.lines_with(mark, &["registered 1002"]).len(), 2);
}

/// A raw SIP client bound to `ip`, and the address it sends from.
fn raw_from(ip: &str, server: SocketAddr) -> (Raw, SocketAddr) {
    let socket = UdpSocket::bind((ip, 0)).expect("client socket");
    let local = socket.local_addr().unwrap();
    (Raw::on(socket, server), local)
}

// ---------------------------------------------------------------------------
// 2. Wrong passwords, and a lockout that stays with its source

#[test]
fn a_wrong_password_is_refused_with_its_cause_and_the_lockout_stays_with_its_source() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();

    // SIPp expects 200 after its digest and gets a second 401: exit 1.
    let run = sipp(&site, "register.xml", &phone, "wrong", "3600");
    run.expect(1, "REGISTER with a wrong password");
    // (SIPp may log the second 401 twice: once received, once again when
    // it aborts the call on it.)
    assert!(run.responses(401).len() >= 2, "{}", run.show());
    assert!(run.responses(200).is_empty(), "{}", run.show());
    assert_contains(&run.errors, &["401"]);
    let line = site.wait_words(
        mark,
        &["SIP auth failed for line 1001", &phone.addr.to_string()],
    );
    assert_contains(
        &line,
        &["00:18:B9:00:00:01", "(authname 1001)", "wrong password"],
    );
    assert!(site.registered_rows("1001").is_empty());

    // Nine more wrong digests from the same address (another port): ten
    // in all lock 127.0.0.1 out. They are sent at once; the slowed answers
    // are not waited for.
    let (raw, from) = raw_from("127.0.0.1", site.sip);
    let mut msg = RegisterMsg {
        line: RECEPTION.line,
        server: site.sip,
        from,
        branch: "lock0",
        call_id: "lock@127.0.0.1",
        cseq: 1,
        expires: 3600,
        authorization: None,
    };
    raw.send(msg.text().as_bytes());
    let challenge = response_to(&raw, "lock0");
    let www = raw_header(&challenge, "WWW-Authenticate").expect("a challenge");
    let uri = msg.uri();
    let branches: Vec<String> = (1..=9).map(|i| format!("lock{i}")).collect();
    for (i, branch) in (1u32..).zip(&branches) {
        msg.branch = branch;
        msg.cseq = i + 1;
        msg.authorization = Some(authorization(
            &www,
            RECEPTION.authname,
            &format!("guess{i}"),
            &uri,
            None,
        ));
        raw.send(msg.text().as_bytes());
    }
    site.server
        .wait_count(mark, "SIP auth failed for line 1001", 10);
    site.wait_words(
        mark,
        &["SIP 127.0.0.1 locked out", "other phones are not affected"],
    );

    // The locked address gets nothing back now, even with the right
    // password's challenge request...
    let (late, late_from) = raw_from("127.0.0.1", site.sip);
    let probe = RegisterMsg {
        line: RECEPTION.line,
        server: site.sip,
        from: late_from,
        branch: "locked-out",
        call_id: "locked-out@127.0.0.1",
        cseq: 1,
        expires: 3600,
        authorization: None,
    };
    late.send(probe.text().as_bytes());
    late.expect_silence("a REGISTER from the locked-out address");

    // ...while the same phone at another address registers at once.
    let elsewhere = RECEPTION.at("127.0.0.2");
    let mark = site.server.mark();
    register(&site, &elsewhere, "3600");
    site.wait_words(mark, &["SIP registered 1001", &elsewhere.addr.to_string()]);
    let rows = site.registered_rows("1001");
    assert_eq!(rows.len(), 1, "{}", site.registrations());
    assert_contains(&rows[0], &["127.0.0.2"]);
}

// ---------------------------------------------------------------------------
// 3. Lifetimes: too brief, refresh, unregister, expiry; OPTIONS

#[test]
fn a_registration_is_refused_when_too_brief_refreshed_and_removed_by_expires_0() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();

    let brief = sipp(
        &site,
        "register-too-brief.xml",
        &phone,
        RECEPTION.password,
        "30",
    );
    brief.expect(0, "REGISTER for 30 s");
    assert_eq!(brief.response(423).header("Min-Expires"), "60");
    assert!(site.registered_rows("1001").is_empty());

    // 60 s, the minimum, then a refresh in the same Call-ID.
    let refresh = sipp(
        &site,
        "register-refresh.xml",
        &phone,
        RECEPTION.password,
        "60",
    );
    refresh.expect(0, "REGISTER then refresh, 60 s");
    let oks = refresh.responses(200);
    assert_eq!(oks.len(), 2, "{}", refresh.show());
    for ok in &oks {
        assert_contains(&ok.header("Contact"), &["expires=60"]);
    }
    // One challenge only: the refresh reused the nonce it held.
    assert_eq!(refresh.responses(401).len(), 1, "{}", refresh.show());
    site.wait_words(mark, &["SIP registered 1001", "(expires 60 s)"]);
    site.wait_words(mark, &["SIP re-registered 1001", "(expires 60 s)"]);
    let rows = site.registered_rows("1001");
    assert_eq!(
        rows.len(),
        1,
        "one binding, refreshed:\n{}",
        site.registrations()
    );
    assert_contains(&rows[0], &[&phone.addr.to_string()]);

    // Expires: 0 from the same contact removes it.
    let mark = site.server.mark();
    let gone = sipp(&site, "register.xml", &phone, RECEPTION.password, "0");
    gone.expect(0, "REGISTER with Expires: 0");
    assert!(
        gone.response(200).headers("Contact").is_empty(),
        "no binding is left to list:\n{}",
        gone.show()
    );
    site.wait_words(mark, &["SIP unregistered 1001"]);
    assert!(
        site.registered_rows("1001").is_empty(),
        "still listed:\n{}",
        site.registrations()
    );

    let options = sipp(&site, "options.xml", &phone, "", "0");
    options.expect(0, "OPTIONS");
    let allow = options.response(200).header("Allow");
    assert_contains(&allow, &["REGISTER", "INVITE", "OPTIONS"]);
}

#[test]
fn a_registration_that_is_not_refreshed_expires() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    let phone = OFFICE.at("127.0.0.1");
    let mark = site.server.mark();
    register(&site, &phone, "60");
    site.wait_words(mark, &["SIP registered 1002"]);
    assert_eq!(site.registered_rows("1002").len(), 1);

    // The minimum lifetime is 60 s: wait (bounded) for the expiry line.
    let expired = poll(Duration::from_secs(150), Duration::from_millis(250), || {
        site.lines_with(mark, &["SIP unregistered 1002"])
            .into_iter()
            .next()
    })
    .unwrap_or_else(|| {
        panic!(
            "no expiry within 150 s; stdout:\n{}",
            site.server.lines().join("\n")
        )
    });
    assert_contains(&expired, &["00:18:B9:00:00:02", "not refreshed in time"]);
    assert!(site.registered_rows("1002").is_empty());
}

// ---------------------------------------------------------------------------
// 4. Retransmissions

#[test]
fn a_retransmitted_register_is_answered_again_and_registers_once() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();
    // -nr: see the scenario; SIPp must not take the second 200 for a
    // retransmission of the first.
    let run = sipp_with(
        &site,
        "register-retransmit.xml",
        &phone,
        RECEPTION.password,
        "3600",
        &["-nr"],
    );
    run.expect(0, "a REGISTER sent twice");
    let sent = run.sent();
    assert_eq!(
        sent[1].header("Via"),
        sent[2].header("Via"),
        "the copy must carry the same branch"
    );
    let oks = run.responses(200);
    assert_eq!(oks.len(), 2, "{}", run.show());
    assert_eq!(oks[0].text, oks[1].text, "the same 200 both times");

    // Events are printed in order: once another phone's registration is
    // printed, a second one for 1001 would have been too.
    let other = OFFICE.at("127.0.0.1");
    register(&site, &other, "3600");
    site.wait_words(mark, &["SIP registered 1002"]);
    assert_eq!(
        site.lines_with(mark, &["SIP registered 1001"]).len(),
        1,
        "{}",
        site.server.lines().join("\n")
    );
}

#[test]
fn a_retransmitted_request_gets_the_byte_identical_response() {
    let site = Site::start("");
    let (raw, from) = raw_from("127.0.0.1", site.sip);
    let msg = RegisterMsg {
        line: RECEPTION.line,
        server: site.sip,
        from,
        branch: "same",
        call_id: "same@127.0.0.1",
        cseq: 1,
        expires: 3600,
        authorization: None,
    };
    raw.send(msg.text().as_bytes());
    let first = response_to(&raw, "same");
    raw.send(msg.text().as_bytes());
    let second = response_to(&raw, "same");
    assert_eq!(status_of(first.as_bytes()), Some(401));
    assert_eq!(first, second, "the challenge is replayed, not made again");

    let options = format!(
        "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKopt\r\n\
         From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:{server}>\r\nCall-ID: opt@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        server = site.sip
    );
    raw.send(options.as_bytes());
    let first = response_to(&raw, "opt");
    raw.send(options.as_bytes());
    let second = response_to(&raw, "opt");
    assert_eq!(status_of(first.as_bytes()), Some(200));
    assert_eq!(first, second);
}

// ---------------------------------------------------------------------------
// 5. phoneprov reboot: check-sync NOTIFY, and a sync that reboots once

/// The `sync` value of a SIP config file (`sync: "3"` or `sync: 3`).
fn sync_of(cnf: &str) -> Option<String> {
    cnf.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        (name.trim() == "sync").then(|| {
            let value = value.split('#').next().unwrap_or("").trim();
            value.trim_matches('"').to_owned()
        })
    })
}

/// The SYNC of syncinfo.xml's `<IMAGE VERSION="*" .../>`.
fn syncinfo_sync(xml: &str) -> String {
    let image = xml
        .split("<IMAGE")
        .nth(1)
        .unwrap_or_else(|| panic!("no IMAGE in syncinfo.xml:\n{xml}"));
    image
        .split("SYNC=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no SYNC in syncinfo.xml:\n{xml}"))
        .to_owned()
}

/// The sync value a phone runs with: its SIP<MAC>.cnf's, else
/// SIPDefault.cnf's, else the firmware's default "1" (reference §9.2).
fn phone_sync(site: &Site, phone: &Phone) -> String {
    let own = site.tftp(&format!("SIP{}.cnf", phone.hex()));
    sync_of(&own)
        .or_else(|| sync_of(&site.tftp("SIPDefault.cnf")))
        .unwrap_or_else(|| "1".to_owned())
}

#[test]
fn reboot_sends_check_sync_to_the_registered_contact_and_the_phone_reboots_once() {
    if !require("sipp") || !require("curl") {
        return;
    }
    let site = Site::start("");
    let before = phone_sync(&site, &RECEPTION);
    let syncinfo_before = syncinfo_sync(&site.tftp("syncinfo.xml"));

    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();
    register(&site, &phone, "3600");
    site.wait_words(mark, &["SIP registered 1001"]);

    // The phone listens on the port it registered from.
    let dir = tempfile::tempdir().unwrap();
    let uas = check_sync_uas(dir.path(), &phone);

    let mark = site.server.mark();
    let reboot = site.cli_slow(&["reboot", RECEPTION.mac]);
    let said = printed(&reboot);
    assert!(
        reboot.status.success(),
        "phoneprov reboot failed ({}):\n{said}",
        reboot.status
    );
    assert_contains(&said, &["00:18:B9:00:00:01", "line 1001: answered 200"]);

    let run = collect(dir.path(), uas.wait_with_output().unwrap());
    run.expect(0, "the phone's side of check-sync");
    let notify = run.received()[0];
    assert_eq!(
        notify.first_line(),
        format!("NOTIFY sip:1001@{} SIP/2.0", phone.addr),
        "{}",
        notify.text
    );
    assert_eq!(notify.header("Event"), "check-sync");
    assert_contains(&notify.header("To"), &[&format!("sip:1001@{}", phone.addr)]);
    assert!(
        notify.header("CSeq").ends_with(" NOTIFY"),
        "{}",
        notify.text
    );
    assert_eq!(notify.header("Content-Length"), "0");
    let via = notify.header("Via");
    assert_contains(
        &via,
        &[&format!("SIP/2.0/UDP {}", site.sip), "branch=z9hG4bK"],
    );
    assert!(notify.header("From").contains("tag="), "{}", notify.text);
    assert!(!notify.header("Call-ID").is_empty());
    assert_eq!(notify.header("Max-Forwards"), "70");
    // sipp answered it, and serve says so.
    assert_eq!(run.sent()[0].status(), Some(200));
    site.wait_words(
        mark,
        &[
            "00:18:B9:00:00:01",
            "SIP check-sync answered 200 on line 1001",
        ],
    );

    // The phone then fetches syncinfo.xml: its SYNC differs from the sync
    // it runs with, so it reboots; the config it reads on the way up
    // carries the new value, so the next check-sync does not reboot it
    // again.
    let syncinfo_after = syncinfo_sync(&site.tftp("syncinfo.xml"));
    assert_ne!(
        syncinfo_after, before,
        "syncinfo.xml's SYNC equals the phone's sync: it would not reboot"
    );
    assert_ne!(syncinfo_after, syncinfo_before);
    assert_contains(
        &said,
        &[&format!("syncinfo.xml now says SYNC {syncinfo_after}")],
    );
    let after = phone_sync(&site, &RECEPTION);
    assert_eq!(
        after, syncinfo_after,
        "the regenerated config must carry the new SYNC, or the phone reboots in a loop"
    );
    assert!(after.len() <= 32, "sync is at most 32 characters: {after}");
}

#[test]
fn reboot_of_a_phone_that_is_not_registered_says_so() {
    let site = Site::start("");
    let reboot = site.cli(&["reboot", STOREROOM.mac]);
    let said = printed(&reboot);
    assert!(
        !reboot.status.success(),
        "a reboot that reached no phone must fail:\n{said}"
    );
    assert_contains(&said, &["not registered"]);
}

#[test]
fn reboot_of_a_phone_that_does_not_answer_fails_after_timer_f() {
    if !require("sipp") {
        return;
    }
    let site = Site::start("");
    // Registered, then gone: SIPp exits and nothing listens on its port.
    let phone = RECEPTION.at("127.0.0.1");
    register(&site, &phone, "3600");
    let mark = site.server.mark();
    let reboot = site.cli_slow(&["reboot", "--all"]);
    let said = printed(&reboot);
    assert!(
        !reboot.status.success(),
        "no phone answered, yet reboot succeeded:\n{said}"
    );
    assert_contains(&said, &["00:18:B9:00:00:01", "line 1001: no answer"]);
    site.wait_words(
        mark,
        &[
            "00:18:B9:00:00:01",
            "SIP check-sync to line 1001 got no answer",
        ],
    );
}

#[test]
fn a_changed_password_in_phoneprov_toml_reboots_the_registered_phone_with_apply_on_change() {
    if !require("sipp") || !require("curl") {
        return;
    }
    let site = Site::start_with("", &["--apply-on-change"]);
    let cnf = format!("SIP{}.cnf", RECEPTION.hex());
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();
    register(&site, &phone, "3600");
    site.wait_words(mark, &["SIP registered 1001"]);
    let before = phone_sync(&site, &RECEPTION);

    // The phone listens for the NOTIFY on the port it registered from.
    let dir = tempfile::tempdir().unwrap();
    let uas = check_sync_uas(dir.path(), &phone);

    // The operator changes the line's password (a longer one, so the
    // file's size changes too).
    let new_password = "a-much-longer-secret";
    let text = std::fs::read_to_string(&site.config).unwrap();
    let edited = text.replace(
        &format!("password = \"{}\"", RECEPTION.password),
        &format!("password = \"{new_password}\""),
    );
    assert_ne!(text, edited);
    let mark = site.server.mark();
    std::fs::write(&site.config, edited).unwrap();
    site.wait_words(mark, &["reloaded", "files changed for 00:18:B9:00:00:01"]);
    site.wait_words(mark, &["00:18:B9:00:00:01", "check-sync sent to line 1001"]);
    let run = collect(dir.path(), uas.wait_with_output().unwrap());
    run.expect(0, "the phone's side of check-sync after the change");
    assert_eq!(run.received()[0].header("Event"), "check-sync");

    // It reboots (a new SYNC) into a config with the new password and that
    // SYNC, so it does not reboot again.
    let syncinfo = syncinfo_sync(&site.tftp("syncinfo.xml"));
    assert_ne!(syncinfo, before);
    let own = site.tftp(&cnf);
    assert_contains(&own, &[&format!("line1_password: \"{new_password}\"")]);
    assert_eq!(phone_sync(&site, &RECEPTION), syncinfo);

    // The registrar took the new password at once: the old one fails
    // with its cause, the new one registers.
    let mark = site.server.mark();
    let stale = sipp(&site, "register.xml", &phone, RECEPTION.password, "3600");
    stale.expect(1, "REGISTER with the old password");
    site.wait_words(mark, &["SIP auth failed for line 1001", "wrong password"]);
    let fresh = sipp(&site, "register.xml", &phone, new_password, "3600");
    fresh.expect(0, "REGISTER with the new password");
    site.wait_words(mark, &["registered 1001"]);
}

/// An INVITE from `from` to `number` at `server`, or its ACK.
fn invite(server: SocketAddr, from: SocketAddr, number: &str, method: &str) -> String {
    format!(
        "{method} sip:{number}@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bKinv{number}\r\n\
         From: <sip:1001@127.0.0.1>;tag=caller{number}\r\n\
         To: <sip:{number}@127.0.0.1>\r\n\
         Call-ID: call-{number}@127.0.0.1\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         Contact: <sip:1001@{from}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_refused_call_is_answered_with_a_to_tag_and_its_ack_is_not_answered() {
    let site = Site::start("");
    let (raw, from) = raw_from("127.0.0.1", site.sip);
    for (number, status) in [("9999", 404), ("1003", 480)] {
        raw.send(invite(site.sip, from, number, "INVITE").as_bytes());
        let answer = response_to(&raw, &format!("inv{number}"));
        assert_eq!(status_of(answer.as_bytes()), Some(status), "{answer}");
        // RFC 3261 §8.2.6.2: a final response the proxy makes itself, as a
        // UAS, carries a To tag, so the caller's ACK matches it.
        let to = raw_header(&answer, "To").expect("a To header");
        assert!(to.contains(";tag="), "{status} without a To tag:\n{answer}");
        // The ACK for a non-2xx answer is never answered (§17.1.1.3).
        raw.send(invite(site.sip, from, number, "ACK").as_bytes());
        raw.expect_silence(&format!("the ACK for {status}"));
    }
}

// ---------------------------------------------------------------------------
// 6. baresip: two phones call each other through phoneprov's proxy

/// A TCP port free now, for baresip's control socket.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// 30 s of 8 kHz mono silence: a call's audio source that lasts longer
/// than the call (aufile ends the call at the end of its file).
fn silence_wav(path: &Path) {
    let samples: u32 = 8000 * 30;
    let data = samples * 2;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data.to_le_bytes());
    wav.resize(wav.len() + data as usize, 0);
    std::fs::write(path, wav).unwrap();
}

/// A headless baresip with one account on phoneprov, auto-answering, its
/// audio from a silent file to /dev/null, driven through ctrl_tcp.
struct Baresip {
    child: Child,
    _dir: tempfile::TempDir,
    out: Arc<Mutex<String>>,
    ctrl: TcpStream,
    /// Control-socket bytes read but not yet taken as netstrings.
    pending: Vec<u8>,
    /// Every event seen, as JSON text.
    events: Vec<String>,
    line: &'static str,
}

impl Baresip {
    fn start(site: &Site, phone: &Phone) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("silence.wav");
        silence_wav(&wav);
        let ctrl_port = free_tcp_port();
        std::fs::write(
            dir.path().join("config"),
            format!(
                "poll_method epoll\n\
                 sip_listen 127.0.0.1:0\n\
                 sip_trans_def udp\n\
                 net_interface 127.0.0.1\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\n\
                 module aufile.so\n\
                 module_app account.so\n\
                 module_app menu.so\n\
                 module_app ctrl_tcp.so\n\
                 ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
                 audio_player aufile,/dev/null\n\
                 audio_source aufile,{}\n\
                 audio_alert aufile,/dev/null\n\
                 rtp_ports 30000-30999\n",
                wav.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{line}@{server}>;auth_user={authname};auth_pass={password};\
                 regint=600;answermode=auto\n",
                line = phone.line,
                server = site.sip,
                authname = phone.authname,
                password = phone.password,
            ),
        )
        .unwrap();
        // Not under `timeout`: killing `timeout` leaves baresip running (and
        // one SIGTERM only starts its unregistering). baresip's own -t
        // bounds it, and Drop kills it by its own pid.
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-t", "120"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting baresip");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let ctrl = poll(REPLY_WAIT, Duration::from_millis(50), || {
            TcpStream::connect(("127.0.0.1", ctrl_port)).ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "baresip's ctrl_tcp never listened; it printed:\n{}",
                out.lock().unwrap()
            )
        });
        ctrl.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Baresip {
            child,
            _dir: dir,
            out,
            ctrl,
            pending: Vec::new(),
            events: Vec::new(),
            line: phone.line,
        }
    }

    fn printed(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits (bounded) until baresip prints its registration's 200 OK.
    fn wait_registered(&self) {
        let wanted = format!("{}@127.0.0.1", self.line);
        let ok = poll(REPLY_WAIT, Duration::from_millis(50), || {
            let text = self.printed();
            text.lines()
                .any(|l| l.contains(&wanted) && l.contains("200 OK"))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "baresip {} did not register; it printed:\n{}",
            self.line,
            self.printed()
        );
    }

    fn command(&mut self, command: &str, params: &str) {
        let json = format!(
            "{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"{command}\"}}"
        );
        let frame = format!("{}:{json},", json.len());
        self.ctrl.write_all(frame.as_bytes()).unwrap();
    }

    /// Reads netstrings until an event of `kind` whose text contains every
    /// one of `words` arrives (bounded); returns it.
    fn wait_event(&mut self, kind: &str, words: &[&str]) -> String {
        let wanted = format!("\"type\":\"{kind}\"");
        let matches = |e: &String| e.contains(&wanted) && words.iter().all(|w| e.contains(w));
        if let Some(found) = self.events.iter().find(|e| matches(e)) {
            return found.clone();
        }
        let deadline = Instant::now() + REPLY_WAIT;
        loop {
            while let Some(message) = self.take_netstring() {
                let found = matches(&message);
                self.events.push(message.clone());
                if found {
                    return message;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "baresip {}: no {kind} event with {words:?}; events:\n{}\nprinted:\n{}",
                    self.line,
                    self.events.join("\n"),
                    self.printed()
                );
            }
            let mut buf = [0u8; 8192];
            match self.ctrl.read(&mut buf) {
                Ok(0) => panic!("baresip {} closed its control socket", self.line),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("reading baresip's control socket: {e}"),
            }
        }
    }

    /// The next complete `LEN:DATA,` netstring, if one is buffered.
    fn take_netstring(&mut self) -> Option<String> {
        let colon = self.pending.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&self.pending[..colon])
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if self.pending.len() < colon + 1 + len + 1 {
            return None;
        }
        let data = String::from_utf8_lossy(&self.pending[colon + 1..colon + 1 + len]).into_owned();
        self.pending.drain(..colon + 1 + len + 1);
        Some(data)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn baresip_phones_register_and_call_each_other_through_phoneprov() {
    if !require("baresip") {
        return;
    }
    let site = Site::start("");
    let mark = site.server.mark();
    let mut caller = Baresip::start(&site, &RECEPTION);
    let mut callee = Baresip::start(&site, &OFFICE);
    caller.wait_registered();
    callee.wait_registered();
    site.wait_words(mark, &["SIP registered 1001", "00:18:B9:00:00:01"]);
    site.wait_words(mark, &["SIP registered 1002", "00:18:B9:00:00:02"]);
    let rows = site.registrations();
    assert_contains(&rows, &["1001", "1002"]);

    // 1001 dials 1002 at phoneprov; the proxy forwards the INVITE to
    // 1002's contact, the callee answers on its own, media flows phone to
    // phone.
    let mark = site.server.mark();
    caller.command("dial", &format!("sip:1002@{}", site.sip));
    caller.wait_event("CALL_ESTABLISHED", &["\"direction\":\"outgoing\""]);
    callee.wait_event(
        "CALL_ESTABLISHED",
        &["\"direction\":\"incoming\"", "sip:1001@"],
    );
    site.wait_words(
        mark,
        &["00:18:B9:00:00:02", "SIP INVITE 1001 -> 1002 routed"],
    );

    caller.command("hangup", "");
    caller.wait_event("CALL_CLOSED", &[]);
    callee.wait_event("CALL_CLOSED", &[]);

    // An unknown number: 404. A listed line nobody registered: 480.
    caller.command("dial", &format!("sip:9999@{}", site.sip));
    caller.wait_event("CALL_CLOSED", &["404"]);
    caller.command("dial", &format!("sip:1003@{}", site.sip));
    caller.wait_event("CALL_CLOSED", &["480"]);
    site.wait_words(
        mark,
        &["SIP INVITE to 9999 refused with 404", "no such line"],
    );
    site.wait_words(
        mark,
        &[
            "00:18:B9:00:00:03",
            "SIP INVITE to 1003 refused with 480",
            "not registered",
        ],
    );
}

// ---------------------------------------------------------------------------
// 7. Malformed and hostile messages

/// A well-formed REGISTER head from `from`, for the corpus to break.
fn head(server: SocketAddr, from: SocketAddr, branch: &str) -> String {
    format!(
        "REGISTER sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch}\r\n\
         From: <sip:1001@127.0.0.1>;tag=h{branch}\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: {branch}@hostile\r\n\
         CSeq: 1 REGISTER\r\n\
         Max-Forwards: 70\r\n\
         Contact: <sip:1001@{from}>\r\n"
    )
}

/// Malformed and hostile datagrams: framing, sizes, missing and repeated
/// headers, numbers out of range, digest tricks, responses nobody asked
/// for, calls aimed back at the proxy, binary junk.
fn hostile_corpus(server: SocketAddr, from: SocketAddr, nonce: &str) -> Vec<(String, Vec<u8>)> {
    let h = |b: &str| head(server, from, b);
    let end = "Content-Length: 0\r\n\r\n";
    let auth = |b: &str, value: &str| format!("{}Authorization: {value}\r\n{end}", h(b));
    let digest = |extra: &str| {
        format!(
            "Digest username=\"1001\",realm=\"127.0.0.1\",nonce=\"{nonce}\",\
             uri=\"sip:{server}\",response=\"00000000000000000000000000000000\"{extra}"
        )
    };
    let mut corpus: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("keep-alive CRLF".into(), b"\r\n\r\n".to_vec()),
        ("one NUL".into(), vec![0]),
        ("all 0xff".into(), vec![0xff; 1400]),
        (
            "binary junk".into(),
            crate::harness::random_bytes(1400, "sip-junk"),
        ),
        (
            "request line only".into(),
            format!("REGISTER sip:{server} SIP/2.0\r\n").into_bytes(),
        ),
        ("no blank line".into(), h("noend").into_bytes()),
        (
            "LF only".into(),
            format!("{}{end}", h("lf"))
                .replace("\r\n", "\n")
                .into_bytes(),
        ),
        (
            "missing Via".into(),
            format!("{}{end}", h("novia"))
                .lines()
                .filter(|l| !l.starts_with("Via"))
                .map(|l| format!("{l}\r\n"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "garbage Via".into(),
            format!("{}{end}", h("badvia"))
                .replace("SIP/2.0/UDP", "SIP/9.9/QUIC ::::")
                .into_bytes(),
        ),
        (
            "Via to an unresolvable host".into(),
            format!("{}{end}", h("hostvia"))
                .replace(&from.to_string(), "nowhere.invalid:5060")
                .into_bytes(),
        ),
        (
            "Via to port 0".into(),
            format!("{}{end}", h("port0"))
                .replace(&from.to_string(), "127.0.0.1:0")
                .into_bytes(),
        ),
        (
            "no Call-ID".into(),
            h("nocid")
                .replace("Call-ID: nocid@hostile\r\n", "")
                .into_bytes(),
        ),
        (
            "CSeq method mismatch".into(),
            format!("{}{end}", h("cseq"))
                .replace("1 REGISTER", "1 INVITE")
                .into_bytes(),
        ),
        (
            "CSeq beyond 2^32".into(),
            format!("{}{end}", h("cseqbig"))
                .replace("CSeq: 1 ", "CSeq: 99999999999999999999 ")
                .into_bytes(),
        ),
        (
            "negative Content-Length".into(),
            format!("{}Content-Length: -1\r\n\r\n", h("clneg")).into_bytes(),
        ),
        (
            "Content-Length beyond the datagram".into(),
            format!("{}Content-Length: 99999\r\n\r\nshort", h("cllong")).into_bytes(),
        ),
        (
            "Content-Length not a number".into(),
            format!("{}Content-Length: ten\r\n\r\n", h("clnan")).into_bytes(),
        ),
        (
            "two Content-Lengths".into(),
            format!(
                "{}Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
                h("cl2")
            )
            .into_bytes(),
        ),
        (
            "a 60 000-byte header".into(),
            format!("{}X-Huge: {}\r\n{end}", h("huge"), "A".repeat(60_000)).into_bytes(),
        ),
        (
            "5000 headers".into(),
            format!("{}{}{end}", h("many"), "X-H: y\r\n".repeat(5000)).into_bytes(),
        ),
        (
            "a 30 000-byte Request-URI".into(),
            format!("{}{end}", h("longuri"))
                .replacen(
                    &format!("sip:{server}"),
                    &format!("sip:{}@{server}", "9".repeat(30_000)),
                    1,
                )
                .into_bytes(),
        ),
        (
            "folded header".into(),
            format!("{}X-Folded: a\r\n b\r\n\tc\r\n{end}", h("fold")).into_bytes(),
        ),
        (
            "SIP/3.0".into(),
            format!("{}{end}", h("v3"))
                .replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1)
                .into_bytes(),
        ),
        (
            "not UTF-8 in a header".into(),
            [
                h("utf").as_bytes(),
                b"User-Agent: \xc3\x28\xff\xfe\r\n",
                end.as_bytes(),
            ]
            .concat(),
        ),
        (
            "Contact * with a lifetime".into(),
            format!("{}{end}", h("star"))
                .replace(
                    &format!("Contact: <sip:1001@{from}>"),
                    "Contact: *\r\nExpires: 3600",
                )
                .into_bytes(),
        ),
        (
            "Expires beyond u32".into(),
            format!("{}Expires: 99999999999999\r\n{end}", h("expbig")).into_bytes(),
        ),
        (
            "Max-Forwards 0 INVITE".into(),
            format!("{}{end}", h("mf0"))
                .replace("REGISTER sip:", "INVITE sip:1002@")
                .replace("1 REGISTER", "1 INVITE")
                .replace("Max-Forwards: 70", "Max-Forwards: 0")
                .into_bytes(),
        ),
        (
            "INVITE already through this proxy (loop)".into(),
            format!("{}{end}", h("loop"))
                .replace("REGISTER sip:", "INVITE sip:1001@")
                .replace("1 REGISTER", "1 INVITE")
                .replacen(
                    "Via: ",
                    &format!("Via: SIP/2.0/UDP {server};branch=z9hG4bKloopx\r\nVia: "),
                    1,
                )
                .into_bytes(),
        ),
        (
            "a response nobody asked for".into(),
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {server};branch=z9hG4bKnobody\r\n\
                 From: <sip:phoneprov@127.0.0.1>;tag=x\r\nTo: <sip:1001@127.0.0.1>;tag=y\r\n\
                 Call-ID: nobody\r\nCSeq: 1 NOTIFY\r\n{end}"
            )
            .into_bytes(),
        ),
        (
            "a response with a Via to elsewhere".into(),
            format!(
                "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP {server};branch=z9hG4bKfwd\r\n\
                 Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKvictim\r\n\
                 From: <sip:a@127.0.0.1>;tag=x\r\nTo: <sip:b@127.0.0.1>;tag=y\r\n\
                 Call-ID: fwd\r\nCSeq: 1 INVITE\r\n{end}"
            )
            .into_bytes(),
        ),
        (
            "Basic credentials".into(),
            auth("basic", "Basic MTAwMTpzZWNyZXQ=").into_bytes(),
        ),
        (
            "Digest with nothing".into(),
            auth("dnone", "Digest").into_bytes(),
        ),
        (
            "Digest without a nonce".into(),
            auth(
                "dnononce",
                &format!(
                    "Digest username=\"1001\",realm=\"127.0.0.1\",uri=\"sip:{server}\",\
                     response=\"00000000000000000000000000000000\""
                ),
            )
            .into_bytes(),
        ),
        (
            "Digest with a forged nonce".into(),
            auth(
                "dforged",
                &digest("").replace(nonce, "AAAAAAAAAAAAAAAAAAAAAAAA"),
            )
            .into_bytes(),
        ),
        (
            "Digest with an escaped quote in the user".into(),
            auth(
                "dquote",
                &digest("").replace("username=\"1001\"", "username=\"1001\\\",realm=\\\"x\""),
            )
            .into_bytes(),
        ),
        (
            "Digest with an unterminated quote".into(),
            auth(
                "dunterm",
                &format!("Digest username=\"1001,nonce=\"{nonce}"),
            )
            .into_bytes(),
        ),
        (
            "Digest with two usernames".into(),
            auth("d2user", &digest(",username=\"1002\"")).into_bytes(),
        ),
        (
            "Digest MD5-sess".into(),
            auth("dsess", &digest(",algorithm=MD5-sess")).into_bytes(),
        ),
        (
            "Digest SHA-256".into(),
            auth("dsha", &digest(",algorithm=SHA-256")).into_bytes(),
        ),
        (
            "Digest qop=auth without nc or cnonce".into(),
            auth("dqop", &digest(",qop=auth")).into_bytes(),
        ),
        (
            "Digest qop=auth-int".into(),
            auth("dqopint", &digest(",qop=auth-int,nc=00000001,cnonce=\"x\"")).into_bytes(),
        ),
        (
            "Digest with an 8000-byte nonce".into(),
            auth("dlong", &digest("").replace(nonce, &"n".repeat(8000))).into_bytes(),
        ),
        (
            "Digest with a non-hex response".into(),
            auth(
                "dnonhex",
                &digest("").replace("00000000000000000000000000000000", "zz"),
            )
            .into_bytes(),
        ),
        (
            "Digest for another realm".into(),
            auth(
                "drealm",
                &digest("").replace("realm=\"127.0.0.1\"", "realm=\"evil\""),
            )
            .into_bytes(),
        ),
        (
            "Digest with a uri of another request".into(),
            auth(
                "duri",
                &digest("").replace(&format!("uri=\"sip:{server}\""), "uri=\"sip:evil\""),
            )
            .into_bytes(),
        ),
        (
            "Digest with an empty username".into(),
            auth(
                "dempty",
                &digest("").replace("username=\"1001\"", "username=\"\""),
            )
            .into_bytes(),
        ),
    ];
    // Headers that fill the datagram to the largest UDP payload.
    let mut max = format!("{}X-Fill: ", h("max")).into_bytes();
    max.resize(65_507 - 4, b'F');
    max.extend_from_slice(b"\r\n\r\n");
    corpus.push(("a 65 507-byte datagram".into(), max));
    corpus
}

#[test]
fn malformed_and_hostile_messages_neither_crash_nor_register_anything() {
    if !require("sipp") {
        return;
    }
    let mut site = Site::start("");
    // The corpus comes from 127.0.0.3, so the wrong digests in it count
    // against that address only.
    let (raw, from) = raw_from("127.0.0.3", site.sip);
    let fresh = RegisterMsg {
        line: RECEPTION.line,
        server: site.sip,
        from,
        branch: "nonce",
        call_id: "nonce@hostile",
        cseq: 1,
        expires: 3600,
        authorization: None,
    };
    raw.send(fresh.text().as_bytes());
    let challenge = response_to(&raw, "nonce");
    let nonce = raw_header(&challenge, "WWW-Authenticate")
        .and_then(|w| digest_param(&w, "nonce"))
        .expect("a nonce");

    let corpus = hostile_corpus(site.sip, from, &nonce);
    for (what, datagram) in &corpus {
        raw.send(datagram);
        // Whatever comes back is a SIP response, never a 2xx to a
        // hostile request.
        while let Some((reply, _)) = raw.recv_within(Duration::from_millis(100)) {
            let status = status_of(&reply);
            assert!(
                status.is_some_and(|s| !(200..300).contains(&s)),
                "{what}: answered {}",
                text_of(&reply).lines().next().unwrap_or("")
            );
        }
        assert!(
            site.server.running(),
            "phoneprov died on {what:?}; stderr:\n{}",
            site.server.stderr_lines().join("\n")
        );
    }
    // Late (slowed) answers too.
    while let Some((reply, _)) = raw.recv_within(Duration::from_millis(500)) {
        assert!(
            status_of(&reply).is_some_and(|s| !(200..300).contains(&s)),
            "a late answer: {}",
            text_of(&reply)
        );
    }
    assert!(site.server.running(), "phoneprov died after the corpus");
    assert!(
        site.lines_with(0, &["SIP registered"]).is_empty(),
        "a hostile message registered something:\n{}",
        site.server.lines().join("\n")
    );
    assert!(site.registered_rows("1001").is_empty());
    let stderr = site.server.stderr_lines().join("\n");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A good phone still registers, and OPTIONS is still answered.
    let phone = RECEPTION.at("127.0.0.1");
    let mark = site.server.mark();
    register(&site, &phone, "3600");
    site.wait_words(mark, &["SIP registered 1001"]);
    sipp(&site, "options.xml", &phone, "", "0").expect(0, "OPTIONS after the corpus");
    assert!(site.server.running());
}

// ---------------------------------------------------------------------------
// Registrations over a restart

#[test]
fn registrations_outlive_a_restart_and_a_kill() {
    if !require("sipp") {
        return;
    }
    let mut site = Site::start("");
    let phone = RECEPTION.at("127.0.0.1");
    register(&site, &phone, "3600");
    assert_eq!(site.registered_rows(RECEPTION.line).len(), 1);

    // Stopped the proper way: the registration is written on the way out.
    site.server.signal("INT");
    site.server.wait_exit();
    site.server = site.server.restart();
    site.sip = SocketAddr::from(([127, 0, 0, 1], site.server.sip_port()));
    let rows = site.registered_rows(RECEPTION.line);
    assert_eq!(rows.len(), 1, "{}", site.registrations());
    assert!(rows[0].contains(&phone.addr.to_string()), "{rows:?}");

    // Killed: what was written before the kill comes back.
    let kept = site.tree.base().join("state/registrations.json");
    let _ = std::fs::remove_file(&kept);
    let office = OFFICE.at("127.0.0.1");
    register(&site, &office, "3600");
    let written = poll(Duration::from_secs(30), Duration::from_millis(100), || {
        std::fs::read_to_string(&kept)
            .ok()
            .filter(|text| text.contains(&format!("\"{}\"", OFFICE.line)))
    });
    assert!(
        written.is_some(),
        "registrations.json never named line {}",
        OFFICE.line
    );
    site.server.crash();
    site.server = site.server.restart();
    assert_eq!(site.registered_rows(OFFICE.line).len(), 1);
    assert_eq!(site.registered_rows(RECEPTION.line).len(), 1);
}
