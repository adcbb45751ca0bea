//! SIP URIs (RFC 3261 §19.1): `sip:101@192.168.1.1:5060;transport=udp`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::syntax::Params;

/// A `sip:` or `sips:` URI. Other schemes (`tel:`, `mailto:`) are refused by
/// the parser: a phone of this site never needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part as written (`101`, or `101:password`), when present.
    pub user: Option<String>,
    /// A host name, an IPv4 address or a bracketed IPv6 address.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?name=value&...` headers, without the `?`.
    pub headers: Option<String>,
}

/// Characters allowed in the user part: RFC 3261's unreserved, escaped and
/// user-unreserved characters, and `:` for the password.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()%&=+$,;?/:".contains(c)
}

fn is_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

impl SipUri {
    /// A `sip:` URI with a user part, a host and an optional port.
    pub fn new(user: Option<&str>, host: &str, port: Option<u16>) -> SipUri {
        SipUri {
            secure: false,
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            params: Params::default(),
            headers: None,
        }
    }

    /// Reads a URI; `None` when it is not a well-formed `sip:`/`sips:` URI.
    pub fn parse(s: &str) -> Option<SipUri> {
        let (scheme, rest) = s.split_once(':')?;
        let secure = if scheme.eq_ignore_ascii_case("sip") {
            false
        } else if scheme.eq_ignore_ascii_case("sips") {
            true
        } else {
            return None;
        };
        let (rest, headers) = match rest.split_once('?') {
            // A `?` in the user part belongs to it; headers follow the host.
            Some((before, after)) if !after.contains('@') => (before, Some(after.to_owned())),
            _ => (rest, None),
        };
        if headers
            .as_deref()
            .is_some_and(|h| h.is_empty() || !h.chars().all(|c| c.is_ascii_graphic()))
        {
            return None;
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => {
                if user.is_empty() || !user.chars().all(is_user_char) {
                    return None;
                }
                (Some(user.to_owned()), hostport)
            }
            None => (None, rest),
        };
        let params_at = hostport.find(';').unwrap_or(hostport.len());
        let params = Params::parse(&hostport[params_at..])?;
        if params
            .0
            .iter()
            .any(|p| p.value.as_deref().is_some_and(|v| v.starts_with('"')))
        {
            return None;
        }
        let hostport = &hostport[..params_at];
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            match &hostport[close + 1..] {
                "" => (&hostport[..=close], None),
                p => (&hostport[..=close], Some(p.strip_prefix(':')?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if !is_host(host) {
            return None;
        }
        let port = match port {
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.parse().ok()?)
            }
            Some(_) => return None,
            None => None,
        };
        Some(SipUri {
            secure,
            user,
            host: host.to_owned(),
            port,
            params,
            headers,
        })
    }

    /// The user without a password (`101` of `101:secret`).
    pub fn user_name(&self) -> Option<&str> {
        self.user
            .as_deref()
            .map(|u| u.split(':').next().unwrap_or(u))
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.parse().ok()
    }

    /// The address to send to when the host is an IP address: the port, or
    /// 5060 (5061 for `sips:`).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let default = if self.secure { 5061 } else { 5060 };
        Some(SocketAddr::new(self.ip()?, self.port.unwrap_or(default)))
    }

    /// RFC 3261 §19.1.4 equality for the parts a registrar compares:
    /// scheme, user (case-sensitive), host (case-insensitive) and port.
    pub fn same_address(&self, other: &SipUri) -> bool {
        self.secure == other.secure
            && self.user == other.user
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(headers) = &self.headers {
            write!(f, "?{headers}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_phones_send() {
        let u = SipUri::parse("sip:101@192.168.1.99:5061;transport=udp").unwrap();
        assert_eq!(u.user_name(), Some("101"));
        assert_eq!(u.host, "192.168.1.99");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params.value("transport").unwrap(), "udp");
        assert_eq!(u.socket_addr(), Some("192.168.1.99:5061".parse().unwrap()));
        assert_eq!(u.to_string(), "sip:101@192.168.1.99:5061;transport=udp");

        let r = SipUri::parse("sip:192.168.1.1").unwrap();
        assert_eq!(r.user, None);
        assert_eq!(r.socket_addr(), Some("192.168.1.1:5060".parse().unwrap()));

        let v6 = SipUri::parse("sips:alice:pw@[2001:db8::1]:5071?subject=x").unwrap();
        assert_eq!(v6.user_name(), Some("alice"));
        assert_eq!(
            v6.socket_addr(),
            Some("[2001:db8::1]:5071".parse().unwrap())
        );
        assert_eq!(v6.to_string(), "sips:alice:pw@[2001:db8::1]:5071?subject=x");
    }

    #[test]
    fn refuses_what_is_not_a_sip_uri() {
        for bad in [
            "tel:+15551234",
            "sip:",
            "sip:a@",
            "sip:a b@host",
            "sip:host:99999",
            "sip:host:",
            "sip:ho st",
            "sip:[::1",
            "sip:host;x=\"q\"",
            "sip:host?",
            "nocolon",
        ] {
            assert_eq!(SipUri::parse(bad), None, "{bad:?}");
        }
    }
}
