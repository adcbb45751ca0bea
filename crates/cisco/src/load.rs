//! Firmware load names (reference §2): what a name says about the image.
//!
//! A load name such as `P0S3-8-12-00` is an opaque, case-sensitive string for
//! file lookup — `P0S3-8-12-00` and `P0S3-08-12-00` are different files — and
//! [`LoadName`] keeps it verbatim. Parsing reads what the grammar defines: the
//! protocol (third character), the version, the era (read by the old boot
//! path through `OS79XX.TXT`, or by the Universal Application Loader), and
//! whether the image is signed. One parser covers every scheme:
//!
//! | scheme | example | meaning |
//! |---|---|---|
//! | `P0S3xxyy`, `P003xxyy` | `P0S30202` | early SIP / SCCP, major.minor |
//! | `P003xxyyzzww` | `P00308010200` | SCCP 8.1(2) |
//! | `P003xxyySRnn` | `P0030801SR02` | SCCP 8.1 SR2 |
//! | `P0S3-xx-y-zz` | `P0S3-8-12-00`, `P0S3-08-11-00` | SIP 8.12, 8.11 |
//! | `P0M3-xx-y-zz` | `P0M3-08-4-00` | MGCP |
//! | `P003-xx-y-zz` | `P003-8-12-00` | the Universal Application Loader |

use std::fmt;

/// What a load runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Sccp,
    Sip,
    Mgcp,
    /// The protocol-neutral Universal Application Loader (`P003-…`).
    Loader,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Sccp => "SCCP",
            Protocol::Sip => "SIP",
            Protocol::Mgcp => "MGCP",
            Protocol::Loader => "loader",
        })
    }
}

/// A load's version, ordered by major, minor, maintenance, then service
/// release. `P0030801SR02` (8.1(2)SR2) does not spell its maintenance number,
/// so it orders before 8.1(1); compare majors when that matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    /// The maintenance release, when the name carries one.
    pub maintenance: Option<u8>,
    /// The service release (`SR2`) or sub-release number.
    pub service: Option<u8>,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        match self.maintenance {
            Some(m) if m > 0 => write!(f, "({m})")?,
            _ => {}
        }
        match self.service {
            Some(s) if s > 0 => write!(f, "SR{s}"),
            _ => Ok(()),
        }
    }
}

/// How a phone on this load finds its next image (reference §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// Boots the old way: reads `OS79XX.TXT` (SCCP before 6.x, SIP before 7.x).
    Os79xx,
    /// Runs the Universal Application Loader: hunts `SEP…`/`XMLDefault`.
    Ual,
}

/// SCCP loads from this major version on run the UAL (reference §1.3).
pub const SCCP_UAL_FROM: u8 = 6;
/// SIP (and MGCP) loads from this major version on run the UAL.
pub const SIP_UAL_FROM: u8 = 7;
/// Loads from this major version on are signed and refuse unsigned ones (§3.1).
pub const SIGNED_FROM: u8 = 5;

/// A parsed load name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoadName {
    name: String,
    pub protocol: Protocol,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a Cisco 7940/7960 load name: {why}")]
pub struct LoadNameError {
    pub name: String,
    pub why: &'static str,
}

impl LoadName {
    pub fn parse(name: &str) -> Result<LoadName, LoadNameError> {
        let fail = |why| LoadNameError {
            name: name.to_string(),
            why,
        };
        let bytes = name.as_bytes();
        if bytes.len() < 6 || !name.is_ascii() || &bytes[..2] != b"P0" || bytes[3] != b'3' {
            return Err(fail("it does not start with P0?3 (e.g. P0S3, P003)"));
        }
        let letter = bytes[2];
        let rest = &name[4..];
        let (protocol, version) = if let Some(dashed) = rest.strip_prefix('-') {
            let protocol = match letter {
                b'S' => Protocol::Sip,
                b'M' => Protocol::Mgcp,
                b'0' => Protocol::Loader,
                _ => return Err(fail("the third character is not 0, S or M")),
            };
            (
                protocol,
                dashed_version(dashed)
                    .ok_or_else(|| fail("expected -major-minor-maintenance, e.g. -8-12-00"))?,
            )
        } else {
            let protocol = match letter {
                b'S' => Protocol::Sip,
                b'M' => Protocol::Mgcp,
                b'0' => Protocol::Sccp,
                _ => return Err(fail("the third character is not 0, S or M")),
            };
            (
                protocol,
                packed_version(rest)
                    .ok_or_else(|| fail("expected xxyy, xxyyzzww or xxyySRnn digits"))?,
            )
        };
        Ok(LoadName {
            name: name.to_string(),
            protocol,
            version,
        })
    }

    /// The name exactly as written, for file lookup.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn era(&self) -> Era {
        let ual_from = match self.protocol {
            Protocol::Loader => return Era::Ual,
            Protocol::Sccp => SCCP_UAL_FROM,
            Protocol::Sip | Protocol::Mgcp => SIP_UAL_FROM,
        };
        if self.version.major >= ual_from {
            Era::Ual
        } else {
            Era::Os79xx
        }
    }

    pub fn signed(&self) -> bool {
        self.protocol == Protocol::Loader || self.version.major >= SIGNED_FROM
    }

    /// The loader a UAL-era application load is installed with: SIP 8.12's
    /// `P0S3-8-12-00` comes with `P003-8-12-00`; SCCP loads carry their own
    /// loader under the same name (`P00308010200.sbn`). Only a dashed SIP or
    /// MGCP name names its loader: `P003` before a packed version is an SCCP
    /// load (`P0S30801` is not installed with `P0030801`), so a packed SIP or
    /// MGCP name has no known loader.
    pub fn loader(&self) -> Option<String> {
        if self.era() != Era::Ual {
            return None;
        }
        match self.protocol {
            Protocol::Sip | Protocol::Mgcp => {
                let version = &self.name[4..];
                version.starts_with('-').then(|| format!("P003{version}"))
            }
            Protocol::Sccp | Protocol::Loader => Some(self.name.clone()),
        }
    }
}

impl fmt::Display for LoadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn number(digits: &str) -> Option<u8> {
    (!digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// `8-12-00` or `08-11-00`.
fn dashed_version(text: &str) -> Option<Version> {
    let mut parts = text.split('-');
    let version = Version {
        major: number(parts.next()?)?,
        minor: number(parts.next()?)?,
        maintenance: Some(number(parts.next()?)?),
        service: None,
    };
    parts.next().is_none().then_some(version)
}

/// `0202`, `08010200` or `0801SR02`.
fn packed_version(text: &str) -> Option<Version> {
    let pair = |i: usize| text.get(i..i + 2).and_then(number);
    match text.len() {
        4 => Some(Version {
            major: pair(0)?,
            minor: pair(2)?,
            maintenance: None,
            service: None,
        }),
        8 if &text[4..6] == "SR" => Some(Version {
            major: pair(0)?,
            minor: pair(2)?,
            maintenance: None,
            service: Some(pair(6)?),
        }),
        8 => Some(Version {
            major: pair(0)?,
            minor: pair(2)?,
            maintenance: Some(pair(4)?),
            service: Some(pair(6)?),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str) -> (Protocol, String, Era, bool) {
        let load = LoadName::parse(name).unwrap();
        (
            load.protocol,
            load.version.to_string(),
            load.era(),
            load.signed(),
        )
    }

    #[test]
    fn every_scheme_of_the_reference() {
        use Era::*;
        use Protocol::*;
        assert_eq!(parsed("P0S30202"), (Sip, "2.2".into(), Os79xx, false));
        assert_eq!(
            parsed("P00303030300"),
            (Sccp, "3.3(3)".into(), Os79xx, false)
        );
        assert_eq!(
            parsed("P00305000200"),
            (Sccp, "5.0(2)".into(), Os79xx, true)
        );
        assert_eq!(parsed("P00306000100"), (Sccp, "6.0(1)".into(), Ual, true));
        assert_eq!(parsed("P00308010200"), (Sccp, "8.1(2)".into(), Ual, true));
        assert_eq!(parsed("P0030801SR02"), (Sccp, "8.1SR2".into(), Ual, true));
        assert_eq!(parsed("P0S3-04-4-00"), (Sip, "4.4".into(), Os79xx, false));
        assert_eq!(parsed("P0S3-05-2-00"), (Sip, "5.2".into(), Os79xx, true));
        assert_eq!(parsed("P0S3-07-4-00"), (Sip, "7.4".into(), Ual, true));
        assert_eq!(parsed("P0S3-8-12-00"), (Sip, "8.12".into(), Ual, true));
        assert_eq!(parsed("P0S3-08-11-00"), (Sip, "8.11".into(), Ual, true));
        assert_eq!(parsed("P0M3-08-4-00"), (Mgcp, "8.4".into(), Ual, true));
        assert_eq!(parsed("P003-8-12-00"), (Loader, "8.12".into(), Ual, true));
    }

    #[test]
    fn spellings_stay_distinct() {
        let short = LoadName::parse("P0S3-8-12-00").unwrap();
        let long = LoadName::parse("P0S3-08-12-00").unwrap();
        assert_eq!(short.version, long.version);
        assert_ne!(short, long);
        assert_eq!(long.as_str(), "P0S3-08-12-00");
    }

    #[test]
    fn versions_order_like_releases() {
        let v = |name: &str| LoadName::parse(name).unwrap().version;
        assert!(v("P0S3-04-4-00") < v("P0S3-05-3-00"));
        assert!(v("P0S3-8-9-00") < v("P0S3-8-12-00"));
        assert!(v("P00308000500") < v("P00308010200"));
    }

    #[test]
    fn loaders_of_ual_loads() {
        let loader = |name: &str| LoadName::parse(name).unwrap().loader();
        assert_eq!(loader("P0S3-8-12-00").as_deref(), Some("P003-8-12-00"));
        assert_eq!(loader("P00308010200").as_deref(), Some("P00308010200"));
        assert_eq!(loader("P0S3-05-3-00"), None);
        assert_eq!(loader("P0M3-08-4-00").as_deref(), Some("P003-08-4-00"));
        assert_eq!(loader("P003-8-12-00").as_deref(), Some("P003-8-12-00"));
    }

    /// Found by the cisco_load_name fuzz target: `P003` before a packed
    /// version is an SCCP load, not the loader of the SIP load.
    #[test]
    fn packed_sip_and_mgcp_names_have_no_known_loader() {
        for name in ["P0S32203", "P0S30801", "P0M30804"] {
            let load = LoadName::parse(name).unwrap();
            assert_eq!(load.era(), Era::Ual, "{name}");
            assert_eq!(load.loader(), None, "{name}");
        }
    }

    #[test]
    fn not_load_names() {
        for bad in [
            "",
            "P0S3",
            "X0S3-8-12-00",
            "P0X3-8-12-00",
            "P0S4-8-12-00",
            "P0S3-8-12",
            "P0S3-8-12-00-1",
            "P0S3-a-12-00",
            "P0S30",
            "P0031234567",
            "P0S3-8-12-00.sb2",
            "SIP41.8-5-4S",
            "P0S3-8--00",
        ] {
            assert!(LoadName::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
