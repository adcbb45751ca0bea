//! Phones as the provisioning sees them: MAC addresses in every notation,
//! models, and the per-phone file names a phone asks for (reference §1.5).

use std::fmt;
use std::str::FromStr;

/// A phone's MAC address. Parses any common notation and prints the way
/// 7940/7960 file names need it: 12 upper-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a MAC address; write it like 00:18:B9:FF:FF:FF, 0018.b9ff.ffff, 0018b9ffffff or SEP0018B9FFFFFF")]
pub struct MacError {
    pub input: String,
}

impl FromStr for Mac {
    type Err = MacError;

    /// Accepts `00:18:B9:FF:FF:FF`, `00-18-b9-ff-ff-ff`, `0018.b9ff.ffff`,
    /// `0018b9ffffff` and `SEP0018B9FFFFFF`, in any case.
    fn from_str(input: &str) -> Result<Mac, MacError> {
        let error = || MacError {
            input: input.to_string(),
        };
        let trimmed = input.trim();
        let bare = trimmed
            .get(..3)
            .filter(|prefix| prefix.eq_ignore_ascii_case("SEP"))
            .map_or(trimmed, |_| &trimmed[3..]);
        let digits: String = match bare.len() {
            12 => bare.to_string(),
            14 if bare.as_bytes()[4] == b'.' && bare.as_bytes()[9] == b'.' => bare.replace('.', ""),
            17 => {
                let separator = bare.as_bytes()[2];
                if !matches!(separator, b':' | b'-')
                    || !(2..17).step_by(3).all(|i| bare.as_bytes()[i] == separator)
                {
                    return Err(error());
                }
                bare.chars().filter(|c| *c != separator as char).collect()
            }
            _ => return Err(error()),
        };
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(error());
        }
        let mut mac = [0u8; 6];
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| error())?;
        }
        Ok(Mac(mac))
    }
}

impl fmt::Display for Mac {
    /// `0018B9FFFFFF`, as in `SIP0018B9FFFFFF.cnf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl Mac {
    /// `00:18:B9:FF:FF:FF`, for people.
    pub fn colons(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// The phone models phoneprov provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    Cp7940,
    Cp7960,
}

impl Model {
    pub const ALL: [Model; 2] = [Model::Cp7940, Model::Cp7960];

    /// Line buttons: 2 on a 7940, 6 on a 7960 (reference §4.1).
    pub fn lines(self) -> usize {
        match self {
            Model::Cp7940 => 2,
            Model::Cp7960 => 6,
        }
    }

    /// The `N` of `loadInformationN` in XMLDefault.cnf.xml (reference §2.4).
    pub fn device_type(self) -> u16 {
        match self {
            Model::Cp7940 => 8,
            Model::Cp7960 => 7,
        }
    }

    /// The `model` attribute string (reference §2.4).
    pub fn model_string(self) -> &'static str {
        match self {
            Model::Cp7940 => "IP Phone 7940",
            Model::Cp7960 => "IP Phone 7960",
        }
    }

    /// `7940` or `7960`.
    pub fn number(self) -> &'static str {
        match self {
            Model::Cp7940 => "7940",
            Model::Cp7960 => "7960",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.number())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a supported model; use \"7940\" or \"7960\"")]
pub struct ModelError(pub String);

impl FromStr for Model {
    type Err = ModelError;

    /// `7940`, `7940G`, `CP-7940G`, `IP Phone 7940`, any case.
    fn from_str(input: &str) -> Result<Model, ModelError> {
        let upper = input.trim().to_ascii_uppercase();
        let core = upper
            .trim_start_matches("IP PHONE ")
            .trim_start_matches("CP-")
            .trim_end_matches('G');
        match core {
            "7940" => Ok(Model::Cp7940),
            "7960" => Ok(Model::Cp7960),
            _ => Err(ModelError(input.to_string())),
        }
    }
}

/// The kinds of per-phone files, by the prefix of their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneFile {
    /// `CTLSEP<MAC>.tlv`: the certificate trust list (optional; not served).
    TrustList,
    /// `SEP<MAC>.cnf.xml`: read by the UAL and SCCP.
    SepXml,
    /// `SEP<MAC>.cnf`: the old binary SCCP file.
    SepBinary,
    /// `SIP<MAC>.cnf`: the SIP application's phone file.
    SipCnf,
    /// `MGC<MAC>.cnf`: MGCP.
    MgcpCnf,
}

impl PhoneFile {
    /// Which phone a requested file name is for, if it carries a MAC.
    /// The MAC is matched in any case (reference §1.5); a leading directory
    /// (`./`, `tftp_cfg_dir`) is ignored.
    pub fn parse(path: &str) -> Option<(PhoneFile, Mac)> {
        let file = path.rsplit('/').next().unwrap_or(path);
        let upper = file.to_ascii_uppercase();
        let (kind, rest) = [
            ("CTLSEP", PhoneFile::TrustList),
            ("SEP", PhoneFile::SepXml),
            ("SIP", PhoneFile::SipCnf),
            ("MGC", PhoneFile::MgcpCnf),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| upper.strip_prefix(prefix).map(|rest| (kind, rest)))?;
        let (hex, extension) = (rest.get(..12)?, rest.get(12..)?);
        let kind = match (kind, extension) {
            (PhoneFile::TrustList, ".TLV") => PhoneFile::TrustList,
            (PhoneFile::SepXml, ".CNF.XML") => PhoneFile::SepXml,
            (PhoneFile::SepXml, ".CNF") => PhoneFile::SepBinary,
            (PhoneFile::SipCnf, ".CNF") => PhoneFile::SipCnf,
            (PhoneFile::MgcpCnf, ".CNF") => PhoneFile::MgcpCnf,
            _ => return None,
        };
        Some((kind, hex.parse().ok()?))
    }

    /// The file's name for `mac`, spelled as the phone asks for it.
    pub fn name(self, mac: Mac) -> String {
        match self {
            PhoneFile::TrustList => format!("CTLSEP{mac}.tlv"),
            PhoneFile::SepXml => format!("SEP{mac}.cnf.xml"),
            PhoneFile::SepBinary => format!("SEP{mac}.cnf"),
            PhoneFile::SipCnf => format!("SIP{mac}.cnf"),
            PhoneFile::MgcpCnf => format!("MGC{mac}.cnf"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mac_notation() {
        let expected = Mac([0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF]);
        for input in [
            "00:18:B9:FF:FF:FF",
            "00:18:b9:ff:ff:ff",
            "00-18-B9-FF-FF-FF",
            "0018.b9ff.ffff",
            "0018b9ffffff",
            "SEP0018B9FFFFFF",
            "sep0018b9ffffff",
            " 0018B9FFFFFF ",
        ] {
            assert_eq!(input.parse::<Mac>(), Ok(expected), "{input}");
        }
        assert_eq!(expected.to_string(), "0018B9FFFFFF");
        assert_eq!(expected.colons(), "00:18:B9:FF:FF:FF");
        for bad in [
            "",
            "0018b9fffff",
            "0018b9ffffffff",
            "00:18:b9:ff:ff:fg",
            "00:18-b9:ff:ff:ff",
            "0018:b9ff:ffff",
            "SIP0018B9FFFFFF",
            "00 18 b9 ff ff ff",
        ] {
            let error = bad.parse::<Mac>().unwrap_err();
            assert!(error.to_string().contains("00:18:B9:FF:FF:FF"), "{bad}");
        }
    }

    #[test]
    fn models() {
        for (input, model) in [
            ("7940", Model::Cp7940),
            ("7940G", Model::Cp7940),
            ("CP-7960G", Model::Cp7960),
            ("IP Phone 7960", Model::Cp7960),
            ("cp-7940g", Model::Cp7940),
        ] {
            assert_eq!(input.parse::<Model>(), Ok(model));
        }
        assert!("7961".parse::<Model>().is_err());
        assert_eq!((Model::Cp7940.lines(), Model::Cp7960.lines()), (2, 6));
        assert_eq!(Model::Cp7940.device_type(), 8);
        assert_eq!(Model::Cp7960.model_string(), "IP Phone 7960");
    }

    #[test]
    fn phone_files_from_requested_names() {
        let mac: Mac = "000E84C060A6".parse().unwrap();
        for (name, kind) in [
            ("CTLSEP000E84C060A6.tlv", PhoneFile::TrustList),
            ("SEP000E84C060A6.cnf.xml", PhoneFile::SepXml),
            ("SEP000E84C060A6.cnf", PhoneFile::SepBinary),
            ("SIP000E84C060A6.cnf", PhoneFile::SipCnf),
            ("./SIP000E84C060A6.cnf", PhoneFile::SipCnf),
            ("sip000e84c060a6.CNF", PhoneFile::SipCnf),
            ("MGC000E84C060A6.cnf", PhoneFile::MgcpCnf),
        ] {
            assert_eq!(PhoneFile::parse(name), Some((kind, mac)), "{name}");
        }
        assert_eq!(PhoneFile::SipCnf.name(mac), "SIP000E84C060A6.cnf");
        assert_eq!(PhoneFile::SepXml.name(mac), "SEP000E84C060A6.cnf.xml");
        for other in [
            "SIPDefault.cnf",
            "SEPDefault.cnf",
            "SIP000E84C060A6.cnf.bak",
            "XMLDefault.cnf.xml",
            "SIP000E84C060AZ.cnf",
        ] {
            assert_eq!(PhoneFile::parse(other), None, "{other}");
        }
    }
}
