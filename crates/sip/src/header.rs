//! The header fields phoneprov reads and writes, as types: `Via`, name-addr
//! fields (`From`, `To`, `Contact`), `CSeq`, and the names of the others.

use std::fmt;
use std::net::SocketAddr;

use crate::syntax::{is_printable, is_token, quoted_len, Params};
use crate::uri::SipUri;

/// The magic cookie that starts every RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// A request method. Unknown methods are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Register,
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Notify,
    Subscribe,
    Other(String),
}

impl Method {
    /// Reads a method name: case-sensitive, as RFC 3261 §7.1 says.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            other if is_token(other) => Method::Other(other.to_owned()),
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Register => "REGISTER",
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Other(name) => name,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a header field kept as text in [`crate::Head::extra`].
/// Compact forms (`o`, `c`, `k`...) are read as their full names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderName {
    Allow,
    Authorization,
    ContentType,
    Date,
    Event,
    MinExpires,
    RecordRoute,
    Route,
    Server,
    SubscriptionState,
    Supported,
    UserAgent,
    WwwAuthenticate,
    /// Any other header, by the name it was received with.
    Other(String),
}

impl HeaderName {
    /// The canonical name of a header this crate knows, for a name as
    /// received (any case, compact form or not).
    pub(crate) fn known(name: &str) -> KnownName {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "via" | "v" => KnownName::Via,
            "from" | "f" => KnownName::From,
            "to" | "t" => KnownName::To,
            "call-id" | "i" => KnownName::CallId,
            "cseq" => KnownName::CSeq,
            "max-forwards" => KnownName::MaxForwards,
            "contact" | "m" => KnownName::Contact,
            "expires" => KnownName::Expires,
            "content-length" | "l" => KnownName::ContentLength,
            _ => KnownName::Extra(match lower.as_str() {
                "allow" => HeaderName::Allow,
                "authorization" => HeaderName::Authorization,
                "content-type" | "c" => HeaderName::ContentType,
                "date" => HeaderName::Date,
                "event" | "o" => HeaderName::Event,
                "min-expires" => HeaderName::MinExpires,
                "record-route" => HeaderName::RecordRoute,
                "route" => HeaderName::Route,
                "server" => HeaderName::Server,
                "subscription-state" => HeaderName::SubscriptionState,
                "supported" | "k" => HeaderName::Supported,
                "user-agent" => HeaderName::UserAgent,
                "www-authenticate" => HeaderName::WwwAuthenticate,
                _ => HeaderName::Other(name.to_owned()),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Allow => "Allow",
            HeaderName::Authorization => "Authorization",
            HeaderName::ContentType => "Content-Type",
            HeaderName::Date => "Date",
            HeaderName::Event => "Event",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::Route => "Route",
            HeaderName::Server => "Server",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::Other(name) => name,
        }
    }

    /// Same header, whatever the case of an unknown name.
    pub fn matches(&self, other: &HeaderName) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

/// Where a header line goes once its name is read.
pub(crate) enum KnownName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    Contact,
    Expires,
    ContentLength,
    Extra(HeaderName),
}

/// A header kept as text: its name and its value, unfolded and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// One `Via` value (RFC 3261 §20.42): `SIP/2.0/UDP 192.168.1.99:5061;branch=z9hG4bK...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`... upper-cased.
    pub transport: String,
    /// The sent-by host: a name, an IPv4 address or a bracketed IPv6 address.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    /// Reads one Via value; whitespace around the `/` is allowed (RFC 4475 §3.1.1.1).
    pub fn parse(s: &str) -> Option<Via> {
        let mut parts = s.splitn(3, '/');
        let (name, version, rest) = (parts.next()?, parts.next()?, parts.next()?);
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return None;
        }
        let rest = rest.trim_start();
        let transport_len = rest.find(char::is_whitespace)?;
        let transport = &rest[..transport_len];
        if !is_token(transport) {
            return None;
        }
        let rest = rest[transport_len..].trim_start();
        let params_at = rest.find(';').unwrap_or(rest.len());
        let sent_by = rest[..params_at].trim();
        let params = Params::parse(&rest[params_at..])?;
        let uri = SipUri::parse(&format!("sip:{sent_by}"))?;
        if uri.user.is_some() || !uri.params.0.is_empty() || uri.headers.is_some() {
            return None;
        }
        Some(Via {
            transport: transport.to_ascii_uppercase(),
            host: uri.host,
            port: uri.port,
            params,
        })
    }

    /// A `SIP/2.0/UDP` Via for `sent_by` with `branch`.
    pub fn udp(sent_by: SocketAddr, branch: &str) -> Via {
        let host = match sent_by {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let mut params = Params::default();
        params.set("branch", Some(branch.to_owned()));
        Via {
            transport: "UDP".to_owned(),
            host,
            port: Some(sent_by.port()),
            params,
        }
    }

    /// The branch parameter, when present.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// The sent-by as written: `host` or `host:port`.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// Where a response to this Via goes (RFC 3261 §18.2.2 and RFC 3581):
    /// the `received` address when set, else the sent-by host; the `rport`
    /// value when set, else the sent-by port, else 5060. `None` when the host
    /// is a name (phoneprov does no DNS) or `received` is not an address.
    pub fn response_addr(&self) -> Option<SocketAddr> {
        let host = match self.params.get("received") {
            Some(Some(received)) => received,
            _ => self.host.as_str(),
        };
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let port = match self.params.get("rport") {
            Some(Some(rport)) => rport.parse().ok()?,
            _ => self.port.unwrap_or(5060),
        };
        Some(SocketAddr::new(ip, port))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIP/2.0/{} {}{}",
            self.transport,
            self.sent_by(),
            self.params
        )
    }
}

/// A name-addr or addr-spec (RFC 3261 §20.10): `From`, `To` and each
/// `Contact` value. The parameters after the URI belong to the header
/// (`tag`, `expires`, `+sip.instance`), not to the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name as written (quotes kept), when present.
    pub display: Option<String>,
    pub uri: SipUri,
    pub params: Params,
}

impl NameAddr {
    /// A name-addr with no display name and no parameters.
    pub fn new(uri: SipUri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    /// Reads one value; `None` when it is not a well-formed name-addr.
    pub fn parse(s: &str) -> Option<NameAddr> {
        let s = s.trim();
        let (display, after_display) = if s.starts_with('"') {
            let len = quoted_len(s)?;
            (Some(s[..len].to_owned()), s[len..].trim_start())
        } else if let Some(open) = s.find('<') {
            let display = s[..open].trim();
            if !display.split_whitespace().all(is_token) {
                return None;
            }
            (
                (!display.is_empty()).then(|| display.to_owned()),
                &s[open..],
            )
        } else {
            (None, s)
        };
        let (uri, params) = if let Some(inner) = after_display.strip_prefix('<') {
            let close = inner.find('>')?;
            (&inner[..close], &inner[close + 1..])
        } else {
            if display.is_some() {
                return None;
            }
            let at = after_display.find(';').unwrap_or(after_display.len());
            (&after_display[..at], &after_display[at..])
        };
        if display.as_deref().is_some_and(|d| !is_printable(d)) {
            return None;
        }
        Some(NameAddr {
            display,
            uri: SipUri::parse(uri.trim())?,
            params: Params::parse(params)?,
        })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(display) = &self.display {
            write!(f, "{display} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// Contact parameter a Cisco 7940/7960 SIP 8.x puts its model code in (`"7"`
/// for a 7960 in reference §9.1).
pub const CISCO_MODEL_PARAM: &str = "+u.sip!model.ccm.cisco.com";

/// Contact parameter carrying the device's instance URN (RFC 5626 §4.1).
pub const INSTANCE_PARAM: &str = "+sip.instance";

/// The Contact field: `*` (every binding, with `Expires: 0` only) or addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Any,
    Addresses(Vec<NameAddr>),
}

/// `CSeq: 144 REGISTER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Below 2^31 (RFC 3261 §8.1.1.5).
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Option<CSeq> {
        let mut parts = s.split_whitespace();
        let (seq, method) = (parts.next()?, parts.next()?);
        if parts.next().is_some() || seq.len() > 10 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seq: u32 = seq.parse().ok()?;
        (seq < 1 << 31).then_some(())?;
        Some(CSeq {
            seq,
            method: Method::parse(method)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_of_a_7940() {
        let via = Via::parse("SIP/2.0/UDP 192.168.1.99:5061;branch=z9hG4bK7b2e0a3c").unwrap();
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.sent_by(), "192.168.1.99:5061");
        assert_eq!(via.branch(), Some("z9hG4bK7b2e0a3c"));
        assert_eq!(
            via.response_addr(),
            Some("192.168.1.99:5061".parse().unwrap())
        );
        assert_eq!(
            via.to_string(),
            "SIP/2.0/UDP 192.168.1.99:5061;branch=z9hG4bK7b2e0a3c"
        );
    }

    #[test]
    fn via_with_spaces_received_and_rport() {
        let via =
            Via::parse("SIP / 2.0 / udp  10.0.0.5 ;rport=40000;received=192.0.2.7;branch=z9hG4bKx")
                .unwrap();
        assert_eq!(
            via.response_addr(),
            Some("192.0.2.7:40000".parse().unwrap())
        );
        for bad in [
            "SIP/2.0/UDP",
            "SIP/3.0/UDP h",
            "SIP/2.0 h",
            "SIP/2.0/UDP a@h",
            "SIP/2.0/UDP h;;",
        ] {
            assert_eq!(Via::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse(r#""Reception" <sip:101@192.168.1.1>;tag=000c853bc115"#).unwrap();
        assert_eq!(a.display.as_deref(), Some("\"Reception\""));
        assert_eq!(a.tag(), Some("000c853bc115"));
        let b = NameAddr::parse("sip:101@192.168.1.1;tag=x").unwrap();
        assert_eq!(b.uri.params.0.len(), 0);
        assert_eq!(b.tag(), Some("x"));
        let c = NameAddr::parse("Front Desk <sip:101@h>").unwrap();
        assert_eq!(c.to_string(), "Front Desk <sip:101@h>");
        for bad in [
            "<sip:a@h",
            "\"open <sip:a@h>",
            "x\"y <sip:a@h>",
            "Name sip:a@h",
            "<tel:1>",
        ] {
            assert_eq!(NameAddr::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("144 REGISTER").unwrap().seq, 144);
        assert_eq!(CSeq::parse("2147483648 REGISTER"), None);
        assert_eq!(CSeq::parse("1 REGISTER x"), None);
        assert_eq!(CSeq::parse("-1 REGISTER"), None);
        assert_eq!(CSeq::parse("1 REG@ISTER"), None);
    }
}
