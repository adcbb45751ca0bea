//! HTTP digest authentication for SIP (RFC 2617 with MD5, as RFC 3261 §22
//! uses it), with and without `qop=auth`, and nonces that need no table.
//!
//! A nonce is the time it was issued (milliseconds since the registrar
//! started, 16 hex digits) followed by an HMAC-SHA256 of that time and the
//! realm under the registrar's secret (the first 16 bytes, 32 hex digits).
//! The registrar can then tell a nonce it issued from a made-up one, and an
//! expired one (answered with `stale=true`) from both, without remembering
//! any nonce. What this does not give is replay protection within a nonce's
//! lifetime: a REGISTER captured on the wire can be replayed until the nonce
//! expires, as with any server that keeps no nonce counts.

use std::fmt;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::syntax::{quote, split_values, unquote};

/// The `Authorization` header of a request, read (RFC 2617 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// The digest-uri: the Request-URI as the client wrote it.
    pub uri: String,
    /// 32 hex digits, lower-cased.
    pub response: String,
    /// `Some` when the client used `qop=auth`.
    pub qop_auth: Option<QopAuth>,
    pub opaque: Option<String>,
}

/// The values a client sends with `qop=auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QopAuth {
    /// The nonce count: 8 hex digits.
    pub nc: String,
    pub cnonce: String,
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("a malformed digest parameter")]
    BadParam,
    #[error("the digest parameter {0} twice")]
    Duplicate(String),
    #[error("no digest parameter {0}")]
    Missing(&'static str),
    #[error("digest algorithm {0} (only MD5 is supported)")]
    UnsupportedAlgorithm(String),
    #[error("qop={0} (only auth is supported)")]
    UnsupportedQop(String),
    #[error("a digest response that is not 32 hex digits")]
    BadResponse,
    #[error("a nonce count that is not 8 hex digits")]
    BadNonceCount,
}

impl Credentials {
    /// Reads an `Authorization` (or `Proxy-Authorization`) value. Parameter
    /// names are case-insensitive; values may be quoted or not, whatever
    /// RFC 2617 says each should be, since phones differ.
    pub fn parse(value: &str) -> Result<Credentials, DigestError> {
        let (scheme, params) = value
            .trim()
            .split_once([' ', '\t'])
            .ok_or(DigestError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let mut seen: Vec<(String, String)> = Vec::new();
        for item in split_values(params).ok_or(DigestError::BadParam)? {
            let (name, raw) = item.split_once('=').ok_or(DigestError::BadParam)?;
            let name = name.trim().to_ascii_lowercase();
            let raw = raw.trim();
            if name.is_empty() || raw.is_empty() || (raw.starts_with('"') && !raw.ends_with('"')) {
                return Err(DigestError::BadParam);
            }
            if raw.len() < 2 && raw.starts_with('"') {
                return Err(DigestError::BadParam);
            }
            if seen.iter().any(|(n, _)| *n == name) {
                return Err(DigestError::Duplicate(name));
            }
            seen.push((name, unquote(raw)));
        }
        let take = |name: &str| seen.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let need = |name: &'static str| take(name).ok_or(DigestError::Missing(name));
        if let Some(algorithm) = take("algorithm") {
            if !algorithm.eq_ignore_ascii_case("MD5") {
                return Err(DigestError::UnsupportedAlgorithm(algorithm));
            }
        }
        let response = need("response")?.to_ascii_lowercase();
        if response.len() != 32 || !response.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::BadResponse);
        }
        let qop_auth = match take("qop") {
            None => None,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = need("nc")?;
                if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(DigestError::BadNonceCount);
                }
                Some(QopAuth {
                    nc,
                    cnonce: need("cnonce")?,
                })
            }
            Some(qop) => return Err(DigestError::UnsupportedQop(qop)),
        };
        Ok(Credentials {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response,
            qop_auth,
            opaque: take("opaque"),
        })
    }

    /// Whether these credentials were made with `password` for `method`:
    /// recomputes the response and compares it in constant time.
    pub fn verify(&self, method: &str, password: &str) -> bool {
        let expected = response(
            &ha1(&self.username, &self.realm, password),
            &self.nonce,
            method,
            &self.uri,
            self.qop_auth.as_ref(),
        );
        expected.as_bytes().ct_eq(self.response.as_bytes()).into()
    }
}

impl fmt::Display for Credentials {
    /// The `Authorization` value, as a client sends it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest username={},realm={},nonce={},uri={},response={},algorithm=MD5",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
        )?;
        if let Some(q) = &self.qop_auth {
            write!(f, ",qop=auth,nc={},cnonce={}", q.nc, quote(&q.cnonce))?;
        }
        if let Some(opaque) = &self.opaque {
            write!(f, ",opaque={}", quote(opaque))?;
        }
        Ok(())
    }
}

fn md5_hex(input: &str) -> String {
    hex(&Md5::digest(input.as_bytes()))
}

/// Lower-case hex, two digits a byte (a REGISTER needs several of these:
/// `format!` per byte was a tenth of the registrar's time).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// H(A1) of RFC 2617 §3.2.2.2 for MD5: `MD5(username:realm:password)`.
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{username}:{realm}:{password}"))
}

/// The request-digest of RFC 2617 §3.2.2.1: with `qop=auth`
/// `MD5(HA1:nonce:nc:cnonce:auth:HA2)`, without it `MD5(HA1:nonce:HA2)`
/// (the RFC 2069 form the 7940 uses), where HA2 is `MD5(method:uri)`.
pub fn response(ha1: &str, nonce: &str, method: &str, uri: &str, qop: Option<&QopAuth>) -> String {
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    match qop {
        Some(q) => md5_hex(&format!("{ha1}:{nonce}:{}:{}:auth:{ha2}", q.nc, q.cnonce)),
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// A `WWW-Authenticate` challenge (RFC 2617 §3.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    /// The client's nonce expired but its digest was right: it may retry
    /// with the new nonce without asking anyone for a password.
    pub stale: bool,
    /// Offer `qop="auth"`. Clients that do not know qop (the 7940's 8.x
    /// firmware, by its trace) answer in the RFC 2069 form, which is accepted.
    pub qop: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm={}, nonce={}, algorithm=MD5",
            quote(&self.realm),
            quote(&self.nonce)
        )?;
        if self.qop {
            f.write_str(", qop=\"auth\"")?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Issued by this key for this realm, and within its lifetime.
    Fresh,
    /// Issued by this key for this realm, but too old (or from before a
    /// restart of the clock it counts from).
    Stale,
    /// Not issued by this key for this realm.
    Forged,
}

/// Issues and checks nonces: a secret key and the instant nonce times count from.
#[derive(Clone)]
pub struct NonceKey {
    /// HMAC-SHA256 keyed with the secret once; cloned for each use, which
    /// skips hashing the key again.
    keyed: Hmac<Sha256>,
    epoch: Instant,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceKey").finish_non_exhaustive()
    }
}

const STAMP_HEX: usize = 16;
const MAC_BYTES: usize = 16;

impl NonceKey {
    /// `secret` should be at least 16 random bytes, kept by the driver (a
    /// restart with a new secret only costs phones one more challenge).
    pub fn new(secret: &[u8], epoch: Instant) -> NonceKey {
        NonceKey {
            keyed: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length"),
            epoch,
        }
    }

    fn mac(&self, stamp: u64, realm: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(&stamp.to_be_bytes());
        mac.update(realm.as_bytes());
        mac
    }

    fn stamp(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// A short opaque label (16 hex digits) derived from `parts` under the
    /// secret: To tags, branches and Call-IDs that are the same for a
    /// retransmission and need no random number.
    pub(crate) fn label(&self, parts: &[&str]) -> String {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        hex(&mac.finalize().into_bytes()[..8])
    }

    /// A new nonce for `realm`, issued at `now`.
    pub fn issue(&self, realm: &str, now: Instant) -> String {
        let stamp = self.stamp(now);
        let tag = self.mac(stamp, realm).finalize().into_bytes();
        let mut nonce = format!("{stamp:0width$x}", width = STAMP_HEX);
        nonce.push_str(&hex(&tag[..MAC_BYTES]));
        nonce
    }

    /// Whether `nonce` was issued by this key for `realm`, and is at most
    /// `lifetime` old at `now`. The MAC is compared in constant time.
    pub fn check(&self, nonce: &str, realm: &str, now: Instant, lifetime: Duration) -> NonceState {
        if nonce.len() != STAMP_HEX + 2 * MAC_BYTES || !nonce.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return NonceState::Forged;
        }
        let Ok(stamp) = u64::from_str_radix(&nonce[..STAMP_HEX], 16) else {
            return NonceState::Forged;
        };
        let tag: Vec<u8> = (STAMP_HEX..nonce.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&nonce[i..i + 2], 16).ok())
            .collect();
        if self.mac(stamp, realm).verify_truncated_left(&tag).is_err() {
            return NonceState::Forged;
        }
        let age = self.stamp(now).checked_sub(stamp);
        match age {
            Some(age) if u128::from(age) <= lifetime.as_millis() => NonceState::Fresh,
            _ => NonceState::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_example() {
        let creds = Credentials::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(creds.verify("GET", "Circle Of Life"));
        assert!(!creds.verify("GET", "Circle of Life"));
        assert!(!creds.verify("POST", "Circle Of Life"));
    }

    #[test]
    fn without_qop_the_rfc_2069_form() {
        let ha1 = ha1("101", "192.168.1.1", "secret");
        let r = response(&ha1, "abc", "REGISTER", "sip:192.168.1.1", None);
        let header = format!(
            r#"Digest username="101",realm="192.168.1.1",uri="sip:192.168.1.1",response="{r}",nonce="abc",algorithm=md5"#
        );
        let creds = Credentials::parse(&header).unwrap();
        assert_eq!(creds.qop_auth, None);
        assert!(creds.verify("REGISTER", "secret"));
        assert!(!creds.verify("REGISTER", "secreT"));
        assert_eq!(Credentials::parse(&creds.to_string()).unwrap(), creds);
    }

    #[test]
    fn refuses_header_tricks() {
        let r = "0123456789abcdef0123456789abcdef";
        let cases = [
            ("Basic dXNlcjpwYXNz".to_owned(), DigestError::NotDigest),
            (
                format!(
                    r#"Digest username="a",username="b",realm="r",nonce="n",uri="u",response="{r}""#
                ),
                DigestError::Duplicate("username".into()),
            ),
            (
                format!(r#"Digest realm="r",nonce="n",uri="u",response="{r}""#),
                DigestError::Missing("username"),
            ),
            (
                r#"Digest username="a",realm="r",nonce="n",uri="u",response="xyz""#.to_owned(),
                DigestError::BadResponse,
            ),
            (
                format!(
                    r#"Digest username="a",realm="r",nonce="n",uri="u",response="{r}",algorithm=SHA-256"#
                ),
                DigestError::UnsupportedAlgorithm("SHA-256".into()),
            ),
            (
                format!(
                    r#"Digest username="a",realm="r",nonce="n",uri="u",response="{r}",qop=auth-int,nc=00000001,cnonce="c""#
                ),
                DigestError::UnsupportedQop("auth-int".into()),
            ),
            (
                format!(
                    r#"Digest username="a",realm="r",nonce="n",uri="u",response="{r}",qop=auth,cnonce="c""#
                ),
                DigestError::Missing("nc"),
            ),
            (
                format!(
                    r#"Digest username="a",realm="r",nonce="n",uri="u",response="{r}",qop=auth,nc=1,cnonce="c""#
                ),
                DigestError::BadNonceCount,
            ),
            (
                format!(r#"Digest username="a,realm="r",nonce="n",uri="u",response="{r}""#),
                DigestError::BadParam,
            ),
            (
                format!(r#"Digest username,realm="r",nonce="n",uri="u",response="{r}""#),
                DigestError::BadParam,
            ),
        ];
        for (header, want) in cases {
            assert_eq!(Credentials::parse(&header), Err(want), "{header}");
        }
    }

    #[test]
    fn nonces_fresh_stale_forged() {
        let t0 = Instant::now();
        let key = NonceKey::new(b"0123456789abcdef", t0);
        let life = Duration::from_secs(300);
        let nonce = key.issue("office", t0 + Duration::from_secs(10));
        assert_eq!(nonce.len(), 48);
        assert_eq!(
            key.check(&nonce, "office", t0 + Duration::from_secs(310), life),
            NonceState::Fresh
        );
        assert_eq!(
            key.check(&nonce, "office", t0 + Duration::from_secs(311), life),
            NonceState::Stale
        );
        assert_eq!(
            key.check(&nonce, "other", t0 + Duration::from_secs(11), life),
            NonceState::Forged
        );
        // From before a restart of the epoch: the stamp is in the future.
        assert_eq!(key.check(&nonce, "office", t0, life), NonceState::Stale);
        let other = NonceKey::new(b"another secret!!", t0);
        assert_eq!(
            other.check(&nonce, "office", t0 + Duration::from_secs(11), life),
            NonceState::Forged
        );
        let mut flipped = nonce.clone().into_bytes();
        flipped[47] = if flipped[47] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            key.check(&flipped, "office", t0 + Duration::from_secs(11), life),
            NonceState::Forged
        );
        for junk in ["", "zz", &nonce[..47], &format!("{nonce}0")] {
            assert_eq!(key.check(junk, "office", t0, life), NonceState::Forged);
        }
    }

    #[test]
    fn challenge_text() {
        let c = Challenge {
            realm: "office".into(),
            nonce: "n".into(),
            stale: true,
            qop: true,
        };
        assert_eq!(
            c.to_string(),
            r#"Digest realm="office", nonce="n", algorithm=MD5, qop="auth", stale=true"#
        );
    }
}
