//! The TFTP wire format: RRQ, WRQ, DATA, ACK, ERROR (RFC 1350) and OACK (RFC 2347).
//!
//! Decoding borrows from the datagram and never panics on any input; encoding
//! appends to a caller-owned buffer so a transfer sends without allocating.

use std::fmt;

/// Longest ERROR text we send. Long enough for a useful sentence, short enough
/// that an ERROR never grows past one small datagram (dnsmasq 2.78 leaked
/// memory by mis-sizing long error texts).
pub const MAX_ERROR_TEXT: usize = 200;

/// Transfer mode of a request (RFC 1350 §5). "mail" is obsolete and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
}

impl Mode {
    /// Parses a mode name, case-insensitively, as RFC 1350 asks.
    pub fn parse(raw: &[u8]) -> Option<Mode> {
        if raw.eq_ignore_ascii_case(b"octet") {
            Some(Mode::Octet)
        } else if raw.eq_ignore_ascii_case(b"netascii") {
            Some(Mode::Netascii)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Octet => "octet",
            Mode::Netascii => "netascii",
        }
    }
}

/// ERROR codes (RFC 1350 appendix, RFC 2347 for 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotDefined,
    FileNotFound,
    AccessViolation,
    DiskFull,
    IllegalOperation,
    UnknownTransferId,
    FileExists,
    NoSuchUser,
    OptionRefused,
    /// A code outside 0–8, as some clients send.
    Other(u16),
}

impl ErrorCode {
    pub fn from_u16(code: u16) -> ErrorCode {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            other => ErrorCode::Other(other),
        }
    }

    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(code) => code,
        }
    }
}

/// One option of a request or OACK, exactly as it was on the wire.
pub type RawOption<'a> = (&'a [u8], &'a [u8]);

/// An RRQ or WRQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub filename: &'a [u8],
    pub mode: &'a [u8],
    pub options: Vec<RawOption<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq(Request<'a>),
    Wrq(Request<'a>),
    Data { block: u16, data: &'a [u8] },
    Ack { block: u16 },
    Error { code: ErrorCode, message: &'a [u8] },
    Oack { options: Vec<RawOption<'a>> },
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram of {0} bytes is too short for a TFTP packet")]
    TooShort(usize),
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    #[error("the {0} is not terminated by a NUL byte")]
    Unterminated(&'static str),
    #[error("option {0:?} has no value")]
    OptionWithoutValue(String),
}

const RRQ: u16 = 1;
const WRQ: u16 = 2;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;

impl<'a> Packet<'a> {
    pub fn decode(datagram: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
        if datagram.len() < 2 {
            return Err(DecodeError::TooShort(datagram.len()));
        }
        let opcode = u16::from_be_bytes([datagram[0], datagram[1]]);
        let body = &datagram[2..];
        let block = || {
            body.get(..2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(DecodeError::TooShort(datagram.len()))
        };
        match opcode {
            RRQ => Ok(Packet::Rrq(decode_request(body)?)),
            WRQ => Ok(Packet::Wrq(decode_request(body)?)),
            DATA => Ok(Packet::Data {
                block: block()?,
                data: &body[2..],
            }),
            ACK => Ok(Packet::Ack { block: block()? }),
            ERROR => {
                let code = ErrorCode::from_u16(block()?);
                // Many stacks forget the final NUL; take the text up to the first NUL or the end.
                let text = &body[2..];
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                Ok(Packet::Error {
                    code,
                    message: &text[..end],
                })
            }
            OACK => Ok(Packet::Oack {
                options: decode_options(body)?,
            }),
            other => Err(DecodeError::UnknownOpcode(other)),
        }
    }

    /// Appends the packet to `buf` (which is cleared first).
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.clear();
        match self {
            Packet::Rrq(request) | Packet::Wrq(request) => {
                let opcode = if matches!(self, Packet::Rrq(_)) {
                    RRQ
                } else {
                    WRQ
                };
                buf.extend_from_slice(&opcode.to_be_bytes());
                push_cstr(buf, request.filename);
                push_cstr(buf, request.mode);
                push_options(buf, &request.options);
            }
            Packet::Data { block, data } => {
                buf.extend_from_slice(&DATA.to_be_bytes());
                buf.extend_from_slice(&block.to_be_bytes());
                buf.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                buf.extend_from_slice(&ACK.to_be_bytes());
                buf.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                buf.extend_from_slice(&ERROR.to_be_bytes());
                buf.extend_from_slice(&code.as_u16().to_be_bytes());
                // Printable ASCII only, bounded: the text may echo a hostile file name.
                buf.extend(message.iter().take(MAX_ERROR_TEXT).map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b
                    } else {
                        b'?'
                    }
                }));
                buf.push(0);
            }
            Packet::Oack { options } => {
                buf.extend_from_slice(&OACK.to_be_bytes());
                push_options(buf, options);
            }
        }
    }
}

fn push_cstr(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend_from_slice(s);
    buf.push(0);
}

fn push_options(buf: &mut Vec<u8>, options: &[RawOption<'_>]) {
    for (name, value) in options {
        push_cstr(buf, name);
        push_cstr(buf, value);
    }
}

/// Splits off one NUL-terminated string.
fn take_cstr<'a>(input: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let end = input
        .iter()
        .position(|&b| b == 0)
        .ok_or(DecodeError::Unterminated(what))?;
    Ok((&input[..end], &input[end + 1..]))
}

fn decode_request(body: &[u8]) -> Result<Request<'_>, DecodeError> {
    let (filename, rest) = take_cstr(body, "file name")?;
    let (mode, rest) = take_cstr(rest, "mode")?;
    Ok(Request {
        filename,
        mode,
        options: decode_options(rest)?,
    })
}

fn decode_options(mut rest: &[u8]) -> Result<Vec<RawOption<'_>>, DecodeError> {
    let mut options = Vec::new();
    // Some clients pad requests with trailing NULs; an empty name ends the list.
    while !rest.is_empty() && rest[0] != 0 {
        let (name, after_name) = take_cstr(rest, "option name")?;
        if after_name.is_empty() {
            return Err(DecodeError::OptionWithoutValue(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        let (value, after_value) = take_cstr(after_name, "option value")?;
        options.push((name, value));
        rest = after_value;
    }
    Ok(options)
}

/// A byte string from the wire, shown safely: printable ASCII as is, anything
/// else escaped, so a hostile name can neither forge log lines nor smuggle
/// terminal escapes.
pub struct Printable<'a>(pub &'a [u8]);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || c == '\\' {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(packet: Packet<'_>) {
        let mut buf = Vec::new();
        packet.encode(&mut buf);
        assert_eq!(Packet::decode(&buf).unwrap(), packet);
    }

    #[test]
    fn every_packet_kind_roundtrips() {
        roundtrip(Packet::Rrq(Request {
            filename: b"SEP0018B9FFFFFF.cnf.xml",
            mode: b"octet",
            options: vec![(b"blksize", b"1428"), (b"tsize", b"0")],
        }));
        roundtrip(Packet::Wrq(Request {
            filename: b"x",
            mode: b"netascii",
            options: vec![],
        }));
        roundtrip(Packet::Data {
            block: 65535,
            data: &[1, 2, 3],
        });
        roundtrip(Packet::Data {
            block: 1,
            data: &[],
        });
        roundtrip(Packet::Ack { block: 0 });
        roundtrip(Packet::Error {
            code: ErrorCode::FileNotFound,
            message: b"File not found",
        });
        roundtrip(Packet::Oack {
            options: vec![(b"blksize", b"512")],
        });
    }

    #[test]
    fn phone_rrq_bytes_decode() {
        // The RRQ a 7940 sends: no options, octet mode.
        let wire = b"\x00\x01CTLSEP000E84C060A6.tlv\x00octet\x00";
        let Packet::Rrq(request) = Packet::decode(wire).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(request.filename, b"CTLSEP000E84C060A6.tlv");
        assert_eq!(Mode::parse(request.mode), Some(Mode::Octet));
        assert!(request.options.is_empty());
    }

    #[test]
    fn short_and_broken_packets_are_errors() {
        assert_eq!(Packet::decode(b""), Err(DecodeError::TooShort(0)));
        assert_eq!(Packet::decode(b"\x00"), Err(DecodeError::TooShort(1)));
        assert_eq!(
            Packet::decode(b"\x00\x04\x00"),
            Err(DecodeError::TooShort(3))
        );
        assert_eq!(Packet::decode(b"\x00\x03"), Err(DecodeError::TooShort(2)));
        assert_eq!(
            Packet::decode(b"\x00\x09xx"),
            Err(DecodeError::UnknownOpcode(9))
        );
        assert_eq!(
            Packet::decode(b"\x00\x01name-without-nul"),
            Err(DecodeError::Unterminated("file name"))
        );
        assert_eq!(
            Packet::decode(b"\x00\x01f\x00octet"),
            Err(DecodeError::Unterminated("mode"))
        );
        assert!(matches!(
            Packet::decode(b"\x00\x01f\x00octet\x00blksize\x00"),
            Err(DecodeError::OptionWithoutValue(_))
        ));
    }

    #[test]
    fn error_text_is_bounded_and_printable() {
        let long = vec![b'A'; 5000];
        let mut buf = Vec::new();
        Packet::Error {
            code: ErrorCode::NotDefined,
            message: &long,
        }
        .encode(&mut buf);
        assert_eq!(buf.len(), 4 + MAX_ERROR_TEXT + 1);
        Packet::Error {
            code: ErrorCode::NotDefined,
            message: b"a\x1b[2Jb\xff",
        }
        .encode(&mut buf);
        assert_eq!(&buf[4..], b"a?[2Jb?\x00");
    }

    #[test]
    fn error_without_nul_is_accepted() {
        assert_eq!(
            Packet::decode(b"\x00\x05\x00\x01oops").unwrap(),
            Packet::Error {
                code: ErrorCode::FileNotFound,
                message: b"oops"
            }
        );
    }

    #[test]
    fn printable_escapes_control_bytes() {
        assert_eq!(
            Printable(b"a\nb\x1b\xffc\\").to_string(),
            "a\\nb\\u{1b}\\xffc\\\\"
        );
    }
}
