//! What a simulated phone reports as it boots: one [`PhoneEvent`] per step,
//! so a caller (a test, `phoneprov sim`, the demo) can show its progress.

use std::fmt;
use std::net::Ipv4Addr;

/// Where the phone found its TFTP server in the DHCP answer (reference §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TftpSource {
    /// Option 150, Cisco's list of TFTP servers.
    Option150,
    /// Option 66, the TFTP server as text (SIP before 6.0 ignores it).
    Option66,
    /// The `siaddr` (next-server) field.
    Siaddr,
}

impl fmt::Display for TftpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TftpSource::Option150 => "option 150",
            TftpSource::Option66 => "option 66",
            TftpSource::Siaddr => "siaddr",
        })
    }
}

/// One step of a phone's life, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEvent {
    /// The phone starts the images in its flash.
    PoweredOn {
        loader: String,
        app: String,
    },
    /// DISCOVER went unanswered this many times; the phone keeps asking.
    DhcpNoAnswer {
        tries: u32,
    },
    /// The phone has an address and knows its TFTP server.
    DhcpBound {
        ip: Ipv4Addr,
        tftp: Ipv4Addr,
        from: TftpSource,
    },
    /// A TFTP read request for `file` went out.
    Requested {
        file: String,
    },
    Received {
        file: String,
        bytes: usize,
    },
    /// The server answered with a TFTP error (usually "file not found").
    NotFound {
        file: String,
        message: String,
    },
    /// No answer after every retry, from two source ports.
    TftpTimeout {
        file: String,
    },
    /// The loader's hunt found this configuration file first; it names `load`.
    ConfigFound {
        file: String,
        load: Option<String>,
    },
    /// Nothing in the hunt named a load: the phone runs what is in flash.
    HuntFoundNothing,
    /// A configuration names something that is not a load name.
    BadLoadName {
        file: String,
        name: String,
    },
    /// The `.loads` says the flash already holds `load`.
    UpToDate {
        load: String,
    },
    /// An image was written to flash.
    Flashed {
        file: String,
        bytes: usize,
    },
    /// An image was fetched but not written, and why.
    ImageRefused {
        file: String,
        why: String,
    },
    /// An image the upgrade needs could not be fetched.
    ImageMissing {
        file: String,
    },
    /// After a failed upgrade the phone runs its old firmware.
    KeptFirmware {
        loader: String,
        app: String,
    },
    Rebooting {
        why: String,
    },
    /// The SIP application read its configuration.
    SipConfigured {
        proxy: String,
        lines: usize,
        sync: String,
    },
    /// The SIP configuration lists no line: the phone shows "Unprovisioned".
    Unprovisioned,
    Registered {
        line: String,
        expires: u32,
    },
    RegisterFailed {
        line: String,
        why: String,
    },
    /// The SCCP application is up; it would now talk to a CallManager.
    RunningSccp {
        load: String,
    },
    /// A NOTIFY with `Event: check-sync` arrived and was answered 200.
    CheckSync {
        line: String,
    },
    /// syncinfo.xml was read after a check-sync.
    SyncInfo {
        found: Option<String>,
        mine: String,
    },
}

impl fmt::Display for PhoneEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PhoneEvent::*;
        match self {
            PoweredOn { loader, app } if loader == app => write!(f, "powered on, flash {app}"),
            PoweredOn { loader, app } => write!(f, "powered on, flash loader {loader}, app {app}"),
            DhcpNoAnswer { tries } => write!(f, "DHCP: no answer to {tries} DISCOVERs"),
            DhcpBound { ip, tftp, from } => write!(f, "DHCP: {ip}, TFTP {tftp} ({from})"),
            Requested { file } => write!(f, "TFTP: asking for {file}"),
            Received { file, bytes } => write!(f, "TFTP: got {file} ({bytes} B)"),
            NotFound { file, message } => write!(f, "TFTP: {file}: {message}"),
            TftpTimeout { file } => write!(f, "TFTP: {file}: TFTP Timeout"),
            ConfigFound {
                file,
                load: Some(load),
            } => write!(f, "{file} names {load}"),
            ConfigFound { file, load: None } => write!(f, "{file} names no load"),
            HuntFoundNothing => {
                f.write_str("no configuration file found: running what is in flash")
            }
            BadLoadName { file, name } => write!(f, "{file}: {name:?} is not a load name"),
            UpToDate { load } => write!(f, "flash already holds {load}"),
            Flashed { file, bytes } => write!(f, "flashed {file} ({bytes} B)"),
            ImageRefused { file, why } => write!(f, "refused {file}: {why}"),
            ImageMissing { file } => write!(f, "upgrade failed: {file} is missing"),
            KeptFirmware { loader, app } if loader == app => write!(f, "kept firmware {app}"),
            KeptFirmware { loader, app } => write!(f, "kept firmware: loader {loader}, app {app}"),
            Rebooting { why } => write!(f, "rebooting: {why}"),
            SipConfigured { proxy, lines, sync } => {
                write!(
                    f,
                    "SIP configured: proxy {proxy}, {lines} line(s), sync {sync}"
                )
            }
            Unprovisioned => f.write_str("Unprovisioned: no line in the SIP configuration"),
            Registered { line, expires } => write!(f, "line {line} registered for {expires} s"),
            RegisterFailed { line, why } => write!(f, "line {line} not registered: {why}"),
            RunningSccp { load } => write!(f, "running SCCP {load}"),
            CheckSync { line } => write!(f, "check-sync NOTIFY for line {line} answered 200"),
            SyncInfo {
                found: Some(found),
                mine,
            } => {
                write!(
                    f,
                    "syncinfo.xml says SYNC {found}, the phone runs sync {mine}"
                )
            }
            SyncInfo { found: None, mine } => {
                write!(
                    f,
                    "syncinfo.xml has no SYNC for this image, the phone runs sync {mine}"
                )
            }
        }
    }
}
