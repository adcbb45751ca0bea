//! What the operator configures in `[dhcp]`, already parsed from the file;
//! [`crate::Engine::new`] checks it against the rules below.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::client::HwAddr;

/// Whom the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only the phones listed in `[[phone]]`; everyone else is left to the
    /// network's own DHCP server, and never refused.
    Known,
    /// The listed phones, and phones that look like Cisco phones (by MAC
    /// prefix or vendor class), so that they can be discovered and adopted.
    Cisco,
    /// Everyone: a complete server for a network of its own.
    Pool,
    /// Nobody.
    Off,
}

/// The addresses handed out to clients without a reservation, first to last
/// inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl Pool {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }
}

/// How a Cisco phone is recognised before anyone lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiscoDetection {
    /// MAC prefixes (OUIs) of Cisco phones.
    pub ouis: Vec<[u8; 3]>,
    /// Start of the vendor class (option 60) a Cisco phone sends.
    pub vendor_class_prefix: String,
}

/// Cisco OUIs seen on 7940/7960 phones: 00:0E:84, 00:11:BB, 00:1D:A2 and
/// 00:23:EB in real TFTP logs (reference §1.2), 00:18:B9 in the DHCP issue's
/// example, 00:15:F9 and 00:1B:D4 from deployments; all seven are assigned to
/// Cisco Systems in the IEEE registry. Cisco has hundreds of OUIs, so the
/// vendor class is the other half of the test.
pub const CISCO_PHONE_OUIS: [[u8; 3]; 7] = [
    [0x00, 0x0E, 0x84],
    [0x00, 0x11, 0xBB],
    [0x00, 0x15, 0xF9],
    [0x00, 0x18, 0xB9],
    [0x00, 0x1B, 0xD4],
    [0x00, 0x1D, 0xA2],
    [0x00, 0x23, 0xEB],
];

/// What a 7940/7960 sends in option 60 before its model, e.g.
/// `Cisco Systems, Inc. IP Phone CP-7940G` plus a NUL (reference §2.5).
pub const CISCO_PHONE_VENDOR_CLASS: &str = "Cisco Systems, Inc. IP Phone";

impl Default for CiscoDetection {
    fn default() -> CiscoDetection {
        CiscoDetection {
            ouis: CISCO_PHONE_OUIS.to_vec(),
            vendor_class_prefix: CISCO_PHONE_VENDOR_CLASS.to_owned(),
        }
    }
}

impl CiscoDetection {
    pub fn looks_like_a_phone(&self, hwaddr: HwAddr, vendor_class: Option<&str>) -> bool {
        self.ouis.contains(&hwaddr.oui())
            || vendor_class.is_some_and(|class| class.starts_with(&self.vendor_class_prefix))
    }
}

/// The `[dhcp]` section, validated by [`crate::Engine::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpSettings {
    pub mode: Mode,
    /// This server's address on the phones' network: the server identifier
    /// (option 54). With `subnet_mask` it names the one network served.
    pub server: Ipv4Addr,
    /// Option 1.
    pub subnet_mask: Ipv4Addr,
    /// Option 3.
    pub router: Option<Ipv4Addr>,
    /// Option 6.
    pub dns: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain: Option<String>,
    /// Option 42.
    pub ntp: Vec<Ipv4Addr>,
    /// Option 51.
    pub lease_time: Duration,
    /// T1, option 58; half the lease when unset.
    pub renew_after: Option<Duration>,
    /// T2, option 59; seven eighths of the lease when unset.
    pub rebind_after: Option<Duration>,
    /// Option 150, in order of preference; the first is also `siaddr`. When
    /// empty, this server.
    pub tftp_servers: Vec<Ipv4Addr>,
    /// Option 66; the first TFTP server's address when unset.
    pub tftp_server_name: Option<String>,
    pub pool: Option<Pool>,
    /// A fixed address per phone (`ip` in `[[phone]]`).
    pub reservations: BTreeMap<HwAddr, Ipv4Addr>,
    /// The phones listed in `[[phone]]` (those with a reservation are listed too).
    pub known: BTreeSet<HwAddr>,
    /// Refuse (DHCPNAK) a client asking for an address this server did not
    /// give it. Only for a network this server alone serves.
    pub authoritative: bool,
    pub cisco: CiscoDetection,
    /// How long an offered address is kept for the client that was offered it.
    pub offer_hold: Duration,
    /// How long a declined (in use elsewhere) address is not offered.
    pub decline_hold: Duration,
}

impl DhcpSettings {
    /// Settings with the defaults: one-day leases, no pool, no options
    /// beyond the mask, offers held for a minute, declined addresses for an hour.
    pub fn new(mode: Mode, server: Ipv4Addr, subnet_mask: Ipv4Addr) -> DhcpSettings {
        DhcpSettings {
            mode,
            server,
            subnet_mask,
            router: None,
            dns: Vec::new(),
            domain: None,
            ntp: Vec::new(),
            lease_time: Duration::from_secs(86_400),
            renew_after: None,
            rebind_after: None,
            tftp_servers: Vec::new(),
            tftp_server_name: None,
            pool: None,
            reservations: BTreeMap::new(),
            known: BTreeSet::new(),
            authoritative: false,
            cisco: CiscoDetection::default(),
            offer_hold: Duration::from_secs(60),
            decline_hold: Duration::from_secs(3600),
        }
    }
}

/// A setting the engine cannot work with; each names the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "subnet mask {0} is not a run of 1 bits followed by 0 bits (or leaves no room for clients)"
    )]
    SubnetMask(Ipv4Addr),
    #[error("the server address {0} is the network or broadcast address of its subnet")]
    ServerAddress(Ipv4Addr),
    #[error("pool {first}–{last}: both ends must be in the server's subnet {network}/{prefix}, first before last, and not the network or broadcast address")]
    Pool {
        first: Ipv4Addr,
        last: Ipv4Addr,
        network: Ipv4Addr,
        prefix: u32,
    },
    #[error("mode = \"pool\" needs `pool = [first, last]`")]
    PoolMissing,
    #[error("the reservation {ip} for {mac} is outside the server's subnet, or is its network or broadcast address, or the server's, router's, a DNS, NTP or TFTP server's")]
    Reservation { mac: HwAddr, ip: Ipv4Addr },
    #[error("{ip} is reserved for both {first} and {second}")]
    SharedReservation {
        ip: Ipv4Addr,
        first: HwAddr,
        second: HwAddr,
    },
    #[error("lease_time must be between 1 minute and 10 years, with renew (T1) < rebind (T2) < lease time")]
    LeaseTimes,
    #[error("at most 63 TFTP servers fit in option 150")]
    TooManyTftpServers,
    #[error("`{key}` must be 1 to 255 bytes")]
    Text { key: &'static str },
}
