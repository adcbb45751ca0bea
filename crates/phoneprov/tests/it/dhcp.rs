//! `phoneprov serve` with `[dhcp]` on a high port of the loopback (the test
//! mode: answers go straight back to the sender), spoken to by a small
//! DHCP client built on dhcproto, as a 7940 would.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use dhcproto::v4::MessageType;

use crate::dhcp_wire::{decode, dora, option, packet};
use crate::harness::{
    arg, assert_contains, curl_get, poll, printed, require, run_binary, Raw, Server, Tree,
    LOOPBACK_SERVE,
};

const PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF];
/// Listed with a reservation.
const RESERVED_PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0x00, 0x00, 0x02];
const RESERVED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 50);
const PC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// A site whose DHCP server (known mode, port 0: the kernel picks a high
/// one) serves 127.0.0.100–127.0.0.110 of the loopback network.
fn site(base: &Path) -> PathBuf {
    std::fs::create_dir_all(base.join("firmware")).unwrap();
    let config = base.join("phoneprov.toml");
    std::fs::write(
        &config,
        format!(
            r#"{LOOPBACK_SERVE}router = "127.0.0.254"
dns = ["127.0.0.254"]
domain = "office.example"
lease_time = "1d"
[[phone]]
mac = "00:18:B9:FF:FF:FF"
model = "7940"
description = "Reception"
[[phone]]
mac = "00:18:B9:00:00:02"
model = "7960"
ip = "127.0.0.50"
"#
        ),
    )
    .unwrap();
    config
}

/// DISCOVER then REQUEST from `mac`; returns the acknowledged address.
fn lease(client: &Raw, mac: [u8; 6]) -> Ipv4Addr {
    let (offer, ack) = dora(client, mac, SERVER, |_| {});
    assert_eq!(decode(&offer).siaddr(), SERVER);
    assert_eq!(option(&offer, 150), Some(SERVER.octets().to_vec()));
    assert_eq!(option(&offer, 66), Some(b"127.0.0.1".to_vec()));
    assert_eq!(option(&offer, 3), Some(vec![127, 0, 0, 254]));
    assert_eq!(option(&offer, 1), Some(vec![255, 0, 0, 0]));
    decode(&ack).yiaddr()
}

fn client_of(server: &Server) -> Raw {
    Raw::new(SocketAddr::from((SERVER, server.dhcp_port())))
}

#[test]
fn a_7940_gets_an_address_and_the_tftp_server_and_keeps_it_across_a_restart() {
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    let client = client_of(&server);
    let ip = lease(&client, PHONE);
    assert!(
        (Ipv4Addr::new(127, 0, 0, 100)..=Ipv4Addr::new(127, 0, 0, 110)).contains(&ip),
        "{ip} is outside the pool"
    );
    server.wait_text(0, &format!("00:18:B9:FF:FF:FF  DHCP ACK {ip} (lease 1d)"));
    assert_eq!(lease(&client, RESERVED_PHONE), RESERVED);

    let listed = printed(&run_binary(&["--config", arg(&config), "leases"]));
    let row = listed
        .lines()
        .find(|l| l.starts_with("00:18:B9:FF:FF:FF"))
        .unwrap_or_else(|| panic!("no lease listed:\n{listed}"));
    assert_contains(
        row,
        &[
            &ip.to_string(),
            "Reception",
            "bound",
            "Cisco Systems, Inc. IP Phone CP-7940G",
        ],
    );

    // Killed, not stopped: the lease was durable before the ACK.
    drop(server);
    let server = Server::serve(&config);
    assert_eq!(lease(&client_of(&server), PHONE), ip);
}

#[test]
fn an_unlisted_device_gets_no_answer_in_known_mode() {
    let tree = Tree::new();
    let server = Server::serve(&site(tree.base()));
    let client = client_of(&server);
    client.send(&packet(MessageType::Discover, PC, |_| {}));
    client.expect_silence("a DISCOVER from a MAC not in [[phone]]");
}

/// `phoneprov status` follows a phone from its lease through its TFTP
/// requests: one without a MAC in its name is tied to the phone by the
/// address phoneprov gave it, and a missing image is named with its fix.
#[test]
fn status_follows_a_phone_from_its_lease_through_its_requests() {
    if !require("curl") {
        return;
    }
    let tree = Tree::new();
    let config = site(tree.base());
    let server = Server::serve(&config);
    let ip = lease(&client_of(&server), PHONE).to_string();
    for name in [
        "CTLSEP0018B9FFFFFF.tlv",
        "SEP0018B9FFFFFF.cnf.xml",
        "P0S3-8-12-00.loads",
    ] {
        curl_get(&server, "30", &["--interface", &ip], name, &tree.out(name));
    }
    let status = || printed(&run_binary(&["--config", arg(&config), "status"]));
    let text = poll(
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        || Some(status()).filter(|text| text.contains("P0S3-8-12-00.loads")),
    )
    .unwrap_or_else(|| {
        panic!(
            "the .loads request never reached the phone's status:\n{}",
            status()
        )
    });
    assert_contains(
        &text,
        &[
            "00:18:B9:FF:FF:FF  Reception: the loader compares P0S3-8-12-00 with the firmware in flash",
            "PROBLEM: asked for P0S3-8-12-00.loads, which is not there",
            "fix: Import the firmware release that holds the file",
            "00:18:B9:00:00:02  listed: not seen yet",
        ],
    );
    assert!(
        !text.contains("CTLSEP"),
        "the trust list is a normal miss:\n{text}"
    );
}
