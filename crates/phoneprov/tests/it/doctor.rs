//! `phoneprov doctor`, and `phoneprov serve` looking for other DHCP servers
//! before it starts its own, with dnsmasq as the other server.
//!
//! Each test builds a small network of its own: two network namespaces
//! (`unshare -n`, unnamed, so nothing is left under /run/netns), one for
//! phoneprov (`pp0`, 10.99.0.2) and one for the other server (`rg0`,
//! 10.99.0.1), joined by a veth pair. phoneprov runs with the real ports
//! (67, 68, 69), as on a real network. A namespace ends with its last
//! process, and takes its end of the veth pair with it, so dropping the
//! [`Lan`] (which kills every process it started) removes everything.
//!
//! Needs root (network namespaces) and dnsmasq (package dnsmasq-base).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::harness::{arg, assert_contains, assert_exit, poll, printed, require, BIN, REPLY_WAIT};

const PHONEPROV_ADDRESS: &str = "10.99.0.2";
const ROGUE_ADDRESS: &str = "10.99.0.1";

/// A process whose only job is to hold a new network namespace open.
struct Namespace {
    holder: Child,
}

impl Namespace {
    fn new() -> Namespace {
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("starting unshare");
        let pid = holder.id();
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        // unshare runs in the process before it becomes sleep: wait for it.
        poll(REPLY_WAIT, Duration::from_millis(10), || {
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .filter(|ns| *ns != ours)
        })
        .expect("unshare -n made no namespace");
        Namespace { holder }
    }

    fn pid(&self) -> String {
        self.holder.id().to_string()
    }

    /// `program args` inside this namespace (nsenter execs it: the child is
    /// the program itself).
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .args(["-t", &self.pid(), "-n", program])
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs a setup command that must succeed.
    fn must(&self, program: &str, args: &[&str]) {
        let output = self.command(program, args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            printed(&output)
        );
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// phoneprov's namespace and the other server's, and dnsmasq when asked.
struct Lan {
    dir: tempfile::TempDir,
    // Dropped in this order: dnsmasq, then the namespaces.
    dnsmasq: Option<Child>,
    phoneprov: Namespace,
    rogue: Namespace,
}

/// True when this test can make network namespaces; otherwise says why it
/// skips (or fails, under PHONEPROV_REQUIRE_PEERS=1).
fn namespaces_allowed() -> bool {
    let allowed = Command::new("unshare")
        .args(["-n", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        if std::env::var("PHONEPROV_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("`unshare -n` failed and PHONEPROV_REQUIRE_PEERS=1: these tests need root");
        }
        eprintln!("SKIPPED: `unshare -n` failed; this test needs root for network namespaces");
    }
    allowed
}

impl Lan {
    /// The two namespaces, linked; with dnsmasq in the other one when
    /// `dnsmasq_options` is given. None when the test must skip.
    fn new(dnsmasq_options: Option<&[&str]>) -> Option<Lan> {
        if !namespaces_allowed() || (dnsmasq_options.is_some() && !require("dnsmasq")) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("phoneprov-doctor-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("firmware")).unwrap();
        let phoneprov = Namespace::new();
        let rogue = Namespace::new();
        let pp0 = format!("{PHONEPROV_ADDRESS}/24");
        let rg0 = format!("{ROGUE_ADDRESS}/24");
        phoneprov.must("ip", &["link", "set", "lo", "up"]);
        #[rustfmt::skip]
        phoneprov.must("ip", &["link", "add", "pp0", "type", "veth", "peer", "name", "rg0", "netns", &rogue.pid()]);
        phoneprov.must("ip", &["addr", "add", &pp0, "dev", "pp0"]);
        phoneprov.must("ip", &["link", "set", "pp0", "up"]);
        rogue.must("ip", &["addr", "add", &rg0, "dev", "rg0"]);
        rogue.must("ip", &["link", "set", "rg0", "up"]);
        let mut lan = Lan {
            dir,
            dnsmasq: None,
            phoneprov,
            rogue,
        };
        if let Some(options) = dnsmasq_options {
            lan.start_dnsmasq(options);
        }
        Some(lan)
    }

    fn start_dnsmasq(&mut self, options: &[&str]) {
        let leases = format!("--dhcp-leasefile={}", arg(&self.dir.path().join("leases")));
        let log = format!(
            "--log-facility={}",
            arg(&self.dir.path().join("dnsmasq.log"))
        );
        let mut args = vec![
            "--conf-file=/dev/null",
            "--port=0",
            "--no-daemon",
            "--user=root",
            "--interface=rg0",
            "--bind-interfaces",
            "--no-ping",
            "--log-dhcp",
            "--pid-file=",
            "--dhcp-range=10.99.0.100,10.99.0.150,255.255.255.0,1h",
            &leases,
            &log,
        ];
        args.extend_from_slice(options);
        let child = self
            .rogue
            .command("dnsmasq", &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dnsmasq");
        let pid = child.id();
        self.dnsmasq = Some(child);
        // Ready when its namespace's UDP table has port 67 (0x0043).
        poll(REPLY_WAIT, Duration::from_millis(20), || {
            std::fs::read_to_string(format!("/proc/{pid}/net/udp"))
                .ok()
                .filter(|table| table.contains(":0043 "))
        })
        .unwrap_or_else(|| panic!("dnsmasq never listened on port 67:\n{}", self.dnsmasq_log()));
    }

    fn dnsmasq_pid(&self) -> u32 {
        self.dnsmasq.as_ref().expect("dnsmasq runs").id()
    }

    fn dnsmasq_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dnsmasq.log")).unwrap_or_default()
    }

    /// Writes a phoneprov.toml for `address` whose [dhcp] has `mode` on `interface`.
    fn config(&self, name: &str, address: &str, mode: &str, interface: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                r#"[server]
address = "{address}"
[dhcp]
mode = "{mode}"
interface = "{interface}"
pool = ["10.99.0.200", "10.99.0.220"]
router = "10.99.0.254"
[[phone]]
mac = "00:18:B9:FF:FF:FF"
model = "7940"
"#
            ),
        )
        .unwrap();
        path
    }

    /// Runs phoneprov to its end in `namespace`, bounded.
    fn run(&self, namespace: &Namespace, args: &[&str]) -> Output {
        Command::new("timeout")
            .args(["60", "nsenter", "-t", &namespace.pid(), "-n", BIN])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running phoneprov")
    }

    fn doctor(&self, config: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["--config", arg(config), "doctor", "--wait", "2"];
        args.extend_from_slice(extra);
        self.run(&self.phoneprov, &args)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        if let Some(mut dnsmasq) = self.dnsmasq.take() {
            let _ = dnsmasq.kill();
            let _ = dnsmasq.wait();
        }
    }
}

/// `phoneprov serve` running in phoneprov's namespace, its output in files.
struct Serving {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Serving {
    fn start(lan: &Lan, config: &Path, extra: &[&str]) -> Serving {
        let stdout = lan.dir.path().join("serve.out");
        let stderr = lan.dir.path().join("serve.err");
        let mut args = vec!["--config", arg(config), "serve"];
        args.extend_from_slice(extra);
        let child = lan
            .phoneprov
            .command(BIN, &args)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("starting phoneprov serve");
        Serving {
            child,
            stdout,
            stderr,
        }
    }

    fn output(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Waits (bounded; the probe takes its 4 s first) for the DHCP server
    /// to be up, then stops it with Ctrl-C and checks that it exits 0.
    /// Returns everything it printed.
    fn serves_then_stops(mut self) -> String {
        let up = poll(Duration::from_secs(60), Duration::from_millis(50), || {
            let text = self.output();
            if text.contains("phoneprov serve: DHCP on 0.0.0.0:67") {
                Some(true)
            } else if self.child.try_wait().unwrap().is_some() {
                Some(false)
            } else {
                None
            }
        });
        assert_eq!(up, Some(true), "serve did not start:\n{}", self.output());
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-s", "INT", &pid])
            .status()
            .unwrap()
            .success());
        let status = poll(Duration::from_secs(60), Duration::from_millis(20), || {
            self.child.try_wait().unwrap()
        })
        .expect("serve did not stop after Ctrl-C");
        let text = self.output();
        assert!(status.success(), "serve exited {status}:\n{text}");
        text
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// dnsmasq as a network's DHCP server that also sends phones to a TFTP
/// server (a list of two in option 150).
const WITH_TFTP: &[&str] = &[
    "--dhcp-option=66,10.99.0.1",
    "--dhcp-option=150,10.99.0.1,10.99.0.3",
];

#[test]
fn doctor_names_the_other_server_and_its_offer_and_takes_no_lease() {
    let Some(lan) = Lan::new(Some(WITH_TFTP)) else {
        return;
    };
    let pool = lan.config("pool.toml", PHONEPROV_ADDRESS, "pool", "pp0");
    let text = assert_exit(&lan.doctor(&pool, &[]), 1, "doctor, pool mode");
    assert_contains(
        &text,
        &[
            "OK       config     ",
            "OK       tftp port  UDP 0.0.0.0:69 is free",
            "OK       dhcp port  UDP 0.0.0.0:67 on pp0 is free",
            "PROBLEM  dhcp       another DHCP server answers on pp0: 10.99.0.1 offered 10.99.0.1",
            "(router 10.99.0.1, TFTP 10.99.0.1 10.99.0.3 by option 150, TFTP \"10.99.0.1\" by option 66, next-server 10.99.0.1)",
            "fix: pool mode beside another server",
            "mode = \"known\"",
            "1 problem, ",
        ],
    );

    // The same network in known mode: expected, so a warning, and exit 0.
    let known = lan.config("known.toml", PHONEPROV_ADDRESS, "known", "pp0");
    let text = assert_exit(&lan.doctor(&known, &[]), 0, "doctor, known mode");
    assert_contains(
        &text,
        &[
            "WARNING  dhcp       another DHCP server answers on pp0: 10.99.0.1 offered",
            "option 150 = 10.99.0.2",
            "0 problems",
        ],
    );

    // dnsmasq saw the probe for what it is, and gave no lease.
    let log = lan.dnsmasq_log();
    assert_contains(
        &log,
        &[
            "vendor class: phoneprov probe for other DHCP servers, takes no lease",
            "DHCPDISCOVER(rg0)",
            "DHCPOFFER(rg0)",
        ],
    );
    assert!(
        !log.contains("DHCPREQUEST"),
        "the probe asked for a lease:\n{log}"
    );
    let leases = std::fs::read_to_string(lan.dir.path().join("leases")).unwrap_or_default();
    assert!(leases.trim().is_empty(), "dnsmasq leased: {leases}");

    // On dnsmasq's own machine: the DHCP port is taken, and doctor says by whom.
    let local = lan.config("local.toml", ROGUE_ADDRESS, "known", "rg0");
    let text = assert_exit(
        &lan.run(
            &lan.rogue,
            &["--config", arg(&local), "doctor", "--wait", "2"],
        ),
        1,
        "doctor beside dnsmasq on one machine",
    );
    let holder = format!("dnsmasq (pid {})", lan.dnsmasq_pid());
    assert_contains(
        &text,
        &[
            &format!("PROBLEM  dhcp port  UDP 0.0.0.0:67 on rg0 is held by {holder}"),
            &format!("(on this machine: {holder})"),
        ],
    );
}

#[test]
fn serve_in_pool_mode_refuses_beside_another_server_unless_forced() {
    let Some(lan) = Lan::new(Some(&[])) else {
        return;
    };
    let pool = lan.config("pool.toml", PHONEPROV_ADDRESS, "pool", "pp0");
    let refused = lan.run(&lan.phoneprov, &["--config", arg(&pool), "serve"]);
    let text = assert_exit(&refused, 1, "serve in pool mode beside dnsmasq");
    assert_contains(
        &text,
        &[
            "warning: another DHCP server answers on pp0: 10.99.0.1 offered 10.99.0.1",
            "(router 10.99.0.1, no TFTP option, next-server 10.99.0.1)",
            "not starting: [dhcp] mode = \"pool\"",
            "fight",
            "every phone in the building",
            "mode = \"known\"",
            "phoneprov serve --force",
        ],
    );
    assert!(!text.contains("DHCP on"), "it served:\n{text}");

    let text = Serving::start(&lan, &pool, &["--force"]).serves_then_stops();
    assert_contains(
        &text,
        &[
            "warning: another DHCP server answers on pp0: 10.99.0.1",
            "warning: --force: serving in pool mode beside 1 other DHCP server",
            "phoneprov serve: stopped",
        ],
    );
}

#[test]
fn serve_in_known_mode_warns_and_starts_beside_another_server() {
    let Some(lan) = Lan::new(Some(&[])) else {
        return;
    };
    let known = lan.config("known.toml", PHONEPROV_ADDRESS, "known", "pp0");
    let text = Serving::start(&lan, &known, &[]).serves_then_stops();
    assert_contains(
        &text,
        &[
            "warning: another DHCP server answers on pp0: 10.99.0.1 offered",
            "known mode answers only the phones in [[phone]]",
            "option 150 = 10.99.0.2",
        ],
    );
}

#[test]
fn the_api_gives_the_doctors_findings_and_looks_for_dhcp_servers_only_when_asked() {
    let Some(lan) = Lan::new(Some(WITH_TFTP)) else {
        return;
    };
    if !require("curl") {
        return;
    }
    let known = lan.config("known.toml", PHONEPROV_ADDRESS, "known", "pp0");
    let mut text = std::fs::read_to_string(&known).unwrap();
    text.push_str("[http]\nbind = \"127.0.0.1:0\"\n");
    std::fs::write(&known, text).unwrap();
    let serving = Serving::start(&lan, &known, &[]);
    let url = poll(Duration::from_secs(60), Duration::from_millis(50), || {
        let output = serving.output();
        let line = output.lines().find(|l| l.contains("(the dashboard: "))?;
        let url = line.split("(the dashboard: ").nth(1)?;
        Some(
            url.split_whitespace()
                .next()?
                .trim_end_matches([')', '/'])
                .to_string(),
        )
    })
    .unwrap_or_else(|| panic!("no dashboard URL:\n{}", serving.output()));
    let doctor = |query: &str| {
        let url = format!("{url}/api/doctor{query}");
        let answer = lan
            .phoneprov
            .command(
                "curl",
                &["-sS", "--max-time", "60", "-w", "\n%{http_code}", &url],
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&answer.stdout).into_owned();
        let (body, status) = text
            .rsplit_once('\n')
            .unwrap_or_else(|| panic!("{}", printed(&answer)));
        let json: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status.to_string(), json)
    };
    let says = |json: &serde_json::Value, level: &str, check: &str| -> Vec<String> {
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["level"] == level && f["check"] == check)
            .map(|f| format!("{} fix: {}", f["what"].as_str().unwrap(), f["fix"]))
            .collect()
    };

    let (status, local) = doctor("");
    assert_eq!(status, "200", "{local}");
    assert_contains(
        &says(&local, "ok", "dhcp port").concat(),
        &["phoneprov serve` is running"],
    );
    assert_contains(&says(&local, "ok", "config").concat(), &["loads: 1 phone"]);
    assert!(
        local["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["check"] != "dhcp"),
        "no DHCP probe unless asked: {local}"
    );

    let (status, looked) = doctor("?look_for_dhcp=3");
    assert_eq!(status, "200", "{looked}");
    assert_contains(
        &says(&looked, "warning", "dhcp").concat(),
        &[
            "another DHCP server answers on pp0: 10.99.0.1 offered",
            "option 150 = 10.99.0.2",
        ],
    );

    for wrong in [
        "?look_for_dhcp=0",
        "?look_for_dhcp=61",
        "?look_for_dhcp=soon",
        "?wait=3",
    ] {
        let (status, refused) = doctor(wrong);
        assert_eq!(status, "400", "{wrong}: {refused}");
        assert_contains(
            refused["fix"].as_str().unwrap(),
            &["/api/doctor?look_for_dhcp=4"],
        );
    }
    let leases = std::fs::read_to_string(lan.dir.path().join("leases")).unwrap_or_default();
    assert!(leases.trim().is_empty(), "dnsmasq leased: {leases}");
}

#[test]
fn with_no_other_server_doctor_reports_none_and_pool_mode_starts() {
    let Some(lan) = Lan::new(None) else {
        return;
    };
    let pool = lan.config("pool.toml", PHONEPROV_ADDRESS, "pool", "pp0");
    let text = assert_exit(&lan.doctor(&pool, &["--interface", "pp0"]), 0, "doctor");
    assert_contains(
        &text,
        &[
            "OK       dhcp       no other DHCP server answered on pp0 within 2 s (",
            "0 problems",
        ],
    );
    let text = Serving::start(&lan, &pool, &[]).serves_then_stops();
    assert_contains(
        &text,
        &["DHCP check: no other DHCP server answered on pp0 within 4 s"],
    );
    assert!(!text.contains("warning: another"), "{text}");
}

#[test]
fn doctor_reads_the_firewall_and_its_fix_works() {
    if !require("nft") {
        return;
    }
    let Some(lan) = Lan::new(None) else {
        return;
    };
    let pool = lan.config("pool.toml", PHONEPROV_ADDRESS, "pool", "pp0");
    // A firewall for a server that lets in DHCP and TFTP requests, SIP
    // from one network only, and forgets the TFTP transfers.
    for rule in [
        "add table inet phones",
        "add chain inet phones input { type filter hook input priority 0; policy drop; }",
        "add rule inet phones input iif lo accept",
        "add rule inet phones input udp dport { 67, 69 } accept",
        "add rule inet phones input ip saddr 10.99.0.0/24 udp dport 5060 accept",
    ] {
        lan.phoneprov.must("nft", &[rule]);
    }
    let text = assert_exit(&lan.doctor(&pool, &[]), 1, "doctor behind a firewall");
    let fix = "sudo nft insert rule inet phones input ct state established,related accept";
    assert_contains(
        &text,
        &[
            "PROBLEM  firewall   nftables drops TFTP acknowledgements (UDP ",
            "on pp0, by the drop policy of chain inet phones input: each transfer is sent from a port of its own",
            &format!("fix: let the phones' packets in: `{fix}`"),
            "WARNING  firewall   nftables lets in UDP 5060 (SIP) on pp0 only by rule `ip saddr \
             10.99.0.0/24 udp dport 5060 accept` in chain inet phones input",
            "OK       firewall   nftables lets in UDP 67 (DHCP requests), UDP 69 (TFTP requests)\n",
            "1 problem, ",
        ],
    );

    // The fix, as doctor words it, is a command that works.
    let fix: Vec<&str> = fix.split(' ').skip(2).collect();
    lan.phoneprov.must("nft", &fix);
    let text = assert_exit(&lan.doctor(&pool, &[]), 0, "doctor after the fix");
    assert_contains(
        &text,
        &["OK       firewall   nftables lets in UDP 67 (DHCP requests), UDP 69 (TFTP requests), TFTP acknowledgements (UDP "],
    );
    assert!(!text.contains("PROBLEM"), "{text}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

#[test]
fn doctor_checks_the_server_address_on_its_interface_and_the_files() {
    let Some(lan) = Lan::new(None) else {
        return;
    };
    let pool = lan.config("pool.toml", PHONEPROV_ADDRESS, "pool", "pp0");
    chmod(&pool, 0o644);
    let text = assert_exit(&lan.doctor(&pool, &[]), 0, "doctor");
    let state = lan.dir.path().join("state");
    assert_contains(
        &text,
        &[
            "OK       address    [server] address 10.99.0.2 is on pp0 10.99.0.2/24, which is up",
            "OK       address    the [dhcp] pool 10.99.0.200-10.99.0.220 is in the network of pp0 (10.99.0.0/24)",
            &format!("WARNING  files      other users of this machine can open {} (mode 0644), which holds the phones' SIP passwords", pool.display()),
            &format!("fix: `chmod 600 {}`", pool.display()),
            &format!("OK       files      state directory {} does not exist yet; `phoneprov serve` makes it", state.display()),
            "OK       sip port   UDP 0.0.0.0:5060 is free",
        ],
    );

    // The fixes doctor gave, then the state directory open to all.
    chmod(&pool, 0o600);
    std::fs::create_dir(&state).unwrap();
    chmod(&state, 0o755);
    let text = assert_exit(&lan.doctor(&pool, &[]), 0, "doctor after chmod");
    assert_contains(
        &text,
        &[
            &format!("OK       files      {} is private (mode 0600)", pool.display()),
            &format!("WARNING  files      other users of this machine can look into state directory {} (mode 0755)", state.display()),
            &format!("fix: `chmod o-rwx {}`", state.display()),
        ],
    );

    // An address of no interface here, and a pool off the network.
    let elsewhere = lan.config("elsewhere.toml", "10.99.0.9", "pool", "pp0");
    let text = assert_exit(&lan.doctor(&elsewhere, &[]), 1, "doctor, a foreign address");
    assert_contains(
        &text,
        &[
            "PROBLEM  address    [server] address 10.99.0.9, where phones are told to fetch their files and register, is not an address of this machine",
            "(here: pp0 10.99.0.2/24)",
        ],
    );
    lan.phoneprov.must("ip", &["addr", "flush", "dev", "pp0"]);
    lan.phoneprov
        .must("ip", &["addr", "add", "10.99.0.2/28", "dev", "pp0"]);
    lan.phoneprov.must("ip", &["link", "set", "pp0", "down"]);
    let text = assert_exit(&lan.doctor(&pool, &[]), 1, "doctor, interface down");
    assert_contains(
        &text,
        &[
            "PROBLEM  address    pp0, which holds [server] address 10.99.0.2, is down",
            "fix: bring it up: `sudo ip link set pp0 up`",
            "PROBLEM  address    the [dhcp] pool 10.99.0.200-10.99.0.220 is not in a network of pp0 (10.99.0.2/28)",
        ],
    );
}

#[test]
fn doctor_names_the_load_missing_from_a_phones_ladder() {
    let Some(lan) = Lan::new(None) else {
        return;
    };
    let config = lan.config("ladder.toml", PHONEPROV_ADDRESS, "known", "pp0");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // The phone runs SCCP 5.0(2); the folder lacks the SIP 7.x load it needs.
    text.push_str("current = \"P00305000200\"\n[firmware]\nsip = \"P0S3-8-12-00\"\n");
    std::fs::write(&config, text).unwrap();
    let firmware = lan.dir.path().join("firmware");
    for load in ["P0S3-8-12-00", "P00305000200"] {
        phoneprov_sim::firmware::write_load(&firmware, load).unwrap();
    }
    let text = assert_exit(&lan.doctor(&config, &["--interface", "pp0"]), 0, "doctor");
    assert_contains(
        &text,
        &[
            "WARNING  ladder     00:18:B9:FF:FF:FF: needs a SIP 7.x load on its way to P0S3-8-12-00",
            "fix: import a SIP 7.x load, e.g. P0S3-07-4-00",
        ],
    );
    phoneprov_sim::firmware::write_load(&firmware, "P0S3-07-4-00").unwrap();
    let text = assert_exit(&lan.doctor(&config, &["--interface", "pp0"]), 0, "doctor");
    assert_contains(
        &text,
        &["OK       ladder     1 listed phone can reach its target with the loads on hand"],
    );
}
