//! The dashboard in headless Chromium (Debian's `chromium`, driven by
//! playwright-core from tests/browser): while a simulated phone boots
//! against `phoneprov serve`, `/` shows its stage change without a reload;
//! its page shows its timeline and its files, the missing trust list as
//! expected; its reboot button sends the check-sync NOTIFY the simulated
//! phone answers; its files' previews open; its re-provision button marks
//! its timeline and reboots it; the discovered phone, adopted, moves to the
//! listed ones. A firmware package
//! uploaded on `/firmware` is listed once its progress bar reached 100%;
//! `/log`, `/leases` and `/registrations` show a boot without a reload.
//! Screenshots of each page go to target/dashboard-screenshots/ for a
//! person to look at.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use phoneprov_cisco::Model;
use phoneprov_sim::AfterCheckSync;
use serde_json::Value;

use crate::harness::{
    arg, assert_contains, available, require, spawn_client, stdout_lines, tftp_hpa_get, BIN,
};
use crate::http::{firmware_zip, Site, RECEPTION};
use crate::sim::{boot, network, phone, registered, runtime, story};

/// Against hangs only: the browser's steps take about a second each.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

/// Where the driver script and its playwright-core are.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// chromium, node and playwright-core (npm ci in tests/browser), or why not.
fn browser_available() -> bool {
    require("chromium")
        && require("node")
        && available(
            browser_dir().join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed in crates/phoneprov/tests/browser",
            "npm ci --prefix crates/phoneprov/tests/browser, as .ci/install-peers.sh does",
        )
}

/// target/dashboard-screenshots, beside the binary's profile folder.
fn screenshots() -> PathBuf {
    let target = Path::new(BIN).parent().and_then(Path::parent).unwrap();
    let dir = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The driver script running, its stdout a line at a time.
struct Browser {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Browser {
    /// `node SCRIPT URL SHOTS MORE...`, SCRIPT in tests/browser.
    fn open(script: &str, url: &str, shots: &Path, more: &[&str]) -> Browser {
        let script = browser_dir().join(script);
        let mut args = vec![arg(&script), url, arg(shots)];
        args.extend_from_slice(more);
        let mut child = spawn_client("node", &args);
        let lines = stdout_lines(&mut child);
        Browser { child, lines }
    }

    /// The next line, which must start with `prefix`; what follows it.
    fn expect(&mut self, prefix: &str) -> String {
        match self.lines.recv_timeout(BROWSER_WAIT) {
            Ok(line) => match line.strip_prefix(prefix) {
                Some(rest) => rest.to_string(),
                None => panic!("the browser said {line:?}, not {prefix:?}{}", self.end()),
            },
            Err(_) => panic!("the browser did not say {prefix:?}{}", self.end()),
        }
    }

    /// Waits for the script's exit (bounded by spawn_client's timeout);
    /// its status and stderr, for messages.
    fn end(&mut self) -> String {
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        format!("\nthe browser script ended {status}:\n{stderr}")
    }
}

#[test]
fn the_dashboard_follows_a_boot_live_and_its_reboot_button_reaches_the_phone() {
    if !browser_available() || !require("tftp") {
        return;
    }
    let site = Site::with_loads("", &["P0S3-8-12-00", "P00308010200"]);
    let shots = screenshots();
    let mut browser = Browser::open("dashboard.js", &site.url, &shots, &[]);
    browser.expect("watching");

    // A phone not in phoneprov.toml asks for its file: it is discovered.
    let out = site.tree.out("SEP0018B90000AA.cnf.xml");
    tftp_hpa_get(&site.server, "binary", "SEP0018B90000AA.cnf.xml", &out);
    // The Reception phone, on SCCP 8.1(2), converts to SIP 8.12 (two
    // images, two reboots) and registers, then awaits check-sync twice: the
    // browser's reboot button sends one, its re-provision button the other.
    let network = network(&site.server);
    let mut phone = phone(RECEPTION, Model::Cp7960, "P00308010200");
    runtime().block_on(async {
        let up = tokio::time::timeout(BROWSER_WAIT, phone.boot(&network)).await;
        let up = up.unwrap_or_else(|_| panic!("boot did not end:\n{}", story(&phone)));
        assert_eq!(up.unwrap(), registered("1001"), "{}", story(&phone));
        for button in ["reboot", "re-provision"] {
            let after = tokio::time::timeout(BROWSER_WAIT, phone.await_check_sync(&network)).await;
            let after = match after {
                Ok(after) => {
                    after.unwrap_or_else(|e| panic!("check-sync failed: {e}\n{}", story(&phone)))
                }
                Err(_) => panic!(
                    "no check-sync from {button}:\n{}{}",
                    story(&phone),
                    browser.end()
                ),
            };
            assert_eq!(
                after,
                AfterCheckSync::Rebooted(registered("1001")),
                "{button}: {}",
                story(&phone)
            );
        }
    });

    let result: Value = serde_json::from_str(&browser.expect("result ")).unwrap();
    let ended = browser.end();
    assert!(ended.contains("ended exit status: 0"), "{ended}");
    let stages: Vec<&str> = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Seen live on the page loaded once (how many stages between depends
    // on how the boot's events fall into the page's 100 ms bursts).
    assert_eq!(stages.first(), Some(&"not seen yet"), "{result}");
    assert_eq!(
        stages.last(),
        Some(&"SIP firmware running and registered"),
        "{result}"
    );
    assert_eq!(result["reloaded"], false, "{result}");
    eprintln!("the page showed these stages: {stages:?}");
    assert_eq!(result["registration"], "registered: 1001", "{result}");
    // The 7960 asks for a CTL file first, which phoneprov does not have:
    // a normal miss, not a problem.
    assert_eq!(result["missing"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["expected"],
        serde_json::json!([[
            "CTLSEP0018B9000001.tlv",
            "normal: the phone has no security file (CTL) and goes on without it"
        ]]),
        "{result}"
    );
    assert_eq!(
        result["kinds"],
        serde_json::json!(["DHCP", "TFTP", "SIP"]),
        "{result}"
    );
    let rebooted = result["rebooted"].as_str().unwrap();
    assert!(
        rebooted.contains(&format!("{RECEPTION}: ")) && rebooted.contains("answered 200"),
        "{rebooted}"
    );
    // Its files' previews, collapsed until one is opened; what it shows is
    // what the phone gets.
    assert_eq!(
        result["previewed"],
        serde_json::json!([
            "SEP0018B9000001.cnf.xml",
            "SIP0018B9000001.cnf",
            "OS79XX.TXT",
            "SIPDefault.cnf",
            "XMLDefault.cnf.xml",
            "RINGLIST.DAT",
            "dialplan.xml",
            "syncinfo.xml"
        ]),
        "{result}"
    );
    assert_eq!(result["opened"], 0, "{result}");
    let cnf = site.tree.out("SIP0018B9000001.cnf");
    tftp_hpa_get(&site.server, "binary", "SIP0018B9000001.cnf", &cnf);
    assert_eq!(
        result["preview"].as_str().unwrap().as_bytes(),
        std::fs::read(&cnf).unwrap(),
        "{result}"
    );
    // Re-provisioned after a question in words: judged afresh, the mark in
    // its timeline, and rebooted.
    let reprovision = &result["reprovision"];
    let question = reprovision["questions"][0].as_str().unwrap_or_default();
    assert_contains(
        question,
        &[
            &format!("Re-provision {RECEPTION}?"),
            "judges it afresh",
            "timeline is kept, with a mark",
            "rebooted",
        ],
    );
    let said = reprovision["said"].as_str().unwrap();
    assert_contains(
        said,
        &[
            "phoneprov judges it afresh from now on; it reboots and fetches every file again. new SYNC ",
            &format!("{RECEPTION}: line 1001: answered 200"),
        ],
    );
    assert_eq!(
        reprovision["marked"],
        "re-provisioned: only what follows counts for its stage, problems and firmware",
        "{result}"
    );
    // Adopted from `/`: in phoneprov.toml, and listed once serve reloaded.
    assert_eq!(result["adopted"][1], "7940", "{result}");
    assert_eq!(result["adopted"][2], "Lobby", "{result}");
    assert_eq!(result["stillDiscovered"], 0, "{result}");
    let config = std::fs::read_to_string(site.tree.base().join("phoneprov.toml")).unwrap();
    assert!(
        config.ends_with(
            "\n# Adopted through phoneprov's HTTP API.\n[[phone]]\n\
             mac = \"00:18:B9:00:00:AA\"\nmodel = \"7940\"\ndescription = \"Lobby\"\n"
        ),
        "{config}"
    );
    assert_eq!(result["elsewhere"], serde_json::json!([]), "{result}");
    assert_eq!(result["problems"], serde_json::json!([]), "{result}");
    for shot in [
        "phones.png",
        "phone.png",
        "phone-rebooted.png",
        "phone-preview.png",
        "phone-reprovisioned.png",
        "adopt.png",
        "adopted.png",
    ] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot}");
    }
}

#[test]
fn the_firmware_page_imports_an_upload_and_the_log_leases_and_registrations_follow_a_boot() {
    if !browser_available() {
        return;
    }
    let site = Site::start("");
    let shots = screenshots();
    let package = site.tree.out("sip-8-12.zip");
    std::fs::create_dir_all(package.parent().unwrap()).unwrap();
    firmware_zip(&package, "P0S3-8-12-00");
    let mut browser = Browser::open("pages.js", &site.url, &shots, &[arg(&package)]);
    browser.expect("watching");

    // On its target already: it takes an address, its files, and registers.
    let network = network(&site.server);
    let mut phone = phone(RECEPTION, Model::Cp7960, "P0S3-8-12-00");
    assert_eq!(
        boot(&mut phone, &network),
        registered("1001"),
        "{}",
        story(&phone)
    );

    let result: Value = serde_json::from_str(&browser.expect("result ")).unwrap();
    let ended = browser.end();
    assert!(ended.contains("ended exit status: 0"), "{ended}");
    assert_eq!(result["before"], 0, "{result}");
    let progress = result["progress"].as_array().unwrap();
    assert_eq!(progress.last(), Some(&Value::from(100)), "{result}");
    assert!(
        progress
            .windows(2)
            .all(|pair| pair[0].as_f64() <= pair[1].as_f64()),
        "{result}"
    );
    assert_eq!(
        result["imported"], "sip-8-12.zip: 4 of 5 files taken.",
        "{result}"
    );
    assert_eq!(
        result["outcomes"],
        serde_json::json!([
            "added",
            "added",
            "added",
            "added",
            "skipped: phoneprov writes OS79XX.TXT itself"
        ]),
        "{result}"
    );
    assert_eq!(
        result["status"], "complete (loader P003-8-12-00)",
        "{result}"
    );
    // /doctor: phoneprov doctor's checks on the running serve, the load
    // just imported among them; no DHCP probe unless asked.
    let findings: Vec<Vec<&str>> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect()
        })
        .collect();
    let found = |level: &str, check: &str, what: &str| {
        findings
            .iter()
            .any(|row| row[..2] == [level, check] && row[2].contains(what))
    };
    for (level, check, what) in [
        ("OK", "config", "loads: 1 phone"),
        ("OK", "firmware", "complete loads P0S3-8-12-00"),
        (
            "WARNING",
            "files",
            "(mode 0644), which holds the phones' SIP passwords",
        ),
        ("WARNING", "address", "127.0.0.1 is the loopback"),
    ] {
        assert!(found(level, check, what), "{what:?}: {findings:#?}");
    }
    assert!(
        !findings.iter().any(|row| row[1] == "dhcp"),
        "{findings:#?}"
    );
    let logged: Vec<&str> = result["logged"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Each line is what phoneprov serve prints, after the time.
    for said in [
        "00:18:B9:00:00:01  DHCP ACK 127.0.0.100 (lease ",
        "127.0.0.100  SEP0018B9000001.cnf.xml  sent ",
        "00:18:B9:00:00:01  SIP registered 1001 at sip:1001@127.0.0.100:",
    ] {
        assert!(
            logged.iter().any(|line| line.contains(said)),
            "{said:?} is not in the log: {logged:#?}"
        );
    }
    let leased = &result["leased"];
    assert_eq!(
        (&leased[0], &leased[2], &leased[6]),
        (
            &Value::from(RECEPTION),
            &Value::from("bound"),
            &Value::from("Reception")
        ),
        "{result}"
    );
    let registered = &result["registered"];
    assert_eq!(
        (&registered[0], &registered[1], &registered[5]),
        (
            &Value::from("1001"),
            &Value::from(RECEPTION),
            &Value::from("7960")
        ),
        "{result}"
    );
    assert_eq!(result["reloaded"], serde_json::json!([]), "{result}");
    assert_eq!(result["elsewhere"], serde_json::json!([]), "{result}");
    assert_eq!(result["problems"], serde_json::json!([]), "{result}");
    for shot in ["firmware.png", "log.png", "leases.png", "registrations.png"] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot}");
    }
}
