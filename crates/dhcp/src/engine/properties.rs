//! Property tests: random conversations of many clients with the engine, the
//! clock moving on, checked against a model of what was promised.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use dhcproto::v4::{DhcpOption, MessageType};
use proptest::prelude::*;

use super::*;
use crate::lease::MemoryLeases;
use crate::testing::*;

const CLIENTS: u8 = 14;

#[derive(Debug, Clone)]
enum Step {
    Discover(u8),
    /// Selecting the client's last offer, or, when it had none, a pool address.
    Select(u8),
    InitReboot(u8, u8),
    Renew(u8, bool),
    Decline(u8),
    Release(u8),
    Inform(u8),
    /// The driver's check finds the client's last offered address in use.
    FoundInUse(u8),
    Wait(u32),
}

fn step() -> impl Strategy<Value = Step> {
    let client = 0..CLIENTS;
    prop_oneof![
        4 => client.clone().prop_map(Step::Discover),
        4 => client.clone().prop_map(Step::Select),
        1 => (client.clone(), 0u8..16).prop_map(|(c, n)| Step::InitReboot(c, n)),
        3 => (client.clone(), any::<bool>()).prop_map(|(c, b)| Step::Renew(c, b)),
        1 => client.clone().prop_map(Step::Decline),
        1 => client.clone().prop_map(Step::Release),
        1 => client.clone().prop_map(Step::Inform),
        1 => client.prop_map(Step::FoundInUse),
        2 => (1u32..4000).prop_map(Step::Wait),
    ]
}

/// Client `n`: a few listed phones (one with a reservation), Cisco phones,
/// PCs; every third keyed by a client identifier.
fn mac(n: u8) -> HwAddr {
    match n {
        0 => PHONE,
        1 => LISTED,
        n if n % 2 == 0 => HwAddr::new([0x00, 0x1B, 0xD4, 0, 0, n]),
        n => HwAddr::new([0x02, 0, 0, 0, 0, n]),
    }
}

fn client_packet(
    n: u8,
    kind: MessageType,
    edit: impl FnOnce(&mut dhcproto::v4::Message),
) -> Vec<u8> {
    packet(kind, mac(n), |m| {
        if n % 3 == 2 {
            m.opts_mut()
                .insert(DhcpOption::ClientIdentifier(vec![0, b'c', n]));
        }
        edit(m);
    })
}

fn client_id(n: u8) -> ClientId {
    if n % 3 == 2 {
        ClientId::Identifier(vec![0, b'c', n])
    } else {
        ClientId::HwAddr(mac(n))
    }
}

fn pool_address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 100 + n % 12)
}

/// What the engine promised, kept apart from the lease table.
#[derive(Default)]
struct Promises {
    /// Client → address and end of its lease, from DHCPACKs.
    acked: HashMap<u8, (Ipv4Addr, SystemTime)>,
    /// Client → the address last offered.
    offered: HashMap<u8, (Ipv4Addr, SystemTime)>,
    /// Address → end of its decline hold.
    declined: HashMap<Ipv4Addr, SystemTime>,
}

fn run_steps(steps: Vec<Step>, authoritative: bool) -> Result<(), TestCaseError> {
    let mut s = settings(Mode::Pool);
    s.authoritative = authoritative;
    // Fewer addresses (10) than clients, so they compete.
    s.pool = Some(Pool {
        first: Ipv4Addr::new(10, 0, 0, 100),
        last: Ipv4Addr::new(10, 0, 0, 109),
    });
    let engine = Engine::new(s.clone()).unwrap();
    let mut table = MemoryLeases::new();
    let mut budget = NewLeaseBudget::new(30);
    let mut now = start();
    let mut promised = Promises::default();

    for step in steps {
        let (n, bytes, source) = match step {
            Step::Wait(secs) => {
                now += Duration::from_secs(u64::from(secs));
                continue;
            }
            Step::FoundInUse(n) => {
                if let Some(LeaseChange::Put(lease)) = table
                    .by_client(&client_id(n))
                    .filter(|l| l.state == LeaseState::Offered)
                    .map(|l| LeaseChange::Put(l.clone()))
                {
                    let change = engine.in_use_elsewhere(&lease, now);
                    promised.declined.insert(lease.ip, now + s.decline_hold);
                    promised.offered.remove(&n);
                    table.apply(&change);
                }
                continue;
            }
            Step::Discover(n) => (
                n,
                client_packet(n, MessageType::Discover, |_| {}),
                from_client(),
            ),
            Step::Select(n) => {
                let ip = promised.offered.get(&n).map_or(pool_address(n), |o| o.0);
                let bytes = client_packet(n, MessageType::Request, |m| {
                    set_requested(m, ip);
                    set_server_id(m, SERVER);
                });
                (n, bytes, from_client())
            }
            Step::InitReboot(n, k) => {
                let ip = promised.acked.get(&n).map_or(pool_address(k), |a| a.0);
                (
                    n,
                    client_packet(n, MessageType::Request, |m| set_requested(m, ip)),
                    from_client(),
                )
            }
            Step::Renew(n, broadcast) => {
                let ip = promised.acked.get(&n).map_or(pool_address(n), |a| a.0);
                let bytes = client_packet(n, MessageType::Request, |m| {
                    m.set_ciaddr(ip);
                });
                (
                    n,
                    bytes,
                    Source {
                        from: SocketAddrV4::new(ip, 68),
                        broadcast,
                    },
                )
            }
            Step::Decline(n) => {
                let ip = promised
                    .offered
                    .get(&n)
                    .or(promised.acked.get(&n))
                    .map_or(pool_address(n), |o| o.0);
                (
                    n,
                    client_packet(n, MessageType::Decline, |m| {
                        set_requested(m, ip);
                        set_server_id(m, SERVER);
                    }),
                    from_client(),
                )
            }
            Step::Release(n) => {
                let ip = promised.acked.get(&n).map_or(pool_address(n), |a| a.0);
                (
                    n,
                    client_packet(n, MessageType::Release, |m| {
                        m.set_ciaddr(ip);
                    }),
                    from_client(),
                )
            }
            Step::Inform(n) => {
                let ip = Ipv4Addr::new(10, 0, 0, 30 + n);
                (
                    n,
                    client_packet(n, MessageType::Inform, |m| {
                        m.set_ciaddr(ip);
                    }),
                    from_client(),
                )
            }
        };
        let renewing_a_live_lease = matches!(step, Step::Renew(..))
            && promised
                .acked
                .get(&n)
                .is_some_and(|&(_, until)| now < until);

        let decision = engine.decide(&bytes, source, now, &table, &mut budget);

        // Every write: an address free for this client, allowed for it.
        for LeaseChange::Put(lease) in &decision.changes {
            if matches!(lease.state, LeaseState::Offered | LeaseState::Bound) {
                prop_assert_eq!(&lease.client, &client_id(n));
                if let Some(record) = table.by_address(lease.ip) {
                    prop_assert!(
                        !record.holds(now) || (record.is_claim() && record.client == lease.client),
                        "{} given to {} while {:?}",
                        lease.ip,
                        n,
                        record
                    );
                }
                let reserved = s.reservations.get(&mac(n)) == Some(&lease.ip);
                let in_pool = s.pool.unwrap().contains(lease.ip);
                prop_assert!(reserved || in_pool, "{} outside the pool", lease.ip);
                prop_assert!(lease.ip != SERVER && lease.ip != ROUTER && lease.ip != SECOND_TFTP);
            }
        }
        match decision.event {
            DhcpEvent::Offered { ip } => {
                if let Some(&until) = promised.declined.get(&ip) {
                    prop_assert!(now >= until, "declined {} offered during its hold", ip);
                }
                prop_assert_eq!(yiaddr(&decision.reply.as_ref().unwrap().bytes), ip);
                promised.offered.insert(n, (ip, now + s.offer_hold));
            }
            DhcpEvent::Acked { ip, expires, .. } => {
                prop_assert!(
                    s.pool.unwrap().contains(ip) || s.reservations.get(&mac(n)) == Some(&ip)
                );
                if renewing_a_live_lease {
                    prop_assert_eq!(ip, promised.acked[&n].0, "a renewing client moved");
                }
                promised.acked.insert(n, (ip, expires));
            }
            DhcpEvent::Declined { ip } => {
                promised.declined.insert(ip, now + s.decline_hold);
                promised.acked.retain(|_, a| a.0 != ip);
                promised.offered.retain(|_, o| o.0 != ip);
            }
            DhcpEvent::Released { ip } => {
                promised.acked.retain(|_, a| a.0 != ip);
                promised.offered.retain(|_, o| o.0 != ip);
            }
            _ => prop_assert!(
                !renewing_a_live_lease,
                "a live lease was not renewed: {:?}",
                decision.event
            ),
        }
        for change in &decision.changes {
            table.apply(change);
        }
        // No two clients hold the same address: neither by what was
        // acknowledged, nor in the table.
        let live: Vec<(u8, Ipv4Addr)> = promised
            .acked
            .iter()
            .filter(|(_, a)| now < a.1)
            .map(|(c, a)| (*c, a.0))
            .collect();
        for (i, (c1, ip1)) in live.iter().enumerate() {
            for (c2, ip2) in &live[i + 1..] {
                prop_assert!(ip1 != ip2, "{} acked to clients {} and {}", ip1, c1, c2);
            }
        }
    }
    Ok(())
}

/// Found by the property below: a phone with a reservation got a pool
/// address while its reserved one was held back; once the hold ended, its next
/// DISCOVER was offered the reservation, which replaced the pool lease it had
/// been acknowledged, and its renewal of that lease was refused.
#[test]
fn a_reservation_freed_later_does_not_take_back_an_acked_lease() {
    let steps = vec![
        Step::Discover(0),
        Step::FoundInUse(0),
        Step::Discover(0),
        Step::Wait(3600),
        Step::Select(0),
        Step::Discover(0),
        Step::Renew(0, false),
    ];
    run_steps(steps, false).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn many_clients_never_share_an_address_and_renewals_keep_it(
        steps in prop::collection::vec(step(), 1..120),
        authoritative in any::<bool>(),
    ) {
        run_steps(steps, authoritative)?;
    }
}
