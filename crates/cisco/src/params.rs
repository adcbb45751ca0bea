//! Every `SIPDefault.cnf` / `SIP<MAC>.cnf` parameter of the SIP 7.x/8.x
//! application (reference §4.2), typed: what values it takes, its default,
//! the release that added it, and how sure the reference is about it.
//!
//! The table validates `[defaults]` and per-phone `params` in phoneprov.toml
//! and renders values with the quoting the phone expects: numbers and 0/1
//! switches bare, everything else in double quotes.

use std::fmt;
use std::net::Ipv4Addr;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 0 or 1.
    Switch,
    /// 0 off, 1 on, 2 off without user control, 3 on without user control.
    Feature,
    /// A whole number in a range.
    Number { min: i64, max: i64 },
    /// One of a fixed list of words (matched case-insensitively, rendered as listed).
    Choice(&'static [&'static str]),
    /// Free text, at most `max` characters when given.
    Text { max: Option<usize> },
    /// A dotted IPv4 address (the phone resolves no name here).
    DottedIp,
    /// A dotted IPv4 address or a host name.
    Host,
    /// An http:// URL.
    Url,
    /// A firmware load name without extension.
    Load,
}

/// How sure the reference is about a parameter's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certainty {
    /// Seen in Cisco's own documents or files.
    Verified,
    /// From community sources or inference: a value outside the known ones
    /// is accepted with a warning.
    Unsure,
}

/// One parameter. Line and proxy parameters are listed once with `N` in the
/// name (`lineN_name`) and match `line1_name` … `line6_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    /// Cisco's default, as the phone would assume it.
    pub default: Option<&'static str>,
    /// The SIP release that added it, when Cisco's sample says.
    pub since: Option<&'static str>,
    pub certainty: Certainty,
    pub about: &'static str,
}

/// A value as written in phoneprov.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl fmt::Display for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Text(t) => write!(f, "{t:?}"),
            RawValue::Integer(i) => write!(f, "{i}"),
            RawValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A checked value, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamValue {
    text: String,
    quoted: bool,
}

impl ParamValue {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value as it goes after `name: ` in a .cnf file.
    pub fn rendered(&self) -> String {
        if self.quoted {
            format!("\"{}\"", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// A value the table refuses, or accepts with a warning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} = {value}: {problem}")]
pub struct ParamProblem {
    pub name: String,
    pub value: String,
    /// What is wrong and what would be right.
    pub problem: String,
}

/// The checked value, and a warning when it was accepted against an unsure rule.
pub type Checked = (ParamValue, Option<ParamProblem>);

const FEATURE: Kind = Kind::Feature;
const SWITCH: Kind = Kind::Switch;
const PORT: Kind = Kind::Number { min: 1, max: 65535 };
const TEXT: Kind = Kind::Text { max: None };
/// Month names the phone takes: the full names in calendar order, then the
/// short ones.
pub(crate) const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
];
/// Weekday names the phone takes: the full names from Sunday, then the short ones.
pub(crate) const WEEKDAYS: &[&str] = &[
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sun",
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
];

const fn p(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    since: Option<&'static str>,
    about: &'static str,
) -> Param {
    Param {
        name,
        kind,
        default,
        since,
        certainty: Certainty::Verified,
        about,
    }
}

const fn unsure(param: Param) -> Param {
    Param {
        certainty: Certainty::Unsure,
        ..param
    }
}

/// The table, in the reference's order.
pub const PARAMS: &[Param] = &[
    // Image and provisioning
    p(
        "image_version",
        Kind::Load,
        None,
        None,
        "target application load; the phone upgrades when it differs from flash",
    ),
    p(
        "tftp_cfg_dir",
        TEXT,
        Some(""),
        None,
        "directory prefix for SIP<MAC>.cnf requests, e.g. \"./\"",
    ),
    p(
        "dyn_tftp_addr",
        Kind::DottedIp,
        Some(""),
        Some("4.0"),
        "alternate TFTP server",
    ),
    p(
        "dyn_dns_addr_1",
        Kind::DottedIp,
        Some(""),
        Some("4.0"),
        "first DNS server",
    ),
    p(
        "dyn_dns_addr_2",
        Kind::DottedIp,
        Some(""),
        Some("4.0"),
        "second DNS server",
    ),
    p(
        "sync",
        Kind::Text { max: Some(32) },
        Some("1"),
        Some("2.0"),
        "sync value compared with syncinfo.xml on check-sync",
    ),
    p(
        "dial_template",
        TEXT,
        Some("dialplan"),
        None,
        "dial plan file name without .xml",
    ),
    unsure(p(
        "language",
        TEXT,
        None,
        Some("2.0"),
        "user interface language, e.g. English",
    )),
    // Proxy and registration
    p(
        "proxyN_address",
        Kind::Host,
        None,
        None,
        "SIP proxy of line N (8.x also takes USECALLMANAGER)",
    ),
    p("proxyN_port", PORT, Some("5060"), None, "port of proxy N"),
    p(
        "proxy_register",
        SWITCH,
        Some("0"),
        None,
        "register with the proxy (must be 1 to register)",
    ),
    p(
        "timer_register_expires",
        Kind::Number {
            min: 1,
            max: 3_932_100,
        },
        Some("3600"),
        None,
        "registration lifetime asked for, in seconds",
    ),
    p(
        "proxy_backup",
        Kind::DottedIp,
        Some(""),
        Some("2.1"),
        "backup proxy",
    ),
    p(
        "proxy_backup_port",
        PORT,
        Some("5060"),
        Some("2.1"),
        "backup proxy port",
    ),
    p(
        "proxy_emergency",
        Kind::DottedIp,
        Some(""),
        Some("2.1"),
        "emergency proxy",
    ),
    p(
        "proxy_emergency_port",
        PORT,
        Some("5060"),
        Some("2.1"),
        "emergency proxy port",
    ),
    p(
        "outbound_proxy",
        Kind::Host,
        Some(""),
        Some("2.2"),
        "outbound proxy (dotted IP or DNS A record)",
    ),
    p(
        "outbound_proxy_port",
        PORT,
        Some("5060"),
        Some("2.2"),
        "outbound proxy port",
    ),
    unsure(p(
        "call_managerN_addr",
        Kind::Host,
        Some(""),
        None,
        "CallManager-mode target N (8.x)",
    )),
    unsure(p(
        "call_managerN_sip_port",
        PORT,
        Some("5060"),
        None,
        "CallManager-mode SIP port N (8.x)",
    )),
    p(
        "user_info",
        Kind::Choice(&["none", "phone", "ip"]),
        Some("none"),
        Some("3.0"),
        "user= tag on REGISTER URIs",
    ),
    p(
        "remote_party_id",
        SWITCH,
        Some("0"),
        Some("4.0"),
        "send Remote-Party-ID",
    ),
    // Lines
    p(
        "lineN_name",
        TEXT,
        None,
        None,
        "SIP user / extension of line N; empty when unused",
    ),
    p(
        "lineN_authname",
        TEXT,
        None,
        None,
        "digest user name of line N; UNPROVISIONED when unused",
    ),
    p(
        "lineN_password",
        TEXT,
        None,
        None,
        "digest password of line N; UNPROVISIONED when unused",
    ),
    unsure(p(
        "lineN_displayname",
        Kind::Text { max: Some(32) },
        None,
        Some("2.0"),
        "display name in From of line N (keep it short)",
    )),
    unsure(p(
        "lineN_shortname",
        Kind::Text { max: Some(12) },
        None,
        None,
        "label next to the line key",
    )),
    p(
        "messages_uri",
        TEXT,
        None,
        Some("2.0"),
        "number the Messages key dials, e.g. *97",
    ),
    // Media, NAT, QoS
    p(
        "preferred_codec",
        Kind::Choice(&["g711ulaw", "g711alaw", "g729a", "none"]),
        Some("g711ulaw"),
        None,
        "codec offered first",
    ),
    p(
        "enable_vad",
        SWITCH,
        Some("0"),
        Some("2.1"),
        "voice activity detection",
    ),
    p(
        "tos_media",
        Kind::Number { min: 0, max: 5 },
        Some("5"),
        None,
        "IP precedence of media",
    ),
    p(
        "dtmf_inband",
        SWITCH,
        Some("1"),
        None,
        "send DTMF in the audio",
    ),
    p(
        "dtmf_outofband",
        Kind::Choice(&["none", "avt", "avt_always"]),
        Some("avt"),
        None,
        "RFC 2833 DTMF",
    ),
    p(
        "dtmf_db_level",
        Kind::Number { min: 1, max: 5 },
        Some("3"),
        None,
        "DTMF level: 1 = -6 dB … 3 = nominal … 5 = +6 dB",
    ),
    p(
        "dtmf_avt_payload",
        Kind::Number { min: 96, max: 127 },
        Some("101"),
        Some("2.0"),
        "RTP payload type of DTMF events",
    ),
    p("nat_enable", SWITCH, Some("0"), Some("2.2"), "NAT support"),
    p(
        "nat_address",
        Kind::Host,
        Some(""),
        Some("2.2"),
        "WAN address (dotted IP or DNS A record)",
    ),
    p(
        "voip_control_port",
        PORT,
        Some("5060"),
        None,
        "UDP port for SIP",
    ),
    p(
        "start_media_port",
        PORT,
        Some("16384"),
        None,
        "first RTP port",
    ),
    p("end_media_port", PORT, Some("32766"), None, "last RTP port"),
    p(
        "nat_received_processing",
        SWITCH,
        Some("0"),
        None,
        "use received= from the proxy",
    ),
    p(
        "network_media_type",
        Kind::Choice(&["auto", "full100", "full10", "half100", "half10"]),
        Some("auto"),
        None,
        "Ethernet speed and duplex",
    ),
    // SIP timers
    p(
        "timer_t1",
        Kind::Number {
            min: 100,
            max: 64_000,
        },
        Some("500"),
        None,
        "SIP T1 in ms",
    ),
    p(
        "timer_t2",
        Kind::Number {
            min: 200,
            max: 64_000,
        },
        Some("4000"),
        None,
        "SIP T2 in ms",
    ),
    p(
        "sip_retx",
        Kind::Number { min: 0, max: 20 },
        Some("10"),
        None,
        "retransmissions of SIP requests",
    ),
    p(
        "sip_invite_retx",
        Kind::Number { min: 0, max: 20 },
        Some("6"),
        None,
        "retransmissions of INVITE",
    ),
    p(
        "timer_invite_expires",
        Kind::Number { min: 1, max: 3600 },
        Some("180"),
        None,
        "INVITE expiry in seconds",
    ),
    // Features
    p(
        "dnd_control",
        FEATURE,
        Some("0"),
        Some("2.0"),
        "do not disturb",
    ),
    p(
        "callerid_blocking",
        FEATURE,
        Some("0"),
        None,
        "caller ID blocking",
    ),
    p(
        "anonymous_call_block",
        FEATURE,
        Some("0"),
        None,
        "block anonymous calls (2 and 3 belong in SIP<MAC>.cnf)",
    ),
    p("call_waiting", FEATURE, Some("1"), None, "call waiting"),
    p(
        "call_hold_ringback",
        FEATURE,
        Some("0"),
        Some("4.4"),
        "ring back after hanging up on a held call",
    ),
    p(
        "cnf_join_enable",
        SWITCH,
        Some("1"),
        Some("3.0"),
        "join the other parties when the conference initiator hangs up",
    ),
    p(
        "semi_attended_transfer",
        SWITCH,
        Some("1"),
        Some("3.1"),
        "transfer while the target is ringing",
    ),
    p(
        "stutter_msg_waiting",
        SWITCH,
        Some("0"),
        Some("6.0"),
        "stutter dial tone on waiting messages",
    ),
    p(
        "call_stats",
        SWITCH,
        Some("0"),
        Some("6.0"),
        "RTP statistics in BYE/200",
    ),
    p(
        "autocomplete",
        SWITCH,
        Some("1"),
        None,
        "complete numbers while dialling",
    ),
    unsure(p(
        "transfer_onhook_enabled",
        SWITCH,
        Some("0"),
        None,
        "complete a transfer by hanging up",
    )),
    // Time
    p("sntp_server", Kind::Host, None, None, "time server"),
    p(
        "sntp_mode",
        Kind::Choice(&["unicast", "multicast", "anycast", "directedbroadcast"]),
        Some("directedbroadcast"),
        None,
        "how the phone asks for the time",
    ),
    unsure(p(
        "time_zone",
        Kind::Text { max: Some(8) },
        None,
        None,
        "time zone abbreviation, e.g. CET (phoneprov derives it from [site] timezone)",
    )),
    p(
        "dst_offset",
        Kind::Number { min: -12, max: 12 },
        Some("1"),
        None,
        "daylight saving offset in hours",
    ),
    p(
        "dst_start_month",
        Kind::Choice(MONTHS),
        None,
        None,
        "month daylight saving starts",
    ),
    p(
        "dst_start_day",
        Kind::Number { min: 0, max: 31 },
        None,
        None,
        "day of month it starts (empty when week-based)",
    ),
    p(
        "dst_start_day_of_week",
        Kind::Choice(WEEKDAYS),
        None,
        None,
        "weekday it starts",
    ),
    p(
        "dst_start_week_of_month",
        Kind::Number { min: 1, max: 8 },
        None,
        None,
        "week it starts: 1-5, 8 = last",
    ),
    p(
        "dst_start_time",
        Kind::Number { min: 0, max: 23 },
        None,
        None,
        "hour it starts",
    ),
    p(
        "dst_stop_month",
        Kind::Choice(MONTHS),
        None,
        None,
        "month daylight saving stops",
    ),
    p(
        "dst_stop_day",
        Kind::Number { min: 0, max: 31 },
        None,
        None,
        "day of month it stops (empty when week-based)",
    ),
    p(
        "dst_stop_day_of_week",
        Kind::Choice(WEEKDAYS),
        None,
        None,
        "weekday it stops",
    ),
    p(
        "dst_stop_week_of_month",
        Kind::Number { min: 1, max: 8 },
        None,
        None,
        "week it stops: 1-5, 8 = last",
    ),
    p(
        "dst_stop_time",
        Kind::Number { min: 0, max: 23 },
        None,
        None,
        "hour it stops",
    ),
    p(
        "dst_auto_adjust",
        SWITCH,
        Some("1"),
        None,
        "apply daylight saving automatically",
    ),
    p("time_format_24hr", SWITCH, Some("1"), None, "24-hour clock"),
    unsure(p(
        "date_format",
        Kind::Text { max: Some(10) },
        None,
        None,
        "date pattern of M, D and Y, e.g. D/M/Y",
    )),
    // User interface, services, administration
    unsure(p(
        "phone_label",
        Kind::Text { max: Some(11) },
        None,
        None,
        "text at the top right of the screen",
    )),
    p(
        "phone_prompt",
        Kind::Text { max: Some(15) },
        Some("SIP Phone"),
        None,
        "telnet prompt",
    ),
    p(
        "phone_password",
        Kind::Text { max: Some(31) },
        Some("cisco"),
        None,
        "password of the settings menus and telnet; a factory reset does not clear it",
    ),
    p(
        "telnet_level",
        Kind::Number { min: 0, max: 2 },
        Some("0"),
        Some("3.1"),
        "telnet: 0 off, 1 on, 2 privileged",
    ),
    p(
        "services_url",
        Kind::Url,
        None,
        Some("4.0"),
        "URL of the Services menu",
    ),
    p(
        "directory_url",
        Kind::Url,
        None,
        None,
        "URL of the XML directory",
    ),
    p(
        "logo_url",
        Kind::Url,
        None,
        None,
        "URL of a 90x56 256-colour BMP logo",
    ),
    p(
        "http_proxy_addr",
        Kind::DottedIp,
        Some(""),
        None,
        "HTTP proxy for XML services",
    ),
    p("http_proxy_port", PORT, Some("80"), None, "HTTP proxy port"),
];

/// Lines of each model (reference §4.1: the 7940 has 2, the 7960 6).
pub const MAX_LINES: usize = 6;

/// Finds a parameter, resolving `line3_name` to `lineN_name` (N = 1..6).
pub fn lookup(name: &str) -> Option<&'static Param> {
    let generic = numbered_to_generic(name);
    let name = generic.as_deref().unwrap_or(name);
    PARAMS.iter().find(|param| param.name == name)
}

/// `line3_name` → `lineN_name`, `proxy2_port` → `proxyN_port`.
fn numbered_to_generic(name: &str) -> Option<String> {
    ["line", "proxy", "call_manager"].iter().find_map(|prefix| {
        let rest = name.strip_prefix(prefix)?;
        let digit = rest.chars().next().filter(|c| ('1'..='6').contains(c))?;
        let tail = &rest[digit.len_utf8()..];
        tail.starts_with('_').then(|| format!("{prefix}N{tail}"))
    })
}

/// The parameter names closest to `name`, for "did you mean" messages.
pub fn nearest(name: &str) -> Option<&'static str> {
    PARAMS
        .iter()
        .map(|param| (edit_distance(name, param.name), param.name))
        .filter(|(distance, _)| *distance <= 3.max(name.len() / 4))
        .min()
        .map(|(_, found)| found)
}

/// Levenshtein distance, for suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

impl Param {
    /// Checks `value` for the parameter called `name` (the concrete name,
    /// e.g. `line2_name`).
    pub fn check(&self, name: &str, value: &RawValue) -> Result<Checked, ParamProblem> {
        let problem = |problem: String| ParamProblem {
            name: name.to_string(),
            value: value.to_string(),
            problem,
        };
        let text = match value {
            RawValue::Text(t) => t.clone(),
            RawValue::Integer(i) => i.to_string(),
            RawValue::Bool(b) => u8::from(*b).to_string(),
        };
        if text.contains(['"', '\n', '\r']) || text.chars().any(char::is_control) {
            return Err(problem(
                "a value may not contain quotes, line breaks or control characters".into(),
            ));
        }
        let bare = |text: String| ParamValue {
            text,
            quoted: false,
        };
        let quoted = |text: String| ParamValue { text, quoted: true };
        let verdict = match self.kind {
            Kind::Switch => number_in(&text, 0, 1)
                .map(bare)
                .ok_or("expected 0 or 1 (or true/false)".to_string()),
            Kind::Feature => number_in(&text, 0, 3)
                .map(bare)
                .ok_or("expected 0 (off), 1 (on), 2 (off, locked) or 3 (on, locked)".to_string()),
            Kind::Number { min, max } => number_in(&text, min, max)
                .map(bare)
                .ok_or(format!("expected a whole number from {min} to {max}")),
            Kind::Choice(choices) => choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&text))
                .map(|c| quoted(c.to_string()))
                .ok_or(format!("expected one of: {}", choices.join(", "))),
            Kind::Text { max } => match max {
                Some(max) if text.chars().count() > max => {
                    Err(format!("longer than {max} characters"))
                }
                _ => Ok(quoted(text.clone())),
            },
            Kind::DottedIp => (text.is_empty() || text.parse::<Ipv4Addr>().is_ok())
                .then(|| quoted(text.clone()))
                .ok_or("expected a dotted IPv4 address such as 10.0.0.1".to_string()),
            Kind::Host => (is_host(&text) || text == "USECALLMANAGER")
                .then(|| quoted(text.clone()))
                .ok_or("expected a dotted IPv4 address or a host name".to_string()),
            Kind::Url => (text.is_empty() || (text.starts_with("http://") && !text.contains(' ')))
                .then(|| quoted(text.clone()))
                .ok_or("expected an http:// URL (the phone has no HTTPS)".to_string()),
            Kind::Load => crate::load::LoadName::parse(&text)
                .map(|_| quoted(text.clone()))
                .map_err(|e| {
                    format!(
                        "{}; write the load name without extension, e.g. P0S3-8-12-00",
                        e.why
                    )
                }),
        };
        match (verdict, self.certainty) {
            (Ok(value), _) => Ok((value, None)),
            (Err(why), Certainty::Unsure) => {
                let warning = problem(format!(
                    "{why} (accepted: the reference is unsure of this rule)"
                ));
                Ok((quoted(text), Some(warning)))
            }
            (Err(why), Certainty::Verified) => Err(problem(why)),
        }
    }
}

fn number_in(text: &str, min: i64, max: i64) -> Option<String> {
    let number: i64 = match text {
        "true" => 1,
        "false" => 0,
        _ => text.trim().parse().ok()?,
    };
    (min..=max).contains(&number).then(|| number.to_string())
}

fn is_host(text: &str) -> bool {
    text.is_empty()
        || text.parse::<Ipv4Addr>().is_ok()
        || (text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
            }))
}

/// The parameter reference as a Markdown table, for docs/configuration.md.
pub fn markdown_reference() -> String {
    let mut out = String::from(
        "| parameter | values | Cisco's default | since | meaning |\n|---|---|---|---|---|\n",
    );
    for param in PARAMS {
        let values = match param.kind {
            Kind::Switch => "0 or 1".to_string(),
            Kind::Feature => "0 off, 1 on, 2 off (locked), 3 on (locked)".to_string(),
            Kind::Number { min, max } => format!("{min}–{max}"),
            Kind::Choice(choices) if choices == MONTHS => "a month name".to_string(),
            Kind::Choice(choices) if choices == WEEKDAYS => "a weekday name".to_string(),
            Kind::Choice(choices) => choices.join(" \\| "),
            Kind::Text { max: Some(max) } => format!("text, at most {max} characters"),
            Kind::Text { max: None } => "text".to_string(),
            Kind::DottedIp => "dotted IPv4 address".to_string(),
            Kind::Host => "IPv4 address or host name".to_string(),
            Kind::Url => "http:// URL".to_string(),
            Kind::Load => "load name, no extension".to_string(),
        };
        let unsure = match param.certainty {
            Certainty::Unsure => " (unsure: other values are accepted with a warning)",
            Certainty::Verified => "",
        };
        out.push_str(&format!(
            "| `{}` | {values} | {} | {} | {}{unsure} |\n",
            param.name,
            param.default.map_or(String::new(), |d| format!("`{d:?}`")),
            param.since.unwrap_or(""),
            param.about,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/configuration.md carries the table between two markers; run with
    /// PHONEPROV_UPDATE_DOCS=1 to rewrite it after changing the table.
    #[test]
    fn docs_carry_the_current_parameter_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let docs = std::fs::read_to_string(path).expect("docs/configuration.md");
        let (begin, end) = ("<!-- parameters:begin -->\n", "<!-- parameters:end -->");
        let start = docs.find(begin).expect("begin marker") + begin.len();
        let stop = docs.find(end).expect("end marker");
        let expected = markdown_reference();
        if std::env::var_os("PHONEPROV_UPDATE_DOCS").is_some() {
            let updated = format!("{}{expected}{}", &docs[..start], &docs[stop..]);
            std::fs::write(path, updated).unwrap();
        } else {
            assert!(
                docs[start..stop] == expected,
                "docs/configuration.md is out of date: run PHONEPROV_UPDATE_DOCS=1 cargo test -p phoneprov-cisco docs_carry"
            );
        }
    }

    fn check(name: &str, value: RawValue) -> Result<Checked, ParamProblem> {
        lookup(name)
            .unwrap_or_else(|| panic!("{name} unknown"))
            .check(name, &value)
    }

    fn rendered(name: &str, value: RawValue) -> String {
        check(name, value).unwrap().0.rendered()
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = PARAMS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PARAMS.len());
    }

    #[test]
    fn numbered_parameters_resolve() {
        assert_eq!(lookup("line6_name").unwrap().name, "lineN_name");
        assert_eq!(lookup("proxy2_port").unwrap().name, "proxyN_port");
        assert_eq!(
            lookup("call_manager3_addr").unwrap().name,
            "call_managerN_addr"
        );
        assert!(lookup("line7_name").is_none());
        assert!(lookup("line0_name").is_none());
        assert!(lookup("lineN_name").is_some());
        assert!(lookup("proxy_register").is_some());
    }

    #[test]
    fn quoting_follows_the_kind() {
        assert_eq!(rendered("proxy_register", RawValue::Bool(true)), "1");
        assert_eq!(rendered("proxy1_port", RawValue::Integer(5060)), "5060");
        assert_eq!(
            rendered("proxy1_port", RawValue::Text("5061".into())),
            "5061"
        );
        assert_eq!(
            rendered("proxy1_address", RawValue::Text("10.0.0.1".into())),
            "\"10.0.0.1\""
        );
        assert_eq!(
            rendered("preferred_codec", RawValue::Text("G711ALAW".into())),
            "\"g711alaw\""
        );
        assert_eq!(
            rendered("image_version", RawValue::Text("P0S3-8-12-00".into())),
            "\"P0S3-8-12-00\""
        );
        assert_eq!(rendered("telnet_level", RawValue::Integer(0)), "0");
    }

    #[test]
    fn out_of_range_values_say_what_is_right() {
        let e = check("telnet_level", RawValue::Integer(3)).unwrap_err();
        assert_eq!(e.problem, "expected a whole number from 0 to 2");
        let e = check("dtmf_outofband", RawValue::Text("rfc2833".into())).unwrap_err();
        assert!(e.problem.contains("none, avt, avt_always"));
        let e = check("image_version", RawValue::Text("P0S3-8-12-00.sb2".into())).unwrap_err();
        assert!(e.problem.contains("without extension"));
        let e = check("dyn_tftp_addr", RawValue::Text("tftp.example".into())).unwrap_err();
        assert!(e.problem.contains("dotted IPv4"));
        assert!(check("directory_url", RawValue::Text("https://x".into())).is_err());
        assert!(check("line1_displayname", RawValue::Text("a\"b".into())).is_err());
    }

    #[test]
    fn unsure_rules_warn_instead_of_refusing() {
        let (value, warning) =
            check("phone_label", RawValue::Text("A very long label".into())).unwrap();
        assert_eq!(value.rendered(), "\"A very long label\"");
        assert!(warning.unwrap().problem.contains("reference is unsure"));
        let (_, warning) = check("time_zone", RawValue::Text("CET".into())).unwrap();
        assert!(warning.is_none());
    }

    #[test]
    fn suggestions_for_typos() {
        assert_eq!(nearest("telnet_lvl"), Some("telnet_level"));
        assert_eq!(nearest("proxy_registr"), Some("proxy_register"));
        assert_eq!(nearest("completely_unrelated_thing"), None);
    }
}
