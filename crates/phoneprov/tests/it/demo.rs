//! `phoneprov demo` (the real binary, unprivileged, all on the loopback)
//! and `phoneprov sim` against a `phoneprov serve` started here.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use phoneprov_sim::{firmware, phone_mac};

use crate::harness::{printed, Server, Tree, BIN, LOOPBACK_SERVE};

/// The folder the demo announced in its first line.
fn demo_folder(text: &str) -> PathBuf {
    let first = text.lines().next().unwrap_or_default();
    let path = first
        .split(" state in ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap_or_else(|| panic!("no folder in the first line:\n{text}"));
    PathBuf::from(path)
}

/// The DHCP, TFTP and SIP ports the demo's phoneprov listened on.
fn demo_ports(text: &str) -> Vec<u16> {
    let line = text
        .lines()
        .find(|l| l.starts_with("phoneprov on 127.0.0.1: "))
        .unwrap_or_else(|| panic!("no ports line:\n{text}"));
    let ports: Vec<u16> = line
        .split(" port ")
        .skip(1)
        .map(|p| p.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ports.len(), 3, "{line}");
    ports
}

/// Nothing is left of a demo that ended: its folder is gone, no process
/// runs from it or names it, and its ports are free again.
fn assert_nothing_left(text: &str) {
    let folder = demo_folder(text);
    assert!(folder.starts_with(std::env::temp_dir()), "{text}");
    assert!(!folder.exists(), "{} was left behind", folder.display());
    for port in demo_ports(text) {
        UdpSocket::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("port {port} is still taken ({e}):\n{text}"));
    }
    let folder = folder.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let proc = entry.path();
        let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
        let cwd = std::fs::read_link(proc.join("cwd")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&folder)
                && !cwd.to_string_lossy().contains(&folder),
            "process {} still runs from {folder}",
            proc.display()
        );
    }
}

fn demo(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running phoneprov demo")
}

#[test]
fn the_demo_converts_every_phone_and_leaves_nothing_behind() {
    let output = demo(&["--plain", "--phones", "8"]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("phoneprov demo: 8 phones in ")
                && l.ends_with(" s: 8 of 8 registered on SIP")),
        "{text}"
    );
    assert!(text.contains("\nphoneprov found no problem.\n"), "{text}");
    // Plain lines say what phoneprov infers, e.g. an SCCP 3.x phone on the
    // old boot path, then flashing through the ladder's rungs.
    for (phone, stage) in [
        (
            "0018B9000001 7940 from P00303030300  P00303030300",
            "booting old firmware (read OS79XX.TXT",
        ),
        (
            "0018B9000001 7940 from P00303030300",
            "writing P00305000200.sbn to flash",
        ),
        ("0018B9000004 7960 from P00308010200", "P0S3-8-12-00.sb2"),
        (
            "0018B9000006 7960 from P0S3-06-0-00  P0S3-8-12-00",
            "SIP firmware running and registered",
        ),
    ] {
        assert!(
            text.lines().any(|l| l.contains(phone) && l.contains(stage)),
            "no line for {phone}: {stage}\n{text}"
        );
    }
    assert_nothing_left(&text);
}

#[test]
fn ctrl_c_stops_the_demo_and_cleans_up() {
    // Slow phones, so the demo is mid-way when it is interrupted.
    let mut child = Command::new(BIN)
        .args(["demo", "--plain", "--phones", "4", "--speed", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting phoneprov demo");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    // Wait for phoneprov's first word on a phone.
    while !text.contains("0018B9000001 7940 from") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!("the demo ended before any phone was seen:\n{text}");
        }
        text += &line;
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    text += &rest;
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("phoneprov demo: stopping (Ctrl-C)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("phoneprov demo: stopped after ")),
        "{text}"
    );
    assert_nothing_left(&text);
}

#[test]
fn keep_leaves_the_office_to_look_at() {
    let output = demo(&["--plain", "--phones", "1", "--keep"]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let folder = demo_folder(&text);
    assert!(
        text.contains(&format!("Kept {}", folder.display())),
        "{text}"
    );
    assert!(folder.join("firmware/P0S3-8-12-00.sb2").is_file());
    assert!(folder.join("state/secrets.toml").is_file(), "{text}");
    // The kept office serves again as it is.
    let server = Server::serve(&folder.join("phoneprov.toml"));
    server.wait_text(0, "SIP on 127.0.0.1:");
    server.signal("INT");
    server.wait_text(0, "phoneprov serve: stopped");
    std::fs::remove_dir_all(&folder).unwrap();
}

/// A loopback site listing phones 1..=`listed`, targets SIP 8.12 and SCCP
/// 8.1(2), firmware synthetic.
fn office_site(base: &Path, listed: u32) -> PathBuf {
    for load in ["P0S3-8-12-00", "P00308010200"] {
        firmware::write_load(&base.join("firmware"), load).unwrap();
    }
    let mut text =
        format!("{LOOPBACK_SERVE}[firmware]\nsip = \"P0S3-8-12-00\"\nsccp = \"P00308010200\"\n");
    for i in 1..=listed {
        let mac: phoneprov_cisco::Mac = phone_mac(i).parse().unwrap();
        text += &format!(
            "[[phone]]\nmac = \"{}\"\nmodel = \"{}\"\nlines = [{{ name = \"{}\" }}]\n",
            mac.colons(),
            if i % 2 == 1 { "7940" } else { "7960" },
            3000 + i
        );
    }
    let config = base.join("phoneprov.toml");
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn sim_boots_an_office_against_serve_and_says_which_phone_did_not_come_up() {
    let tree = Tree::new();
    // Phone 3 is not listed: phoneprov's DHCP (mode "known") ignores it.
    let config = office_site(tree.base(), 2);
    let server = Server::serve(&config);
    let ports = [server.dhcp_port(), server.port(), server.sip_port()].map(|p| p.to_string());
    let output = Command::new(BIN)
        .args(["sim", "--phones", "3", "--from", "sccp-8,sip-8"])
        .args(["--server", "127.0.0.1", "--dhcp-port", &ports[0]])
        .args(["--tftp-port", &ports[1], "--sip-port", &ports[2]])
        .args(["--speed", "100"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "sim: 3 phones: 2 registered on SIP, 0 running SCCP, 0 on SIP but not registered, 1 did not come up, in "
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  0018B9000003 7940 from P00308010200: did not come up: no DHCP answer to 5 tries\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("phoneprov: 1 of 3 phones did not come up"),
        "{text}"
    );
    // One line per event: the SCCP 8.x phone converted, the SIP one was
    // up to date.
    for line in [
        "0018B9000001 7940 from P00308010200  flashed P003-8-12-00.sbn",
        "0018B9000001 7940 from P00308010200  flashed P0S3-8-12-00.sb2",
        "0018B9000001 7940 from P00308010200  line 3001 registered for",
        "0018B9000002 7960 from P0S3-8-12-00  flash already holds P0S3-8-12-00",
        "0018B9000002 7960 from P0S3-8-12-00  line 3002 registered for",
        "0018B9000003 7940 from P00308010200  DHCP: no answer to 5 DISCOVERs",
    ] {
        assert!(text.contains(line), "no {line:?}:\n{text}");
    }
    server.wait_text(0, "SIP registered 3001");
    server.wait_text(0, "SIP registered 3002");
}
