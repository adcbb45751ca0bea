//! The lease part of the store: what any back end must do with the DHCP
//! engine's records.

use phoneprov_dhcp::{Lease, LeaseChange};

use crate::StoreError;

/// Keeps the DHCP engine's lease records across restarts.
///
/// The records obey the engine's rules (see [`LeaseChange::Put`]): an address
/// has exactly one record, and a client has at most one claim (an Offered,
/// Bound or Released record). A back end keeps both as constraints of its
/// own, so a bug cannot store two phones on one address.
///
/// # Contract
///
/// - [`commit`](LeaseStore::commit) returns `Ok` only once every change of
///   the call is durable: the driver sends the DHCPACK after that, never
///   before. The changes of one call are atomic: all stored, or none.
/// - Concurrent calls may be written in one transaction (group commit), but
///   one call's failure is that call's alone.
/// - An `Err` means the call's changes are not stored: the driver drops the
///   reply (the phone retries) and keeps its in-memory table as it was.
///
/// # Several nodes (PostgreSQL)
///
/// The trait is shaped so that a PostgreSQL store shared by several nodes can
/// implement it unchanged:
///
/// - `commit` maps to one transaction per batch, each caller's changes in a
///   `SAVEPOINT`, so a conflict rolls back one caller's changes only.
/// - The address is the table's primary key, and the client a unique index
///   over the claims (`WHERE state <> 'declined'`), as in SQLite. A `Put`
///   becomes `INSERT .. ON CONFLICT (ip) DO UPDATE .. WHERE leases.client =
///   excluded.client OR NOT <the old record holds the address>`: when another
///   node's phone holds the address, no row is written, and the store returns
///   an address-conflict error (a new [`StoreError`] variant) instead of
///   overwriting it. Two nodes offering the same free address at once race on
///   the primary key: the second `INSERT` waits on the first's row lock and
///   then sees the conflict. The driver answers a conflict by reloading that
///   address and deciding again.
/// - [`load`](LeaseStore::load) reads the shared table at start; a node
///   learns the other nodes' later changes by `LISTEN`/`NOTIFY` (to come
///   with that back end; SQLite has one writer, so it needs none).
pub trait LeaseStore: Send + Sync {
    /// Every stored record, and the rows that could not be read back. An
    /// unreadable row is reported, not an error: the other leases still
    /// load, and the row is left in place for a later `Put` of its address
    /// to replace.
    fn load(&self) -> Result<LoadedLeases, StoreError>;

    /// Applies `changes` in order, as
    /// [`MemoryLeases::apply`](phoneprov_dhcp::MemoryLeases::apply) does,
    /// and returns once they are durable. Blocks the calling thread.
    fn commit(&self, changes: Vec<LeaseChange>) -> Result<(), StoreError>;
}

/// What [`LeaseStore::load`] read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadedLeases {
    /// The records, by address.
    pub leases: Vec<Lease>,
    /// The rows that are there but do not make a lease.
    pub unreadable: Vec<UnreadableRow>,
}

/// A stored row that does not make a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRow {
    /// The row's key as stored (an IPv4 address as a number, when sane).
    pub key: i64,
    /// What is wrong with it.
    pub problem: String,
}
