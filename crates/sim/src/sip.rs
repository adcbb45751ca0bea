//! The SIP application's side: its settings from `SIPDefault.cnf` and
//! `SIP<MAC>.cnf`, REGISTER with digest as the 8.x firmware sends it
//! (reference §9.1), and the check-sync NOTIFY (§9.2).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use phoneprov_cisco::cnf;
use phoneprov_sip::{digest_response, ha1, Credentials, HeaderName, Message, Method, Request};
use tokio::net::UdpSocket;

/// Retransmissions of a REGISTER before the phone gives up (reference §9.1).
const REGISTER_RETRANSMITS: u32 = 10;
/// `timer_register_expires` when the configuration does not set it.
const DEFAULT_EXPIRES: u32 = 3600;

/// One line of the phone, as its configuration sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub name: String,
    pub authname: String,
    pub password: String,
}

/// The SIP settings the phone runs with: SIPDefault.cnf, then SIP<MAC>.cnf
/// over it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SipConfig {
    values: HashMap<String, String>,
}

impl SipConfig {
    /// Adds a file's entries over the ones read before; lines that do not
    /// parse are skipped, as the phone skips them.
    pub fn read(&mut self, text: &str) {
        for entry in cnf::parse_lines(text).flatten() {
            self.values.insert(entry.name, entry.value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn image_version(&self) -> Option<&str> {
        self.get("image_version").filter(|v| !v.is_empty())
    }

    /// The `sync` value; the firmware's default is "1" (reference §9.2).
    pub fn sync(&self) -> String {
        self.get("sync").unwrap_or("1").to_owned()
    }

    pub fn proxy(&self) -> Option<(String, u16)> {
        let address = self.get("proxy1_address").filter(|a| !a.is_empty())?;
        let port = self
            .get("proxy1_port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(5060);
        Some((address.to_owned(), port))
    }

    pub fn expires(&self) -> u32 {
        self.get("timer_register_expires")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_EXPIRES)
    }

    /// The provisioned lines among the model's `buttons`: a name, and an
    /// authname that is not "UNPROVISIONED".
    pub fn lines(&self, buttons: usize) -> Vec<Line> {
        (1..=buttons)
            .filter_map(|n| {
                let name = self
                    .get(&format!("line{n}_name"))
                    .filter(|v| !v.is_empty())?;
                let authname = self
                    .get(&format!("line{n}_authname"))
                    .filter(|v| !v.is_empty())
                    .unwrap_or(name);
                if authname == "UNPROVISIONED" {
                    return None;
                }
                Some(Line {
                    name: name.to_owned(),
                    authname: authname.to_owned(),
                    password: self
                        .get(&format!("line{n}_password"))
                        .unwrap_or("")
                        .to_owned(),
                })
            })
            .collect()
    }
}

/// Who the phone is on the wire, for its REGISTERs.
pub(crate) struct UserAgent<'a> {
    pub socket: &'a UdpSocket,
    /// `+u.sip!model.ccm.cisco.com`: "8" for a 7940, "7" for a 7960.
    pub model_code: u16,
    /// e.g. `Cisco-CP7940G/8.12`.
    pub user_agent: String,
    /// Twelve hex digits, for Call-ID, tags and the instance id.
    pub mac: String,
    /// T1, scaled: the first retransmission interval.
    pub t1: Duration,
}

/// Registers `line` at `proxy` (the Request-URI host): unauthenticated
/// first, then with the digest of the 401's challenge. Ok(expires) on 200.
pub(crate) async fn register(
    agent: &UserAgent<'_>,
    proxy: SocketAddr,
    request_host: &str,
    line: &Line,
    expires: u32,
) -> Result<u32, String> {
    let local = agent.socket.local_addr().map_err(|e| e.to_string())?;
    let uri = if proxy.port() == 5060 {
        format!("sip:{request_host}")
    } else {
        format!("sip:{request_host}:{}", proxy.port())
    };
    let call_id = format!("{}-{}@{}", agent.mac, line.name, local.ip());
    let mut authorization = None;
    for cseq in 101..=103 {
        let branch = format!("z9hG4bK{}{}{cseq}", agent.mac, line.name);
        let auth = authorization
            .as_ref()
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch}\r\n\
             From: <sip:{name}@{request_host}>;tag={mac}{name}\r\n\
             To: <sip:{name}@{request_host}>\r\n\
             Call-ID: {call_id}\r\n\
             Max-Forwards: 70\r\n\
             CSeq: {cseq} REGISTER\r\n\
             User-Agent: {user_agent}\r\n\
             Contact: <sip:{name}@{local};transport=udp>;\
             +sip.instance=\"<urn:uuid:00000000-0000-0000-0000-{mac}>\";\
             +u.sip!model.ccm.cisco.com=\"{model}\"\r\n\
             {auth}Content-Length: 0\r\n\
             Expires: {expires}\r\n\r\n",
            name = line.name,
            mac = agent.mac,
            user_agent = agent.user_agent,
            model = agent.model_code,
        );
        let response = transact(agent, proxy, text.as_bytes(), &branch).await?;
        match response.status {
            200 => return Ok(response.head.expires.unwrap_or(expires)),
            401 | 407 if authorization.is_none() => {
                let header = if response.status == 401 {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::Other("Proxy-Authenticate".into())
                };
                let challenge = response
                    .head
                    .get(&header)
                    .ok_or("a 401 without a challenge")?;
                let realm = digest_param(challenge, "realm").ok_or("no realm in the challenge")?;
                let nonce = digest_param(challenge, "nonce").ok_or("no nonce in the challenge")?;
                let ha1 = ha1(&line.authname, &realm, &line.password);
                authorization = Some(Credentials {
                    username: line.authname.clone(),
                    response: digest_response(&ha1, &nonce, "REGISTER", &uri, None),
                    realm,
                    nonce,
                    uri: uri.clone(),
                    qop_auth: None,
                    opaque: digest_param(challenge, "opaque"),
                });
            }
            status => return Err(format!("{status} {}", response.reason)),
        }
    }
    Err("the registrar kept asking for credentials: wrong password?".into())
}

/// Sends a request until its final response (RFC 3261 §17.1.2: T1, doubling
/// up to 4 s). Requests arriving meanwhile are not for this transaction and
/// are dropped; a phone busy registering would answer them later.
async fn transact(
    agent: &UserAgent<'_>,
    to: SocketAddr,
    request: &[u8],
    branch: &str,
) -> Result<phoneprov_sip::Response, String> {
    let mut buf = vec![0u8; 4096];
    let mut wait = agent.t1;
    let t2 = agent.t1 * 8;
    for _ in 0..=REGISTER_RETRANSMITS {
        agent
            .socket
            .send_to(request, to)
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(received) =
            tokio::time::timeout_at(deadline, agent.socket.recv_from(&mut buf)).await
        {
            let (len, _) = received.map_err(|e| e.to_string())?;
            if let Ok(Message::Response(response)) = Message::parse(&buf[..len]) {
                let ours = response.head.via.first().and_then(|v| v.branch()) == Some(branch);
                if ours && response.status >= 200 {
                    return Ok(response);
                }
            }
        }
        wait = (wait * 2).min(t2);
    }
    Err("no answer from the registrar".into())
}

/// Waits for a NOTIFY with `Event: check-sync`, answers it 200 (and any
/// other request 200 too, or 405 if it is not a NOTIFY), and returns the
/// line it was addressed to.
pub(crate) async fn await_check_sync(socket: &UdpSocket) -> std::io::Result<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Ok(Message::Request(request)) = Message::parse(&buf[..len]) else {
            continue;
        };
        let check_sync = is_check_sync(&request);
        let status = if request.method == Method::Notify {
            200
        } else {
            405
        };
        socket
            .send_to(&request.response(status).to_bytes(), from)
            .await?;
        if check_sync {
            return Ok(request.uri.user_name().unwrap_or_default().to_owned());
        }
    }
}

fn is_check_sync(request: &Request) -> bool {
    request.method == Method::Notify
        && request
            .head
            .get(&HeaderName::Event)
            .is_some_and(|event| event.trim().eq_ignore_ascii_case("check-sync"))
}

/// A parameter of a `Digest` challenge, quotes removed (commas inside
/// quotes do not split).
fn digest_param(challenge: &str, name: &str) -> Option<String> {
    let params = challenge.trim().strip_prefix("Digest")?;
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in params.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&params[start..]);
    parts.into_iter().find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The SYNC syncinfo.xml gives the image `load`, else the `*` entry
/// (reference §5.8).
pub(crate) fn syncinfo_sync(xml: &str, load: &str) -> Option<String> {
    let mut any = None;
    for image in xml.split("<IMAGE").skip(1) {
        let attribute = |name: &str| {
            let start = image.find(&format!("{name}=\""))? + name.len() + 2;
            let end = image[start..].find('"')?;
            Some(image[start..start + end].to_owned())
        };
        let (Some(version), Some(sync)) = (attribute("VERSION"), attribute("SYNC")) else {
            continue;
        };
        if version == load {
            return Some(sync);
        }
        if version == "*" {
            any = Some(sync);
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phone_file_overrides_the_defaults_and_unprovisioned_lines_are_skipped() {
        let mut config = SipConfig::default();
        config.read("proxy1_address: \"10.0.0.1\"\nproxy1_port: 5070\nsync: \"4\"\n");
        config.read(
            "image_version: \"P0S3-8-12-00\"\nline1_name: \"1001\"\nline1_password: \"pw\"\n\
             line2_name: \"\"\nline2_authname: \"UNPROVISIONED\"\nsync: 5\n",
        );
        assert_eq!(config.proxy(), Some(("10.0.0.1".into(), 5070)));
        assert_eq!(config.image_version(), Some("P0S3-8-12-00"));
        assert_eq!(config.sync(), "5");
        assert_eq!(config.expires(), 3600);
        assert_eq!(
            config.lines(2),
            [Line {
                name: "1001".into(),
                authname: "1001".into(),
                password: "pw".into()
            }]
        );
    }

    #[test]
    fn syncinfo_prefers_the_phone_image_over_the_wildcard() {
        let xml = "<SYNCINFO>\n  <IMAGE VERSION=\"*\" SYNC=\"2\"/>\n  \
                   <IMAGE VERSION=\"P0S3-8-12-00\" SYNC=\"3\"/>\n</SYNCINFO>\n";
        assert_eq!(syncinfo_sync(xml, "P0S3-8-12-00").as_deref(), Some("3"));
        assert_eq!(syncinfo_sync(xml, "P0S3-8-11-00").as_deref(), Some("2"));
        assert_eq!(syncinfo_sync("<SYNCINFO/>", "x"), None);
    }

    #[test]
    fn challenge_parameters() {
        let challenge = "Digest realm=\"127.0.0.1\", nonce=\"abc,def\", algorithm=MD5";
        assert_eq!(
            digest_param(challenge, "realm").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(digest_param(challenge, "nonce").as_deref(), Some("abc,def"));
        assert_eq!(digest_param(challenge, "algorithm").as_deref(), Some("MD5"));
    }
}
