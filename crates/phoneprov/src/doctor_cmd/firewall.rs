//! The host firewall, as it treats what the phones send to phoneprov.
//!
//! nftables' and iptables' rules are read into one small model: chains of
//! rules, each a list of conditions and an action. A phone's packet (UDP to
//! a port, in a conntrack state, on an interface) is walked through the
//! chains that filter incoming packets. A condition doctor can judge
//! (protocol, destination port, conntrack state, incoming interface) holds
//! or not; any other (a source address, a rate limit, a named set) may or
//! may not hold for a given phone, and a rule with one can only be reported
//! as "may".

mod iptables;
mod nft;

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::process::Command;

use super::Report;

/// What a phone sends to phoneprov, as a firewall sees it.
pub(super) struct Traffic {
    /// In words, e.g. "UDP 69 (TFTP requests)".
    pub what: String,
    /// What the phones do when it is dropped.
    pub dropped: &'static str,
    /// The destination ports; a range for the TFTP transfers.
    pub ports: RangeInclusive<u16>,
    pub state: CtState,
    /// The rule that lets it in: nftables' words and iptables'.
    pub nft_accept: String,
    pub iptables_accept: String,
}

/// A packet's conntrack state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CtState {
    /// A request from a phone: the first packet of its exchange.
    New,
    /// A reply to a packet phoneprov sent: a phone's TFTP acknowledgement
    /// goes to the port the data came from.
    Established,
}

impl CtState {
    fn name(self) -> &'static str {
        match self {
            CtState::New => "new",
            CtState::Established => "established",
        }
    }
}

/// One firewall's rules (nftables', or iptables' filter table).
#[derive(Debug)]
pub(super) struct Ruleset {
    /// "nftables" or "iptables".
    pub source: &'static str,
    /// Every chain by its key (nftables: "family table chain"; iptables:
    /// the chain's name), which jumps name.
    pub chains: HashMap<String, Chain>,
    /// The keys of the chains the kernel runs for incoming packets, in the
    /// order it runs them.
    pub input: Vec<String>,
}

#[derive(Debug)]
pub(super) struct Chain {
    /// As the operator names it: "inet filter input", "INPUT".
    pub name: String,
    /// What happens to a packet no rule decided (incoming chains).
    pub policy_drops: bool,
    pub rules: Vec<Rule>,
    /// The command that puts a rule at the top of this chain, e.g.
    /// `nft insert rule inet filter input` or `iptables -I INPUT`.
    pub insert: String,
}

#[derive(Debug)]
pub(super) struct Rule {
    /// As the operator wrote it.
    pub text: String,
    pub conditions: Vec<Condition>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    pub test: Test,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test {
    /// The packet's protocol is one of these ("udp", "tcp", "17").
    Protocol(Vec<String>),
    DestinationPort(Vec<RangeInclusive<u16>>),
    /// The conntrack state is one of these ("new", "established").
    State(Vec<String>),
    /// The packet came in on one of these interfaces ("eth*", "eth+").
    InInterface(Vec<String>),
    /// Anything else: it may or may not hold for a phone's packet.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    Accept,
    Drop,
    Reject,
    /// To a chain (by key), and back unless it decides.
    Jump(String),
    /// To a chain (by key), not back.
    Goto(String),
    Return,
    /// Counts, logs, marks: the next rule decides.
    Continue,
}

/// Whether a rule applies to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    Yes,
    No,
    Maybe,
}

impl Condition {
    fn applies(&self, traffic: &Traffic, interface: Option<&str>) -> Applies {
        let holds = match &self.test {
            Test::Protocol(names) => names.iter().any(|n| n == "udp" || n == "17"),
            Test::DestinationPort(ranges) => {
                let ports = &traffic.ports;
                if ranges
                    .iter()
                    .any(|r| r.contains(ports.start()) && r.contains(ports.end()))
                {
                    true
                } else if ranges
                    .iter()
                    .all(|r| r.end() < ports.start() || r.start() > ports.end())
                {
                    false
                } else {
                    return Applies::Maybe;
                }
            }
            Test::State(states) => states.iter().any(|s| s == traffic.state.name()),
            Test::InInterface(names) => match interface {
                Some(interface) => names.iter().any(|n| interface_matches(n, interface)),
                // Phones never come in on the loopback.
                None if names.iter().all(|n| n == "lo") => false,
                None => return Applies::Maybe,
            },
            Test::Other => return Applies::Maybe,
        };
        if holds != self.negated {
            Applies::Yes
        } else {
            Applies::No
        }
    }
}

/// `eth0` matches `eth0`, `eth*` (nftables) and `eth+` (iptables).
fn interface_matches(pattern: &str, interface: &str) -> bool {
    match pattern.strip_suffix(['*', '+']) {
        Some(prefix) => interface.starts_with(prefix),
        None => pattern == interface,
    }
}

impl Rule {
    fn applies(&self, traffic: &Traffic, interface: Option<&str>) -> Applies {
        let mut applies = Applies::Yes;
        for condition in &self.conditions {
            match condition.applies(traffic, interface) {
                Applies::No => return Applies::No,
                Applies::Maybe => applies = Applies::Maybe,
                Applies::Yes => {}
            }
        }
        applies
    }
}

/// What decided a packet's fate.
#[derive(Debug, Clone, Copy)]
enum By<'a> {
    Rule(&'a Rule, &'a Chain),
    Policy(&'a Chain),
}

/// The rules and policies, one after the other.
fn listed(rules: &[By<'_>]) -> String {
    let described: Vec<String> = rules.iter().map(By::describe).collect();
    described.join("; ")
}

impl By<'_> {
    fn describe(&self) -> String {
        match self {
            By::Rule(rule, chain) => format!("rule `{}` in chain {}", rule.text, chain.name),
            By::Policy(chain) => format!("the drop policy of chain {}", chain.name),
        }
    }
}

/// How a firewall treats one kind of traffic.
#[derive(Debug)]
struct Fate<'a> {
    /// None: let in.
    dropped: Option<(By<'a>, &'a Chain)>,
    /// Rules that let it in or drop it only when a condition doctor cannot
    /// judge holds (a source address, a rate limit).
    may_accept: Vec<By<'a>>,
    may_drop: Vec<By<'a>>,
}

impl Ruleset {
    fn fate(&self, traffic: &Traffic, interface: Option<&str>) -> Fate<'_> {
        let mut fate = Fate {
            dropped: None,
            may_accept: Vec::new(),
            may_drop: Vec::new(),
        };
        for base in self.input.iter().filter_map(|key| self.chains.get(key)) {
            let drops = match self.walk(base, traffic, interface, true, 0, &mut fate) {
                Some((rule, chain)) => {
                    (rule.action != Action::Accept).then_some(By::Rule(rule, chain))
                }
                None => base.policy_drops.then_some(By::Policy(base)),
            };
            if let Some(by) = drops {
                fate.dropped = Some((by, base));
                break;
            }
        }
        fate
    }

    /// Walks `chain` to the rule that decides `traffic` (None: the chain
    /// ends or returns). Where `sure` is false (inside a jump that may not
    /// be taken), rules only may apply: they are noted in `fate`.
    fn walk<'a>(
        &'a self,
        chain: &'a Chain,
        traffic: &Traffic,
        interface: Option<&str>,
        sure: bool,
        depth: usize,
        fate: &mut Fate<'a>,
    ) -> Option<(&'a Rule, &'a Chain)> {
        for rule in &chain.rules {
            let sure = match rule.applies(traffic, interface) {
                Applies::No => continue,
                Applies::Yes => sure,
                Applies::Maybe => false,
            };
            match &rule.action {
                Action::Accept | Action::Drop | Action::Reject if sure => {
                    return Some((rule, chain))
                }
                Action::Accept => fate.may_accept.push(By::Rule(rule, chain)),
                Action::Drop | Action::Reject => fate.may_drop.push(By::Rule(rule, chain)),
                Action::Jump(target) | Action::Goto(target) => {
                    // nftables refuses loops; iptables too; the depth is a guard.
                    if let Some(next) = self.chains.get(target).filter(|_| depth < 32) {
                        let decided = self.walk(next, traffic, interface, sure, depth + 1, fate);
                        if decided.is_some() {
                            return decided;
                        }
                    }
                    if sure && matches!(rule.action, Action::Goto(_)) {
                        return None;
                    }
                }
                Action::Return if sure => return None,
                Action::Return | Action::Continue => {}
            }
        }
        None
    }
}

/// The phones' traffic for `config`: DHCP when it is on, TFTP requests and
/// transfers, SIP when the registrar is on.
pub(super) fn phones_traffic(config: &crate::config::Config) -> Vec<Traffic> {
    let udp = |what: String, port: u16, dropped| Traffic {
        dropped,
        nft_accept: format!("udp dport {port} accept"),
        iptables_accept: format!("-p udp --dport {port} -j ACCEPT"),
        what,
        ports: port..=port,
        state: CtState::New,
    };
    let mut traffic = Vec::new();
    if let Some(dhcp) = &config.dhcp {
        traffic.push(udp(
            format!("UDP {} (DHCP requests)", dhcp.port),
            dhcp.port,
            "phones get no address from phoneprov",
        ));
    }
    let tftp = config.tftp.bind.port();
    if tftp != 0 {
        traffic.push(udp(
            format!("UDP {tftp} (TFTP requests)"),
            tftp,
            "phones get none of their files and show \"TFTP Timeout\"",
        ));
    }
    let (ports, which) = match &config.tftp.data_ports {
        Some(ports) => (ports.clone(), "[tftp] data_ports"),
        None => (ephemeral_ports(), "the system's ephemeral ports"),
    };
    traffic.push(Traffic {
        what: format!(
            "TFTP acknowledgements (UDP {}-{}, {which})",
            ports.start(),
            ports.end()
        ),
        dropped: "each transfer is sent from a port of its own and the phone acknowledges \
                  every block to that port: phones get the first block only, then show \
                  \"TFTP Timeout\" and try again, forever",
        ports,
        state: CtState::Established,
        nft_accept: "ct state established,related accept".into(),
        iptables_accept: "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT".into(),
    });
    if let Some(sip) = &config.sip {
        let port = sip.bind.port();
        traffic.push(udp(
            format!("UDP {port} (SIP)"),
            port,
            "phones cannot register, and calls between them fail",
        ));
    }
    traffic
}

/// The ports the kernel picks a transfer's port from.
fn ephemeral_ports() -> RangeInclusive<u16> {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut bounds = text.split_whitespace().filter_map(|p| p.parse().ok());
    match (bounds.next(), bounds.next()) {
        (Some(low), Some(high)) => low..=high,
        _ => 32768..=60999,
    }
}

/// A firewall that could not be read, and why.
struct Unreadable {
    tool: &'static str,
    why: String,
}

/// The rules of every firewall on this machine that `nft` and
/// `iptables-save` show (iptables-save -t would make the table it names). iptables-nft's tables show in both; they are read
/// from iptables-save, which keeps their matches `nft -j` shows only as
/// opaque `xt` expressions.
fn read_firewalls() -> (Vec<Ruleset>, Vec<Unreadable>) {
    let mut rulesets = Vec::new();
    let mut unreadable = Vec::new();
    let mut iptables_nft = false;
    match run("iptables-save", &[]) {
        Some(Ok(text)) => {
            iptables_nft = text.contains("(nf_tables)");
            rulesets.push(iptables::parse(&text));
        }
        Some(Err(why)) => unreadable.push(Unreadable {
            tool: "iptables-save",
            why,
        }),
        None => {}
    }
    match run("nft", &["-j", "list", "ruleset"]) {
        Some(Ok(text)) => match nft::parse(&text, iptables_nft) {
            Ok(ruleset) => rulesets.push(ruleset),
            Err(why) => unreadable.push(Unreadable {
                tool: "nft",
                why: format!("cannot understand `nft -j list ruleset`: {why}"),
            }),
        },
        Some(Err(why)) => unreadable.push(Unreadable { tool: "nft", why }),
        None => {}
    }
    // A tool that shows no table at all says nothing the other does not.
    if rulesets.iter().any(|r| !r.chains.is_empty()) {
        rulesets.retain(|r| !r.chains.is_empty());
    } else {
        rulesets.truncate(1);
    }
    (rulesets, unreadable)
}

/// `program args`' output; None when the program is not installed.
fn run(program: &str, args: &[&str]) -> Option<Result<String, String>> {
    let output = match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("cannot run {program}: {e}"))),
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let command: Vec<&str> = [program].iter().chain(args).copied().collect();
        return Some(Err(format!(
            "`{}` failed: {}",
            command.join(" "),
            said.join("; ")
        )));
    }
    Some(Ok(String::from_utf8_lossy(&output.stdout).into_owned()))
}

const CHECK: &str = "firewall";

/// Reads the firewalls and says, for each kind of the phones' traffic,
/// whether they let it in.
pub(super) fn check(report: &mut Report, traffic: &[Traffic], interface: Option<&str>) {
    let (rulesets, unreadable) = read_firewalls();
    let by_hand = "check by hand that incoming UDP from the phones is let in (`sudo nft list \
                   ruleset`, `sudo iptables -S INPUT`), or run doctor with sudo";
    for Unreadable { tool, why } in &unreadable {
        report.warning(
            CHECK,
            format!("could not read the firewall with {tool}: {why}"),
            by_hand,
        );
    }
    if rulesets.is_empty() {
        if unreadable.is_empty() {
            report.warning(
                CHECK,
                "could not read the firewall: neither nft (package nftables) nor iptables-save \
                 is installed"
                    .into(),
                format!("if this machine has a firewall, {by_hand}"),
            );
        }
        return;
    }
    for ruleset in &rulesets {
        judge(report, ruleset, traffic, interface);
    }
}

/// One finding per kind of traffic a ruleset does not simply let in, and
/// one OK for the rest.
fn judge(report: &mut Report, ruleset: &Ruleset, traffic: &[Traffic], interface: Option<&str>) {
    if ruleset.input.is_empty() {
        let what = format!("{}: no rules filter incoming packets", ruleset.source);
        return report.ok(CHECK, what);
    }
    let on = interface.map_or_else(String::new, |i| format!(" on {i}"));
    let mut let_in = Vec::new();
    for kind in traffic {
        let fate = ruleset.fate(kind, interface);
        let persist = "; then add it where the firewall's rules are kept, so it survives a \
                       reboot (/etc/nftables.conf, /etc/iptables/rules.v4, or your firewall \
                       tool's own command)";
        match (&fate.dropped, fate.may_accept.is_empty()) {
            (Some((by, base)), true) => report.problem(
                CHECK,
                format!(
                    "{} drops {}{on}, by {}: {}",
                    ruleset.source,
                    kind.what,
                    by.describe(),
                    kind.dropped
                ),
                format!(
                    "let the phones' packets in: `{}`{persist}",
                    accept_command(ruleset, base, kind)
                ),
            ),
            (Some((by, base)), false) => report.warning(
                CHECK,
                format!(
                    "{} lets in {}{on} only by {}, when its other conditions hold, and drops \
                     it otherwise, by {}",
                    ruleset.source,
                    kind.what,
                    listed(&fate.may_accept),
                    by.describe()
                ),
                format!(
                    "make sure the phones' packets meet those conditions (their addresses, \
                     their interface), or let them all in: `{}`",
                    accept_command(ruleset, base, kind)
                ),
            ),
            (None, _) if !fate.may_drop.is_empty() => report.warning(
                CHECK,
                format!(
                    "{} may drop {}{on}, by {}, depending on conditions doctor cannot judge",
                    ruleset.source,
                    kind.what,
                    listed(&fate.may_drop)
                ),
                "make sure those rules do not match the phones' packets (their addresses, their \
                 interface)",
            ),
            (None, _) => let_in.push(kind.what.as_str()),
        }
    }
    if !let_in.is_empty() {
        report.ok(
            CHECK,
            format!("{} lets in {}", ruleset.source, let_in.join(", ")),
        );
    }
}

fn accept_command(ruleset: &Ruleset, chain: &Chain, traffic: &Traffic) -> String {
    let rule = match ruleset.source {
        "iptables" => &traffic.iptables_accept,
        _ => &traffic.nft_accept,
    };
    format!("sudo {} {rule}", chain.insert)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn traffic(port: u16) -> Traffic {
        Traffic {
            what: format!("UDP {port}"),
            dropped: "",
            ports: port..=port,
            state: CtState::New,
            nft_accept: String::new(),
            iptables_accept: String::new(),
        }
    }

    pub(super) fn transfers() -> Traffic {
        Traffic {
            ports: 32768..=60999,
            state: CtState::Established,
            ..traffic(0)
        }
    }

    /// "dropped by …", "accepted", with the "may" rules' texts.
    pub(super) fn verdict(ruleset: &Ruleset, traffic: &Traffic, interface: Option<&str>) -> String {
        let fate = ruleset.fate(traffic, interface);
        let mut verdict = match &fate.dropped {
            Some((by, _)) => format!("dropped by {}", by.describe()),
            None => "accepted".into(),
        };
        if !fate.may_accept.is_empty() {
            verdict += &format!("; may accept: {}", listed(&fate.may_accept));
        }
        if !fate.may_drop.is_empty() {
            verdict += &format!("; may drop: {}", listed(&fate.may_drop));
        }
        verdict
    }

    #[test]
    fn interface_patterns_match_by_prefix() {
        assert!(interface_matches("eth0", "eth0"));
        assert!(interface_matches("eth*", "eth1"));
        assert!(interface_matches("eth+", "eth1"));
        assert!(!interface_matches("eth0", "eth1"));
        assert!(!interface_matches("wl*", "eth1"));
    }

    #[test]
    fn a_port_range_applies_when_it_holds_every_port_of_the_traffic() {
        let range = |ranges: Vec<RangeInclusive<u16>>| Condition {
            test: Test::DestinationPort(ranges),
            negated: false,
        };
        let data = transfers();
        assert_eq!(range(vec![1024..=65535]).applies(&data, None), Applies::Yes);
        assert_eq!(range(vec![69..=69]).applies(&data, None), Applies::No);
        assert_eq!(
            range(vec![40000..=40100]).applies(&data, None),
            Applies::Maybe
        );
        let negated = Condition {
            negated: true,
            ..range(vec![69..=69])
        };
        assert_eq!(negated.applies(&traffic(69), None), Applies::No);
        assert_eq!(negated.applies(&traffic(67), None), Applies::Yes);
    }
}
