//! SIP messages: reading a datagram into a [`Request`] or a [`Response`]
//! and writing one back.
//!
//! The reader is phoneprov's own, small and strict, rather than a general
//! SIP stack: it knows the headers a registrar and a stateless proxy need,
//! keeps the others as text, and refuses with a [`Malformed`] reason
//! anything a well-behaved phone never sends (see the limits below).
//! It tolerates what the 79xx SIP firmware does that newer phones do not:
//! the lifetime in an `Expires` header rather than a Contact parameter,
//! digest without `qop`, and Cisco's own Contact parameters.

use std::fmt::{self, Write as _};

use crate::header::{CSeq, Contact, Header, HeaderName, KnownName, Method, NameAddr, Via};
use crate::syntax::{is_printable, is_token, split_values};
use crate::uri::SipUri;

/// The largest datagram read: the largest UDP payload.
pub const MAX_MESSAGE_LEN: usize = 65_535;
/// The largest start line plus headers, in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// The most header fields (after unfolding) in one message.
pub const MAX_HEADERS: usize = 64;
/// The longest header value after unfolding, in bytes.
pub const MAX_FIELD_LEN: usize = 4096;
/// The most values of one multi-valued header field (`Via`, `Contact`).
pub const MAX_VALUES: usize = 16;

/// Why a datagram is not a SIP message phoneprov will act on. Such a
/// datagram gets no answer: it is logged with its sender and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("{0} bytes, more than a datagram can hold")]
    TooLarge(usize),
    #[error("empty datagram")]
    Empty,
    #[error("no blank line ends the headers")]
    NoEndOfHeaders,
    #[error("the headers are over {MAX_HEAD_LEN} bytes")]
    HeadTooLarge,
    #[error("the headers are not UTF-8")]
    NotUtf8,
    #[error("a control character in the headers")]
    ControlCharacter,
    #[error("bad start line")]
    BadStartLine,
    #[error("not SIP/2.0")]
    UnsupportedVersion,
    #[error("the Request-URI is not a sip: or sips: URI")]
    UnsupportedUri,
    #[error("a folded line before the first header")]
    FoldedStartLine,
    #[error("a header line without a name and a colon")]
    BadHeaderLine,
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("a {0} value over {MAX_FIELD_LEN} bytes")]
    FieldTooLong(String),
    #[error("more than {MAX_VALUES} {0} values")]
    TooManyValues(&'static str),
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    #[error("bad {0} header")]
    BadHeader(&'static str),
    #[error("a Contact of * with other contacts")]
    MixedStarContact,
    #[error("the CSeq method is not the request's")]
    CSeqMethodMismatch,
    #[error("Content-Length says {declared} bytes but the body has {available}")]
    BodyCutShort { declared: usize, available: usize },
}

/// The header fields of a message, the ones phoneprov acts on as types and
/// every other one as text, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// At least one; the first is the top (most recent) Via.
    pub via: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: CSeq,
    pub max_forwards: Option<u8>,
    pub contact: Option<Contact>,
    /// The `Expires` header in seconds (values over 2^32 - 1 read as that).
    pub expires: Option<u32>,
    pub extra: Vec<Header>,
}

impl Head {
    /// The first value of a header kept as text.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.extra
            .iter()
            .find(|h| h.name.matches(name))
            .map(|h| h.value.as_str())
    }

    /// Every value of a header kept as text, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.extra
            .iter()
            .filter(move |h| h.name.matches(name))
            .map(|h| h.value.as_str())
    }

    /// Adds a header kept as text, after the others.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.extra.push(Header {
            name,
            value: value.into(),
        });
    }

    /// The addresses of the Contact field; empty for none and for `*`.
    pub fn contacts(&self) -> &[NameAddr] {
        match &self.contact {
            Some(Contact::Addresses(list)) => list,
            _ => &[],
        }
    }

    fn write(&self, out: &mut String, body: &[u8]) {
        for via in &self.via {
            let _ = write!(out, "Via: {via}\r\n");
        }
        let _ = write!(out, "From: {}\r\nTo: {}\r\n", self.from, self.to);
        let _ = write!(out, "Call-ID: {}\r\nCSeq: {}\r\n", self.call_id, self.cseq);
        if let Some(mf) = self.max_forwards {
            let _ = write!(out, "Max-Forwards: {mf}\r\n");
        }
        match &self.contact {
            Some(Contact::Any) => out.push_str("Contact: *\r\n"),
            Some(Contact::Addresses(list)) => {
                for contact in list {
                    let _ = write!(out, "Contact: {contact}\r\n");
                }
            }
            None => {}
        }
        if let Some(expires) = self.expires {
            let _ = write!(out, "Expires: {expires}\r\n");
        }
        for h in &self.extra {
            let _ = write!(out, "{}: {}\r\n", h.name.as_str(), h.value);
        }
        let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: SipUri,
    pub head: Head,
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// 100 to 699.
    pub status: u16,
    pub reason: String,
    pub head: Head,
    pub body: Vec<u8>,
}

/// A request or a response, as read from a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    /// Reads one datagram (UDP: RFC 3261 §18.3). A missing Content-Length
    /// means the body runs to the end of the datagram; bytes past the
    /// declared length are dropped; a body shorter than declared is refused.
    pub fn parse(datagram: &[u8]) -> Result<Message, Malformed> {
        if datagram.len() > MAX_MESSAGE_LEN {
            return Err(Malformed::TooLarge(datagram.len()));
        }
        // RFC 3261 §7.5: empty lines before the start line are ignored
        // (keep-alives are bare CRLFs).
        let start = datagram
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .ok_or(Malformed::Empty)?;
        let datagram = &datagram[start..];
        let (head_len, body_at) = find_blank_line(datagram)?;
        if head_len > MAX_HEAD_LEN {
            return Err(Malformed::HeadTooLarge);
        }
        let head = std::str::from_utf8(&datagram[..head_len]).map_err(|_| Malformed::NotUtf8)?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start_line = lines.next().ok_or(Malformed::BadStartLine)?;
        let fields = unfold(lines)?;
        let start = parse_start_line(start_line)?;
        let (head, content_length) = parse_fields(fields)?;
        let available = datagram.len() - body_at;
        let body_len = content_length.unwrap_or(available);
        if body_len > available {
            return Err(Malformed::BodyCutShort {
                declared: body_len,
                available,
            });
        }
        let body = datagram[body_at..body_at + body_len].to_vec();
        check_written(start_line, &head, &body)?;
        Ok(match start {
            StartLine::Request(method, uri) => {
                if head.cseq.method != method {
                    return Err(Malformed::CSeqMethodMismatch);
                }
                Message::Request(Request {
                    method,
                    uri,
                    head,
                    body,
                })
            }
            StartLine::Response(status, reason) => Message::Response(Response {
                status,
                reason,
                head,
                body,
            }),
        })
    }

    /// The message as bytes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// Its header fields.
    pub fn head(&self) -> &Head {
        match self {
            Message::Request(r) => &r.head,
            Message::Response(r) => &r.head,
        }
    }
}

impl Request {
    /// The request as bytes for the wire, Content-Length from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        self.head.write(&mut out, &self.body);
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// A response to this request (RFC 3261 §8.2.6): its Via, From, To,
    /// Call-ID and CSeq as received, no body, and no other header. `reason`
    /// is the standard phrase of `status`.
    pub fn response(&self, status: u16) -> Response {
        let head = Head {
            via: self.head.via.clone(),
            from: self.head.from.clone(),
            to: self.head.to.clone(),
            call_id: self.head.call_id.clone(),
            cseq: self.head.cseq.clone(),
            max_forwards: None,
            contact: None,
            expires: None,
            extra: Vec::new(),
        };
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            head,
            body: Vec::new(),
        }
    }
}

impl Response {
    /// The response as bytes for the wire, Content-Length from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        self.head.write(&mut out, &self.body);
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

impl fmt::Display for Request {
    /// The request line, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.uri)
    }
}

impl fmt::Display for Response {
    /// The status line and the method answered, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.status, self.reason, self.head.cseq.method
        )
    }
}

/// The RFC 3261 §21 phrase of the statuses phoneprov sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        489 => "Bad Event",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => match status / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Holds the message as phoneprov would write it to the same limits as a
/// message read: one header line per Via and Contact value, every line
/// ended by CRLF, a Content-Length always. So whatever is read can be
/// written and read again (forwarded, or answered with its headers).
fn check_written(start_line: &str, head: &Head, body: &[u8]) -> Result<(), Malformed> {
    let mut text = String::new();
    head.write(&mut text, body);
    let fields = text.trim_end_matches("\r\n");
    if start_line.len() + 2 + fields.len() + 2 > MAX_HEAD_LEN {
        return Err(Malformed::HeadTooLarge);
    }
    let mut count = 0;
    for line in fields.split("\r\n") {
        count += 1;
        let (name, value) = line.split_once(": ").unwrap_or((line, ""));
        if value.len() > MAX_FIELD_LEN {
            return Err(Malformed::FieldTooLong(name.to_owned()));
        }
    }
    if count > MAX_HEADERS {
        return Err(Malformed::TooManyHeaders);
    }
    Ok(())
}

/// The end of the headers: the length of the head and where the body starts.
fn find_blank_line(datagram: &[u8]) -> Result<(usize, usize), Malformed> {
    let window = &datagram[..datagram.len().min(MAX_HEAD_LEN + 4)];
    for (i, &b) in window.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let rest = &window[i + 1..];
        if rest.starts_with(b"\r\n") {
            return Ok((i + 1, i + 3));
        }
        if rest.starts_with(b"\n") {
            return Ok((i + 1, i + 2));
        }
    }
    if datagram.len() > MAX_HEAD_LEN {
        Err(Malformed::HeadTooLarge)
    } else {
        Err(Malformed::NoEndOfHeaders)
    }
}

/// Joins folded lines (RFC 3261 §7.3.1: a line starting with a space or a
/// tab continues the previous one) and splits each field at its colon.
fn unfold<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Vec<(&'a str, String)>, Malformed> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in lines {
        if !is_printable(line) {
            return Err(Malformed::ControlCharacter);
        }
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let (name, value) = fields.last_mut().ok_or(Malformed::FoldedStartLine)?;
            let more = line.trim();
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            if value.len() > MAX_FIELD_LEN {
                return Err(Malformed::FieldTooLong((*name).to_owned()));
            }
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(Malformed::BadHeaderLine)?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(Malformed::BadHeaderLine);
        }
        if fields.len() == MAX_HEADERS {
            return Err(Malformed::TooManyHeaders);
        }
        let value = value.trim();
        if value.len() > MAX_FIELD_LEN {
            return Err(Malformed::FieldTooLong(name.to_owned()));
        }
        fields.push((name, value.to_owned()));
    }
    Ok(fields)
}

enum StartLine {
    Request(Method, SipUri),
    Response(u16, String),
}

fn parse_start_line(line: &str) -> Result<StartLine, Malformed> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let (version, rest) = rest.split_once(' ').ok_or(Malformed::BadStartLine)?;
        if version != "2.0" {
            return Err(Malformed::UnsupportedVersion);
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Malformed::BadStartLine);
        }
        let status: u16 = code.parse().map_err(|_| Malformed::BadStartLine)?;
        if !(100..=699).contains(&status) {
            return Err(Malformed::BadStartLine);
        }
        return Ok(StartLine::Response(status, reason.to_owned()));
    }
    let mut parts = line.split(' ');
    let (method, uri, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(u), Some(v), None) => (m, u, v),
        _ => return Err(Malformed::BadStartLine),
    };
    let method = Method::parse(method).ok_or(Malformed::BadStartLine)?;
    match version.strip_prefix("SIP/") {
        Some("2.0") => {}
        Some(_) => return Err(Malformed::UnsupportedVersion),
        None => return Err(Malformed::BadStartLine),
    }
    let uri = SipUri::parse(uri).ok_or(Malformed::UnsupportedUri)?;
    Ok(StartLine::Request(method, uri))
}

/// Sets a header that may appear once.
fn once<T>(slot: &mut Option<T>, name: &'static str, value: Option<T>) -> Result<(), Malformed> {
    if slot.is_some() {
        return Err(Malformed::Duplicate(name));
    }
    *slot = Some(value.ok_or(Malformed::BadHeader(name))?);
    Ok(())
}

fn digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

fn parse_fields(fields: Vec<(&str, String)>) -> Result<(Head, Option<usize>), Malformed> {
    let mut via = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    let (mut max_forwards, mut contact, mut expires, mut content_length) = (None, None, None, None);
    let mut extra = Vec::new();
    for (name, value) in fields {
        match HeaderName::known(name) {
            KnownName::Via => {
                for v in split_values(&value).ok_or(Malformed::BadHeader("Via"))? {
                    via.push(Via::parse(v).ok_or(Malformed::BadHeader("Via"))?);
                }
                if via.len() > MAX_VALUES {
                    return Err(Malformed::TooManyValues("Via"));
                }
            }
            KnownName::From => once(&mut from, "From", NameAddr::parse(&value))?,
            KnownName::To => once(&mut to, "To", NameAddr::parse(&value))?,
            KnownName::CallId => {
                let ok = !value.is_empty()
                    && value.len() <= 256
                    && value.chars().all(|c| c.is_ascii_graphic());
                once(&mut call_id, "Call-ID", ok.then_some(value))?
            }
            KnownName::CSeq => once(&mut cseq, "CSeq", CSeq::parse(&value))?,
            KnownName::MaxForwards => {
                let n = digits(&value).then(|| value.parse::<u8>().ok()).flatten();
                once(&mut max_forwards, "Max-Forwards", n)?
            }
            KnownName::Expires => {
                // RFC 3261 §20.19: a value over 2^32 - 1 means 2^32 - 1.
                let n = digits(&value).then(|| value.parse::<u32>().unwrap_or(u32::MAX));
                once(&mut expires, "Expires", n)?
            }
            KnownName::ContentLength => {
                let n = (digits(&value) && value.len() <= 6)
                    .then(|| value.parse::<usize>().ok())
                    .flatten();
                once(&mut content_length, "Content-Length", n)?
            }
            KnownName::Contact => {
                let values = split_values(&value).ok_or(Malformed::BadHeader("Contact"))?;
                let list = match (contact.take(), values.as_slice()) {
                    (None, ["*"]) => Contact::Any,
                    (Some(Contact::Any), _) => return Err(Malformed::MixedStarContact),
                    (previous, values) => {
                        let mut list = match previous {
                            Some(Contact::Addresses(list)) => list,
                            _ => Vec::new(),
                        };
                        for v in values {
                            if *v == "*" {
                                return Err(Malformed::MixedStarContact);
                            }
                            list.push(NameAddr::parse(v).ok_or(Malformed::BadHeader("Contact"))?);
                        }
                        if list.len() > MAX_VALUES {
                            return Err(Malformed::TooManyValues("Contact"));
                        }
                        Contact::Addresses(list)
                    }
                };
                contact = Some(list);
            }
            KnownName::Extra(name) => extra.push(Header { name, value }),
        }
    }
    if via.is_empty() {
        return Err(Malformed::Missing("Via"));
    }
    let head = Head {
        via,
        from: from.ok_or(Malformed::Missing("From"))?,
        to: to.ok_or(Malformed::Missing("To"))?,
        call_id: call_id.ok_or(Malformed::Missing("Call-ID"))?,
        cseq: cseq.ok_or(Malformed::Missing("CSeq"))?,
        max_forwards,
        contact,
        expires,
        extra,
    };
    Ok((head, content_length))
}
