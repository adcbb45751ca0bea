//! Leases, the writes the engine asks for, and the read-only view of the
//! lease table it decides from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::SystemTime;

use crate::client::{ClientId, HwAddr};

/// Where an address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseState {
    /// Offered in a DHCPOFFER and held briefly, so that no other client is
    /// offered the same address before this one answers.
    Offered,
    /// Acknowledged: the client uses the address until `expires`.
    Bound,
    /// The client said the address is in use by someone else (DHCPDECLINE),
    /// or the driver's check found it answering; not offered to anyone until
    /// `expires`.
    Declined,
    /// The client gave the address back (DHCPRELEASE). The record is kept so
    /// the client gets the same address again if nobody took it meanwhile.
    Released,
}

impl LeaseState {
    /// `offered`, `bound`, `declined` or `released`.
    pub fn name(self) -> &'static str {
        match self {
            LeaseState::Offered => "offered",
            LeaseState::Bound => "bound",
            LeaseState::Declined => "declined",
            LeaseState::Released => "released",
        }
    }
}

/// One address's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    pub client: ClientId,
    pub hwaddr: HwAddr,
    pub ip: Ipv4Addr,
    /// When the record stops holding the address: end of the offer hold, of
    /// the lease, of the decline hold; the release time for a release.
    pub expires: SystemTime,
    pub hostname: Option<String>,
    /// Option 60, trailing NUL stripped, e.g. `Cisco Systems, Inc. IP Phone CP-7940G`.
    pub vendor_class: Option<String>,
    pub state: LeaseState,
}

impl Lease {
    /// True while the record keeps the address from everyone else.
    pub fn holds(&self, now: SystemTime) -> bool {
        now < self.expires && self.state != LeaseState::Released
    }

    /// True for the states that tie the address to the client (all but
    /// [`LeaseState::Declined`], which ties it to nobody).
    pub fn is_claim(&self) -> bool {
        self.state != LeaseState::Declined
    }
}

/// A write the driver must make durable before it sends the reply that
/// depends on it (a lease before its DHCPACK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseChange {
    /// Store `lease` as the record of its address, replacing any other record
    /// of that address. Unless it is [`LeaseState::Declined`], it is also the
    /// client's claim: drop the client's claim on any other address.
    /// (An address has one record; a client has at most one claim.)
    Put(Lease),
}

/// The lease table as the engine reads it. The driver implements it over its
/// in-memory table; every method is a lookup, so with the indexes of
/// [`MemoryLeases`] each call is O(1) or O(log n).
pub trait LeaseView {
    /// The client's claim (an Offered, Bound or Released record), expired or not.
    fn by_client(&self, client: &ClientId) -> Option<&Lease>;

    /// The record of an address, in any state, expired or not.
    fn by_address(&self, ip: Ipv4Addr) -> Option<&Lease>;

    /// The lowest address of `first..=last` that has no record at all: the
    /// engine hands out never-used addresses before it reuses old ones.
    fn first_unrecorded(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr>;

    /// The records that no longer hold their address at `now` (expired,
    /// released, decline hold over), the longest-lapsed first.
    fn lapsed(&self, now: SystemTime) -> Box<dyn Iterator<Item = &Lease> + '_>;
}

/// An in-memory lease table with the indexes [`LeaseView`] needs: by
/// address, by client, by expiry, and the runs of recorded addresses.
/// The driver keeps one in front of its store; the tests use it directly.
#[derive(Debug, Default, Clone)]
pub struct MemoryLeases {
    records: BTreeMap<Ipv4Addr, Lease>,
    claims: HashMap<ClientId, Ipv4Addr>,
    by_expiry: BTreeSet<(SystemTime, Ipv4Addr)>,
    /// Maximal runs of consecutive recorded addresses, first → last.
    runs: BTreeMap<u32, u32>,
}

impl MemoryLeases {
    pub fn new() -> MemoryLeases {
        MemoryLeases::default()
    }

    /// Applies one change, as the store will.
    pub fn apply(&mut self, change: &LeaseChange) {
        let LeaseChange::Put(lease) = change;
        if lease.is_claim() {
            if let Some(old) = self.claims.get(&lease.client).copied() {
                if old != lease.ip {
                    self.remove(old);
                }
            }
        }
        self.remove(lease.ip);
        if lease.is_claim() {
            self.claims.insert(lease.client.clone(), lease.ip);
        }
        self.by_expiry.insert((lease.expires, lease.ip));
        self.add_to_runs(u32::from(lease.ip));
        self.records.insert(lease.ip, lease.clone());
    }

    /// Every record, by address.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.records.values()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn remove(&mut self, ip: Ipv4Addr) {
        let Some(old) = self.records.remove(&ip) else {
            return;
        };
        if old.is_claim() && self.claims.get(&old.client) == Some(&ip) {
            self.claims.remove(&old.client);
        }
        self.by_expiry.remove(&(old.expires, ip));
        self.remove_from_runs(u32::from(ip));
    }

    fn run_containing(&self, at: u32) -> Option<(u32, u32)> {
        self.runs
            .range(..=at)
            .next_back()
            .map(|(&first, &last)| (first, last))
            .filter(|&(_, last)| last >= at)
    }

    fn add_to_runs(&mut self, at: u32) {
        if self.run_containing(at).is_some() {
            return;
        }
        let mut first = at;
        let mut last = at;
        if let Some(before) = at.checked_sub(1).and_then(|b| self.run_containing(b)) {
            first = before.0;
        }
        if let Some(after) = at
            .checked_add(1)
            .and_then(|a| self.runs.remove(&a).map(|l| (a, l)))
        {
            last = after.1;
        }
        self.runs.insert(first, last);
    }

    fn remove_from_runs(&mut self, at: u32) {
        let Some((first, last)) = self.run_containing(at) else {
            return;
        };
        self.runs.remove(&first);
        if first < at {
            self.runs.insert(first, at - 1);
        }
        if at < last {
            self.runs.insert(at + 1, last);
        }
    }
}

impl LeaseView for MemoryLeases {
    fn by_client(&self, client: &ClientId) -> Option<&Lease> {
        self.claims.get(client).and_then(|ip| self.records.get(ip))
    }

    fn by_address(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.records.get(&ip)
    }

    fn first_unrecorded(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        let (first, last) = (u32::from(first), u32::from(last));
        // Runs are maximal, so the address after a run is never recorded.
        let candidate = match self.run_containing(first) {
            Some((_, run_last)) => run_last.checked_add(1)?,
            None => first,
        };
        (candidate <= last).then(|| Ipv4Addr::from(candidate))
    }

    fn lapsed(&self, now: SystemTime) -> Box<dyn Iterator<Item = &Lease> + '_> {
        // A released record lapses at its release time, so expiry order
        // covers every state.
        Box::new(
            self.by_expiry
                .iter()
                .take_while(move |(expires, _)| *expires <= now)
                .filter_map(|(_, ip)| self.records.get(ip)),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn lease(client: u8, ip: u32, state: LeaseState, expires_s: u64) -> Lease {
        Lease {
            client: ClientId::HwAddr(HwAddr::new([0, 0x18, 0xb9, 0, 0, client])),
            hwaddr: HwAddr::new([0, 0x18, 0xb9, 0, 0, client]),
            ip: Ipv4Addr::from(ip),
            expires: SystemTime::UNIX_EPOCH + Duration::from_secs(expires_s),
            hostname: None,
            vendor_class: None,
            state,
        }
    }

    /// The address the table records for `client`'s lease.
    fn address_of(table: &MemoryLeases, client: u8) -> Ipv4Addr {
        let id = lease(client, 0, LeaseState::Bound, 0).client;
        table.by_client(&id).unwrap().ip
    }

    #[test]
    fn a_client_moving_leaves_its_old_address_unrecorded() {
        let mut table = MemoryLeases::new();
        table.apply(&LeaseChange::Put(lease(1, 10, LeaseState::Offered, 5)));
        table.apply(&LeaseChange::Put(lease(1, 11, LeaseState::Bound, 50)));
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.first_unrecorded(Ipv4Addr::from(10), Ipv4Addr::from(20)),
            Some(Ipv4Addr::from(10))
        );
        assert_eq!(address_of(&table, 1), Ipv4Addr::from(11));
    }

    #[test]
    fn a_declined_record_is_nobody_s_claim_and_survives_the_client_moving() {
        let mut table = MemoryLeases::new();
        table.apply(&LeaseChange::Put(lease(1, 10, LeaseState::Declined, 500)));
        table.apply(&LeaseChange::Put(lease(1, 11, LeaseState::Offered, 50)));
        assert_eq!(
            table.by_address(Ipv4Addr::from(10)).unwrap().state,
            LeaseState::Declined
        );
        assert_eq!(address_of(&table, 1), Ipv4Addr::from(11));
        assert_eq!(
            table.first_unrecorded(Ipv4Addr::from(10), Ipv4Addr::from(20)),
            Some(Ipv4Addr::from(12))
        );
    }

    #[test]
    fn lapsed_records_come_oldest_first() {
        let mut table = MemoryLeases::new();
        table.apply(&LeaseChange::Put(lease(1, 10, LeaseState::Bound, 30)));
        table.apply(&LeaseChange::Put(lease(2, 11, LeaseState::Released, 20)));
        table.apply(&LeaseChange::Put(lease(3, 12, LeaseState::Bound, 90)));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(60);
        let lapsed: Vec<u32> = table.lapsed(now).map(|l| u32::from(l.ip)).collect();
        assert_eq!(lapsed, [11, 10]);
    }

    proptest! {
        /// The runs index agrees with the records after any sequence of puts.
        #[test]
        fn first_unrecorded_matches_a_scan(
            puts in prop::collection::vec((0u8..6, 0u32..24, 0u8..4), 0..60),
            first in 0u32..24,
            span in 0u32..24,
        ) {
            let mut table = MemoryLeases::new();
            for (client, ip, state) in puts {
                let state = [
                    LeaseState::Offered,
                    LeaseState::Bound,
                    LeaseState::Declined,
                    LeaseState::Released,
                ][usize::from(state)];
                table.apply(&LeaseChange::Put(lease(client, ip, state, 10)));
            }
            let last = first + span;
            let scan = (first..=last).find(|ip| table.by_address(Ipv4Addr::from(*ip)).is_none());
            prop_assert_eq!(
                table.first_unrecorded(Ipv4Addr::from(first), Ipv4Addr::from(last)),
                scan.map(Ipv4Addr::from)
            );
            for l in table.iter() {
                if l.is_claim() {
                    prop_assert_eq!(table.by_client(&l.client), Some(l));
                }
            }
        }
    }
}
