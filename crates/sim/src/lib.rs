//! Simulated Cisco 7940/7960 phones, for tests, the demo and load benchmarks.
//!
//! A simulated phone talks to phoneprov over the wire like a real one, using
//! the protocol crates' state machines and parsers; it never links the
//! server. [`Phone::boot`] runs DHCP, the TFTP requests of its firmware
//! family, flashing and reboots, then REGISTER on SIP, reporting each step
//! as a [`PhoneEvent`]; [`Phone::await_check_sync`] answers phoneprov's
//! check-sync NOTIFY. The `tftp-storm` binary makes a thousand phones fetch
//! the SIP 8.12 boot set at once.

mod dhcp;
mod event;
pub mod firmware;
pub mod office;
mod phone;
mod sip;
pub mod tftp;

pub use dhcp::DhcpError;
pub use event::{PhoneEvent, TftpSource};
pub use phone::{
    AfterCheckSync, BootError, Family, Flash, FlashError, Network, Phone, Running, Timing,
};

/// The phone's MAC address as it appears in file names: twelve upper-case hex
/// digits. Simulated phone `index` (from 1) gets `0018B9` (a Cisco OUI)
/// followed by the index in six hex digits, e.g. 1 → `0018B9000001`.
pub fn phone_mac(index: u32) -> String {
    format!("0018B9{:06X}", index & 0xFF_FFFF)
}

/// The SIP 8.12 load of a 7940/7960: the `.loads` descriptor and its two images.
pub const SIP_8_12_IMAGES: [&str; 3] =
    ["P0S3-8-12-00.loads", "P003-8-12-00.sbn", "P0S3-8-12-00.sb2"];

/// What a 7940/7960 on SIP 8.12 fetches over TFTP when it boots, in the order
/// it asks: the shared and its own configuration, the XML defaults, then the
/// load named in the configuration (a phone that is already on it stops
/// there; one being upgraded, as here, goes on to the images).
pub fn sip_8_12_boot_set(mac: &str) -> Vec<String> {
    let mut files = vec![
        "SIPDefault.cnf".to_string(),
        format!("SIP{mac}.cnf"),
        "XMLDefault.cnf.xml".to_string(),
    ];
    files.extend(SIP_8_12_IMAGES.iter().map(|name| name.to_string()));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_in_phone_order() {
        let mac = phone_mac(0x2A);
        assert_eq!(mac, "0018B900002A");
        assert_eq!(
            sip_8_12_boot_set(&mac),
            [
                "SIPDefault.cnf",
                "SIP0018B900002A.cnf",
                "XMLDefault.cnf.xml",
                "P0S3-8-12-00.loads",
                "P003-8-12-00.sbn",
                "P0S3-8-12-00.sb2",
            ]
        );
    }
}
