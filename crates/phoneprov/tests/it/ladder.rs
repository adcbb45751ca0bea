//! The upgrade ladder end to end: simulated phones of several firmware
//! families boot against the real `phoneprov serve` on the loopback and
//! climb, one load per boot, to their targets. The simulator refuses the
//! jumps Cisco documents as impossible on its own (reference §3.1), so a
//! phone that skipped a rung would not get there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use phoneprov_cisco::ladder::Ladder;
use phoneprov_cisco::{Mac, Model};
use phoneprov_sim::firmware::write_load;
use phoneprov_sim::{
    phone_mac, AfterCheckSync, Family, Flash, Network, Phone, PhoneEvent, Running, Timing,
};

use crate::harness::{arg, printed, run_binary, Server, Tree, LOOPBACK_SERVE};
use crate::sim::{network, registered, runtime, story};

/// Every load of the default ladder from SCCP 3.x and SIP 2.x to SIP 8.12,
/// and back to SCCP 8.1(2): the rules' examples and the targets.
fn ladder_loads() -> Vec<String> {
    let mut loads = Ladder::default().examples();
    loads.extend([SIP_TARGET.into(), SCCP_TARGET.into()]);
    loads
}

const SIP_TARGET: &str = "P0S3-8-12-00";
const SCCP_TARGET: &str = "P00308010200";

/// One phone of a test office: its MAC, starting firmware, and what
/// phoneprov.toml says about it.
#[derive(Clone)]
struct Desk {
    mac: Mac,
    model: Model,
    start: &'static str,
    /// `current = ...` in its [[phone]].
    declared: Option<&'static str>,
    /// `protocol = "sccp"`.
    to_sccp: bool,
    listed: bool,
}

fn desk(index: u32, start: &'static str, declared: bool) -> Desk {
    Desk {
        mac: phone_mac(index).parse().unwrap(),
        model: if index % 2 == 1 {
            Model::Cp7940
        } else {
            Model::Cp7960
        },
        start,
        declared: declared.then_some(start),
        to_sccp: false,
        listed: true,
    }
}

fn line(desk: &Desk) -> String {
    format!("{}", 3000 + (desk.mac.0[5] as u32))
}

/// phoneprov.toml for `desks` (the listed ones), DHCP for any Cisco MAC on
/// the loopback, the firmware folder holding `loads`.
fn site(base: &Path, desks: &[Desk], loads: &[String]) -> PathBuf {
    for load in loads {
        write_load(&base.join("firmware"), load).unwrap();
    }
    let mut text = LOOPBACK_SERVE
        .replace("mode = \"known\"", "mode = \"cisco\"")
        .replace("\"127.0.0.110\"", "\"127.0.0.200\"");
    text.push_str(&format!(
        "[firmware]\nsip = \"{SIP_TARGET}\"\nsccp = \"{SCCP_TARGET}\"\n"
    ));
    for desk in desks.iter().filter(|d| d.listed) {
        text.push_str(&format!(
            "[[phone]]\nmac = \"{}\"\nmodel = \"{}\"\nlines = [{{ name = \"{}\", password = \"pw-{}\" }}]\n",
            desk.mac,
            desk.model.number(),
            line(desk),
            line(desk)
        ));
        if let Some(current) = desk.declared {
            text.push_str(&format!("current = \"{current}\"\n"));
        }
        if desk.to_sccp {
            text.push_str("protocol = \"sccp\"\n");
        }
    }
    let config = base.join("phoneprov.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// Boots the phone. A phone on old SIP firmware that nobody declared
/// registers once on it (its User-Agent names its version); phoneprov then
/// tells it to reboot (check-sync) and it climbs from there.
async fn climb(desk: &Desk, phone: &mut Phone, network: &Network) -> Running {
    let running = phone
        .boot(network)
        .await
        .unwrap_or_else(|e| panic!("boot failed: {e}\n{}", story(phone)));
    let learned_at_register =
        desk.declared.is_none() && phone.flash().family() == Family::SipBeforeLoader;
    if !learned_at_register {
        return running;
    }
    match phone.await_check_sync(network).await {
        Ok(AfterCheckSync::Rebooted(now)) => now,
        other => panic!("no reboot into the ladder: {other:?}\n{}", story(phone)),
    }
}

/// 1/20 of a real phone's timers: twenty phones flashing at once on a
/// small machine still answer each other within a DHCP retry (200 ms).
fn timing() -> Timing {
    Timing::scaled(0.05)
}

/// Boots every desk's phone at once; the phones at the end, in order.
fn run_office(desks: &[Desk], network: &Network) -> Vec<(Phone, Running)> {
    runtime().block_on(async {
        let mut boots = tokio::task::JoinSet::new();
        for (i, desk) in desks.iter().enumerate() {
            let flash = Flash::with(desk.start).unwrap();
            let mut phone = Phone::new(desk.mac, desk.model, flash, timing());
            let (desk, network) = (desk.clone(), *network);
            boots.spawn(async move {
                // Only against a hang: every step of a boot is bounded.
                let running = tokio::time::timeout(
                    Duration::from_secs(600),
                    climb(&desk, &mut phone, &network),
                )
                .await
                .unwrap_or_else(|_| panic!("the climb did not end:\n{}", story(&phone)));
                (i, phone, running)
            });
        }
        let mut ended: Vec<(usize, Phone, Running)> = boots.join_all().await;
        ended.sort_by_key(|(i, _, _)| *i);
        ended
            .into_iter()
            .map(|(_, phone, running)| (phone, running))
            .collect()
    })
}

/// The images the phone wrote to flash, in order.
fn flashed(phone: &Phone) -> Vec<String> {
    phone
        .events()
        .iter()
        .filter_map(|e| match e {
            PhoneEvent::Flashed { file, .. } => Some(file.clone()),
            _ => None,
        })
        .collect()
}

/// The `phoneprov status` paragraph of one phone.
fn status_of(status: &str, mac: Mac) -> String {
    let start = status
        .find(&mac.colons())
        .unwrap_or_else(|| panic!("{} not in status:\n{status}", mac.colons()));
    let rest = &status[start..];
    let end = rest[1..].find("\n0").map_or(rest.len(), |i| i + 1);
    rest[..end].to_owned()
}

#[test]
fn twenty_phones_from_four_firmwares_climb_their_ladders_to_registered_sip() {
    let tree = Tree::new();
    // SCCP 3.3 declared (phoneprov cannot see an old SCCP phone's version),
    // SCCP 8.1(2) not declared (the loader needs no ladder), SIP 2.3 not
    // declared (it names its version when it registers), SIP 6.3 declared.
    let families = [
        ("P00303030300", true),
        ("P00308010200", false),
        ("P0S30203", false),
        ("P0S3-06-3-00", true),
    ];
    let desks: Vec<Desk> = (1..=20)
        .map(|i| {
            let (start, declared) = families[(i as usize - 1) % 4];
            desk(i, start, declared)
        })
        .collect();
    let config = site(tree.base(), &desks, &ladder_loads());
    let server = Server::serve(&config);
    let network = network(&server);

    let phones = run_office(&desks, &network);

    let target = Flash::with("P0S3-8-12-00").unwrap();
    for (desk, (phone, running)) in desks.iter().zip(&phones) {
        assert_eq!(running, &registered(&line(desk)), "{}", story(phone));
        assert_eq!(phone.flash(), &target, "{}", story(phone));
        let expected: &[&str] = match desk.start {
            "P00303030300" => &[
                "P00305000200.sbn",
                "P003-07-4-00.sbn",
                "P0S3-07-4-00.sb2",
                "P003-8-12-00.sbn",
                "P0S3-8-12-00.sb2",
            ],
            "P00308010200" => &["P003-8-12-00.sbn", "P0S3-8-12-00.sb2"],
            "P0S30203" => &[
                "P0S3-04-4-00.bin",
                "P0S3-05-3-00.sbn",
                "P0S3-06-3-00.sbn",
                "P003-07-4-00.sbn",
                "P0S3-07-4-00.sb2",
                "P003-8-12-00.sbn",
                "P0S3-8-12-00.sb2",
            ],
            _ => &[
                "P003-07-4-00.sbn",
                "P0S3-07-4-00.sb2",
                "P003-8-12-00.sbn",
                "P0S3-8-12-00.sb2",
            ],
        };
        assert_eq!(flashed(phone), expected, "{}", story(phone));
        assert!(
            !phone
                .events()
                .iter()
                .any(|e| matches!(e, PhoneEvent::ImageRefused { .. })),
            "{}",
            story(phone)
        );
    }
    let status = printed(&run_binary(&["--config", arg(&config), "status"]));
    for desk in &desks {
        let paragraph = status_of(&status, desk.mac);
        let show = || {
            printed(&run_binary(&[
                "--config",
                arg(&config),
                "show",
                &desk.mac.colons(),
            ]))
        };
        assert!(
            paragraph.contains("registered") && paragraph.contains("at its target P0S3-8-12-00"),
            "{paragraph}\n{}",
            show()
        );
        assert!(!paragraph.contains("PROBLEM"), "{paragraph}");
    }
}

#[test]
fn a_missing_intermediate_load_stops_the_phone_and_is_named() {
    let tree = Tree::new();
    let desks = [desk(1, "P00305000200", true)];
    // No SIP 7.x load: SCCP 5.x cannot go to SIP 8.12 without one.
    let loads: Vec<String> = ladder_loads()
        .into_iter()
        .filter(|l| l != "P0S3-07-4-00")
        .collect();
    let config = site(tree.base(), &desks, &loads);
    let server = Server::serve(&config);
    let network = network(&server);

    let phones = run_office(&desks, &network);

    let (phone, running) = &phones[0];
    // Told nothing that changes its firmware, it keeps running SCCP 5.0(2).
    assert_eq!(running, &Running::Sccp, "{}", story(phone));
    assert_eq!(phone.flash(), &Flash::with("P00305000200").unwrap());
    assert!(flashed(phone).is_empty(), "{}", story(phone));
    let mac = desks[0].mac.colons();
    let status = printed(&run_binary(&["--config", arg(&config), "status"]));
    let paragraph = status_of(&status, desks[0].mac);
    assert!(
        paragraph.contains("needs a SIP 7.x load on its way to P0S3-8-12-00"),
        "{paragraph}"
    );
    assert!(
        paragraph.contains("import a SIP 7.x load, e.g. P0S3-07-4-00"),
        "{paragraph}"
    );
    let plan = printed(&run_binary(&["--config", arg(&config), "plan", &mac]));
    assert!(plan.contains("P0S3-07-4-00"), "{plan}");
    drop(server);
}

#[test]
fn a_phone_not_in_the_config_is_discovered_and_left_alone() {
    let tree = Tree::new();
    let mut stranger = desk(7, "P00308010200", false);
    stranger.listed = false;
    let desks = [desk(1, "P0S3-8-12-00", false), stranger];
    let config = site(tree.base(), &desks, &ladder_loads());
    let server = Server::serve(&config);
    let network = network(&server);

    let phones = run_office(&desks, &network);

    let (phone, running) = &phones[1];
    assert_eq!(running, &Running::Sccp, "{}", story(phone));
    assert_eq!(phone.flash(), &Flash::with("P00308010200").unwrap());
    assert!(flashed(phone).is_empty(), "{}", story(phone));
    let status = printed(&run_binary(&["--config", arg(&config), "status"]));
    let paragraph = status_of(&status, desks[1].mac);
    assert!(paragraph.contains("not in phoneprov.toml"), "{paragraph}");
    server.wait_text(0, "DISCOVERED 00:18:B9:00:00:07");
    let discovered = std::fs::read_to_string(tree.base().join("state/discovered.toml"))
        .unwrap_or_else(|e| panic!("no discovered.toml: {e}"));
    assert!(
        discovered.contains(&desks[1].mac.to_string())
            || discovered.contains(&desks[1].mac.colons()),
        "{discovered}"
    );
}

#[test]
fn sip_phones_are_taken_back_to_sccp_the_old_one_through_7x() {
    let tree = Tree::new();
    let mut desks = [
        desk(1, "P0S3-8-12-00", false),
        desk(2, "P0S3-06-3-00", true),
    ];
    for desk in &mut desks {
        desk.to_sccp = true;
    }
    let config = site(tree.base(), &desks, &ladder_loads());
    let server = Server::serve(&config);
    let network = network(&server);

    let phones = run_office(&desks, &network);

    let sccp = Flash::with("P00308010200").unwrap();
    for (phone, running) in &phones {
        assert_eq!(running, &Running::Sccp, "{}", story(phone));
        assert_eq!(phone.flash(), &sccp, "{}", story(phone));
    }
    assert_eq!(
        flashed(&phones[0].0),
        ["P00308010200.sbn", "P00308010200.sb2"],
        "{}",
        story(&phones[0].0)
    );
    assert_eq!(
        flashed(&phones[1].0),
        [
            "P003-07-4-00.sbn",
            "P0S3-07-4-00.sb2",
            "P00308010200.sbn",
            "P00308010200.sb2"
        ],
        "{}",
        story(&phones[1].0)
    );
    drop(server);
}

#[test]
fn where_a_phone_is_on_its_ladder_survives_a_restart() {
    let tree = Tree::new();
    // SCCP 3.3 declared; no SIP 7.x load yet, so it stops on SCCP 5.0(2).
    let desks = [desk(1, "P00303030300", true)];
    let loads: Vec<String> = ladder_loads()
        .into_iter()
        .filter(|l| l != "P0S3-07-4-00")
        .collect();
    let config = site(tree.base(), &desks, &loads);
    let mut server = Server::serve(&config);
    let phones = run_office(&desks, &network(&server));
    assert_eq!(flashed(&phones[0].0), ["P00305000200.sbn"]);

    server.signal("INT");
    server.wait_exit();
    let server = server.restart();
    // What it runs now is what phoneprov saw, not the SCCP 3.3 declared.
    let mac = desks[0].mac.colons();
    let plan = printed(&run_binary(&["--config", arg(&config), "plan", &mac]));
    assert!(
        plan.contains("runs SCCP 5.0(2) (P00305000200) (seen by phoneprov)"),
        "{plan}"
    );
    assert!(plan.contains("import a SIP 7.x load"), "{plan}");
    let show = printed(&run_binary(&["--config", arg(&config), "show", &mac]));
    assert!(show.contains("asked for P00305000200.sbn: sent"), "{show}");

    // The missing load arrives: the phone goes on from SCCP 5.0(2).
    write_load(&tree.base().join("firmware"), "P0S3-07-4-00").unwrap();
    let mut phone = phones.into_iter().next().unwrap().0;
    let running = runtime().block_on(phone.boot(&network(&server))).unwrap();
    assert_eq!(running, registered(&line(&desks[0])), "{}", story(&phone));
    assert_eq!(
        flashed(&phone),
        [
            "P00305000200.sbn",
            "P003-07-4-00.sbn",
            "P0S3-07-4-00.sb2",
            "P003-8-12-00.sbn",
            "P0S3-8-12-00.sb2"
        ]
    );
}
