//! The small pieces of RFC 3261 §25 grammar every header shares: tokens,
//! quoted strings, `;name=value` parameters and comma-separated values.

use std::fmt;

/// Characters of an RFC 3261 `token` (letters, digits and `-.!%*_+`'~`).
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// True for a non-empty string of token characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// True when `s` holds no control character other than a horizontal tab.
pub(crate) fn is_printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\t')
}

/// The length in bytes of the quoted string at the start of `s` (which must
/// start with `"`), closing quote included; `None` when it never closes.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The text of a quoted string without its quotes and escapes; a value that
/// is not quoted comes back as it is.
pub fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// `s` as a quoted string, with `"` and `\` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a header value at the commas that separate values, skipping the
/// commas inside quoted strings and `<...>`. `None` when a quote or an
/// angle bracket is left open.
pub(crate) fn split_values(s: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut angle = false;
    let mut rest = s.char_indices();
    while let Some((i, c)) = rest.next() {
        match c {
            '"' if !angle => {
                let len = quoted_len(&s[i..])?;
                // Skip to the closing quote.
                for _ in 0..s[i + 1..i + len].chars().count() {
                    rest.next();
                }
            }
            '<' if !angle => angle = true,
            '>' if angle => angle = false,
            ',' if !angle => {
                parts.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if angle {
        return None;
    }
    parts.push(s[start..].trim());
    Some(parts)
}

/// A parameter value: a quoted string, or a run of characters that may stand
/// bare in a header (`z9hG4bK776asdhds`, `[2001:db8::1]`, `0.5`).
fn is_bare_value(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '<' | '>' | '?' | '=' | '\\')
        })
}

/// One `;name` or `;name=value` parameter. A quoted value keeps its quotes,
/// so it is written back as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// The parameters of a URI or a header value, in the order received. Names
/// compare without regard to case (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// The raw value of `name` (quotes kept); `Some(None)` for a parameter
    /// without a value, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The value of `name` without its quotes.
    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).flatten().map(unquote)
    }

    /// True when `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, in place when present, else at the end.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.0.push(Param {
                name: name.to_owned(),
                value,
            }),
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// Reads `;a=b;c;d="x"` (the leading `;` included, or an empty string).
    /// Whitespace around `;` and `=` is allowed, as RFC 3261 allows it.
    pub(crate) fn parse(s: &str) -> Option<Params> {
        let mut params = Vec::new();
        let mut rest = s.trim_start();
        while !rest.is_empty() {
            rest = rest.strip_prefix(';')?.trim_start();
            let name_len = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
            let name = &rest[..name_len];
            if name.is_empty() {
                return None;
            }
            rest = rest[name_len..].trim_start();
            let value = match rest.strip_prefix('=') {
                None => None,
                Some(after) => {
                    let after = after.trim_start();
                    let len = if after.starts_with('"') {
                        quoted_len(after)?
                    } else {
                        after
                            .find(|c: char| c == ';' || c.is_whitespace())
                            .unwrap_or(after.len())
                    };
                    let value = &after[..len];
                    if !value.starts_with('"') && !is_bare_value(value) {
                        return None;
                    }
                    rest = after[len..].trim_start();
                    Some(value.to_owned())
                }
            };
            params.push(Param {
                name: name.to_owned(),
                value,
            });
        }
        Some(Params(params))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            write!(f, ";{}", p.name)?;
            if let Some(v) = &p.value {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_quotes_and_order() {
        let p = Params::parse(r#";+sip.instance="<urn:uuid:00000000-0000-0000-0000-000fe1a2b3c4>";+u.sip!model.ccm.cisco.com="7";expires = 60"#).unwrap();
        assert_eq!(
            p.value("+sip.instance").unwrap(),
            "<urn:uuid:00000000-0000-0000-0000-000fe1a2b3c4>"
        );
        assert_eq!(p.value("+U.SIP!MODEL.CCM.CISCO.COM").unwrap(), "7");
        assert_eq!(p.value("expires").unwrap(), "60");
        assert_eq!(
            p.to_string(),
            r#";+sip.instance="<urn:uuid:00000000-0000-0000-0000-000fe1a2b3c4>";+u.sip!model.ccm.cisco.com="7";expires=60"#
        );
    }

    #[test]
    fn params_refuse_junk() {
        for bad in [";", ";=x", "x", r#";a="open"#, ";a=<b>", ";a=b c"] {
            assert_eq!(Params::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn values_split_outside_quotes_and_brackets() {
        let v = split_values(r#""A, B" <sip:a@h;x=1,2>;q=1, <sip:b@h>"#).unwrap();
        assert_eq!(v, [r#""A, B" <sip:a@h;x=1,2>;q=1"#, "<sip:b@h>"]);
        assert_eq!(split_values("<sip:a@h"), None);
        assert_eq!(split_values(r#""open"#), None);
    }

    #[test]
    fn quoting_round_trips() {
        for s in ["", "a", r#"say "hi" \ bye"#] {
            assert_eq!(unquote(&quote(s)), s);
        }
    }
}
