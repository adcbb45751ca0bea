//! Who a DHCP client is: its Ethernet address (chaddr) and, when it sends
//! one, its client identifier (option 61).

use std::fmt;
use std::str::FromStr;

/// An Ethernet address, as the phone sends it in `chaddr` and as it is
/// printed on the phone's label and in `[[phone]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HwAddr([u8; 6]);

impl HwAddr {
    pub const fn new(octets: [u8; 6]) -> HwAddr {
        HwAddr(octets)
    }

    pub const fn octets(self) -> [u8; 6] {
        self.0
    }

    /// The manufacturer's prefix (OUI): the first three octets.
    pub fn oui(self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
}

/// Prints `00:18:B9:FF:FF:FF`.
impl fmt::Display for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

/// A MAC that is not 12 hex digits, with or without `:`, `-` or `.` between.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address: write 12 hex digits, e.g. 00:18:B9:FF:FF:FF")]
pub struct HwAddrError(pub String);

/// Accepts `00:18:B9:FF:FF:FF`, `00-18-b9-ff-ff-ff`, `0018.b9ff.ffff` and
/// `0018B9FFFFFF`.
impl FromStr for HwAddr {
    type Err = HwAddrError;

    fn from_str(text: &str) -> Result<HwAddr, HwAddrError> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b':' | b'-' | b'.'))
            .collect();
        let error = || HwAddrError(text.to_owned());
        if digits.len() != 12 {
            return Err(error());
        }
        let mut octets = [0u8; 6];
        for (octet, pair) in octets.iter_mut().zip(digits.chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| error())?;
            *octet = u8::from_str_radix(pair, 16).map_err(|_| error())?;
        }
        Ok(HwAddr(octets))
    }
}

/// How the server tells clients apart (RFC 2131 §4.2): by the client
/// identifier (option 61) when the client sends one, else by its hardware
/// address. A lease belongs to a `ClientId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientId {
    /// The bytes of option 61 (2 to 255 of them).
    Identifier(Vec<u8>),
    HwAddr(HwAddr),
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientId::HwAddr(mac) => write!(f, "{mac}"),
            ClientId::Identifier(bytes) => {
                f.write_str("id ")?;
                for (i, byte) in bytes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_notations_parse_and_print_alike() {
        for text in [
            "00:18:B9:FF:FF:FF",
            "00-18-b9-ff-ff-ff",
            "0018.b9ff.ffff",
            "0018B9FFFFFF",
        ] {
            let mac: HwAddr = text.parse().unwrap();
            assert_eq!(mac.to_string(), "00:18:B9:FF:FF:FF");
            assert_eq!(mac.oui(), [0x00, 0x18, 0xB9]);
        }
        for bad in [
            "",
            "00:18:B9:FF:FF",
            "00:18:B9:FF:FF:FG",
            "00:18:B9:FF:FF:FF:00",
            "é0:18:B9:FF:FF:F",
        ] {
            assert!(bad.parse::<HwAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_identifier_prints_as_hex() {
        assert_eq!(ClientId::Identifier(vec![1, 0xab]).to_string(), "id 01:ab");
    }
}
