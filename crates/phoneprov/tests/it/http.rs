//! `phoneprov serve` with `[http]` on a high port of the loopback, asked by
//! curl: every route's status, content type and body, the admin token
//! rules, HTTPS with a certificate made by openssl, and the server-sent
//! events of the bus.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

mod adopt;

use crate::dhcp_wire::{decode, dora};
use crate::harness::{
    arg, assert_contains, assert_file, poll, printed, require, run_binary, run_client,
    spawn_client, stdout_lines, tftp_hpa_get, Raw, Server, Tree, LOOPBACK_SERVE, REPLY_WAIT,
};

pub(crate) const RECEPTION: &str = "00:18:B9:00:00:01";
const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// A running serve whose `[http]` section is `bind = "127.0.0.1:0"` and
/// `http`; one listed phone, a SIP target, a firmware folder (empty, or
/// with synthetic loads). The dashboard's test shares it.
pub(crate) struct Site {
    pub(crate) tree: Tree,
    pub(crate) server: Server,
    pub(crate) url: String,
}

impl Site {
    pub(crate) fn start(http: &str) -> Site {
        Site::with_loads(http, &[])
    }

    /// [`Site::start`] with `loads` in the firmware folder, named and sized
    /// as Cisco ships them.
    pub(crate) fn with_loads(http: &str, loads: &[&str]) -> Site {
        let tree = Tree::new();
        let firmware = tree.base().join("firmware");
        std::fs::create_dir_all(&firmware).unwrap();
        for load in loads {
            phoneprov_sim::firmware::write_load(&firmware, load).unwrap();
        }
        let config = tree.base().join("phoneprov.toml");
        std::fs::write(
            &config,
            format!(
                "{LOOPBACK_SERVE}[http]\nbind = \"127.0.0.1:0\"\n{http}\n\
                 [firmware]\nsip = \"P0S3-8-12-00\"\n\
                 [[phone]]\nmac = \"{RECEPTION}\"\nmodel = \"7960\"\ndescription = \"Reception\"\n\
                 lines = [{{ name = \"1001\", password = \"s3cret\" }}]\n"
            ),
        )
        .unwrap();
        let server = Server::serve(&config);
        let scheme = if http.contains("cert") {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://127.0.0.1:{}", server.http_port());
        Site { tree, server, url }
    }

    /// `curl` on `path` with `options` before the URL.
    pub(crate) fn curl(&self, options: &[&str], path: &str) -> Answer {
        let url = format!("{}{path}", self.url);
        let mut args = vec![
            "-sS",
            "--max-time",
            "60",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{content_type}",
        ];
        args.extend_from_slice(options);
        args.push(&url);
        let output = run_client("curl", &args);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, last) = text
            .rsplit_once('\n')
            .unwrap_or_else(|| panic!("curl {path}: {}", printed(&output)));
        let (status, content_type) = last.split_once(' ').unwrap_or((last, ""));
        Answer {
            status: status.parse().unwrap_or(0),
            content_type: content_type.to_string(),
            body: body.to_string(),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Answer {
        self.curl(&[], path)
    }
}

/// Cisco's package of `load` as a zip, at `path`: its images (written by
/// the simulator, with Cisco's names and sizes) in a folder, and an
/// OS79XX.TXT, which import skips.
pub(crate) fn firmware_zip(path: &Path, load: &str) {
    let images = tempfile::tempdir().unwrap();
    let written = phoneprov_sim::firmware::write_load(images.path(), load).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for image in &written {
        let name = image.file_name().unwrap().to_str().unwrap();
        zip.start_file(format!("{load}/{name}"), options).unwrap();
        zip.write_all(&std::fs::read(image).unwrap()).unwrap();
    }
    zip.start_file("OS79XX.TXT", options).unwrap();
    zip.write_all(format!("{load}\n").as_bytes()).unwrap();
    zip.finish().unwrap();
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

impl Answer {
    /// The JSON body, after checking status and content type.
    fn json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/json", "{self:?}");
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The JSON body, pretty, for a snapshot.
    fn pretty(&self, status: u16) -> String {
        serde_json::to_string_pretty(&self.json(status)).unwrap()
    }
}

#[test]
fn every_route_answers_with_its_status_content_type_and_body() {
    if !require("curl") || !require("tftp") {
        return;
    }
    let site = Site::start("");
    let health = site.get("/healthz");
    assert_eq!(
        (
            health.status,
            health.content_type.as_str(),
            health.body.as_str()
        ),
        (200, "text/plain; charset=utf-8", "ok")
    );
    // The dashboard: its pages and assets (tests/it/dashboard.rs drives it).
    let html = "text/html; charset=utf-8";
    for (path, content_type, holds) in [
        ("/", html, "<tbody id=\"discovered\">"),
        (
            "/phones/0018b9000001",
            html,
            "data-mac=\"00:18:B9:00:00:01\"",
        ),
        ("/firmware", html, "<form id=\"import\">"),
        ("/leases", html, "<table id=\"leases\">"),
        ("/registrations", html, "<table id=\"registrations\">"),
        ("/log", html, "<body data-page=\"log\">"),
        (
            "/dashboard/app.js",
            "text/javascript; charset=utf-8",
            "new EventSource(\"/api/events\")",
        ),
        (
            "/dashboard/style.css",
            "text/css; charset=utf-8",
            "tr.missing",
        ),
    ] {
        let answer = site.get(path);
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (200, content_type),
            "{path}"
        );
        assert_contains(&answer.body, &[holds]);
    }
    site.get("/phones/nonsense").json(400);
    insta::assert_snapshot!("phones", site.get("/api/phones").pretty(200));
    insta::assert_snapshot!("phone", site.get("/api/phones/0018b9000001").pretty(200));
    insta::assert_snapshot!(
        "phone_unknown",
        site.get("/api/phones/0018b9000099").pretty(404)
    );
    insta::assert_snapshot!(
        "phone_not_a_mac",
        site.get("/api/phones/nonsense").pretty(400)
    );
    insta::assert_snapshot!("registrations", site.get("/api/registrations").pretty(200));
    insta::assert_snapshot!("leases", site.get("/api/leases").pretty(200));
    insta::assert_snapshot!("no_route", site.get("/api/nothing").pretty(404));
    let firmware = site.get("/api/firmware").json(200);
    assert_eq!(firmware["loads"], Value::Array(Vec::new()), "{firmware}");
    assert!(firmware["dir"].as_str().unwrap().ends_with("firmware"));

    // The file is what the phone gets over TFTP: one resolver.
    let file = site.get("/api/phones/0018B9000001/files/SIP0018B9000001.cnf");
    assert_eq!(
        (file.status, file.content_type.as_str()),
        (200, "text/plain; charset=utf-8")
    );
    let out = site.tree.out("SIP0018B9000001.cnf");
    assert!(
        tftp_hpa_get(&site.server, "binary", "SIP0018B9000001.cnf", &out)
            .status
            .success()
    );
    assert_file(&out, file.body.as_bytes(), "the file over TFTP");
    assert_contains(&file.body, &["line1_name: \"1001\""]);
    let missing = site
        .get("/api/phones/0018B9000001/files/P0S3-8-12-00.loads")
        .json(404);
    assert_contains(
        missing["error"].as_str().unwrap(),
        &["P0S3-8-12-00.loads is not served to 00:18:B9:00:00:01"],
    );

    // Not registered: nothing is sent, and it says so.
    insta::assert_snapshot!(
        "reboot",
        site.curl(&["-X", "POST"], "/api/phones/0018b9000001/reboot")
            .pretty(200)
    );
    insta::assert_snapshot!(
        "reboot_unlisted",
        site.curl(&["-X", "POST"], "/api/phones/0018b9000099/reboot")
            .pretty(404)
    );

    // A lease: the phone's address, the lease and the counters say so.
    let client = Raw::new(SocketAddr::from((SERVER, site.server.dhcp_port())));
    let (_, ack) = dora(&client, [0x00, 0x18, 0xB9, 0, 0, 1], SERVER, |_| {});
    let leased = decode(&ack).yiaddr().to_string();
    let phone = poll(REPLY_WAIT, std::time::Duration::from_millis(50), || {
        let phone = site.get("/api/phones/0018b9000001").json(200);
        (phone["phone"]["address"] == leased.as_str()).then_some(phone)
    })
    .expect("the phone's address is the leased one");
    let timeline = phone["timeline"].as_array().unwrap();
    assert_eq!(
        timeline.last().unwrap()["what"],
        "got an address from phoneprov's DHCP server",
        "{timeline:?}"
    );
    let leases = site.get("/api/leases").json(200);
    let lease = &leases["leases"][0];
    assert_eq!(
        (
            &lease["mac"],
            &lease["ip"],
            &lease["state"],
            &lease["listed"]
        ),
        (
            &Value::from(RECEPTION),
            &Value::from(leased.as_str()),
            &Value::from("bound"),
            &Value::from("Reception")
        ),
        "{leases}"
    );

    // The transfer above: the counters, the stage and the timeline say so.
    let size = std::fs::metadata(&out).unwrap().len();
    let metrics = poll(REPLY_WAIT, std::time::Duration::from_millis(50), || {
        let metrics = site.get("/metrics");
        metrics
            .body
            .contains("phoneprov_tftp_transfers_total{outcome=\"sent\"} 1")
            .then_some(metrics)
    })
    .expect("/metrics counts the transfer");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_contains(
        &metrics.body,
        &[
            &format!("phoneprov_tftp_bytes_sent_total {size}\n"),
            "phoneprov_tftp_blocks_retransmitted_total 0\n",
            "# TYPE phoneprov_phones gauge\nphoneprov_phones{stage=",
            "phoneprov_sip_registrations 0\n",
            "phoneprov_dhcp_events_total{event=\"acked\"} 1\n",
            "phoneprov_dhcp_events_total{event=\"offered\"} 1\n",
            "phoneprov_dhcp_leases{state=\"bound\"} 1\n",
        ],
    );
    poll(REPLY_WAIT, std::time::Duration::from_millis(50), || {
        let phone = site.get("/api/phones/0018b9000001").json(200);
        let timeline = phone["timeline"].as_array()?.clone();
        timeline
            .iter()
            .any(|moment| moment["what"] == "asked for SIP0018B9000001.cnf: sent")
            .then_some(())
    })
    .expect("the phone's timeline has the transfer");

    // The trust list it has not: asked for, and a normal miss.
    let ctl = site.tree.out("CTLSEP0018B9000001.tlv");
    tftp_hpa_get(&site.server, "binary", "CTLSEP0018B9000001.tlv", &ctl);
    let asked = poll(REPLY_WAIT, std::time::Duration::from_millis(50), || {
        let phone = site.get("/api/phones/0018b9000001").json(200);
        (phone["asked"].as_array()?.len() == 2).then(|| phone["asked"].clone())
    })
    .expect("the phone's files have the trust list");
    assert_eq!(
        asked,
        serde_json::json!([
            {"name": "SIP0018B9000001.cnf", "times": 1, "outcome": "sent", "normal_miss": null},
            {
                "name": "CTLSEP0018B9000001.tlv",
                "times": 1,
                "outcome": "not_found",
                "normal_miss": "normal: the phone has no security file (CTL) and goes on without it"
            }
        ])
    );

    // Re-provisioned: listed but not registered, so not told; the mark
    // ends its timeline and it is not seen yet.
    insta::assert_snapshot!(
        "reprovision",
        site.curl(&["-X", "POST"], "/api/phones/0018b9000001/reprovision")
            .pretty(200)
    );
    let phone = site.get("/api/phones/0018b9000001").json(200);
    assert_eq!(
        (
            &phone["phone"]["stage"],
            &phone["timeline"].as_array().unwrap().last().unwrap()["what"]
        ),
        (
            &Value::from("not seen yet"),
            &Value::from(
                "re-provisioned: only what follows counts for its stage, problems and firmware"
            )
        ),
        "{phone}"
    );
    insta::assert_snapshot!(
        "reprovision_unknown",
        site.curl(&["-X", "POST"], "/api/phones/0018b9000099/reprovision")
            .pretty(404)
    );
}

#[test]
fn events_come_as_server_sent_json_one_per_event() {
    if !require("curl") || !require("tftp") {
        return;
    }
    let site = Site::start("");
    let url = format!("{}/api/events", site.url);
    let mut curl = spawn_client("curl", &["-sS", "-N", "-i", &url]);
    let seen = stdout_lines(&mut curl);
    // The headers and a comment come once serve follows the bus for it.
    let next = || {
        seen.recv_timeout(REPLY_WAIT)
            .expect("a line from /api/events")
    };
    assert_eq!(next().trim_end(), "HTTP/1.1 200 OK");
    let headers: Vec<String> = std::iter::repeat_with(next)
        .take_while(|line| !line.trim_end().is_empty())
        .collect();
    assert!(
        headers
            .iter()
            .any(|h| h.trim_end() == "content-type: text/event-stream"),
        "{headers:?}"
    );
    assert_eq!(next(), ": following phoneprov's events");
    assert_eq!(next(), "");
    let out = site.tree.out("SIP0018B9000001.cnf");
    tftp_hpa_get(&site.server, "binary", "SIP0018B9000001.cnf", &out);
    let data = next();
    let _ = curl.kill();
    let _ = curl.wait();
    let event: Value = serde_json::from_str(
        data.strip_prefix("data: ")
            .unwrap_or_else(|| panic!("{data}")),
    )
    .unwrap();
    assert_eq!(event["kind"], "tftp", "{event}");
    assert_eq!(event["requested"], "SIP0018B9000001.cnf", "{event}");
    assert_eq!(event["outcome"], "sent", "{event}");
    // The line phoneprov serve prints for it.
    let text = event["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("127.0.0.1  SIP0018B9000001.cnf  sent "),
        "{event}"
    );
}

#[test]
fn the_admin_token_is_asked_when_required_as_bearer_or_login_cookie() {
    if !require("curl") {
        return;
    }
    let site = Site::start("require_token = true");
    let token_file = site.tree.base().join("state/admin-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.len() >= 32);
    site.server
        .wait_text(0, "asks for the admin token, made now in");

    assert_eq!(site.get("/healthz").body, "ok");
    let refused = site.get("/api/phones").json(401);
    assert_contains(
        refused["fix"].as_str().unwrap(),
        &["Authorization: Bearer TOKEN", arg(&token_file), "/login"],
    );
    site.get("/metrics").json(401);
    site.curl(&["-H", "Authorization: Bearer wrong"], "/api/phones")
        .json(401);
    let bearer = format!("Authorization: Bearer {token}");
    site.curl(&["-H", &bearer], "/api/phones").json(200);

    // A browser without the token is sent from the dashboard to /login.
    for page in ["/", "/phones/0018b9000001"] {
        let refused = site.curl(&["-D", "-"], page);
        assert_eq!(refused.status, 303, "{refused:?}");
        assert_contains(&refused.body.to_lowercase(), &["location: /login\r\n"]);
    }

    let form = site.get("/login");
    assert_eq!(
        (form.status, form.content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    assert_contains(&form.body, &["<form method=\"post\" action=\"/login\">"]);
    let wrong = site.curl(&["--data-urlencode", "token=guess"], "/login");
    assert_eq!(wrong.status, 401);
    let jar = site.tree.out("cookies");
    let right = format!("token={token}");
    let login = site.curl(
        &["--data-urlencode", &right, "-c", arg(&jar), "-D", "-"],
        "/login",
    );
    assert_eq!(login.status, 303, "{login:?}");
    assert_contains(
        &login.body.to_lowercase(),
        &[
            "set-cookie: phoneprov_token=",
            "httponly",
            "samesite=strict",
            "location: /\r\n",
        ],
    );
    site.curl(&["-b", arg(&jar)], "/api/phones").json(200);
    assert_eq!(site.curl(&["-b", arg(&jar)], "/").status, 200);

    // The control socket is the owner's: the same API, no token asked.
    let socket = site.tree.base().join("state/control.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let owner = run_client(
        "curl",
        &[
            "-sS",
            "--unix-socket",
            arg(&socket),
            "http://phoneprov/api/phones",
        ],
    );
    let phones: Value = serde_json::from_slice(&owner.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", printed(&owner)));
    assert_eq!(phones["phones"][0]["phone"], RECEPTION, "{phones}");

    let printed = [site.server.lines(), site.server.stderr_lines()].concat();
    assert!(
        !printed.iter().any(|line| line.contains(&token)),
        "the token was printed: {printed:?}"
    );
}

#[test]
fn https_serves_with_the_configured_certificate() {
    if !require("curl") || !require("openssl") {
        return;
    }
    let tree = Tree::new();
    let (cert, key) = (tree.base().join("cert.pem"), tree.base().join("key.pem"));
    let made = run_client(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=phoneprov test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            arg(&key),
            "-out",
            arg(&cert),
        ],
    );
    assert!(made.status.success(), "{}", printed(&made));
    let site = Site::start(&format!(
        "cert = \"{}\"\nkey = \"{}\"",
        arg(&cert),
        arg(&key)
    ));
    site.server
        .wait_text(0, "(the dashboard: https://127.0.0.1:");
    let trusted = site.curl(&["--cacert", arg(&cert)], "/healthz");
    assert_eq!((trusted.status, trusted.body.as_str()), (200, "ok"));
    site.curl(&["--cacert", arg(&cert)], "/api/phones")
        .json(200);
    // Without the certificate, curl refuses the server.
    let untrusted = site.get("/healthz");
    assert_eq!(untrusted.status, 0, "{untrusted:?}");
    // Plain HTTP on the HTTPS port gets no answer.
    let plain = site.url.replace("https://", "http://");
    let output = run_client("curl", &["-sS", "--max-time", "60", &plain]);
    assert!(!output.status.success(), "{}", printed(&output));
}

#[test]
fn http_mistakes_in_phoneprov_toml_are_named_with_their_fix() {
    let tree = Tree::new();
    let config = tree.base().join("phoneprov.toml");
    std::fs::write(tree.base().join("cert.pem"), "not a certificate\n").unwrap();
    for (http, expected) in [
        (
            "cert = \"cert.pem\"",
            &[
                "http.cert",
                "cert is set but key is not",
                "set key = \"PATH\"",
            ][..],
        ),
        (
            "key = \"key.pem\"",
            &["http.key", "key is set but cert is not"],
        ),
        (
            "cert = \"cert.pem\"\nkey = \"key.pem\"",
            &[
                "http.cert",
                "no CERTIFICATE block",
                "PEM file holding the certificate",
            ],
        ),
        ("bind = \"localhost\"", &["http.bind", "write address:port"]),
        (
            "tokens = true",
            &["tokens is not a key phoneprov knows here", "require_token"],
        ),
    ] {
        std::fs::write(
            &config,
            format!("[server]\naddress = \"127.0.0.1\"\n[http]\n{http}\n"),
        )
        .unwrap();
        let output = run_binary(&["--config", arg(&config), "config", "check"]);
        assert!(!output.status.success(), "{http}");
        assert_contains(&printed(&output), expected);
    }
}

#[test]
fn init_makes_an_owner_only_admin_token_and_does_not_print_it() {
    let tree = Tree::new();
    let config = tree.base().join("phoneprov.toml");
    let output = run_binary(&["init", arg(&config)]);
    assert!(output.status.success(), "{}", printed(&output));
    let token_file = tree.base().join("state/admin-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let said = printed(&output);
    assert_contains(&said, &["admin token", arg(&token_file)]);
    assert!(!said.contains(token.trim()), "{said}");
}

#[test]
fn the_phones_services_answer_without_the_token_as_latin_1_xml() {
    if !require("curl") {
        return;
    }
    // The token is asked for everything else; the phone cannot send one.
    let site = Site::start(
        "require_token = true\n\
         [[directory]]\nname = \"Pizza Roma\"\nnumber = \"0301234567\"\n\
         [[directory]]\nname = \"Café\"\nnumber = \"0307654321\"",
    );
    assert_eq!(site.get("/api/phones").status, 401);
    let xml = "text/xml; charset=ISO-8859-1";

    let menu = site.get("/services/menu");
    assert_eq!((menu.status, menu.content_type.as_str()), (200, xml));
    assert_contains(
        &menu.body,
        &[
            "<CiscoIPPhoneMenu>",
            &format!("<URL>{}/services/directory</URL>", site.url),
            &format!("<URL>{}/services/directory/search</URL>", site.url),
        ],
    );
    let directory = site.get("/services/directory");
    assert_eq!(
        (directory.status, directory.content_type.as_str()),
        (200, xml)
    );
    assert_contains(
        &directory.body,
        &[
            "<CiscoIPPhoneDirectory>",
            "<Name>Pizza Roma</Name>",
            "<Telephone>0301234567</Telephone>",
            // The listed phone's line, named by the phone's description.
            "<Name>Reception</Name>",
            "<Telephone>1001</Telephone>",
            // é is one ISO-8859-1 byte, not UTF-8: curl's text shows it replaced.
            "<Name>Caf\u{FFFD}</Name>",
        ],
    );
    let search = site.get("/services/directory/search");
    assert_contains(
        &search.body,
        &[
            "<CiscoIPPhoneInput>",
            &format!("<URL>{}/services/directory/results</URL>", site.url),
            "<QueryStringParam>q</QueryStringParam>",
        ],
    );
    let found = site.get("/services/directory/results?q=pizza");
    assert_eq!(found.status, 200);
    assert!(found.body.contains("<Name>Pizza Roma</Name>"), "{found:?}");
    assert!(!found.body.contains("Reception"), "{found:?}");

    // The phones are told where: SIPDefault.cnf names the port serve has.
    let token = std::fs::read_to_string(site.tree.base().join("state/admin-token")).unwrap();
    let bearer = format!("Authorization: Bearer {}", token.trim());
    let default = site.curl(
        &["-H", &bearer],
        &format!("/api/phones/{RECEPTION}/files/SIPDefault.cnf"),
    );
    assert_eq!(default.status, 200, "{default:?}");
    assert_contains(
        &default.body,
        &[
            &format!("directory_url: \"{}/services/directory\"", site.url),
            &format!("services_url: \"{}/services/menu\"", site.url),
        ],
    );
}

/// Each file of `dir` with its content, sorted; hidden ones too.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, std::fs::read(entry.path()).unwrap_or_default())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn firmware_is_imported_by_upload_and_a_broken_upload_changes_nothing() {
    if !require("curl") {
        return;
    }
    let site = Site::start("");
    let firmware = site.tree.base().join("firmware");
    let state = site.tree.base().join("state");
    let upload = |file: &Path, name: &str| {
        let body = format!("@{}", arg(file));
        let options = [
            "--data-binary",
            body.as_str(),
            "-H",
            "Content-Type: application/octet-stream",
        ];
        site.curl(&options, &format!("/api/firmware/import?name={name}"))
    };
    let package = site.tree.out("sip-8-12.zip");
    std::fs::create_dir_all(package.parent().unwrap()).unwrap();
    firmware_zip(&package, "P0S3-8-12-00");

    let imported = upload(&package, "sip-8-12.zip").json(200);
    let said: Vec<(&str, &str)> = imported["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            (
                file["name"].as_str().unwrap(),
                file["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("P0S3-8-12-00.loads", "added"),
            ("P0S3-8-12-00.sb2", "added"),
            ("P003-8-12-00.sbn", "added"),
            ("P003-8-12-00.bin", "added"),
            ("OS79XX.TXT", "skipped"),
        ],
        "{imported}"
    );
    assert_eq!(
        imported["files"][4]["said"],
        "skipped: phoneprov writes OS79XX.TXT itself"
    );
    let catalog = site.get("/api/firmware").json(200);
    let loads: Vec<(&str, bool)> = catalog["loads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|load| {
            (
                load["name"].as_str().unwrap(),
                load["complete"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        loads,
        [("P0S3-8-12-00", true), ("P003-8-12-00", true)],
        "{catalog}"
    );
    assert_eq!(catalog["loads"][0]["warnings"], serde_json::json!([]));

    // A download cut short: refused whole, the folder as it was, and
    // nothing left of the upload in the state folder.
    let before = contents(&firmware);
    let whole = std::fs::read(&package).unwrap();
    let broken = site.tree.out("sip-8-12-cut.zip");
    std::fs::write(&broken, &whole[..whole.len() / 2]).unwrap();
    let refused = upload(&broken, "sip-8-12-cut.zip").json(422);
    assert_contains(
        refused["error"].as_str().unwrap(),
        &["sip-8-12-cut.zip is not a valid zip archive"],
    );
    assert_contains(refused["fix"].as_str().unwrap(), &["download it again"]);
    assert_eq!(contents(&firmware), before);
    let kept: Vec<String> = contents(&state).into_iter().map(|(name, _)| name).collect();
    assert!(
        !kept
            .iter()
            .any(|name| name.starts_with(".phoneprov-upload-")),
        "{kept:?}"
    );

    // A name that is not a file's.
    let refused = upload(&package, "..%2Fx.zip").json(400);
    assert_contains(
        refused["error"].as_str().unwrap(),
        &["\"../x.zip\" is not a file name"],
    );

    // A loose image keeps its name; a size no real image has is flagged.
    let cut = site.tree.out("P0S3-8-11-00.sb2");
    std::fs::write(&cut, vec![0x5a; 4096]).unwrap();
    let loose = upload(&cut, "P0S3-8-11-00.sb2").json(200);
    assert_eq!(loose["files"][0]["outcome"], "added", "{loose}");
    let catalog = site.get("/api/firmware").json(200);
    let flagged = catalog["loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|load| load["name"] == "P0S3-8-11-00")
        .unwrap_or_else(|| panic!("{catalog}"));
    assert_eq!(flagged["complete"], false, "{flagged}");
    assert_contains(
        flagged["warnings"][0].as_str().unwrap(),
        &["P0S3-8-11-00.sb2 is 4096 B: looks truncated"],
    );
    std::fs::remove_file(firmware.join("P0S3-8-11-00.sb2")).unwrap();

    // The same package again: nothing changes, and it says so.
    let again = upload(&package, "sip-8-12.zip").json(200);
    assert_eq!(again["files"][0]["said"], "already there, same content");
    assert_eq!(contents(&firmware), before);
}
