//! Which phone is at an IP address, from the kernel's neighbour (ARP) table:
//! the last resort for a request whose file name carries no MAC, such as
//! `OS79XX.TXT`.

use std::net::IpAddr;

use phoneprov_cisco::Mac;

/// The MAC the kernel has learnt for `ip`, if any (IPv4 only).
pub fn mac_of(ip: IpAddr) -> Option<Mac> {
    let table = std::fs::read_to_string("/proc/net/arp").ok()?;
    find(&table, ip)
}

/// Looks `ip` up in the text of /proc/net/arp: a header line, then
/// `IP address  HW type  Flags  HW address  Mask  Device` per neighbour.
fn find(table: &str, ip: IpAddr) -> Option<Mac> {
    let wanted = ip.to_string();
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let complete = fields.get(2).is_some_and(|flags| *flags != "0x0");
        (fields.first() == Some(&wanted.as_str()) && complete)
            .then(|| fields.get(3)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "IP address       HW type     Flags       HW address            Mask     Device
10.99.0.50       0x1         0x2         00:18:b9:ff:ff:ff     *        hx-s0
10.99.0.51       0x1         0x0         00:00:00:00:00:00     *        hx-s0
";

    #[test]
    fn finds_complete_entries_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            find(TABLE, ip("10.99.0.50")),
            Some("0018B9FFFFFF".parse().unwrap())
        );
        assert_eq!(find(TABLE, ip("10.99.0.51")), None);
        assert_eq!(find(TABLE, ip("10.99.0.5")), None);
        assert_eq!(find("", ip("10.99.0.50")), None);
    }
}
