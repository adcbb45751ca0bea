//! `phoneprov serve` as a real DHCP server on port 67, in a network
//! namespace of its own, answering real clients in another one across a
//! veth pair (see `netns.rs`): busybox udhcpc, ISC dhclient and dhcpcd as
//! the phone's OS would run them, a scapy probe that prints the replies
//! byte for byte, and a relay agent built from a UDP socket on port 67 of
//! the client namespace (for relaying, malformed packets, a starvation
//! flood and a burst of 500 leases through a kill -9).
//!
//! Every test needs root; each skips saying why without it (or a client),
//! and fails instead under PHONEPROV_REQUIRE_PEERS=1.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use dhcproto::v4::{self, relay, DhcpOption, MessageType};

use crate::dhcp_wire::{decode, dora, message_type, option, options, packet};
use crate::harness::{
    arg, available, poll, printed, random_bytes, require, run_binary, Raw, Server, Tree,
};
use crate::netns::Lab;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// The client namespace's own address, where its relay agent listens.
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 254);
const DNS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 99, 0, 253), Ipv4Addr::new(10, 99, 0, 252)];
const DOMAIN: &str = "phones.example";
const LEASE_SECS: u32 = 7200;

/// The listed phone, with a reservation.
const PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0x00, 0x00, 0x01];
const PHONE_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 50);
/// Listed, without a reservation: gets a pool address.
const PHONE_2: [u8; 6] = [0x00, 0x18, 0xB9, 0x00, 0x00, 0x02];
/// Unlisted, with a Cisco phone OUI.
const CISCO: [u8; 6] = [0x00, 0x1B, 0xD4, 0x12, 0x34, 0x56];
/// Unlisted, not Cisco (QEMU MACs): PCs.
const PC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const PC_2: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x03];

const VENDOR_CLASS: &str = "Cisco Systems, Inc. IP Phone CP-7940G";

fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02X}")).join(":")
}

// ---------------------------------------------------------------------------
// The site, the lab and the server

/// The `[dhcp]` scope of one test.
struct Site {
    mode: &'static str,
    /// Prefix length of the server network, 10.99.0.0/N.
    prefix: u8,
    pool: [&'static str; 2],
    /// More `[dhcp]` lines.
    dhcp: String,
    /// More `[[phone]]` entries.
    phones: String,
}

impl Site {
    fn new(mode: &'static str) -> Site {
        Site {
            mode,
            prefix: 24,
            pool: ["10.99.0.100", "10.99.0.199"],
            dhcp: String::new(),
            phones: String::new(),
        }
    }

    fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX << (32 - self.prefix))
    }

    fn write(&self, base: &Path, interface: &str) -> PathBuf {
        std::fs::create_dir_all(base.join("firmware")).unwrap();
        let config = base.join("phoneprov.toml");
        let [first, last] = self.pool;
        let text = format!(
            r#"[server]
address = "{SERVER}"
[tftp]
bind = "127.0.0.1:0"
[dhcp]
mode = "{mode}"
interface = "{interface}"
netmask = "{netmask}"
pool = ["{first}", "{last}"]
router = "{ROUTER}"
dns = ["{dns0}", "{dns1}"]
domain = "{DOMAIN}"
lease_time = "2h"
{dhcp}
[[phone]]
mac = "{phone}"
model = "7940"
ip = "{PHONE_IP}"
[[phone]]
mac = "{phone_2}"
model = "7960"
{phones}"#,
            mode = self.mode,
            netmask = self.netmask(),
            dns0 = DNS[0],
            dns1 = DNS[1],
            dhcp = self.dhcp,
            phone = mac_text(PHONE),
            phone_2 = mac_text(PHONE_2),
            phones = self.phones,
        );
        std::fs::write(&config, text).unwrap();
        config
    }
}

/// A lab with `phoneprov serve` running in its server namespace. Fields
/// drop in order: the server is killed before its namespace goes.
struct Bench {
    server: Server,
    config: PathBuf,
    lab: Lab,
    tree: Tree,
}

impl Bench {
    /// None (the test skips) when this machine cannot build the lab.
    fn start(site: &Site) -> Option<Bench> {
        Bench::launch(site, false)
    }

    /// For the load tests: no other test runs meanwhile.
    fn start_alone(site: &Site) -> Option<Bench> {
        Bench::launch(site, true)
    }

    fn launch(site: &Site, alone: bool) -> Option<Bench> {
        let lab = Lab::new(&format!("{SERVER}/{}", site.prefix), "00:18:b9:00:00:01")?;
        let tree = Tree::new();
        let config = site.write(tree.base(), lab.server.interface());
        let wrapper = lab.server.exec_prefix();
        let server = if alone {
            Server::serve_wrapped_alone(&wrapper, &config)
        } else {
            Server::serve_wrapped(&wrapper, &config)
        };
        server.wait_text(0, "DHCP on 0.0.0.0:67");
        Some(Bench {
            server,
            config,
            lab,
            tree,
        })
    }

    /// A relay agent: the client namespace gets the address 10.99.0.2 and a
    /// socket on its port 67, which sends to the server's port 67.
    fn relay(&self, prefix: u8) -> Raw {
        self.lab.client.add_address(&format!("{RELAY}/{prefix}"));
        let socket = self.lab.client.udp(SocketAddrV4::new(RELAY, 67));
        Raw::on(socket, SocketAddr::from((SERVER, 67)))
    }

    /// Fails the test if the server died or wrote a warning or error.
    fn assert_healthy(&mut self) {
        assert!(
            self.server.running(),
            "phoneprov died; stdout:\n{}\nstderr:\n{}",
            self.server.lines().join("\n"),
            self.server.stderr_lines().join("\n")
        );
        let alarming: Vec<_> = self
            .server
            .stderr_lines()
            .into_iter()
            .filter(|l| ["WARN", "ERROR", "panic"].iter().any(|w| l.contains(w)))
            .collect();
        assert!(alarming.is_empty(), "phoneprov complained:\n{alarming:#?}");
    }

    fn leases(&self) -> Vec<LeaseRow> {
        leases(&self.config)
    }
}

/// One row of `phoneprov leases`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LeaseRow {
    mac: String,
    ip: Ipv4Addr,
    state: String,
    vendor_class: String,
}

/// `phoneprov --config CONFIG leases`, parsed.
fn leases(config: &Path) -> Vec<LeaseRow> {
    let output = run_binary(&["--config", arg(config), "leases"]);
    let text = printed(&output);
    assert!(output.status.success(), "phoneprov leases failed:\n{text}");
    assert!(!text.contains("unreadable"), "damaged lease rows:\n{text}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 6, "a lease line too short: {line:?}");
            LeaseRow {
                mac: fields[0].to_owned(),
                ip: fields[1]
                    .parse()
                    .unwrap_or_else(|_| panic!("no address in {line:?}")),
                state: fields[3].to_owned(),
                vendor_class: fields[5..].join(" "),
            }
        })
        .collect()
}

/// Asserts that no address is held by two clients, and returns the rows by MAC.
fn by_mac(rows: &[LeaseRow]) -> HashMap<String, LeaseRow> {
    let mut ips = HashSet::new();
    for row in rows {
        assert!(ips.insert(row.ip), "{} is held twice:\n{rows:#?}", row.ip);
    }
    rows.iter().map(|r| (r.mac.clone(), r.clone())).collect()
}

// ---------------------------------------------------------------------------
// Real clients

fn peer_file(name: &str) -> String {
    format!("{}/tests/peers/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The variables a client handed its hook for `event`, from what
/// `tests/peers/dhcp-hook.sh` printed (the last such event).
fn hook_event(text: &str, event: &str) -> Option<BTreeMap<String, String>> {
    let start = format!("--- event {event}");
    let block = text.rsplit_once(&start)?.1;
    let block = block.split("--- end").next().unwrap_or(block);
    Some(
        block
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
            .collect(),
    )
}

fn var<'a>(vars: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    vars.get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("the hook got no {name}: {vars:#?}"))
}

/// busybox udhcpc in the client namespace as a 7940 would ask: vendor
/// class, options 150 and 66, one try of 3 DISCOVERs 1 s apart (`-n`: exit
/// 1 when no lease). Returns its output; `extra` adds arguments.
fn udhcpc(lab: &Lab, vendor_class: &str, extra: &[&str]) -> Output {
    let hook = peer_file("dhcp-hook.sh");
    let mut args = vec![
        "-i",
        lab.client.interface(),
        "-f",
        "-q",
        "-n",
        "-t",
        "3",
        "-T",
        "1",
        "-O",
        "150",
        "-O",
        "66",
        "-V",
        vendor_class,
        "-s",
        &hook,
    ];
    args.extend(extra);
    lab.client.run("udhcpc", &args)
}

/// The lease udhcpc reported bound, or None when it got none (exit 1).
fn udhcpc_lease(output: &Output) -> Option<BTreeMap<String, String>> {
    let text = printed(output);
    match output.status.code() {
        Some(0) => Some(hook_event(&text, "bound").unwrap_or_else(|| panic!("no bound:\n{text}"))),
        Some(1) => {
            assert!(text.contains("no lease"), "udhcpc failed:\n{text}");
            None
        }
        _ => panic!("udhcpc: {} (124 = timeout):\n{text}", output.status),
    }
}

/// Asserts what every phone of the site is told, as udhcpc reports it.
fn assert_udhcpc_options(vars: &BTreeMap<String, String>) {
    assert_eq!(var(vars, "subnet"), "255.255.255.0");
    assert_eq!(var(vars, "router"), ROUTER.to_string());
    assert_eq!(var(vars, "dns"), format!("{} {}", DNS[0], DNS[1]));
    assert_eq!(var(vars, "domain"), DOMAIN);
    assert_eq!(var(vars, "lease"), LEASE_SECS.to_string());
    assert_eq!(var(vars, "serverid"), SERVER.to_string());
    assert_eq!(var(vars, "siaddr"), SERVER.to_string());
    // Option 66, which udhcpc calls tftp, and option 150 in hex.
    assert_eq!(var(vars, "tftp"), SERVER.to_string());
    assert_eq!(var(vars, "opt150"), "0a630001");
}

fn ip_in(ip: &str, first: Ipv4Addr, last: Ipv4Addr) -> bool {
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| (first..=last).contains(&ip))
}

#[test]
fn udhcpc_as_a_7940_gets_its_reservation_and_the_tftp_options_and_a_stranger_nothing() {
    if !require("udhcpc") {
        return;
    }
    let Some(mut bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    // No -B: like a phone, udhcpc asks for a unicast answer to an address
    // it does not hold yet, so the server must fill its ARP cache.
    let lease = udhcpc_lease(&udhcpc(&bench.lab, VENDOR_CLASS, &[]))
        .expect("the listed phone got no lease");
    assert_eq!(var(&lease, "ip"), PHONE_IP.to_string());
    assert_udhcpc_options(&lease);
    bench.server.wait_text(
        0,
        &format!("{}  DHCP ACK {PHONE_IP} (lease 2h)", mac_text(PHONE)),
    );
    let rows = bench.leases();
    let row = &by_mac(&rows)[&mac_text(PHONE)];
    assert_eq!(
        (row.ip, row.state.as_str(), row.vendor_class.as_str()),
        (PHONE_IP, "bound", VENDOR_CLASS)
    );

    // An unlisted MAC, even a Cisco one, is the LAN's business in known mode.
    let mark = bench.server.mark();
    bench.lab.client.set_mac(&mac_text(CISCO));
    let output = udhcpc(&bench.lab, VENDOR_CLASS, &[]);
    assert_eq!(udhcpc_lease(&output), None);
    let unlisted = mac_text(CISCO);
    let said: Vec<_> = bench.server.lines()[mark..]
        .iter()
        .filter(|l| l.contains(&unlisted))
        .cloned()
        .collect();
    assert!(said.is_empty(), "lines about an unlisted MAC: {said:#?}");
    assert!(!by_mac(&bench.leases()).contains_key(&unlisted));
    bench.assert_healthy();
}

/// Who gets a lease from udhcpc (broadcast flag set, -B, so this checks
/// who is answered, whatever the unicast path does) in `mode`:
/// (MAC, vendor class, expected to be answered).
fn answered_in(mode: &'static str, expected: [bool; 4]) {
    if !require("udhcpc") {
        return;
    }
    let Some(mut bench) = Bench::start(&Site::new(mode)) else {
        return;
    };
    let pool = (Ipv4Addr::new(10, 99, 0, 100), Ipv4Addr::new(10, 99, 0, 199));
    let cases = [
        (PHONE, VENDOR_CLASS, "a listed phone"),
        (CISCO, "udhcp 1.35.0", "an unlisted Cisco MAC"),
        (PC, VENDOR_CLASS, "a PC saying it is a 7940 (option 60)"),
        (PC_2, "udhcp 1.35.0", "a PC"),
    ];
    let mut got = Vec::new();
    for (mac, vendor_class, who) in cases {
        // A new client each time: the MAC, and the client identifier udhcpc
        // derives from it.
        bench.lab.client.set_mac(&mac_text(mac));
        let lease = udhcpc_lease(&udhcpc(&bench.lab, vendor_class, &["-B"]));
        if let Some(lease) = &lease {
            let ip = var(lease, "ip");
            if mac == PHONE {
                assert_eq!(ip, PHONE_IP.to_string(), "{who}");
            } else {
                assert!(ip_in(ip, pool.0, pool.1), "{who}: {ip} not in the pool");
            }
            assert_udhcpc_options(lease);
        }
        got.push((who, lease.is_some()));
    }
    let want: Vec<_> = cases
        .iter()
        .zip(expected)
        .map(|((_, _, who), answered)| (*who, answered))
        .collect();
    assert_eq!(got, want, "who was answered in {mode} mode");
    bench.assert_healthy();
}

#[test]
fn known_mode_answers_only_listed_phones() {
    answered_in("known", [true, false, false, false]);
}

#[test]
fn cisco_mode_answers_cisco_macs_and_cisco_vendor_classes() {
    answered_in("cisco", [true, true, true, false]);
}

#[test]
fn pool_mode_answers_everybody() {
    answered_in("pool", [true, true, true, true]);
}

/// A printer someone gave a fixed address inside the pool answers the
/// server's ping: that address is held back and the client is offered the
/// next one, not a conflict.
#[test]
fn an_address_that_answers_a_ping_is_held_back_and_another_offered() {
    if !require("udhcpc") {
        return;
    }
    let Some(bench) = Bench::start(&Site::new("pool")) else {
        return;
    };
    let taken = Ipv4Addr::new(10, 99, 0, 100);
    bench.lab.client.add_address(&format!("{taken}/24"));
    bench.lab.client.set_mac(&mac_text(PC));
    let lease = udhcpc_lease(&udhcpc(&bench.lab, "udhcp 1.35.0", &["-B"]))
        .expect("no lease while an address of the pool was taken");
    let offered: Ipv4Addr = var(&lease, "ip").parse().unwrap();
    assert_ne!(
        offered, taken,
        "offered an address another device answers on"
    );
    assert!(ip_in(
        &offered.to_string(),
        taken,
        Ipv4Addr::new(10, 99, 0, 199)
    ));
    let said = format!("{taken} answers a ping");
    let warned = poll(Duration::from_secs(30), Duration::from_millis(100), || {
        bench
            .server
            .stderr_lines()
            .into_iter()
            .find(|l| l.contains(&said))
    });
    assert!(warned.is_some(), "serve did not say {said:?}");
    let rows = bench.leases();
    let held = rows
        .iter()
        .find(|row| row.ip == taken)
        .unwrap_or_else(|| panic!("{taken} is not held back: {rows:?}"));
    assert_eq!(held.state, "declined");
}

#[test]
fn dhclient_with_option_150_declared_is_bound() {
    if !require("dhclient") {
        return;
    }
    let Some(bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    let dir = bench.tree.base();
    let conf = dir.join("dhclient.conf");
    std::fs::write(
        &conf,
        format!(
            "option cisco-tftp code 150 = array of ip-address;\n\
             send vendor-class-identifier \"{VENDOR_CLASS}\";\n\
             request subnet-mask, routers, domain-name-servers, domain-name, \
             tftp-server-name, cisco-tftp;\n\
             timeout 20;\nretry 1;\n"
        ),
    )
    .unwrap();
    let leases = dir.join("dhclient.leases");
    std::fs::write(&leases, "").unwrap();
    let pid = dir.join("dhclient.pid");
    let hook = peer_file("dhcp-hook.sh");
    let common = [
        "-cf",
        arg(&conf),
        "-sf",
        &hook,
        "-lf",
        arg(&leases),
        "-pf",
        arg(&pid),
    ];
    // -1: one try, then exit 2; after BOUND it goes to the background,
    // until -x stops it.
    let iface = bench.lab.client.interface();
    let output = bench
        .lab
        .client
        .run("dhclient", &[&["-1", "-v"][..], &common, &[iface]].concat());
    let stopped = bench
        .lab
        .client
        .run("dhclient", &[&["-x"][..], &common, &[iface]].concat());
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "dhclient:\n{text}");
    let bound = hook_event(&text, "BOUND").unwrap_or_else(|| panic!("no BOUND:\n{text}"));
    assert_eq!(var(&bound, "new_ip_address"), PHONE_IP.to_string());
    assert_eq!(var(&bound, "new_cisco_tftp"), SERVER.to_string());
    assert_eq!(var(&bound, "new_tftp_server_name"), SERVER.to_string());
    assert_eq!(var(&bound, "new_routers"), ROUTER.to_string());
    assert_eq!(var(&bound, "new_domain_name"), DOMAIN);
    assert_eq!(var(&bound, "new_dhcp_lease_time"), LEASE_SECS.to_string());
    assert!(
        stopped.status.success(),
        "dhclient -x: {}",
        printed(&stopped)
    );
}

#[test]
fn dhcpcd_gets_a_lease_with_the_tftp_options() {
    if !require("dhcpcd") {
        return;
    }
    let Some(bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    let conf = bench.tree.base().join("dhcpcd.conf");
    std::fs::write(
        &conf,
        format!(
            "define 150 array ipaddress cisco_tftp\n\
             option cisco_tftp, tftp_server_name, domain_name_servers, domain_name, routers\n\
             vendorclassid \"{VENDOR_CLASS}\"\n\
             noipv4ll\n"
        ),
    )
    .unwrap();
    // dhcpcd keeps its state in /var/lib/dhcpcd and /run/dhcpcd, with no
    // option to move them: `ip netns exec` gives it a mount namespace of its
    // own, where empty tmpfs go over both, so it touches nothing of the
    // host's. -1: exit once bound; -B: in the foreground; -4: IPv4 only.
    let script = format!(
        "mount -t tmpfs phoneprov-test /var/lib/dhcpcd && \
         mount -t tmpfs phoneprov-test /run && \
         exec dhcpcd -f {} -c {} -1 -4 -B -t 30 {}",
        arg(&conf),
        peer_file("dhcp-hook.sh"),
        bench.lab.client.interface()
    );
    let output = bench.lab.client.run("sh", &["-c", &script]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "dhcpcd:\n{text}");
    let bound = hook_event(&text, "BOUND").unwrap_or_else(|| panic!("no BOUND:\n{text}"));
    // dhcpcd sends no client identifier of the MAC's kind by default, but
    // the reservation is by MAC.
    assert_eq!(var(&bound, "new_ip_address"), PHONE_IP.to_string());
    assert_eq!(var(&bound, "new_cisco_tftp"), SERVER.to_string());
    assert_eq!(var(&bound, "new_tftp_server_name"), SERVER.to_string());
    assert_eq!(var(&bound, "new_routers"), ROUTER.to_string());
    assert_eq!(
        var(&bound, "new_domain_name_servers"),
        format!("{} {}", DNS[0], DNS[1])
    );
    assert_eq!(var(&bound, "new_dhcp_lease_time"), LEASE_SECS.to_string());
}

// ---------------------------------------------------------------------------
// Byte for byte, with scapy

/// Runs `tests/peers/dhcp_probe.py` for `mac`; returns its exit code and
/// the replies it printed ("offer", "ack", "nak") as bytes.
fn probe(lab: &Lab, mac: [u8; 6], extra: &[&str]) -> (Option<i32>, Vec<(String, Vec<u8>)>) {
    let script = peer_file("dhcp_probe.py");
    let mac = mac_text(mac);
    let args = [
        &[
            script.as_str(),
            "--iface",
            lab.client.interface(),
            "--mac",
            &mac,
        ][..],
        extra,
    ]
    .concat();
    let output = lab.client.run("/usr/bin/python3", &args);
    let replies = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(kind, hex)| {
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (kind.to_owned(), bytes)
        })
        .collect();
    (output.status.code(), replies)
}

/// The options the site implies for a 7940's option 55 (1, 3, 6, 15, 42,
/// 66, 150), in the order documented: message type and server identifier;
/// what it asked for, in its order (no NTP is set, so no 42); then the
/// lease times every lease carries.
fn expected_options(message_type: u8) -> Vec<(u8, Vec<u8>)> {
    let secs = |s: u32| s.to_be_bytes().to_vec();
    vec![
        (53, vec![message_type]),
        (54, SERVER.octets().to_vec()),
        (1, vec![255, 255, 255, 0]),
        (3, ROUTER.octets().to_vec()),
        (6, [DNS[0].octets(), DNS[1].octets()].concat()),
        (15, DOMAIN.as_bytes().to_vec()),
        (66, b"10.99.0.1".to_vec()),
        (150, SERVER.octets().to_vec()),
        (51, secs(LEASE_SECS)),
        (58, secs(LEASE_SECS / 2)),
        (59, secs(LEASE_SECS / 8 * 7)),
    ]
}

fn assert_reply(reply: &[u8], kind: u8, mac: [u8; 6], broadcast: bool) {
    assert_eq!(options(reply), expected_options(kind), "the options");
    let m = decode(reply);
    assert_eq!(m.opcode(), v4::Opcode::BootReply);
    assert_eq!(m.yiaddr(), PHONE_IP);
    assert_eq!(m.siaddr(), SERVER, "siaddr");
    assert_eq!(m.giaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(m.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(&m.chaddr()[..6], &mac);
    assert_eq!(
        m.flags().broadcast(),
        broadcast,
        "the broadcast flag echoed"
    );
    assert!(m.sname().is_none_or(|s| s.iter().all(|&b| b == 0)));
    assert!(m.fname().is_none_or(|s| s.iter().all(|&b| b == 0)));
}

/// True when Debian's python3 can import scapy; says why not otherwise.
fn require_scapy() -> bool {
    let works = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import scapy.all"])
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        works,
        "/usr/bin/python3 cannot import scapy",
        "Debian: python3-scapy",
    )
}

#[test]
fn scapy_sees_exactly_the_options_the_config_implies() {
    if !require_scapy() {
        return;
    }
    let Some(bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    for broadcast in [true, false] {
        let flag: &[&str] = if broadcast { &["--broadcast"] } else { &[] };
        let (code, replies) = probe(&bench.lab, PHONE, flag);
        assert_eq!(code, Some(0), "probe (broadcast {broadcast}): {replies:?}");
        let kinds: Vec<_> = replies.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["offer", "ack"]);
        assert_reply(&replies[0].1, 2, PHONE, broadcast);
        assert_reply(&replies[1].1, 5, PHONE, broadcast);
        assert_eq!(decode(&replies[0].1).xid(), decode(&replies[1].1).xid());
    }
}

/// A phone's reservation is by MAC ("the address phoneprov's DHCP server
/// always gives this phone"), whatever client identifier it sends: udhcpc
/// sends option 61 (01 and the MAC), the probe, like ISC dhclient, none; a
/// phone whose new firmware changes its option 61 is the same phone.
#[test]
fn a_phone_keeps_its_reservation_when_its_client_identifier_changes() {
    if !require("udhcpc") || !require_scapy() {
        return;
    }
    let Some(bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    let lease = udhcpc_lease(&udhcpc(&bench.lab, VENDOR_CLASS, &["-B"])).expect("a lease");
    assert_eq!(var(&lease, "ip"), PHONE_IP.to_string());
    let (code, replies) = probe(&bench.lab, PHONE, &["--broadcast"]);
    assert_eq!(code, Some(0), "probe: {replies:?}");
    let offered: Vec<_> = replies.iter().map(|(_, r)| decode(r).yiaddr()).collect();
    assert_eq!(
        offered,
        [PHONE_IP, PHONE_IP],
        "the same MAC without option 61 got another address; leases:\n{:#?}",
        bench.leases()
    );
}

// ---------------------------------------------------------------------------
// A relay agent

#[test]
fn a_relay_on_the_servers_network_is_answered_on_its_port_67_and_a_foreign_one_ignored() {
    let Some(bench) = Bench::start(&Site::new("known")) else {
        return;
    };
    let relay = bench.relay(24);
    // Option 82 with a circuit id (sub-option 1), as a switch adds it.
    let agent_info = vec![1, 4, b'p', b'o', b'r', b't'];
    let via_relay = |m: &mut v4::Message| {
        m.set_giaddr(RELAY).set_hops(1);
        let mut info = relay::RelayAgentInformation::default();
        info.insert(relay::RelayInfo::AgentCircuitId(b"port".to_vec()));
        m.opts_mut().insert(DhcpOption::RelayAgentInformation(info));
    };
    // dora() receives on the relay's own port 67: where the answers must go.
    let (offer, ack) = dora(&relay, PHONE, SERVER, via_relay);
    for reply in [&offer, &ack] {
        let m = decode(reply);
        assert_eq!(m.yiaddr(), PHONE_IP);
        assert_eq!(m.giaddr(), RELAY);
        assert_eq!(option(reply, 150), Some(SERVER.octets().to_vec()));
        // Option 82 echoed unchanged, last (RFC 3046 §2.2).
        assert_eq!(options(reply).last(), Some(&(82, agent_info.clone())));
    }
    let row = &by_mac(&bench.leases())[&mac_text(PHONE)];
    assert_eq!((row.ip, row.state.as_str()), (PHONE_IP, "bound"));

    // A relay that says it is on 192.0.2.0/24: not this server's network.
    let foreign = Ipv4Addr::new(192, 0, 2, 1);
    relay.send(&packet(MessageType::Discover, PHONE_2, |m| {
        m.set_giaddr(foreign).set_hops(1);
    }));
    relay.expect_silence("a DISCOVER relayed from a foreign network");
    bench.server.wait_text(
        0,
        &format!("relayed from {foreign}, a network this server does not serve"),
    );
    assert!(!by_mac(&bench.leases()).contains_key(&mac_text(PHONE_2)));
}

// ---------------------------------------------------------------------------
// Hostile packets

/// A DISCOVER from `mac` with `extra` raw bytes inserted before End.
fn discover_with(mac: [u8; 6], extra: &[u8]) -> Vec<u8> {
    let mut bytes = packet(MessageType::Discover, mac, |m| {
        m.set_giaddr(RELAY);
    });
    let end = bytes
        .iter()
        .rposition(|&b| b == 255)
        .expect("an End option");
    bytes.splice(end..end, extra.iter().copied());
    bytes
}

/// `packet` with `bytes` written over it at `at`.
fn overwritten(mut packet: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    packet[at..at + bytes.len()].copy_from_slice(bytes);
    packet
}

/// A DISCOVER from `nth_mac(n)` without its End option, and `tail` after.
fn unterminated(n: usize, tail: &[u8]) -> Vec<u8> {
    let mut packet = discover_with(nth_mac(n), &[]);
    assert_eq!(packet.pop(), Some(255), "End, last");
    packet.extend_from_slice(tail);
    packet
}

/// A MAC of its own for each bad packet, so the per-MAC rate limit is not
/// what silences them.
fn nth_mac(n: usize) -> [u8; 6] {
    let n = n as u16;
    [0x00, 0x18, 0xB9, 0xEE, (n >> 8) as u8, n as u8]
}

/// Kea's CVE-2019-6472/6473 regressions and their neighbours: packets that
/// crashed DHCP servers. None may get an answer; the server must go on.
fn hostile_packets() -> Vec<(&'static str, Vec<u8>)> {
    let mut long_id = vec![61, 255, 1];
    long_id.extend([0xAB; 254]);
    long_id.extend([61, 40]);
    long_id.extend([0xCD; 40]);
    let valid = discover_with(nth_mac(0), &[]);
    let mut list = vec![
        (
            "a client id of 295 bytes in two pieces",
            discover_with(nth_mac(1), &long_id),
        ),
        (
            "a client id of 1 byte",
            discover_with(nth_mac(2), &[61, 1, 1]),
        ),
        (
            "a client id of 0 bytes",
            discover_with(nth_mac(3), &[61, 0]),
        ),
        (
            "option 12 running past the end",
            unterminated(4, &[12, 200, b'a', b'b']),
        ),
        ("a truncated option length", unterminated(5, &[61])),
        (
            "a message type of 2 bytes",
            discover_with(nth_mac(6), &[53, 2, 1, 1]),
        ),
        (
            "an OFFER from a client",
            packet(MessageType::Offer, nth_mac(15), |m| {
                m.set_giaddr(RELAY);
            }),
        ),
        (
            "requested address of 3 bytes",
            discover_with(nth_mac(7), &[50, 3, 10, 99, 0]),
        ),
        (
            "max message size of 1 byte",
            discover_with(nth_mac(8), &[57, 1, 0]),
        ),
        (
            "option overload of 4",
            discover_with(nth_mac(9), &[52, 1, 4]),
        ),
        (
            "overload into a file field that runs off",
            // `file` (offset 108) is all zeros: option 12 of 250 bytes there.
            overwritten(discover_with(nth_mac(10), &[52, 1, 1]), 108, &[12, 250]),
        ),
        (
            "hlen 17",
            overwritten(discover_with(nth_mac(11), &[]), 2, &[17]),
        ),
        (
            "hardware type 32 (InfiniBand)",
            overwritten(discover_with(nth_mac(12), &[]), 1, &[32]),
        ),
        (
            "a BOOTREPLY sent to the server",
            overwritten(discover_with(nth_mac(13), &[]), 0, &[2]),
        ),
        (
            "no magic cookie",
            overwritten(discover_with(nth_mac(14), &[]), 236, &[0; 4]),
        ),
        ("239 bytes", valid[..239].to_vec()),
        ("the BOOTP header alone", valid[..236].to_vec()),
        ("one byte", vec![1]),
        ("nothing", Vec::new()),
    ];
    // Packets "straight from a fuzzer": a valid header, then noise.
    for n in 0..200 {
        let mut p = valid[..240].to_vec();
        p[28..34].copy_from_slice(&nth_mac(100 + n));
        p.extend(random_bytes(1 + n * 3 % 500, &format!("dhcp-fuzz-{n}")));
        list.push(("random options", p));
    }
    list
}

/// Host names Kea choked on: given by a listed phone in a DISCOVER that is
/// otherwise fine, each must still get an offer (the name is not recorded).
fn bad_hostnames() -> Vec<(&'static str, Vec<u8>)> {
    let mut long = vec![12, 255];
    long.extend([b'a'; 255]);
    long.extend([12, 100]);
    long.extend([b'b'; 100]);
    vec![
        ("an empty host name", vec![12, 0]),
        (
            "a host name of binary garbage",
            vec![12, 5, 0, 0xFF, b'\n', 0x80, b';'],
        ),
        ("a host name of 355 bytes", long),
        ("a client FQDN of 1 byte", vec![81, 1, 0]),
        ("a client FQDN with a label over 63 bytes", {
            let mut fqdn = vec![81, 3 + 1 + 70, 0x05, 0, 0, 70];
            fqdn.extend([b'x'; 70]);
            fqdn
        }),
        (
            "a client FQDN of garbage",
            vec![81, 4, 0xFF, 0xFF, 0xFF, 0xFF],
        ),
    ]
}

#[test]
fn kea_cve_packets_get_no_answer_and_the_phones_are_still_served() {
    let Some(mut bench) = Bench::start(&Site::new("cisco")) else {
        return;
    };
    let relay = bench.relay(24);
    let hostile = hostile_packets();
    for (_, bytes) in &hostile {
        relay.send(bytes);
    }
    if let Some((reply, _)) = relay.recv_within(Duration::from_millis(1500)) {
        let chaddr = decode(&reply).chaddr().to_vec();
        let to = &chaddr[..6];
        let what = hostile
            .iter()
            .find(|(_, bytes)| bytes.get(28..34) == Some(to))
            .map_or("?", |(what, _)| *what);
        panic!("a hostile packet ({what}, to {to:02x?}) was answered");
    }
    for (what, extra) in bad_hostnames() {
        // Each from a MAC of its own, a Cisco phone's (cisco mode answers it).
        let mac = [0x00, 0x1B, 0xD4, 0, 0, extra.len() as u8];
        relay.send(&discover_with(mac, &extra));
        let (reply, _) = relay
            .recv_within(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("{what}: no OFFER to an otherwise good DISCOVER"));
        assert_eq!(
            message_type(&decode(&reply)),
            Some(MessageType::Offer),
            "{what}"
        );
    }
    bench.assert_healthy();

    // Kea's CVE-2019-6472 test: a client id of 253 bytes is legal; the lease
    // is stored with it, and read back after a crash (CVE-2019-6474: a
    // stored lease the server then refused to load).
    let id: Vec<u8> = (0..253).map(|i| i as u8).collect();
    let with_id = |m: &mut v4::Message| {
        m.set_giaddr(RELAY);
        m.opts_mut()
            .insert(DhcpOption::ClientIdentifier(id.clone()));
    };
    let (_, ack) = dora(&relay, PHONE_2, SERVER, with_id);
    let ip = decode(&ack).yiaddr();
    bench.server.crash();
    bench.server = bench.server.restart();
    bench.server.wait_text(0, "DHCP on 0.0.0.0:67");
    let row = &by_mac(&bench.leases())[&mac_text(PHONE_2)];
    assert_eq!((row.ip, row.state.as_str()), (ip, "bound"));
    let (_, again) = dora(&relay, PHONE_2, SERVER, with_id);
    assert_eq!(
        decode(&again).yiaddr(),
        ip,
        "the lease with a long id, reloaded"
    );

    // And the listed phone, by a real client when there is one.
    let (_, ack) = dora(&relay, PHONE, SERVER, |m| {
        m.set_giaddr(RELAY);
    });
    assert_eq!(decode(&ack).yiaddr(), PHONE_IP);
    bench.assert_healthy();
}

// ---------------------------------------------------------------------------
// Many clients

/// Where one client of a [`Burst`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Discovering,
    Requesting(Ipv4Addr),
    Acked(Ipv4Addr),
}

/// Many clients doing DISCOVER–OFFER–REQUEST–ACK at once through the relay
/// socket, at most `WINDOW` waiting for an answer, each retrying after a
/// second (which the per-MAC rate limit allows).
struct Burst {
    relay: Raw,
    macs: Vec<[u8; 6]>,
    steps: Vec<Step>,
    sent: Vec<Option<Instant>>,
    /// How many are acknowledged.
    done: usize,
}

const WINDOW: usize = 48;
const XID_BASE: u32 = 0x5000_0000;

impl Burst {
    fn new(relay: Raw, macs: Vec<[u8; 6]>) -> Burst {
        let n = macs.len();
        Burst {
            relay,
            macs,
            steps: vec![Step::Discovering; n],
            sent: vec![None; n],
            done: 0,
        }
    }

    fn acked(&self) -> Vec<([u8; 6], Ipv4Addr)> {
        self.macs
            .iter()
            .zip(&self.steps)
            .filter_map(|(&mac, step)| match step {
                Step::Acked(ip) => Some((mac, *ip)),
                _ => None,
            })
            .collect()
    }

    fn send(&mut self, i: usize) {
        let mac = self.macs[i];
        let xid = XID_BASE + i as u32;
        let bytes = match self.steps[i] {
            Step::Discovering => packet(MessageType::Discover, mac, |m| {
                m.set_xid(xid).set_giaddr(RELAY);
            }),
            Step::Requesting(ip) => packet(MessageType::Request, mac, |m| {
                m.set_xid(xid).set_giaddr(RELAY);
                m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
                m.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
            }),
            Step::Acked(_) => return,
        };
        self.relay.send(&bytes);
        self.sent[i] = Some(Instant::now());
    }

    /// Handles one reply, if one comes within `wait`; true if one did.
    fn receive(&mut self, wait: Duration) -> bool {
        let Some((bytes, _)) = self.relay.recv_within(wait) else {
            return false;
        };
        let m = decode(&bytes);
        let Some(i) = m
            .xid()
            .checked_sub(XID_BASE)
            .map(|i| i as usize)
            .filter(|&i| i < self.macs.len())
        else {
            panic!("a reply with a foreign xid {:#x}", m.xid());
        };
        assert_eq!(
            &m.chaddr()[..6],
            &self.macs[i],
            "chaddr of xid {:#x}",
            m.xid()
        );
        match (message_type(&m), self.steps[i]) {
            (Some(MessageType::Offer), Step::Discovering) => {
                self.steps[i] = Step::Requesting(m.yiaddr());
                self.send(i);
            }
            (Some(MessageType::Ack), Step::Requesting(ip)) => {
                assert_eq!(m.yiaddr(), ip, "ACK of another address than offered");
                self.steps[i] = Step::Acked(ip);
                self.sent[i] = None;
                self.done += 1;
            }
            (Some(MessageType::Nak), Step::Requesting(_)) => {
                self.steps[i] = Step::Discovering;
                self.send(i);
            }
            // A late answer to a retransmission.
            _ => {}
        }
        true
    }

    /// Sends what is due: a first DISCOVER while fewer than [`WINDOW`]
    /// clients wait for an answer, and again for any that waited a second.
    fn pump(&mut self) {
        let waiting = self.sent.iter().filter(|s| s.is_some()).count();
        let mut room = WINDOW.saturating_sub(waiting);
        for i in 0..self.macs.len() {
            let due = match self.sent[i] {
                None => room > 0,
                Some(at) => at.elapsed() > Duration::from_secs(1),
            };
            if due && !matches!(self.steps[i], Step::Acked(_)) {
                if self.sent[i].is_none() {
                    room -= 1;
                }
                self.send(i);
            }
        }
    }

    /// Runs until every client is acknowledged or `stop` says so, which it
    /// is asked after every reply: the window is kept full, so clients are
    /// at every step of the exchange when it stops. Fails if nothing is
    /// acknowledged for 30 s.
    fn run(&mut self, stop: impl Fn(&Burst) -> bool) {
        let mut progress = Instant::now();
        let mut acked = self.done;
        while self.done < self.macs.len() && !stop(self) {
            self.pump();
            self.receive(Duration::from_millis(20));
            if self.done > acked {
                (acked, progress) = (self.done, Instant::now());
            }
            assert!(
                progress.elapsed() < Duration::from_secs(30),
                "no ACK for 30 s; {acked} of {} acknowledged",
                self.macs.len()
            );
        }
    }
}

/// `n` distinct MACs starting with `oui`, from a seeded generator.
fn random_macs(n: usize, oui: [u8; 3], seed: &str) -> Vec<[u8; 6]> {
    let noise = random_bytes(n * 3 * 2, seed);
    let mut seen = HashSet::new();
    noise
        .chunks(3)
        .map(|c| [oui[0], oui[1], oui[2], c[0], c[1], c[2]])
        .filter(|mac| seen.insert(*mac))
        .take(n)
        .collect()
}

#[test]
fn a_flood_of_random_macs_is_capped_and_the_phones_are_still_served() {
    const CAP: usize = 60;
    const FLOOD: usize = 2000;
    let mut site = Site::new("pool");
    site.prefix = 22;
    site.pool = ["10.99.0.100", "10.99.3.200"];
    site.dhcp = format!("new_leases_per_minute = {CAP}\n");
    let Some(mut bench) = Bench::start_alone(&site) else {
        return;
    };
    let relay = bench.relay(22);
    let mut flood = random_macs(FLOOD / 2, [0x52, 0x54, 0x00], "flood-pc");
    flood.extend(random_macs(FLOOD / 2, [0x00, 0x1B, 0xD4], "flood-cisco"));
    let started = Instant::now();
    let mut offers = 0usize;
    for (i, &mac) in flood.iter().enumerate() {
        relay.send(&packet(MessageType::Discover, mac, |m| {
            m.set_xid(XID_BASE + i as u32).set_giaddr(RELAY);
        }));
        // Read the offers between batches (a receive timeout lasts a
        // scheduler tick at least, too long to wait after every packet).
        if i % 100 == 99 {
            while relay.recv_within(Duration::from_millis(5)).is_some() {
                offers += 1;
            }
        }
    }
    while relay.recv_within(Duration::from_secs(2)).is_some() {
        offers += 1;
    }
    let elapsed = started.elapsed();
    bench
        .server
        .wait_text(0, "the cap on new leases per minute is reached");

    // The listed phones are never held up by the cap.
    let (_, ack) = dora(&relay, PHONE, SERVER, |m| {
        m.set_giaddr(RELAY);
    });
    assert_eq!(decode(&ack).yiaddr(), PHONE_IP);
    let (_, ack) = dora(&relay, PHONE_2, SERVER, |m| {
        m.set_giaddr(RELAY);
    });
    let phone_2_ip = decode(&ack).yiaddr();

    let rows = bench.leases();
    let leases = by_mac(&rows);
    let listed = [mac_text(PHONE), mac_text(PHONE_2)];
    let flooded = rows.iter().filter(|r| !listed.contains(&r.mac)).count();
    // The bucket holds CAP and refills CAP a minute, over the time the
    // flood took; one more for the token refilled while we measured.
    let allowed = CAP + (elapsed.as_secs_f64() * CAP as f64 / 60.0).ceil() as usize + 1;
    eprintln!(
        "flood: {FLOOD} DISCOVERs in {elapsed:?}, {offers} offers seen, {flooded} leases \
         stored (at most {allowed})"
    );
    assert!(flooded >= 1, "no flooding client was served at all");
    assert!(
        flooded <= allowed,
        "{flooded} new leases for the flood, more than the cap allows ({allowed})"
    );
    assert!(
        offers <= flooded,
        "{offers} offers for {flooded} stored leases"
    );
    assert_eq!(leases[&listed[1]].ip, phone_2_ip);
    bench.assert_healthy();
}

#[test]
fn kill_9_in_a_burst_of_500_leases_loses_no_acknowledged_lease() {
    const CLIENTS: usize = 500;
    let mut site = Site::new("pool");
    site.prefix = 22;
    site.pool = ["10.99.1.0", "10.99.2.255"];
    site.dhcp = "new_leases_per_minute = 100000\n".into();
    let Some(mut bench) = Bench::start_alone(&site) else {
        return;
    };
    let macs = random_macs(CLIENTS, [0x02, 0x79, 0x40], "burst");
    let mut burst = Burst::new(bench.relay(22), macs);
    let started = Instant::now();
    burst.run(|b| b.done >= CLIENTS * 2 / 5);
    bench.server.crash();
    // Answers already on their way still count as seen.
    while burst.receive(Duration::from_millis(300)) {}
    let before = burst.acked();
    let crashed_at = started.elapsed();

    // Read back with the server down: every lease the clients saw
    // acknowledged is on disk, bound, at the same address.
    let check = |acked: &[([u8; 6], Ipv4Addr)], when: &str| {
        let rows = leases(&bench.config);
        let by = by_mac(&rows);
        for (mac, ip) in acked {
            let row = by.get(&mac_text(*mac)).unwrap_or_else(|| {
                panic!("{when}: {} acknowledged {ip}, not stored", mac_text(*mac))
            });
            assert_eq!(
                (row.ip, row.state.as_str()),
                (*ip, "bound"),
                "{when}: {}",
                row.mac
            );
        }
        rows.len()
    };
    let stored = check(&before, "after kill -9");
    bench.server = bench.server.restart();
    bench.server.wait_text(0, "DHCP on 0.0.0.0:67");
    check(&before, "after the restart");

    // The rest of the burst against the restarted server.
    burst.run(|_| false);
    let after = burst.acked();
    assert_eq!(after.len(), CLIENTS);
    for (mac, ip) in &before {
        assert!(after.contains(&(*mac, *ip)), "{} moved", mac_text(*mac));
    }
    let total = check(&after, "at the end");
    assert_eq!(total, CLIENTS, "a lease for each client and no other");
    eprintln!(
        "burst: {} acknowledged when killed at {crashed_at:?} ({stored} leases stored), \
         {CLIENTS} after the restart in {:?}",
        before.len(),
        started.elapsed()
    );
    bench.assert_healthy();
}
