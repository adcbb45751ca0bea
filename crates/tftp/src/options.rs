//! Option negotiation: blksize (RFC 2348), tsize (RFC 2349), timeout (RFC 2349)
//! and windowsize (RFC 7440), as a server grants them.

use std::time::Duration;

use crate::packet::{Mode, RawOption};

/// The smallest and largest block sizes RFC 2348 allows.
pub const BLKSIZE_RANGE: std::ops::RangeInclusive<u32> = 8..=65464;
/// RFC 2349: the timeout option is whole seconds, 1–255.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=255;
/// RFC 7440: windowsize 1–65535.
pub const WINDOWSIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=65535;
/// RFC 1350's block size, used when the client asks for nothing else.
pub const DEFAULT_BLKSIZE: u16 = 512;

/// What the server is willing to grant, and how hard it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest block size granted. 1468 keeps a DATA packet (1468 + 4 + 8 + 20
    /// bytes) inside one 1500-byte Ethernet frame.
    pub max_blksize: u16,
    /// Largest window granted.
    pub max_windowsize: u16,
    /// Retransmission timeout before the first retry, unless the client asks
    /// for its own with the timeout option.
    pub retransmit_after: Duration,
    /// Retransmissions of one packet before the transfer is abandoned.
    pub max_retries: u32,
    /// Upper bound on the time of a whole transfer.
    pub deadline: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_blksize: 1468,
            max_windowsize: 64,
            retransmit_after: Duration::from_secs(1),
            max_retries: 5,
            deadline: Duration::from_secs(600),
        }
    }
}

/// Why a request's options are refused (ERROR 8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("option {name} has a value that is not a decimal number: {value:?}")]
    NotANumber { name: &'static str, value: String },
    #[error("option {name} {value} is outside {min}-{max}")]
    OutOfRange {
        name: &'static str,
        value: u64,
        min: u32,
        max: u32,
    },
}

/// The outcome of negotiation: what the transfer uses, and the OACK to send
/// (None when the request carried no option we support, so the reply is
/// plain RFC 1350 DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    /// The client's timeout, when it asked for one.
    pub timeout: Option<Duration>,
    /// The granted options in the order the client asked for them, as they
    /// go into the OACK.
    pub granted: Vec<(&'static str, String)>,
}

impl Negotiated {
    /// The RFC 1350 defaults, for a request without options.
    pub fn plain() -> Negotiated {
        Negotiated {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: None,
            granted: Vec::new(),
        }
    }

    pub fn sends_oack(&self) -> bool {
        !self.granted.is_empty()
    }
}

fn parse_number(name: &'static str, value: &[u8]) -> Result<u64, OptionError> {
    let not_a_number = || OptionError::NotANumber {
        name,
        value: String::from_utf8_lossy(value).into_owned(),
    };
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(not_a_number());
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_a_number)
}

fn in_range(
    name: &'static str,
    value: &[u8],
    range: &std::ops::RangeInclusive<u32>,
) -> Result<u32, OptionError> {
    let number = parse_number(name, value)?;
    if number < u64::from(*range.start()) || number > u64::from(*range.end()) {
        return Err(OptionError::OutOfRange {
            name,
            value: number,
            min: *range.start(),
            max: *range.end(),
        });
    }
    Ok(number as u32)
}

/// Negotiates a read request's options against `limits`.
///
/// Values outside the RFC ranges are refused; values inside the range but above
/// what the server allows are lowered, as RFC 2348 and RFC 7440 let a server
/// do. Unknown options and repeats of an option are ignored. tsize is granted
/// only in octet mode, where the size on the wire is the file's size.
pub fn negotiate(
    options: &[RawOption<'_>],
    mode: Mode,
    file_len: u64,
    limits: &ServerLimits,
) -> Result<Negotiated, OptionError> {
    let mut negotiated = Negotiated::plain();
    for (name, value) in options {
        let Some(key) = ["blksize", "windowsize", "timeout", "tsize"]
            .into_iter()
            .find(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        else {
            continue;
        };
        if negotiated
            .granted
            .iter()
            .any(|(granted, _)| *granted == key)
        {
            continue;
        }
        let value = match key {
            "blksize" => {
                let asked = in_range(key, value, &BLKSIZE_RANGE)?;
                negotiated.blksize = asked.min(u32::from(limits.max_blksize)) as u16;
                negotiated.blksize.to_string()
            }
            "windowsize" => {
                let asked = in_range(key, value, &WINDOWSIZE_RANGE)?;
                negotiated.windowsize = asked.min(u32::from(limits.max_windowsize.max(1))) as u16;
                negotiated.windowsize.to_string()
            }
            "timeout" => {
                let asked = in_range(key, value, &TIMEOUT_RANGE)?;
                negotiated.timeout = Some(Duration::from_secs(u64::from(asked)));
                asked.to_string()
            }
            _ => {
                parse_number(key, value)?;
                if mode != Mode::Octet {
                    continue;
                }
                file_len.to_string()
            }
        };
        negotiated.granted.push((key, value));
    }
    Ok(negotiated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(options: &[(&str, &str)]) -> Result<Negotiated, OptionError> {
        let raw: Vec<RawOption<'_>> = options
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        negotiate(&raw, Mode::Octet, 1234, &ServerLimits::default())
    }

    #[test]
    fn no_options_means_no_oack() {
        let n = ask(&[]).unwrap();
        assert!(!n.sends_oack());
        assert_eq!((n.blksize, n.windowsize), (512, 1));
    }

    #[test]
    fn unknown_options_alone_mean_no_oack() {
        assert!(!ask(&[("utimeout", "1000"), ("multicast", "")])
            .unwrap()
            .sends_oack());
    }

    #[test]
    fn blksize_edges() {
        assert_eq!(ask(&[("blksize", "8")]).unwrap().blksize, 8);
        assert_eq!(ask(&[("blksize", "65464")]).unwrap().blksize, 1468);
        assert!(matches!(
            ask(&[("blksize", "7")]),
            Err(OptionError::OutOfRange { value: 7, .. })
        ));
        assert!(matches!(
            ask(&[("blksize", "65465")]),
            Err(OptionError::OutOfRange { value: 65465, .. })
        ));
        assert!(matches!(
            ask(&[("BLKSIZE", "12x")]),
            Err(OptionError::NotANumber { .. })
        ));
    }

    #[test]
    fn timeout_edges() {
        assert_eq!(
            ask(&[("timeout", "255")]).unwrap().timeout,
            Some(Duration::from_secs(255))
        );
        assert!(ask(&[("timeout", "0")]).is_err());
        assert!(ask(&[("timeout", "256")]).is_err());
    }

    #[test]
    fn windowsize_is_capped() {
        assert_eq!(ask(&[("windowsize", "65535")]).unwrap().windowsize, 64);
        assert!(ask(&[("windowsize", "0")]).is_err());
        assert!(ask(&[("windowsize", "65536")]).is_err());
    }

    #[test]
    fn tsize_reports_the_file_size_in_octet_mode_only() {
        let n = ask(&[("tsize", "0"), ("blksize", "1024")]).unwrap();
        assert_eq!(
            n.granted,
            vec![
                ("tsize", "1234".to_string()),
                ("blksize", "1024".to_string())
            ]
        );
        let raw: Vec<RawOption<'_>> = vec![(b"tsize", b"0")];
        let n = negotiate(&raw, Mode::Netascii, 10, &ServerLimits::default()).unwrap();
        assert!(!n.sends_oack());
    }

    #[test]
    fn repeated_option_keeps_first_grant() {
        let n = ask(&[("blksize", "1000"), ("blksize", "800")]).unwrap();
        assert_eq!(n.granted, vec![("blksize", "1000".to_string())]);
        assert_eq!(n.blksize, 1000);
    }
}
