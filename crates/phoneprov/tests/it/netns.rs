//! Network namespaces for system tests that need a real network: a server
//! namespace and a client namespace joined by a veth pair, each end named
//! like its namespace, so a DHCP server can bind port 67 and a real client
//! can broadcast without touching the host's network.
//!
//! Names are `ppn<pid>-<n>s` / `ppn<pid>-<n>c` (at most 15 characters, the
//! limit of an interface name): unique per test process and per lab, so
//! tests run in parallel threads and processes. A [`Lab`] deletes its
//! namespaces when dropped (which takes the veth pair and every address
//! with them); the first lab of a process also deletes the namespaces a
//! killed run left behind, with the processes still running in them.
//!
//! Everything needs root (named namespaces bind-mount /run/netns). Without
//! it, [`Lab::new`] says why and the test skips, or fails under
//! PHONEPROV_REQUIRE_PEERS=1.

use std::ffi::OsStr;
use std::fs::File;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use crate::harness::{available, printed, require, run_client};

const PREFIX: &str = "ppn";

/// One network namespace; its end of the lab's veth pair has the same name.
pub struct Ns {
    pub name: String,
}

impl Ns {
    /// The interface of this namespace's end of the veth pair.
    pub fn interface(&self) -> &str {
        &self.name
    }

    /// `ip -n NS ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        ip(&[&["-n", &self.name], args].concat());
    }

    /// `ip netns exec NS`: the prefix that runs a program in here.
    pub fn exec_prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    fn in_here<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Vec<String> {
        let mut all = vec![
            "netns".into(),
            "exec".into(),
            self.name.clone(),
            program.into(),
        ];
        all.extend(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        );
        all
    }

    /// Runs `program` in this namespace under the harness's `timeout`.
    pub fn run<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Output {
        run_client("ip", &self.in_here(program, args))
    }

    /// Sets the MAC address of this namespace's veth end.
    pub fn set_mac(&self, mac: &str) {
        self.ip(&["link", "set", "dev", &self.name, "address", mac]);
    }

    /// Adds `cidr` (e.g. "10.99.0.2/24") to this namespace's veth end.
    pub fn add_address(&self, cidr: &str) {
        self.ip(&["addr", "add", cidr, "dev", &self.name]);
    }

    /// A UDP socket bound to `bind` inside this namespace, broadcast allowed.
    /// A thread enters the namespace (setns affects that thread alone) and
    /// opens it; the socket stays in the namespace whichever thread uses it.
    pub fn udp(&self, bind: SocketAddrV4) -> UdpSocket {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on a valid namespace fd changes only this
            // short-lived thread's network namespace.
            let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(
                entered,
                0,
                "setns {path}: {}",
                std::io::Error::last_os_error()
            );
            let socket = UdpSocket::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
            socket.set_broadcast(true).unwrap();
            socket
        })
        .join()
        .expect("the setns thread")
    }
}

/// Two namespaces joined by a veth pair. The server end has `server_cidr`;
/// the client end has no address and the MAC the test gives it.
pub struct Lab {
    pub server: Ns,
    pub client: Ns,
}

impl Lab {
    /// Builds the lab, or returns None (after saying why) when this machine
    /// cannot: not root, or no `ip`.
    pub fn new(server_cidr: &str, client_mac: &str) -> Option<Lab> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !available(
            root,
            "not running as root",
            "network namespaces need root; run the tests as root",
        ) || !require("ip")
        {
            return None;
        }
        static SWEEP: Once = Once::new();
        SWEEP.call_once(remove_stale);
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let lab = Lab {
            server: Ns {
                name: format!("{base}s"),
            },
            client: Ns {
                name: format!("{base}c"),
            },
        };
        for ns in [&lab.server, &lab.client] {
            ip(&["netns", "add", &ns.name]);
        }
        let (s, c) = (&lab.server.name, &lab.client.name);
        ip(&["link", "add", s, "type", "veth", "peer", "name", c]);
        ip(&["link", "set", s, "netns", s]);
        ip(&["link", "set", c, "netns", c]);
        lab.client.set_mac(client_mac);
        lab.server.add_address(server_cidr);
        for ns in [&lab.server, &lab.client] {
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&["link", "set", &ns.name, "up"]);
        }
        Some(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            delete(&ns.name);
        }
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        printed(&output)
    );
}

/// Kills what still runs in namespace `name` (a server a panicking test
/// left, or one of a killed run), then deletes it.
fn delete(name: &str) {
    if let Ok(output) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill has no memory preconditions; the pid is one
                // this test suite started inside its own namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "delete", name])
        .stderr(Stdio::null())
        .status();
}

/// Deletes the namespaces of test processes that no longer run.
fn remove_stale() {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let owner = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = owner {
            if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                delete(name);
            }
        }
    }
}
