//! One test per message type, client state, mode and reply rule.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Flags, MessageType, OptionCode};

use super::*;
use crate::lease::MemoryLeases;
use crate::testing::*;
use crate::Destination;

/// Decides one packet and applies its changes, as the driver would.
fn run(engine: &Engine, table: &mut MemoryLeases, packet: &[u8], now: SystemTime) -> Decision {
    run_from(engine, table, packet, from_client(), now)
}

fn run_from(
    engine: &Engine,
    table: &mut MemoryLeases,
    packet: &[u8],
    source: Source,
    now: SystemTime,
) -> Decision {
    let decision = engine.decide(packet, source, now, table, &mut NewLeaseBudget::new(1000));
    for change in &decision.changes {
        table.apply(change);
    }
    decision
}

fn reply(decision: &Decision) -> &Reply {
    decision
        .reply
        .as_ref()
        .unwrap_or_else(|| panic!("no reply: {:?}", decision.event))
}

fn why(decision: &Decision) -> IgnoreReason {
    match &decision.event {
        DhcpEvent::Ignored { why } => why.clone(),
        other => panic!("not ignored: {other:?}"),
    }
}

/// Decides one packet against an empty lease table, applying nothing.
fn decide_fresh(engine: &Engine, packet: &[u8]) -> Decision {
    engine.decide(
        packet,
        from_client(),
        start(),
        &MemoryLeases::new(),
        &mut NewLeaseBudget::new(9),
    )
}

/// The codes of a reply's options, in the order they were written.
fn option_codes(bytes: &[u8]) -> Vec<u8> {
    options(bytes).iter().map(|(c, _)| *c).collect()
}

/// An engine in `mode` whose test settings `edit` has changed.
fn engine_with(mode: Mode, edit: impl FnOnce(&mut DhcpSettings)) -> Engine {
    let mut s = settings(mode);
    edit(&mut s);
    Engine::new(s).unwrap()
}

/// A pool-mode engine with only 10.0.0.100 and .101 to give.
fn two_address_pool() -> Engine {
    engine_with(Mode::Pool, |s| {
        s.pool = Some(Pool {
            first: Ipv4Addr::new(10, 0, 0, 100),
            last: Ipv4Addr::new(10, 0, 0, 101),
        })
    })
}

fn message_type(bytes: &[u8]) -> u8 {
    option(bytes, 53).unwrap()[0]
}

/// DISCOVER then REQUEST (selecting) for `mac`: returns the acked address.
fn bind(engine: &Engine, table: &mut MemoryLeases, mac: HwAddr, now: SystemTime) -> Ipv4Addr {
    let offer = run(engine, table, &discover_7940(mac), now);
    let ip = yiaddr(&reply(&offer).bytes);
    let request = packet(MessageType::Request, mac, |m| {
        set_requested(m, ip);
        set_server_id(m, SERVER);
    });
    let ack = run(engine, table, &request, now);
    assert_eq!(message_type(&reply(&ack).bytes), 5, "{:?}", ack.event);
    ip
}

#[test]
fn a_7940_is_offered_its_reservation_with_the_options_it_asked_for_in_its_order() {
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let decision = run(&engine, &mut table, &discover_7940(PHONE), start());
    let bytes = &reply(&decision).bytes;
    assert_eq!(decision.event, DhcpEvent::Offered { ip: RESERVED });
    assert_eq!(bytes[0], 2, "BOOTREPLY");
    assert_eq!(yiaddr(bytes), RESERVED);
    assert_eq!(
        Ipv4Addr::new(bytes[20], bytes[21], bytes[22], bytes[23]),
        SERVER,
        "siaddr"
    );
    assert!(bytes.len() >= 300);
    let codes = option_codes(bytes);
    assert_eq!(codes, [53, 54, 1, 3, 6, 15, 42, 66, 150, 51, 58, 59]);
    assert_eq!(
        option(bytes, 150).unwrap(),
        [10, 0, 0, 2, 10, 0, 0, 3],
        "two TFTP servers, 8 bytes"
    );
    assert_eq!(option(bytes, 66).unwrap(), b"10.0.0.2", "no trailing NUL");
    assert_eq!(option(bytes, 51).unwrap(), 86_400u32.to_be_bytes());
    assert_eq!(option(bytes, 58).unwrap(), 43_200u32.to_be_bytes());
    assert_eq!(option(bytes, 59).unwrap(), 75_600u32.to_be_bytes());
    assert_eq!(option(bytes, 15).unwrap(), b"office.example");
    let sender = decision.sender.unwrap();
    assert_eq!(sender.standing, Standing::Listed);
    assert_eq!(
        sender.vendor_class.as_deref(),
        Some("Cisco Systems, Inc. IP Phone CP-7940G")
    );
    let lease = table.by_address(RESERVED).unwrap();
    assert_eq!(
        (lease.state, lease.expires),
        (LeaseState::Offered, start() + Duration::from_secs(60))
    );
    assert_eq!(
        lease.vendor_class.as_deref(),
        Some("Cisco Systems, Inc. IP Phone CP-7940G")
    );
}

#[test]
fn options_follow_the_client_s_order_and_phones_get_150_and_66_unasked() {
    let engine = engine(Mode::Known);
    let asked = packet(MessageType::Discover, LISTED, |m| {
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::TFTPServerAddress,
            OptionCode::DomainNameServer,
            OptionCode::SubnetMask,
        ]));
    });
    let decision = decide_fresh(&engine, &asked);
    let codes = option_codes(&reply(&decision).bytes);
    assert_eq!(codes, [53, 54, 150, 6, 1, 51, 58, 59, 66]);

    let silent = packet(MessageType::Discover, LISTED, |_| {});
    let decision = decide_fresh(&engine, &silent);
    let codes = option_codes(&reply(&decision).bytes);
    assert_eq!(codes, [53, 54, 1, 51, 58, 59, 150, 66]);
}

#[test]
fn a_pc_in_pool_mode_gets_only_what_it_asks_for() {
    let engine = engine(Mode::Pool);
    let pc = packet(MessageType::Discover, PC, |m| {
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::Router,
            OptionCode::DomainName,
        ]));
    });
    let decision = decide_fresh(&engine, &pc);
    let codes = option_codes(&reply(&decision).bytes);
    assert_eq!(codes, [53, 54, 3, 15, 1, 51, 58, 59]);
    assert_eq!(decision.sender.unwrap().standing, Standing::Stranger);
}

#[test]
fn known_mode_answers_listed_phones_only_and_never_refuses_anyone_else() {
    let engine = engine_with(Mode::Known, |s| s.authoritative = true);
    let mut table = MemoryLeases::new();
    assert_eq!(
        why(&run(
            &engine,
            &mut table,
            &discover_7940(UNLISTED_CISCO),
            start()
        )),
        IgnoreReason::NotListed
    );
    let init_reboot = packet(MessageType::Request, PC, |m| {
        set_requested(m, Ipv4Addr::new(192, 168, 1, 7))
    });
    assert_eq!(
        why(&run(&engine, &mut table, &init_reboot, start())),
        IgnoreReason::NotListed
    );
    assert!(table.is_empty());
    // A listed phone without a reservation gets a pool address.
    let offer = run(&engine, &mut table, &discover_7940(LISTED), start());
    assert_eq!(
        offer.event,
        DhcpEvent::Offered {
            ip: Ipv4Addr::new(10, 0, 0, 100)
        }
    );
}

#[test]
fn cisco_mode_discovers_cisco_phones_by_prefix_or_vendor_class() {
    let engine = engine(Mode::Cisco);
    let mut table = MemoryLeases::new();
    let by_oui = run(
        &engine,
        &mut table,
        &packet(MessageType::Discover, UNLISTED_CISCO, |_| {}),
        start(),
    );
    assert_eq!(by_oui.sender.unwrap().standing, Standing::Discovered);
    assert!(matches!(by_oui.event, DhcpEvent::Offered { .. }));
    let odd_mac = HwAddr::new([0x02, 0, 0, 0, 0, 9]);
    let by_class = run(&engine, &mut table, &discover_7940(odd_mac), start());
    assert_eq!(
        by_class.sender.as_ref().unwrap().standing,
        Standing::Discovered
    );
    assert_eq!(option(&reply(&by_class).bytes, 150).unwrap().len(), 8);
    assert_eq!(
        why(&run(
            &engine,
            &mut table,
            &packet(MessageType::Discover, PC, |_| {}),
            start()
        )),
        IgnoreReason::NotAPhone
    );
    assert_eq!(
        run(&engine, &mut table, &discover_7940(PHONE), start())
            .sender
            .unwrap()
            .standing,
        Standing::Listed
    );
}

#[test]
fn off_mode_answers_nobody() {
    let engine = engine(Mode::Off);
    let decision = decide_fresh(&engine, &discover_7940(PHONE));
    assert_eq!(why(&decision), IgnoreReason::Off);
}

#[test]
fn two_discovers_never_get_the_same_address() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let a = run(&engine, &mut table, &discover_7940(PC), start());
    let b = run(&engine, &mut table, &discover_7940(UNLISTED_CISCO), start());
    assert_ne!(yiaddr(&reply(&a).bytes), yiaddr(&reply(&b).bytes));
    // The same client asking again is offered the same address, unprobed.
    let again = run(
        &engine,
        &mut table,
        &discover_7940(PC),
        start() + Duration::from_secs(5),
    );
    assert_eq!(yiaddr(&reply(&again).bytes), yiaddr(&reply(&a).bytes));
    assert_eq!(a.check_unused, Some(yiaddr(&reply(&a).bytes)));
    assert_eq!(again.check_unused, None);
}

#[test]
fn the_requested_address_is_offered_when_free_and_in_the_pool() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let wants = |ip| packet(MessageType::Discover, PC, |m| set_requested(m, ip));
    let d = run(
        &engine,
        &mut table,
        &wants(Ipv4Addr::new(10, 0, 0, 107)),
        start(),
    );
    assert_eq!(
        d.event,
        DhcpEvent::Offered {
            ip: Ipv4Addr::new(10, 0, 0, 107)
        }
    );
    let mut table = MemoryLeases::new();
    for outside in [
        Ipv4Addr::new(10, 0, 0, 20),
        RESERVED,
        SERVER,
        Ipv4Addr::new(10, 0, 0, 255),
    ] {
        let d = run(&engine, &mut table, &wants(outside), start());
        assert_eq!(
            d.event,
            DhcpEvent::Offered {
                ip: Ipv4Addr::new(10, 0, 0, 100)
            },
            "{outside}"
        );
    }
}

#[test]
fn selecting_binds_the_offer() {
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PHONE, start());
    assert_eq!(ip, RESERVED);
    let lease = table.by_address(ip).unwrap();
    assert_eq!(
        (lease.state, lease.expires),
        (LeaseState::Bound, start() + Duration::from_secs(86_400))
    );
}

#[test]
fn a_phone_keeps_its_reservation_when_its_client_identifier_changes() {
    // udhcpc sends option 61 (01 + MAC); the phone's next DHCP client (new
    // firmware, or dhclient) sends none. The reservation is by MAC.
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let with_id = |m: &mut dhcproto::v4::Message| {
        let id = [&[1u8][..], &PHONE.octets()].concat();
        m.opts_mut().insert(DhcpOption::ClientIdentifier(id));
    };
    let offer = run(
        &engine,
        &mut table,
        &packet(MessageType::Discover, PHONE, with_id),
        start(),
    );
    assert_eq!(yiaddr(&reply(&offer).bytes), RESERVED);
    let request = packet(MessageType::Request, PHONE, |m| {
        with_id(m);
        set_requested(m, RESERVED);
        set_server_id(m, SERVER);
    });
    run(&engine, &mut table, &request, start());
    let later = start() + Duration::from_secs(60);
    assert_eq!(bind(&engine, &mut table, PHONE, later), RESERVED);
    let leases: Vec<&Lease> = table.iter().collect();
    assert_eq!(leases.len(), 1, "one lease for the phone: {leases:?}");
    assert_eq!(leases[0].client, ClientId::HwAddr(PHONE));
    assert_eq!(leases[0].state, LeaseState::Bound);
    // The client identifier alone does not carry a reservation over to
    // another MAC.
    let other = HwAddr::new([0x00, 0x18, 0xB9, 0x00, 0x00, 0x99]);
    let stranger = packet(MessageType::Request, other, |m| {
        set_requested(m, RESERVED);
    });
    let refused = run(&engine, &mut table, &stranger, later);
    assert!(refused.reply.is_none() || message_type(&reply(&refused).bytes) == 6);
    assert_eq!(table.by_address(RESERVED).unwrap().hwaddr, PHONE);
}

#[test]
fn selecting_another_server_lets_our_offer_go_quietly() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let offer = run(&engine, &mut table, &discover_7940(PC), start());
    let ip = yiaddr(&reply(&offer).bytes);
    let other = Ipv4Addr::new(10, 0, 0, 254);
    let request = packet(MessageType::Request, PC, |m| {
        set_requested(m, Ipv4Addr::new(10, 0, 0, 77));
        set_server_id(m, other);
    });
    let d = run(&engine, &mut table, &request, start());
    assert!(d.reply.is_none());
    assert_eq!(why(&d), IgnoreReason::ChoseAnotherServer(other));
    assert_eq!(table.by_address(ip).unwrap().state, LeaseState::Released);
}

#[test]
fn selecting_a_vanished_offer_is_refused_even_when_not_authoritative() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let request = packet(MessageType::Request, PC, |m| {
        set_requested(m, Ipv4Addr::new(10, 0, 0, 104));
        set_server_id(m, SERVER);
    });
    let d = run(&engine, &mut table, &request, start());
    assert_eq!(
        d.event,
        DhcpEvent::Naked {
            requested: Ipv4Addr::new(10, 0, 0, 104),
            why: NakReason::OfferGone
        }
    );
    let nak = reply(&d);
    assert_eq!(message_type(&nak.bytes), 6);
    assert_eq!(nak.destination, Destination::Broadcast);
    assert_eq!(yiaddr(&nak.bytes), Ipv4Addr::UNSPECIFIED);
    assert!(option(&nak.bytes, 51).is_none());
    assert!(table.is_empty());
}

#[test]
fn init_reboot_keeps_a_known_lease_and_refuses_others_only_when_authoritative() {
    let engine_of = |authoritative| engine_with(Mode::Pool, |s| s.authoritative = authoritative);
    let reboot = |ip| packet(MessageType::Request, PC, |m| set_requested(m, ip));
    for authoritative in [false, true] {
        let engine = engine_of(authoritative);
        let mut table = MemoryLeases::new();
        let ip = bind(&engine, &mut table, PC, start());
        let later = start() + Duration::from_secs(3600);
        let d = run(&engine, &mut table, &reboot(ip), later);
        assert_eq!(
            d.event,
            DhcpEvent::Acked {
                ip,
                state: RequestState::InitReboot,
                expires: later + Duration::from_secs(86_400)
            }
        );

        let elsewhere = Ipv4Addr::new(192, 168, 1, 7);
        let unknown = Ipv4Addr::new(10, 0, 0, 108);
        for (asked, reason) in [
            (elsewhere, NakReason::WrongNetwork),
            (unknown, NakReason::UnknownLease),
        ] {
            let d = run(&engine, &mut table, &reboot(asked), later);
            if authoritative {
                assert_eq!(
                    d.event,
                    DhcpEvent::Naked {
                        requested: asked,
                        why: reason
                    }
                );
                assert_eq!(reply(&d).destination, Destination::Broadcast);
            } else {
                assert_eq!(why(&d), IgnoreReason::NotAuthoritative(reason));
                assert!(d.reply.is_none());
            }
            assert!(d.changes.is_empty());
        }
    }
}

#[test]
fn renewing_is_unicast_to_ciaddr_and_rebinding_is_told_apart_by_broadcast() {
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PHONE, start());
    let renew = packet(MessageType::Request, PHONE, |m| {
        m.set_ciaddr(ip);
    });
    let unicast = Source {
        from: SocketAddrV4::new(ip, 68),
        broadcast: false,
    };
    let t1 = start() + Duration::from_secs(43_200);
    let d = run_from(&engine, &mut table, &renew, unicast, t1);
    assert_eq!(
        d.event,
        DhcpEvent::Acked {
            ip,
            state: RequestState::Renewing,
            expires: t1 + Duration::from_secs(86_400)
        }
    );
    let ack = reply(&d);
    assert_eq!(ack.destination, Destination::Unicast { ip, hwaddr: PHONE });
    assert_eq!(&ack.bytes[12..16], &ip.octets(), "ciaddr echoed in the ACK");
    let t2 = t1 + Duration::from_secs(80_000);
    let d = run_from(
        &engine,
        &mut table,
        &renew,
        Source {
            broadcast: true,
            ..unicast
        },
        t2,
    );
    assert!(matches!(
        d.event,
        DhcpEvent::Acked {
            state: RequestState::Rebinding,
            ..
        }
    ));
    assert_eq!(
        table.by_address(ip).unwrap().expires,
        t2 + Duration::from_secs(86_400)
    );
}

#[test]
fn a_renewal_without_vendor_class_keeps_the_recorded_one() {
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PHONE, start());
    let renew = packet(MessageType::Request, PHONE, |m| {
        m.set_ciaddr(ip);
    });
    let d = run(
        &engine,
        &mut table,
        &renew,
        start() + Duration::from_secs(60),
    );
    assert!(matches!(d.event, DhcpEvent::Acked { .. }));
    let lease = table.by_address(ip).unwrap();
    assert_eq!(
        lease.vendor_class.as_deref(),
        Some("Cisco Systems, Inc. IP Phone CP-7940G")
    );
}

#[test]
fn renewing_someone_else_s_address_is_not_acked() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PC, start());
    let thief = packet(MessageType::Request, UNLISTED_CISCO, |m| {
        m.set_ciaddr(ip);
    });
    let d = run(&engine, &mut table, &thief, start());
    assert_eq!(
        why(&d),
        IgnoreReason::NotAuthoritative(NakReason::UnknownLease)
    );
    assert_eq!(table.by_address(ip).unwrap().client, ClientId::HwAddr(PC));
}

#[test]
fn a_declined_address_is_held_back_then_offered_again() {
    let engine = two_address_pool();
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PC, start());
    let decline = packet(MessageType::Decline, PC, |m| {
        set_requested(m, ip);
        set_server_id(m, SERVER);
    });
    let d = run(&engine, &mut table, &decline, start());
    assert_eq!(d.event, DhcpEvent::Declined { ip });
    assert!(d.reply.is_none());
    // The decliner and everyone else get other addresses; then none is left.
    assert_ne!(bind(&engine, &mut table, PC, start()), ip);
    let d = run(&engine, &mut table, &discover_7940(UNLISTED_CISCO), start());
    assert_eq!(why(&d), IgnoreReason::NoAddress);
    // After the hold, the address is offered again.
    let later = start() + Duration::from_secs(3601);
    let d = run(&engine, &mut table, &discover_7940(UNLISTED_CISCO), later);
    assert_eq!(d.event, DhcpEvent::Offered { ip });
    assert_eq!(d.check_unused, Some(ip));
}

#[test]
fn a_decline_for_an_address_the_client_does_not_hold_changes_nothing() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PC, start());
    let decline = packet(MessageType::Decline, UNLISTED_CISCO, |m| {
        set_requested(m, ip)
    });
    assert_eq!(
        why(&run(&engine, &mut table, &decline, start())),
        IgnoreReason::NotItsAddress
    );
    assert_eq!(table.by_address(ip).unwrap().state, LeaseState::Bound);
}

#[test]
fn a_released_address_returns_to_its_client_and_is_reused_last() {
    let engine = two_address_pool();
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PC, start());
    let release = packet(MessageType::Release, PC, |m| {
        m.set_ciaddr(ip);
        set_server_id(m, SERVER);
    });
    let d = run(&engine, &mut table, &release, start());
    assert_eq!(d.event, DhcpEvent::Released { ip });
    assert!(d.reply.is_none());
    assert_eq!(table.by_address(ip).unwrap().state, LeaseState::Released);
    // Someone else gets the never-used address first...
    let other = HwAddr::new([2, 0, 0, 0, 0, 1]);
    assert_ne!(
        yiaddr(&reply(&run(&engine, &mut table, &discover_7940(other), start())).bytes),
        ip
    );
    // ... the releasing client gets its own back.
    assert_eq!(
        run(&engine, &mut table, &discover_7940(PC), start()).event,
        DhcpEvent::Offered { ip }
    );
}

#[test]
fn inform_gets_options_and_no_lease() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let here = Ipv4Addr::new(10, 0, 0, 33);
    let inform = packet(MessageType::Inform, PC, |m| {
        m.set_ciaddr(here);
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::DomainNameServer,
            OptionCode::AddressLeaseTime,
        ]));
    });
    let d = run(&engine, &mut table, &inform, start());
    assert_eq!(d.event, DhcpEvent::Informed { ip: here });
    let ack = reply(&d);
    assert_eq!(message_type(&ack.bytes), 5);
    assert_eq!(yiaddr(&ack.bytes), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        ack.destination,
        Destination::Unicast {
            ip: here,
            hwaddr: PC
        }
    );
    let codes = option_codes(&ack.bytes);
    assert_eq!(codes, [53, 54, 6, 1]);
    assert!(d.changes.is_empty() && table.is_empty());
}

#[test]
fn destinations_follow_rfc_2131_section_4_1() {
    let engine = engine(Mode::Pool);
    let relay = Ipv4Addr::new(10, 0, 0, 254);
    let decide = |p: &[u8]| decide_fresh(&engine, p);
    // giaddr first, even with the broadcast bit.
    let relayed = packet(MessageType::Discover, PC, |m| {
        m.set_giaddr(relay);
        m.set_flags(Flags::default().set_broadcast());
    });
    assert_eq!(
        reply(&decide(&relayed)).destination,
        Destination::Relay(relay)
    );
    // Then the broadcast bit.
    let flagged = packet(MessageType::Discover, PC, |m| {
        m.set_flags(Flags::default().set_broadcast());
    });
    assert_eq!(reply(&decide(&flagged)).destination, Destination::Broadcast);
    // Else unicast to the new address at the client's MAC.
    let plain = packet(MessageType::Discover, PC, |_| {});
    let offered = Ipv4Addr::new(10, 0, 0, 100);
    assert_eq!(
        reply(&decide(&plain)).destination,
        Destination::Unicast {
            ip: offered,
            hwaddr: PC
        }
    );
    // A NAK through a relay goes to the relay with the broadcast bit set.
    let strict = engine_with(Mode::Pool, |s| s.authoritative = true);
    let relayed_reboot = packet(MessageType::Request, PC, |m| {
        m.set_giaddr(relay);
        set_requested(m, Ipv4Addr::new(10, 0, 0, 105));
    });
    let d = decide_fresh(&strict, &relayed_reboot);
    let nak = reply(&d);
    assert_eq!(nak.destination, Destination::Relay(relay));
    assert_eq!(message_type(&nak.bytes), 6);
    assert_eq!(nak.bytes[10] & 0x80, 0x80);
    // A relay on another network is not served.
    let foreign = packet(MessageType::Discover, PC, |m| {
        m.set_giaddr(Ipv4Addr::new(172, 16, 0, 1));
    });
    assert_eq!(
        why(&decide(&foreign)),
        IgnoreReason::OtherNetwork(Ipv4Addr::new(172, 16, 0, 1))
    );
}

#[test]
fn relay_agent_information_is_echoed_last() {
    let engine = engine(Mode::Pool);
    let mut relayed = packet(MessageType::Discover, PC, |m| {
        m.set_giaddr(Ipv4Addr::new(10, 0, 0, 254));
    });
    relayed.pop();
    relayed.extend_from_slice(&[82, 5, 1, 3, b'p', b'o', b'e', 255]);
    let d = decide_fresh(&engine, &relayed);
    let opts = options(&reply(&d).bytes);
    assert_eq!(opts.last().unwrap(), &(82, vec![1, 3, b'p', b'o', b'e']));
}

#[test]
fn infrastructure_addresses_are_never_offered() {
    let engine = engine_with(Mode::Pool, |s| {
        s.pool = Some(Pool {
            first: Ipv4Addr::new(10, 0, 0, 1),
            last: Ipv4Addr::new(10, 0, 0, 254),
        })
    });
    let mut table = MemoryLeases::new();
    let mut offered = std::collections::BTreeSet::new();
    for n in 0..300u16 {
        let mac = HwAddr::new([2, 0, 0, 0, (n >> 8) as u8, n as u8]);
        let d = run(&engine, &mut table, &discover_7940(mac), start());
        match d.event {
            DhcpEvent::Offered { ip } => assert!(offered.insert(ip), "{ip} offered twice"),
            _ => assert_eq!(why(&d), IgnoreReason::NoAddress),
        }
    }
    for never in [
        ROUTER,
        SERVER,
        SECOND_TFTP,
        RESERVED,
        Ipv4Addr::new(10, 0, 0, 0),
        Ipv4Addr::new(10, 0, 0, 255),
    ] {
        assert!(!offered.contains(&never), "{never}");
    }
    assert_eq!(offered.len(), 254 - 4);
}

#[test]
fn the_new_lease_cap_holds_back_strangers_but_not_listed_or_returning_clients() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let mut budget = NewLeaseBudget::new(2);
    let mut decide = |table: &mut MemoryLeases, mac| {
        let d = engine.decide(
            &discover_7940(mac),
            from_client(),
            start(),
            table,
            &mut budget,
        );
        d.changes.iter().for_each(|c| table.apply(c));
        d
    };
    for n in 1..=2 {
        assert!(matches!(
            decide(&mut table, HwAddr::new([2, 0, 0, 0, 0, n])).event,
            DhcpEvent::Offered { .. }
        ));
    }
    assert_eq!(
        why(&decide(&mut table, HwAddr::new([2, 0, 0, 0, 0, 3]))),
        IgnoreReason::NewLeaseCap
    );
    assert!(matches!(
        decide(&mut table, PHONE).event,
        DhcpEvent::Offered { .. }
    ));
    assert!(matches!(
        decide(&mut table, HwAddr::new([2, 0, 0, 0, 0, 1])).event,
        DhcpEvent::Offered { .. }
    ));
}

#[test]
fn an_address_found_in_use_is_skipped_after_the_driver_says_so() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let first = run(&engine, &mut table, &discover_7940(PC), start());
    let probed = first.check_unused.unwrap();
    let LeaseChange::Put(offered) = &first.changes[0];
    table.apply(&engine.in_use_elsewhere(offered, start()));
    let again = run(&engine, &mut table, &discover_7940(PC), start());
    let ip = yiaddr(&reply(&again).bytes);
    assert_ne!(ip, probed);
    assert_eq!(again.check_unused, Some(ip));
    assert_eq!(
        table.by_address(probed).unwrap().state,
        LeaseState::Declined
    );
}

#[test]
fn a_bound_client_rediscovering_keeps_its_lease_untouched() {
    let engine = engine(Mode::Known);
    let mut table = MemoryLeases::new();
    let ip = bind(&engine, &mut table, PHONE, start());
    let d = run(
        &engine,
        &mut table,
        &discover_7940(PHONE),
        start() + Duration::from_secs(10),
    );
    assert_eq!(d.event, DhcpEvent::Offered { ip });
    assert!(d.changes.is_empty());
    assert_eq!(table.by_address(ip).unwrap().state, LeaseState::Bound);
}

#[test]
fn a_client_identifier_keys_the_lease() {
    let engine = engine(Mode::Pool);
    let mut table = MemoryLeases::new();
    let with_id = packet(MessageType::Discover, PC, |m| {
        m.opts_mut()
            .insert(DhcpOption::ClientIdentifier(b"\x00laptop".to_vec()));
    });
    run(&engine, &mut table, &with_id, start());
    assert!(table
        .by_client(&ClientId::Identifier(b"\x00laptop".to_vec()))
        .is_some());
    assert!(table.by_client(&ClientId::HwAddr(PC)).is_none());
}

#[test]
fn a_reply_fits_the_size_the_client_accepts() {
    let engine = engine_with(Mode::Pool, |s| {
        s.domain = Some("d".repeat(255));
        s.dns = (1..=20).map(|n| Ipv4Addr::new(10, 0, 0, 200 + n)).collect();
    });
    let small = packet(MessageType::Discover, PC, |m| {
        m.opts_mut().insert(DhcpOption::MaxMessageSize(576));
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::DomainNameServer,
            OptionCode::DomainName,
            OptionCode::Router,
        ]));
    });
    let decide = |p: &[u8]| decide_fresh(&engine, p);
    let decision = decide(&small);
    let bytes = &reply(&decision).bytes;
    assert!(bytes.len() <= 548, "{} bytes", bytes.len());
    assert!(option(bytes, 15).is_none(), "the domain does not fit");
    assert_eq!(option(bytes, 6).unwrap().len(), 80);
    assert!(option(bytes, 3).is_some() && option(bytes, 51).is_some());
    let large = packet(MessageType::Discover, PC, |m| {
        m.opts_mut().insert(DhcpOption::MaxMessageSize(1500));
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::DomainName,
        ]));
    });
    assert_eq!(
        option(&reply(&decide(&large)).bytes, 15).unwrap().len(),
        255
    );
}

#[test]
fn settings_are_checked() {
    let bad = |edit: fn(&mut DhcpSettings)| {
        let mut s = settings(Mode::Pool);
        edit(&mut s);
        Engine::new(s).unwrap_err()
    };
    assert!(matches!(
        bad(|s| s.subnet_mask = Ipv4Addr::new(255, 0, 255, 0)),
        SettingsError::SubnetMask(_)
    ));
    assert!(matches!(
        bad(|s| s.pool = Some(Pool {
            first: Ipv4Addr::new(10, 0, 1, 1),
            last: Ipv4Addr::new(10, 0, 1, 9)
        })),
        SettingsError::Pool { .. }
    ));
    assert!(matches!(
        bad(|s| s.pool = Some(Pool {
            first: Ipv4Addr::new(10, 0, 0, 9),
            last: Ipv4Addr::new(10, 0, 0, 1)
        })),
        SettingsError::Pool { .. }
    ));
    assert!(matches!(bad(|s| s.pool = None), SettingsError::PoolMissing));
    assert!(matches!(
        bad(|s| {
            s.reservations.insert(PC, Ipv4Addr::new(10, 0, 0, 255));
        }),
        SettingsError::Reservation { .. }
    ));
    assert!(matches!(
        bad(|s| {
            s.reservations.insert(PC, ROUTER);
        }),
        SettingsError::Reservation { .. }
    ));
    assert!(matches!(
        bad(|s| {
            s.reservations.insert(PC, RESERVED);
        }),
        SettingsError::SharedReservation { .. }
    ));
    assert!(matches!(
        bad(|s| s.renew_after = Some(Duration::from_secs(90_000))),
        SettingsError::LeaseTimes
    ));
    assert!(matches!(
        bad(|s| s.tftp_servers = vec![SERVER; 64]),
        SettingsError::TooManyTftpServers
    ));
    assert!(matches!(
        bad(|s| s.server = Ipv4Addr::new(10, 0, 0, 0)),
        SettingsError::ServerAddress(_)
    ));
}

/// Kea's CVE regressions (security.md §2) and other broken packets: each is
/// answered sensibly, and none writes to the lease table unless it is served.
mod broken_packets {
    use super::*;

    fn discover_with(edit: impl FnOnce(&mut dhcproto::v4::Message)) -> Vec<u8> {
        packet(MessageType::Discover, PC, edit)
    }

    /// Replaces the End option with raw option bytes.
    fn with_raw_options(mut bytes: Vec<u8>, raw: &[u8]) -> Vec<u8> {
        assert_eq!(bytes.pop(), Some(255));
        bytes.extend_from_slice(raw);
        bytes
    }

    fn malformed(bytes: &[u8]) -> Malformed {
        let mut table = MemoryLeases::new();
        let d = run(&engine(Mode::Pool), &mut table, bytes, start());
        assert!(table.is_empty() && d.reply.is_none());
        match why(&d) {
            IgnoreReason::Malformed(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn served(bytes: &[u8]) -> Lease {
        let mut table = MemoryLeases::new();
        let d = run(&engine(Mode::Pool), &mut table, bytes, start());
        assert!(
            matches!(d.event, DhcpEvent::Offered { .. }),
            "{:?}",
            d.event
        );
        let lease = table.iter().next().unwrap().clone();
        lease
    }

    #[test]
    fn cve_2019_6472_a_253_byte_client_id_is_served() {
        let id = vec![0xAB; 253];
        let lease = served(&discover_with(|m| {
            m.opts_mut()
                .insert(DhcpOption::ClientIdentifier(id.clone()));
        }));
        assert_eq!(lease.client, ClientId::Identifier(id));
    }

    #[test]
    fn a_client_id_past_255_bytes_or_under_2_is_refused() {
        let long = with_raw_options(
            discover_with(|_| {}),
            &[&[61u8, 255][..], &[7; 255], &[61, 3, 1, 2, 3, 255]].concat(),
        );
        assert_eq!(
            malformed(&long),
            Malformed::BadLength { code: 61, len: 258 }
        );
        let short = with_raw_options(discover_with(|_| {}), &[61, 1, 7, 255]);
        assert_eq!(malformed(&short), Malformed::BadLength { code: 61, len: 1 });
    }

    #[test]
    fn cve_2019_6473_bad_host_names_are_not_recorded_and_the_client_is_served() {
        let empty = with_raw_options(discover_with(|_| {}), &[12, 0, 255]);
        assert_eq!(served(&empty).hostname, None);
        let garbage: Vec<u8> = (0..255u8).map(|b| b.wrapping_mul(97)).collect();
        let garbage = with_raw_options(
            discover_with(|_| {}),
            &[&[12u8, 255][..], &garbage, &[255]].concat(),
        );
        assert_eq!(served(&garbage).hostname, None);
        let fine = with_raw_options(discover_with(|_| {}), b"\x0c\x09SEP7940-1\xff");
        assert_eq!(served(&fine).hostname.as_deref(), Some("SEP7940-1"));
    }

    #[test]
    fn cve_2019_6473_a_bad_fqdn_is_ignored_and_the_client_is_served() {
        // Option 81 shorter than its 3 fixed bytes, and one with a label
        // running past its end: dhcproto would debug-assert on the first.
        for fqdn in [&[81u8, 1, 0][..], &[81, 6, 0, 0, 0, 63, b'a', b'b']] {
            let bytes = with_raw_options(discover_with(|_| {}), &[fqdn, &[255]].concat());
            served(&bytes);
        }
    }

    #[test]
    fn truncated_options_are_refused() {
        // A length running past the packet's end.
        let past_end = with_raw_options(discover_with(|_| {}), &[60, 40, b'C', b'i']);
        assert_eq!(malformed(&past_end), Malformed::Truncated { code: 60 });
        // A code with no length byte.
        let no_len = with_raw_options(discover_with(|_| {}), &[60]);
        assert_eq!(malformed(&no_len), Malformed::Truncated { code: 60 });
        // Cut in the middle of the header.
        assert_eq!(
            malformed(&discover_with(|_| {})[..200]),
            Malformed::TooShort(200)
        );
        assert_eq!(malformed(&[]), Malformed::TooShort(0));
    }

    #[test]
    fn a_packet_without_a_message_type_is_refused() {
        let mut bytes = discover_with(|_| {});
        // dhcproto wrote 53 first: [53, 1, 1].
        assert_eq!(&bytes[240..243], &[53, 1, 1]);
        bytes[240..243].copy_from_slice(&[0, 0, 0]);
        assert_eq!(malformed(&bytes), Malformed::NoMessageType);
        bytes[240..243].copy_from_slice(&[53, 1, 2]);
        assert_eq!(malformed(&bytes), Malformed::NotAClientMessage(2));
        bytes[240..243].copy_from_slice(&[53, 0, 0]);
        assert_eq!(malformed(&bytes), Malformed::BadLength { code: 53, len: 0 });
    }

    #[test]
    fn a_bootreply_sent_to_the_server_is_refused() {
        let mut bytes = discover_with(|_| {});
        bytes[0] = 2;
        assert_eq!(malformed(&bytes), Malformed::NotARequest(2));
    }

    #[test]
    fn a_huge_hardware_address_length_is_refused() {
        let mut bytes = discover_with(|_| {});
        bytes[2] = 17;
        assert_eq!(malformed(&bytes), Malformed::HwAddrTooLong(17));
        bytes[2] = 255;
        assert_eq!(malformed(&bytes), Malformed::HwAddrTooLong(255));
        bytes[2] = 16;
        assert_eq!(
            malformed(&bytes),
            Malformed::NotEthernet { htype: 1, hlen: 16 }
        );
    }

    #[test]
    fn no_magic_cookie_is_plain_bootp() {
        let mut bytes = discover_with(|_| {});
        bytes[236] = 0;
        assert_eq!(malformed(&bytes), Malformed::NoMagicCookie);
    }

    #[test]
    fn options_in_file_and_sname_are_read_when_overloaded() {
        let mut bytes = with_raw_options(discover_with(|_| {}), &[52, 1, 1, 255]);
        bytes[108..116].copy_from_slice(&[60, 5, b'C', b'i', b's', b'c', b'o', 255]);
        assert_eq!(served(&bytes).vendor_class.as_deref(), Some("Cisco"));
    }

    #[test]
    fn split_options_are_joined() {
        let bytes = with_raw_options(
            discover_with(|_| {}),
            b"\x3c\x05Cisco\x3c\x0a Systems\x00\x00\xff",
        );
        assert_eq!(
            served(&bytes).vendor_class.as_deref(),
            Some("Cisco Systems")
        );
    }

    #[test]
    fn an_unprintable_vendor_class_is_escaped() {
        let bytes = with_raw_options(discover_with(|_| {}), b"\x3c\x04a\x01\xffb\xff");
        assert_eq!(served(&bytes).vendor_class.as_deref(), Some("a\\x01\\xffb"));
    }
}

/// Writes the seed corpus of the `dhcp_engine` fuzz target (run by hand:
/// `cargo test -p phoneprov-dhcp write_fuzz_seeds -- --ignored`).
#[test]
#[ignore = "writes fuzz/corpus/dhcp_engine; run by hand"]
fn write_fuzz_seeds() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dhcp_engine");
    std::fs::create_dir_all(&dir).unwrap();
    let ip = Ipv4Addr::new(10, 0, 0, 100);
    let request = packet(
        MessageType::Request,
        HwAddr::new([0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF]),
        |m| {
            set_requested(m, Ipv4Addr::new(10, 0, 0, 101));
            set_server_id(m, Ipv4Addr::new(10, 0, 0, 2));
        },
    );
    let dora = [
        frame(&discover_7940(HwAddr::new([
            0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF,
        ]))),
        frame(&request),
    ]
    .concat();
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "discover-7940",
            discover_7940(HwAddr::new([0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF])),
        ),
        (
            "request-selecting",
            packet(MessageType::Request, PHONE, |m| {
                set_requested(m, ip);
                set_server_id(m, SERVER);
            }),
        ),
        (
            "request-init-reboot",
            packet(MessageType::Request, PHONE, |m| set_requested(m, ip)),
        ),
        (
            "request-renewing",
            packet(MessageType::Request, PHONE, |m| {
                m.set_ciaddr(ip);
            }),
        ),
        (
            "decline",
            packet(MessageType::Decline, PHONE, |m| {
                set_requested(m, ip);
                set_server_id(m, SERVER);
            }),
        ),
        (
            "release",
            packet(MessageType::Release, PHONE, |m| {
                m.set_ciaddr(ip);
            }),
        ),
        (
            "inform",
            packet(MessageType::Inform, PC, |m| {
                m.set_ciaddr(Ipv4Addr::new(10, 0, 0, 33));
            }),
        ),
        (
            "cve-2019-6472-client-id-253",
            packet(MessageType::Discover, PC, |m| {
                m.opts_mut()
                    .insert(DhcpOption::ClientIdentifier(vec![0xAB; 253]));
            }),
        ),
        (
            "cve-2019-6473-hostname-empty",
            broken_packets_raw(&[12, 0, 255]),
        ),
        (
            "cve-2019-6473-fqdn-short",
            broken_packets_raw(&[81, 1, 0, 255]),
        ),
        ("truncated-option", broken_packets_raw(&[60, 40, b'C'])),
        (
            "relayed-discover",
            packet(MessageType::Discover, PC, |m| {
                m.set_giaddr(Ipv4Addr::new(10, 0, 0, 254));
            }),
        ),
    ];
    for (name, bytes) in seeds {
        // A settings byte (pool mode), then the packet framed with its length
        // (see fuzz/src/dhcp.rs).
        std::fs::write(dir.join(name), [&[0u8][..], &frame(&bytes)].concat()).unwrap();
    }
    std::fs::write(
        dir.join("dora-7940-cisco-mode"),
        [&[0x11u8][..], &dora].concat(),
    )
    .unwrap();

    fn frame(bytes: &[u8]) -> Vec<u8> {
        [
            &u16::try_from(bytes.len()).unwrap().to_be_bytes()[..],
            bytes,
        ]
        .concat()
    }

    fn broken_packets_raw(raw: &[u8]) -> Vec<u8> {
        let mut bytes = packet(MessageType::Discover, PC, |_| {});
        bytes.pop();
        bytes.extend_from_slice(raw);
        bytes
    }
}
