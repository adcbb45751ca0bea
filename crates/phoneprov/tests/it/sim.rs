//! Simulated 7940/7960 phones (phoneprov-sim) booting against the real
//! `phoneprov serve` on the loopback: DHCP in test mode (answers go back to
//! the sender), TFTP and SIP on high ports, and a synthetic firmware folder
//! whose files are named and sized as Cisco ships them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use phoneprov_cisco::{Mac, Model};
use phoneprov_sim::{firmware, AfterCheckSync, Flash, Network, Phone, PhoneEvent, Running, Timing};

use crate::harness::{
    arg, assert_contains, poll, printed, run_binary, Server, Tree, LOOPBACK_SERVE, REPLY_WAIT,
};

/// A 7940 shipped with SIP 8.12.
const SIP_PHONE: &str = "00:18:B9:00:00:11";
/// A 7960 shipped with SCCP 8.1(2), to be converted.
const SCCP_PHONE: &str = "00:18:B9:00:00:12";

/// The SIP 8.12 load and the SCCP 8.1(2) load, synthetic: their files
/// named and sized as Cisco ships them (reference §2.3).
const FIRMWARE: [&str; 2] = ["P0S3-8-12-00", "P00308010200"];

/// 1/100 of a real phone's timers: a TFTP retry every 40 ms.
pub(crate) fn timing() -> Timing {
    Timing::scaled(0.01)
}

/// A site on the loopback: two listed phones with one line each, firmware
/// target SIP 8.12, and the firmware folder holding [`FIRMWARE`].
fn site(base: &Path) -> PathBuf {
    site_with(base, "P0S3-8-12-00", &[])
}

/// [`site`] with another SIP target and more loads.
fn site_with(base: &Path, target: &str, more: &[&str]) -> PathBuf {
    for load in FIRMWARE.iter().chain(more) {
        firmware::write_load(&base.join("firmware"), load).unwrap();
    }
    let config = base.join("phoneprov.toml");
    std::fs::write(
        &config,
        format!(
            r#"{LOOPBACK_SERVE}[firmware]
sip = "{target}"
[[phone]]
mac = "{SIP_PHONE}"
model = "7940"
lines = [{{ name = "2001", password = "s1p-2001" }}]
[[phone]]
mac = "{SCCP_PHONE}"
model = "7960"
lines = [{{ name = "2002", password = "s1p-2002" }}]
"#
        ),
    )
    .unwrap();
    config
}

pub(crate) fn network(server: &Server) -> Network {
    Network {
        dhcp_server: ([127, 0, 0, 1], server.dhcp_port()).into(),
        tftp_port: server.port(),
        sip_port: Some(server.sip_port()),
    }
}

pub(crate) fn phone(mac: &str, model: Model, load: &str) -> Phone {
    let mac: Mac = mac.parse().unwrap();
    Phone::new(mac, model, Flash::with(load).unwrap(), timing())
}

/// Runs one phone's boot on a runtime of its own.
pub(crate) fn boot(phone: &mut Phone, network: &Network) -> Running {
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(60), phone.boot(network))
            .await
            .unwrap_or_else(|_| panic!("boot did not end:\n{}", story(phone)))
            .unwrap_or_else(|e| panic!("boot failed: {e}\n{}", story(phone)))
    })
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The phone's events, one a line, for failure messages.
pub(crate) fn story(phone: &Phone) -> String {
    phone.events().iter().map(|e| format!("  {e}\n")).collect()
}

/// The files the phone asked for, in order.
pub(crate) fn requested(phone: &Phone) -> Vec<String> {
    phone
        .events()
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::Requested { file } => Some(file.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn registered(line: &str) -> Running {
    Running::Sip {
        registered: vec![line.to_owned()],
        failed: vec![],
    }
}

#[test]
fn a_sip_8_12_phone_boots_and_registers() {
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    let network = network(&server);
    let mut phone = phone(SIP_PHONE, Model::Cp7940, "P0S3-8-12-00");

    let running = boot(&mut phone, &network);
    assert_eq!(running, registered("2001"), "{}", story(&phone));
    // Reference §1.2 A: the loader finds SEP<MAC>.cnf.xml, sees from the
    // .loads that flash is current, and the SIP application reads its files.
    assert_eq!(
        requested(&phone),
        [
            "CTLSEP0018B9000011.tlv",
            "SEP0018B9000011.cnf.xml",
            "P0S3-8-12-00.loads",
            "SIPDefault.cnf",
            "SIP0018B9000011.cnf",
            "RINGLIST.DAT",
            "dialplan.xml",
        ],
        "{}",
        story(&phone)
    );
    assert!(phone.events().iter().any(|e| matches!(
        e,
        PhoneEvent::DhcpBound { ip, .. } if ip.octets()[3] >= 100
    )));
    server.wait_text(0, "SIP registered 2001");
    let listed = printed(&run_binary(&["--config", arg(&config), "registrations"]));
    assert!(listed.contains("2001"), "{listed}");
}

#[test]
fn an_sccp_8_phone_converts_to_sip_8_12_and_registers() {
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    let network = network(&server);
    let mut phone = phone(SCCP_PHONE, Model::Cp7960, "P00308010200");

    let running = boot(&mut phone, &network);
    assert_eq!(running, registered("2002"), "{}", story(&phone));
    assert_eq!(phone.flash(), &Flash::with("P0S3-8-12-00").unwrap());
    // Reference §1.2 B: hunt, .loads, the loader, reboot; hunt, .loads,
    // the application, reboot; hunt, .loads (current), the SIP files.
    let hunt = ["CTLSEP0018B9000012.tlv", "SEP0018B9000012.cnf.xml"];
    let mut expected: Vec<&str> = Vec::new();
    for image in ["P003-8-12-00.sbn", "P0S3-8-12-00.sb2"] {
        expected.extend(hunt);
        expected.extend(["P0S3-8-12-00.loads", image]);
    }
    expected.extend(hunt);
    expected.extend([
        "P0S3-8-12-00.loads",
        "SIPDefault.cnf",
        "SIP0018B9000012.cnf",
        "RINGLIST.DAT",
        "dialplan.xml",
    ]);
    assert_eq!(requested(&phone), expected, "{}", story(&phone));
    let reboots = phone
        .events()
        .iter()
        .filter(|e| matches!(e, PhoneEvent::Rebooting { .. }))
        .count();
    assert_eq!(reboots, 2, "{}", story(&phone));
    server.wait_text(0, "SIP registered 2002");
}

#[test]
fn a_phone_whose_image_is_missing_keeps_its_firmware_and_says_so() {
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    // serve refuses to start with half a load, so the application goes
    // once it runs (moved away by hand, a failed copy).
    std::fs::remove_file(tree.base().join("firmware/P0S3-8-12-00.sb2")).unwrap();
    let network = network(&server);
    let mut phone = phone(SCCP_PHONE, Model::Cp7960, "P00308010200");

    let running = boot(&mut phone, &network);
    // The loader went in (its .sbn is there); the SIP application did not,
    // so the phone runs its SCCP application under the new loader.
    assert_eq!(running, Running::Sccp, "{}", story(&phone));
    assert_eq!(phone.flash().loader.as_str(), "P003-8-12-00");
    assert_eq!(phone.flash().app.as_str(), "P00308010200");
    let events = phone.events();
    let missing = events
        .iter()
        .position(|e| {
            *e == PhoneEvent::ImageMissing {
                file: "P0S3-8-12-00.sb2".into(),
            }
        })
        .unwrap_or_else(|| panic!("no missing image reported:\n{}", story(&phone)));
    assert_eq!(
        events[missing + 1],
        PhoneEvent::KeptFirmware {
            loader: "P003-8-12-00".into(),
            app: "P00308010200".into(),
        }
    );
    assert!(
        matches!(events.last(), Some(PhoneEvent::RunningSccp { load }) if load == "P00308010200")
    );
    server.wait_text(0, "P0S3-8-12-00.sb2");
}

/// A registered SIP 8.12 phone told to reboot by `phoneprov COMMAND MAC`:
/// it answers the check-sync, reboots and registers again. The site, serve,
/// the phone and what the command printed.
fn told_to_reboot_by(command: &str) -> (Tree, PathBuf, Server, Phone, String) {
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    let network = network(&server);
    let mut phone = phone(SIP_PHONE, Model::Cp7940, "P0S3-8-12-00");
    let said = runtime().block_on(async {
        let up = phone.boot(&network).await;
        assert_eq!(up.unwrap(), registered("2001"), "{}", story(&phone));
        server.wait_text(0, "SIP registered 2001");
        let told = tokio::task::spawn_blocking({
            let (config, command) = (config.clone(), command.to_string());
            move || run_binary(&["--config", arg(&config), &command, SIP_PHONE])
        });
        let after = tokio::time::timeout(Duration::from_secs(60), phone.await_check_sync(&network))
            .await
            .unwrap_or_else(|_| panic!("no check-sync:\n{}", story(&phone)))
            .unwrap_or_else(|e| panic!("check-sync failed: {e}\n{}", story(&phone)));
        assert_eq!(
            after,
            AfterCheckSync::Rebooted(registered("2001")),
            "{}",
            story(&phone)
        );
        printed(&told.await.unwrap())
    });
    (tree, config, server, phone, said)
}

#[test]
fn a_registered_phone_answers_check_sync_and_reboots_on_a_new_sync() {
    // `phoneprov reboot` writes a new SYNC and sends the NOTIFY.
    let (_tree, _, _server, phone, said) = told_to_reboot_by("reboot");
    assert!(said.contains("answered 200"), "{said}");
    assert!(phone.events().iter().any(|e| matches!(
        e,
        PhoneEvent::SyncInfo { found: Some(found), mine } if found != mine
    )));
}

#[test]
fn reprovision_starts_a_registered_phone_over_and_reboots_it() {
    let (_tree, config, _server, _phone, said) = told_to_reboot_by("reprovision");
    assert_contains(
        &said,
        &["judges it afresh from now on; it reboots", "answered 200"],
    );
    let show = || printed(&run_binary(&["--config", arg(&config), "show", SIP_PHONE]));
    // The timeline is kept, marked where it started over; what follows is
    // the new boot, which alone makes its stage and firmware.
    let started_over = |shown: &str| {
        let (before, after) = shown.split_once("re-provisioned: only what follows counts")?;
        Some(before.contains("line 2001 registered") && after.contains("line 2001 registered"))
    };
    let shown = poll(REPLY_WAIT, Duration::from_millis(100), || {
        Some(show()).filter(|shown| started_over(shown) == Some(true))
    })
    .unwrap_or_else(|| panic!("no new registration after the mark:\n{}", show()));
    assert_contains(
        &shown,
        &[
            "SIP firmware running and registered",
            "runs SIP 8.12 (P0S3-8-12-00) (seen by phoneprov)",
        ],
    );
    assert!(!shown.contains("PROBLEM"), "{shown}");

    let unknown = run_binary(&["--config", arg(&config), "reprovision", "00:18:B9:12:34:56"]);
    assert!(!unknown.status.success());
    assert_contains(
        &printed(&unknown),
        &["00:18:B9:12:34:56 is neither in phoneprov.toml nor seen"],
    );
}

#[test]
fn a_phone_on_signed_firmware_refuses_an_unsigned_image() {
    let tree = Tree::new();
    // An operator pointing the site at SIP 2.3, which ships unsigned, and
    // believing the phone runs SIP 2.2: phoneprov names 2.3 in OS79XX.TXT.
    let config = site_with(tree.base(), "P0S30203", &["P0S30203"]);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "model = \"7940\"",
        "model = \"7940\"\ncurrent = \"P0S30202\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let server = Server::serve(&config);
    let network = network(&server);
    let mut phone = phone(SIP_PHONE, Model::Cp7940, "P0S3-05-3-00");

    let running = boot(&mut phone, &network);
    assert!(
        phone.events().contains(&PhoneEvent::ImageRefused {
            file: "P0S30203.bin".into(),
            why: "an unsigned image cannot replace signed firmware".into(),
        }),
        "{}",
        story(&phone)
    );
    assert_eq!(phone.flash(), &Flash::with("P0S3-05-3-00").unwrap());
    assert_eq!(running, registered("2001"), "{}", story(&phone));
    // Its User-Agent said 5.3: phoneprov now knows better than the
    // declaration, and says why the target cannot be reached.
    server.wait_text(0, "SIP registered 2001");
    let status = printed(&run_binary(&["--config", arg(&config), "status"]));
    assert!(status.contains("SIP 5.3"), "{status}");
    assert!(
        status.contains("never takes the unsigned P0S30203 again"),
        "{status}"
    );
}
