//! nftables' rules, from `nft -j list ruleset`, in the firewall model.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use serde_json::Value;

use super::{Action, Chain, Condition, Rule, Ruleset, Test};

/// The tables iptables-nft keeps in family ip, read from iptables-save.
const IPTABLES_TABLES: [&str; 5] = ["filter", "mangle", "nat", "raw", "security"];

/// The chains of families ip and inet (the phones speak IPv4 only).
/// `iptables_nft`: iptables-save showed iptables-nft's tables; they are
/// left out here.
pub(super) fn parse(json: &str, iptables_nft: bool) -> Result<Ruleset, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" list")?;
    let mut chains = HashMap::new();
    let mut input = Vec::new();
    for item in items {
        let (object, is_chain) = match (item.get("chain"), item.get("rule")) {
            (Some(chain), _) => (chain, true),
            (_, Some(rule)) => (rule, false),
            _ => continue,
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
        let (family, table) = (text("family"), text("table"));
        if !matches!(family, "ip" | "inet")
            || (iptables_nft && family == "ip" && IPTABLES_TABLES.contains(&table))
        {
            continue;
        }
        if is_chain {
            let name = format!("{family} {table} {}", text("name"));
            if text("hook") == "input" && text("type") == "filter" {
                let priority = object.get("prio").and_then(Value::as_i64).unwrap_or(0);
                input.push((priority, name.clone()));
            }
            let chain = Chain {
                insert: format!("nft insert rule {name}"),
                name: name.clone(),
                policy_drops: text("policy") == "drop",
                rules: Vec::new(),
            };
            chains.insert(name, chain);
        } else if let Some(chain) = chains.get_mut(&format!("{family} {table} {}", text("chain"))) {
            let expressions = object.get("expr").and_then(Value::as_array);
            let within = format!("{family} {table}");
            chain
                .rules
                .extend(rules(expressions.map_or(&[][..], Vec::as_slice), &within));
        }
    }
    input.sort_by_key(|(priority, _)| *priority);
    Ok(Ruleset {
        source: "nftables",
        chains,
        input: input.into_iter().map(|(_, name)| name).collect(),
    })
}

/// One rule's expressions; a verdict map (`ct state vmap { established :
/// accept, … }`) becomes one rule per entry.
fn rules(expressions: &[Value], within: &str) -> Vec<Rule> {
    let text = expressions
        .iter()
        .filter_map(words)
        .collect::<Vec<_>>()
        .join(" ");
    let mut conditions = Vec::new();
    let mut action = Action::Continue;
    for expression in expressions {
        if let Some(matched) = expression.get("match") {
            conditions.extend(condition(matched));
        } else if let Some(map) = expression.get("vmap") {
            let entries = map["data"]["set"].as_array().map_or(&[][..], Vec::as_slice);
            return entries
                .iter()
                .filter_map(|entry| {
                    let mut conditions = conditions.clone();
                    conditions.extend(condition(&serde_json::json!({
                        "op": "==", "left": map["key"], "right": entry.get(0)?
                    })));
                    Some(Rule {
                        text: text.clone(),
                        conditions,
                        action: verdict(entry.get(1)?, within)?,
                    })
                })
                .collect();
        } else if let Some(found) = verdict(expression, within) {
            action = found;
        } else if expression.get("xt").is_some() || expression.get("limit").is_some() {
            conditions.push(Condition {
                test: Test::Other,
                negated: false,
            });
        }
    }
    vec![Rule {
        text,
        conditions,
        action,
    }]
}

/// A `match` expression as conditions: `udp dport 69` is two (the
/// protocol, the port).
fn condition(matched: &Value) -> Vec<Condition> {
    let (left, right) = (&matched["left"], &matched["right"]);
    let negated = match matched["op"].as_str() {
        Some("==" | "in") => false,
        Some("!=") => true,
        _ => return vec![other()],
    };
    let test = if let Some(payload) = left.get("payload") {
        match (payload["protocol"].as_str(), payload["field"].as_str()) {
            (Some("ip"), Some("protocol")) => Test::Protocol(names(right)),
            (Some(protocol), Some("dport")) => {
                let port = Condition {
                    test: ports(right).map_or(Test::Other, Test::DestinationPort),
                    negated,
                };
                if protocol == "th" {
                    return vec![port];
                }
                let protocol = Condition {
                    test: Test::Protocol(vec![protocol.to_string()]),
                    negated: false,
                };
                return vec![protocol, port];
            }
            _ => Test::Other,
        }
    } else if let Some(key) = left["meta"]["key"].as_str() {
        match key {
            "l4proto" => Test::Protocol(names(right)),
            "iifname" | "iif" => Test::InInterface(names(right)),
            _ => Test::Other,
        }
    } else if left["ct"]["key"].as_str() == Some("state") {
        Test::State(names(right))
    } else {
        Test::Other
    };
    vec![Condition { test, negated }]
}

fn other() -> Condition {
    Condition {
        test: Test::Other,
        negated: false,
    }
}

/// The elements of a value, a list or a set, as words.
fn elements(value: &Value) -> &[Value] {
    match (value, value.get("set").and_then(Value::as_array)) {
        (_, Some(set)) => set,
        (Value::Array(items), _) => items,
        _ => std::slice::from_ref(value),
    }
}

fn names(value: &Value) -> Vec<String> {
    elements(value)
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Ports, port ranges and sets of them; None for anything else (a named
/// set `@allowed`).
fn ports(value: &Value) -> Option<Vec<RangeInclusive<u16>>> {
    let port = |v: &Value| match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    elements(value)
        .iter()
        .map(
            |element| match element.get("range").and_then(Value::as_array) {
                Some(range) => Some(port(range.first()?)?..=port(range.get(1)?)?),
                None => port(element).map(|p| p..=p),
            },
        )
        .collect()
}

/// A verdict expression as an action; jumps name chains of table `within`.
fn verdict(expression: &Value, within: &str) -> Option<Action> {
    let target = |key: &str| {
        let chain = expression[key]["target"].as_str()?;
        Some(format!("{within} {chain}"))
    };
    let object = expression.as_object()?;
    let key = object.keys().next()?.as_str();
    Some(match key {
        "accept" => Action::Accept,
        "drop" => Action::Drop,
        "reject" => Action::Reject,
        "return" => Action::Return,
        "jump" => Action::Jump(target(key)?),
        "goto" => Action::Goto(target(key)?),
        "xt" if expression["xt"]["type"] == "target" => match expression["xt"]["name"].as_str() {
            Some("REJECT") => Action::Reject,
            Some("DROP") => Action::Drop,
            Some("ACCEPT") => Action::Accept,
            _ => Action::Continue,
        },
        _ => return None,
    })
}

/// An expression roughly as `nft list ruleset` writes it; None for
/// counters.
fn words(expression: &Value) -> Option<String> {
    let object = expression.as_object()?;
    let (key, value) = object.iter().next()?;
    Some(match key.as_str() {
        "counter" => return None,
        "match" => {
            let op = match value["op"].as_str() {
                Some("==" | "in") => " ".to_string(),
                Some(op) => format!(" {op} "),
                None => " ".into(),
            };
            format!(
                "{}{op}{}",
                operand(&value["left"]),
                operand(&value["right"])
            )
        }
        "vmap" => {
            let entries = elements(&value["data"])
                .iter()
                .map(|e| format!("{} : {}", operand(&e[0]), words(&e[1]).unwrap_or_default()))
                .collect::<Vec<_>>();
            format!(
                "{} vmap {{ {} }}",
                operand(&value["key"]),
                entries.join(", ")
            )
        }
        "jump" | "goto" => format!("{key} {}", value["target"].as_str().unwrap_or("?")),
        "xt" => format!("xt {}", value["name"].as_str().unwrap_or("?")),
        _ => key.clone(),
    })
}

fn operand(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(operand).collect::<Vec<_>>().join(","),
        Value::Object(object) => {
            let Some((key, inner)) = object.iter().next() else {
                return String::new();
            };
            let field = |name: &str| inner[name].as_str().unwrap_or("?").to_string();
            match key.as_str() {
                "payload" => format!("{} {}", field("protocol"), field("field")),
                "meta" if matches!(inner["key"].as_str(), Some("iifname" | "iif")) => field("key"),
                "meta" | "ct" => format!("{key} {}", field("key")),
                "set" => format!(
                    "{{ {} }}",
                    elements(value)
                        .iter()
                        .map(operand)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "range" => format!("{}-{}", operand(&inner[0]), operand(&inner[1])),
                "prefix" => format!("{}/{}", operand(&inner["addr"]), operand(&inner["len"])),
                _ => format!("{key} {inner}"),
            }
        }
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{traffic, transfers, verdict};
    use super::super::Traffic;
    use super::*;

    /// `nft -j list ruleset` (nftables 1.0.6) for a host firewall as
    /// Debian's examples write it: drop by default, the loopback, replies,
    /// SSH, and the phones' ports 67 and 69 but not 5060.
    const WORKSTATION: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "filter", "handle": 1}},
 {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 3, "bytes": 180}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [67, 69]}}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["icmp", "ipv6-icmp"]}}}, {"accept": null}]}}]}"#;

    #[test]
    fn a_default_drop_policy_drops_what_no_rule_lets_in() {
        let ruleset = parse(WORKSTATION, false).unwrap();
        assert_eq!(ruleset.input, ["inet filter input"]);
        assert_eq!(verdict(&ruleset, &traffic(69), None), "accepted");
        assert_eq!(verdict(&ruleset, &traffic(67), Some("eth0")), "accepted");
        assert_eq!(verdict(&ruleset, &transfers(), None), "accepted");
        assert_eq!(
            verdict(&ruleset, &traffic(5060), None),
            "dropped by the drop policy of chain inet filter input"
        );
        let chain = &ruleset.chains["inet filter input"];
        assert_eq!(chain.insert, "nft insert rule inet filter input");
        let texts: Vec<&str> = chain.rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "iif lo accept",
                "ct state established,related accept",
                "ct state invalid drop",
                "tcp dport 22 accept",
                "udp dport { 67, 69 } accept",
                "meta l4proto { icmp, ipv6-icmp } accept",
            ]
        );
    }

    /// Only port 69 let in, and no rule for replies: the phones' TFTP
    /// acknowledgements, sent to each transfer's own port, are dropped.
    const ONLY_69: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "ip", "name": "phones", "handle": 3}},
 {"chain": {"family": "ip", "table": "phones", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "drop"}},
 {"rule": {"family": "ip", "table": "phones", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 69}}, {"accept": null}]}},
 {"rule": {"family": "ip", "table": "phones", "chain": "in", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [30000, 30100]}}}, {"accept": null}]}}]}"#;

    #[test]
    fn transfers_need_replies_let_in_or_their_ports() {
        let ruleset = parse(ONLY_69, false).unwrap();
        assert_eq!(
            verdict(&ruleset, &transfers(), None),
            "dropped by the drop policy of chain ip phones in"
        );
        let fixed_ports = Traffic {
            ports: 30000..=30100,
            ..transfers()
        };
        assert_eq!(verdict(&ruleset, &fixed_ports, None), "accepted");
    }

    /// firewalld's layout (nftables backend, abridged): the input chain
    /// jumps by interface into a zone chain, which accepts its services and
    /// else rejects.
    const FIREWALLD: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "firewalld", "handle": 7}},
 {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}},
 {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT_ZONES", "handle": 2}},
 {"chain": {"family": "inet", "table": "firewalld", "name": "filter_IN_public", "handle": 3}},
 {"chain": {"family": "inet", "table": "firewalld", "name": "filter_IN_public_allow", "handle": 4}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 10, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 11, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 12, "expr": [{"jump": {"target": "filter_INPUT_ZONES"}}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 13, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT", "handle": 14, "expr": [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_INPUT_ZONES", "handle": 20, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, {"goto": {"target": "filter_IN_public"}}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_IN_public", "handle": 21, "expr": [{"jump": {"target": "filter_IN_public_allow"}}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_IN_public_allow", "handle": 22, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 69}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new", "untracked"]}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_IN_public_allow", "handle": 23, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"accept": null}]}}]}"#;

    #[test]
    fn jumps_are_followed_and_interfaces_judged_when_known() {
        let ruleset = parse(FIREWALLD, false).unwrap();
        assert_eq!(verdict(&ruleset, &traffic(69), Some("eth0")), "accepted");
        let rejected = "dropped by rule `reject` in chain inet firewalld filter_INPUT";
        assert_eq!(verdict(&ruleset, &traffic(69), Some("eth1")), rejected);
        // Not knowing the phones' interface, the zone only may apply.
        assert_eq!(
            verdict(&ruleset, &traffic(69), None),
            format!(
                "{rejected}; may accept: rule `udp dport 69 ct state new,untracked accept` in \
                 chain inet firewalld filter_IN_public_allow"
            )
        );
        // 5060 only from one network: doctor cannot tell whether the phones are on it.
        assert_eq!(
            verdict(&ruleset, &traffic(5060), Some("eth0")),
            format!(
                "{rejected}; may accept: rule `ip saddr 10.0.0.0/24 udp dport 5060 accept` in \
                 chain inet firewalld filter_IN_public_allow"
            )
        );
        assert_eq!(verdict(&ruleset, &transfers(), Some("eth1")), "accepted");
    }

    #[test]
    fn a_verdict_map_is_a_rule_per_entry() {
        let json = r#"{"nftables": [
 {"chain": {"family": "inet", "table": "f", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "expr": [{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["established", {"accept": null}], ["related", {"accept": null}], ["invalid", {"drop": null}]]}}}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [{"range": [60, 70]}, 5060]}}}, {"drop": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": "@phone_ports"}}, {"accept": null}]}}]}"#;
        let ruleset = parse(json, false).unwrap();
        let rules = &ruleset.chains["inet f input"].rules;
        assert_eq!(rules.len(), 5);
        assert_eq!(
            rules[0].text,
            "ct state vmap { established : accept, related : accept, invalid : drop }"
        );
        assert_eq!(verdict(&ruleset, &transfers(), None), "accepted");
        assert_eq!(
            verdict(&ruleset, &traffic(5061), None),
            "dropped by rule `udp dport != { 60-70, 5060 } drop` in chain inet f input"
        );
        assert_eq!(
            verdict(&ruleset, &traffic(69), None),
            "dropped by the drop policy of chain inet f input; may accept: rule `udp dport \
             @phone_ports accept` in chain inet f input"
        );
    }

    #[test]
    fn iptables_nft_tables_are_left_to_iptables_save() {
        // iptables-nft's own table, as nft shows it: matches it cannot name.
        let json = r#"{"nftables": [
 {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 3, "expr": [{"xt": {"type": "match", "name": "conntrack"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
 {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"xt": {"type": "match", "name": "multiport"}}, {"xt": {"type": "target", "name": "REJECT"}}]}}]}"#;
        assert!(parse(json, true).unwrap().input.is_empty());
        let ruleset = parse(json, false).unwrap();
        assert_eq!(
            verdict(&ruleset, &traffic(69), None),
            "dropped by the drop policy of chain ip filter INPUT; may accept: rule `xt \
             conntrack accept` in chain ip filter INPUT; may drop: rule `meta l4proto udp xt \
             multiport xt REJECT` in chain ip filter INPUT"
        );
        assert!(parse("{}", false).is_err());
    }
}
