//! iptables' filter table, from `iptables-save -t filter`, in the firewall
//! model. (The phones speak IPv4 only: ip6tables does not concern them.)

use std::collections::HashMap;
use std::ops::RangeInclusive;

use super::{Action, Chain, Condition, Rule, Ruleset, Test};

/// The chains of the filter table; INPUT filters incoming packets.
pub(super) fn parse(text: &str) -> Ruleset {
    let mut chains = HashMap::new();
    let mut in_filter = false;
    for line in text.lines() {
        if let Some(table) = line.strip_prefix('*') {
            in_filter = table == "filter";
        } else if !in_filter {
            continue;
        } else if let Some(declared) = line.strip_prefix(':') {
            let mut fields = declared.split_whitespace();
            let (Some(name), policy) = (fields.next(), fields.next()) else {
                continue;
            };
            chains.insert(
                name.to_string(),
                Chain {
                    name: name.to_string(),
                    policy_drops: policy == Some("DROP"),
                    rules: Vec::new(),
                    insert: format!("iptables -I {name}"),
                },
            );
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let Some((chain, text)) = rule.split_once(' ') else {
                continue;
            };
            let rule = parse_rule(text, &chains);
            if let Some(chain) = chains.get_mut(chain) {
                chain.rules.push(rule);
            }
        }
    }
    let input = chains
        .contains_key("INPUT")
        .then(|| "INPUT".to_string())
        .into_iter()
        .collect();
    Ruleset {
        source: "iptables",
        chains,
        input,
    }
}

/// One rule's options, e.g. `-p udp -m udp --dport 69 -j ACCEPT`.
fn parse_rule(text: &str, chains: &HashMap<String, Chain>) -> Rule {
    let mut conditions = Vec::new();
    let mut action = Action::Continue;
    let mut negated = false;
    let mut words = split(text).into_iter().peekable();
    while let Some(option) = words.next() {
        if option == "!" {
            negated = true;
            continue;
        }
        let mut values = Vec::new();
        while let Some(value) = words.next_if(|w| !w.starts_with('-') && w != "!") {
            values.push(value);
        }
        let first = values.first().cloned().unwrap_or_default();
        let list = || first.split(',').map(str::to_string).collect::<Vec<_>>();
        let test = match option.as_str() {
            "-p" | "--protocol" => Test::Protocol(vec![first.to_lowercase()]),
            "-i" | "--in-interface" => Test::InInterface(vec![first]),
            "--dport" | "--dports" | "--destination-port" | "--destination-ports" => list()
                .iter()
                .map(|p| ports(p))
                .collect::<Option<Vec<_>>>()
                .map_or(Test::Other, Test::DestinationPort),
            "--ctstate" | "--state" => {
                Test::State(list().iter().map(|s| s.to_lowercase()).collect())
            }
            // Modules are named before their options; comments say nothing.
            "-m" | "--match" | "--comment" => continue,
            "-j" | "--jump" | "-g" | "--goto" => {
                let goto = matches!(option.as_str(), "-g" | "--goto");
                action = match first.as_str() {
                    "ACCEPT" => Action::Accept,
                    "DROP" => Action::Drop,
                    "REJECT" => Action::Reject,
                    "RETURN" => Action::Return,
                    chain if chains.contains_key(chain) && goto => Action::Goto(first.clone()),
                    chain if chains.contains_key(chain) => Action::Jump(first.clone()),
                    _ => Action::Continue,
                };
                // What follows are the target's own options (--reject-with …).
                break;
            }
            _ => Test::Other,
        };
        conditions.push(Condition { test, negated });
        negated = false;
    }
    Rule {
        text: text.to_string(),
        conditions,
        action,
    }
}

/// `69`, `1000:2000`, `:1023`, `1024:`.
fn ports(text: &str) -> Option<RangeInclusive<u16>> {
    match text.split_once(':') {
        Some((low, high)) => {
            let low = if low.is_empty() { 0 } else { low.parse().ok()? };
            let high = if high.is_empty() {
                u16::MAX
            } else {
                high.parse().ok()?
            };
            Some(low..=high)
        }
        None => text.parse().ok().map(|p| p..=p),
    }
}

/// Words as iptables-save quotes them: `--comment "phones here"` is two.
fn split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars();
    let mut word: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let quoted = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => quoted.extend(chars.next()),
                        '"' => break,
                        c => quoted.push(c),
                    }
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::super::tests::{traffic, transfers, verdict};
    use super::*;

    /// `iptables-save -t filter` (iptables 1.8.9) of a server firewall:
    /// drop by default, replies, the DHCP and SIP ports for the phones'
    /// network only, TFTP's port, and a user chain.
    const SERVER: &str = r#"# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 21 09:49:07 2026
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:custom - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p udp -m multiport --dports 67,5060 -m comment --comment "phones -- here" -j ACCEPT
-A INPUT -p udp -m udp --dport 69 -j ACCEPT
-A INPUT -s 10.0.0.0/8 -j custom
-A INPUT -m helper --helper tftp -j ACCEPT
-A INPUT -j LOG --log-prefix "in drop: "
-A custom -p udp -m udp ! --dport 1000:2000 -j REJECT --reject-with icmp-port-unreachable
COMMIT
# Completed on Sat Nov 21 09:49:07 2026
"#;

    #[test]
    fn the_input_chain_and_its_jumps_are_judged() {
        let ruleset = parse(SERVER);
        assert_eq!(ruleset.input, ["INPUT"]);
        let input = &ruleset.chains["INPUT"];
        assert!(input.policy_drops);
        assert_eq!(input.insert, "iptables -I INPUT");
        assert_eq!(input.rules[1].action, Action::Accept);
        assert_eq!(
            input.rules[1].text,
            r#"-p udp -m multiport --dports 67,5060 -m comment --comment "phones -- here" -j ACCEPT"#
        );
        assert_eq!(input.rules[3].action, Action::Jump("custom".into()));
        assert_eq!(verdict(&ruleset, &traffic(67), None), "accepted");
        assert_eq!(verdict(&ruleset, &traffic(5060), Some("eth0")), "accepted");
        assert_eq!(verdict(&ruleset, &traffic(69), None), "accepted");
        // No rule for replies: only the conntrack helper may let the
        // acknowledgements in, and the user chain may reject them first.
        assert_eq!(
            verdict(&ruleset, &transfers(), None),
            "dropped by the drop policy of chain INPUT; may accept: rule `-m helper --helper \
             tftp -j ACCEPT` in chain INPUT; may drop: rule `-p udp -m udp ! --dport 1000:2000 \
             -j REJECT --reject-with icmp-port-unreachable` in chain custom"
        );
        assert_eq!(
            verdict(&ruleset, &traffic(5061), Some("lo")),
            "accepted",
            "the loopback is let in"
        );
    }

    #[test]
    fn states_and_negations() {
        let ruleset = parse(
            "*filter\n:INPUT ACCEPT [0:0]\n\
             -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A INPUT ! -i eth1 -p udp -m udp --dport 5060 -j DROP\n\
             -A INPUT -p tcp -j REJECT\n\
             -A INPUT -p udp -m udp --dport 1024:5059 -j DROP\nCOMMIT\n",
        );
        assert_eq!(verdict(&ruleset, &transfers(), None), "accepted");
        assert_eq!(verdict(&ruleset, &traffic(5060), Some("eth1")), "accepted");
        assert_eq!(
            verdict(&ruleset, &traffic(5060), Some("eth0")),
            "dropped by rule `! -i eth1 -p udp -m udp --dport 5060 -j DROP` in chain INPUT"
        );
        assert_eq!(
            verdict(&ruleset, &traffic(5060), None),
            "accepted; may drop: rule `! -i eth1 -p udp -m udp --dport 5060 -j DROP` in chain \
             INPUT"
        );
        assert_eq!(
            verdict(&ruleset, &traffic(2000), None),
            "dropped by rule `-p udp -m udp --dport 1024:5059 -j DROP` in chain INPUT"
        );
        assert_eq!(verdict(&ruleset, &traffic(69), None), "accepted");
    }

    #[test]
    fn no_filter_table_filters_nothing() {
        let ruleset = parse("# Generated by iptables-save v1.8.9 on Sat Nov 21 2026\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n");
        assert!(ruleset.input.is_empty());
        assert_eq!(verdict(&ruleset, &traffic(69), None), "accepted");
    }

    #[test]
    fn words_and_ports() {
        assert_eq!(
            split(r#"-m comment --comment "a \"b\" c" -j LOG"#),
            ["-m", "comment", "--comment", r#"a "b" c"#, "-j", "LOG"]
        );
        assert_eq!(ports("69"), Some(69..=69));
        assert_eq!(ports(":1023"), Some(0..=1023));
        assert_eq!(ports("1024:"), Some(1024..=65535));
        assert_eq!(ports("tftp"), None);
    }
}
