//! The file name of a request, checked and normalised before anything looks
//! at a disk.
//!
//! Phones send names such as `SEP0011BB73AD61.cnf.xml`, `./SIP000E84C060A6.cnf`
//! (from `tftp_cfg_dir: "./"`) and `/7960-font.xml` (empty locale directory).
//! A leading `./` or `/` is stripped, `\` is a separator, and sub-directories
//! are allowed. Everything that other TFTP servers got wrong (see
//! `shared/reference/security.md`) is refused here: any component made only of
//! dots or of dots and spaces (`..`, `...`, `....`, `.. `), so `....//` and
//! `..\` cannot collapse into a parent reference; drive letters and NTFS
//! streams (`C:`, `file::$DATA`); percent escapes (`%2e%2e%2f`); control
//! characters; invalid UTF-8; and names over 255 bytes. Symlinks are the
//! resolver's business, since only it sees the disk.

use std::fmt;

/// Longest accepted name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// A requested name that is safe to join to a root directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestName {
    requested: String,
    path: String,
}

/// Why a requested name is refused (answered with ERROR 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameRefusal {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {0} bytes long; the limit is {MAX_NAME_LEN}")]
    TooLong(usize),
    #[error("the name is not valid UTF-8")]
    NotUtf8,
    #[error("the name contains a control character")]
    ControlCharacter,
    #[error("the name contains a percent escape ({0}), which could hide a path")]
    PercentEscape(String),
    #[error("the name would leave the TFTP root ({0:?} component)")]
    ParentReference(String),
    #[error("the name contains ':' (a drive letter or stream name)")]
    Colon,
    #[error("the name is an absolute or network path")]
    Absolute,
}

impl RequestName {
    pub fn parse(raw: &[u8]) -> Result<RequestName, NameRefusal> {
        if raw.len() > MAX_NAME_LEN {
            return Err(NameRefusal::TooLong(raw.len()));
        }
        let requested = std::str::from_utf8(raw).map_err(|_| NameRefusal::NotUtf8)?;
        if requested.chars().any(char::is_control) {
            return Err(NameRefusal::ControlCharacter);
        }
        if let Some(escape) = percent_escape(requested) {
            return Err(NameRefusal::PercentEscape(escape.to_string()));
        }
        if requested.contains(':') {
            return Err(NameRefusal::Colon);
        }
        let unified = requested.replace('\\', "/");
        // One leading "./" (tftp_cfg_dir "./") and one leading "/" (an empty
        // locale directory) are the phone's; a name still absolute after
        // that ("//host/share", "\\\\host") is not.
        let rest = unified.strip_prefix("./").unwrap_or(&unified);
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        if rest.starts_with('/') {
            return Err(NameRefusal::Absolute);
        }
        let mut components = Vec::new();
        for component in rest.split('/') {
            if component.is_empty() {
                continue;
            }
            if component.trim_end_matches(['.', ' ']).is_empty() {
                return Err(NameRefusal::ParentReference(component.to_string()));
            }
            components.push(component);
        }
        if components.is_empty() {
            return Err(NameRefusal::Empty);
        }
        Ok(RequestName {
            requested: requested.to_string(),
            path: components.join("/"),
        })
    }

    /// The name exactly as the client sent it.
    pub fn requested(&self) -> &str {
        &self.requested
    }

    /// The normalised relative path: components joined by `/`, no leading
    /// `./` or `/`, no empty or dot components.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }
}

impl fmt::Display for RequestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.requested)
    }
}

/// The first `%XX` (two hex digits) in `s`, if any.
fn percent_escape(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        (bytes[i] == b'%' && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit())
            .then(|| &s[i..i + 3])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> String {
        RequestName::parse(raw.as_bytes())
            .unwrap()
            .path()
            .to_string()
    }

    fn refused(raw: &[u8]) -> NameRefusal {
        RequestName::parse(raw).unwrap_err()
    }

    #[test]
    fn phone_names_normalise() {
        assert_eq!(path("SEP0011BB73AD61.cnf.xml"), "SEP0011BB73AD61.cnf.xml");
        assert_eq!(path("./SIP000E84C060A6.cnf"), "SIP000E84C060A6.cnf");
        assert_eq!(path("/7960-font.xml"), "7960-font.xml");
        assert_eq!(path("US/7960-tones.xml"), "US/7960-tones.xml");
        assert_eq!(
            path("German_Germany\\7960-font.xml"),
            "German_Germany/7960-font.xml"
        );
        assert_eq!(path("./x//y"), "x/y");
        assert_eq!(path("/etc/passwd"), "etc/passwd");
        assert_eq!(
            path("./phones/SIP000E84C060A6.cnf"),
            "phones/SIP000E84C060A6.cnf"
        );
        assert_eq!(path(".hidden"), ".hidden");
        assert_eq!(path("a..b"), "a..b");
        assert_eq!(path("%n%s%x"), "%n%s%x");
    }

    #[test]
    fn traversal_patterns_are_refused() {
        for raw in [
            "..",
            "../etc/passwd",
            "...",
            ".../etc",
            "....//etc/passwd",
            "..\\..\\windows",
            "a/../../b",
            "a/./b",
            ".. /x",
            ". ./x",
            "..//",
            "x/..",
            ".",
            "./..",
        ] {
            assert!(
                matches!(refused(raw.as_bytes()), NameRefusal::ParentReference(_)),
                "{raw:?} was not refused as a parent reference"
            );
        }
    }

    #[test]
    fn other_tricks_are_refused() {
        assert_eq!(refused(b""), NameRefusal::Empty);
        assert_eq!(refused(b"./"), NameRefusal::Empty);
        assert_eq!(refused(b"/"), NameRefusal::Empty);
        assert_eq!(refused(b"//"), NameRefusal::Absolute);
        assert_eq!(refused(b"//etc/passwd"), NameRefusal::Absolute);
        assert_eq!(refused(b"\\\\server\\share\\f"), NameRefusal::Absolute);
        assert_eq!(refused(b"/\\etc"), NameRefusal::Absolute);
        assert_eq!(path(".//etc"), "etc");
        assert_eq!(refused(b".///etc"), NameRefusal::Absolute);
        assert_eq!(refused(&[b'a'; 256]), NameRefusal::TooLong(256));
        assert!(RequestName::parse(&[b'a'; 255]).is_ok());
        assert_eq!(refused(b"a\xffb"), NameRefusal::NotUtf8);
        assert_eq!(refused(b"a\nb"), NameRefusal::ControlCharacter);
        assert_eq!(refused(b"a\x7fb"), NameRefusal::ControlCharacter);
        assert_eq!(refused(b"C:\\boot.ini"), NameRefusal::Colon);
        assert_eq!(refused(b"f::$DATA"), NameRefusal::Colon);
        assert_eq!(
            refused(b"%2e%2e%2fetc%2fpasswd"),
            NameRefusal::PercentEscape("%2e".into())
        );
        assert_eq!(
            refused(b"..%5c..%5cwin.ini"),
            NameRefusal::PercentEscape("%5c".into())
        );
    }

    #[test]
    fn requested_name_is_kept_verbatim() {
        let name = RequestName::parse(b"./SIP000E84C060A6.cnf").unwrap();
        assert_eq!(name.requested(), "./SIP000E84C060A6.cnf");
        assert_eq!(name.components().count(), 1);
    }
}
