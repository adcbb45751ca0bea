//! Persistence behind one trait: leases, events, phones seen, registrations and
//! generated secrets (SQLite by default).
//!
//! Leases come first: [`LeaseStore`] is the part of the store that keeps the
//! DHCP engine's [`Lease`](phoneprov_dhcp::Lease) records, and
//! [`SqliteLeases`] keeps them in an embedded SQLite file.
//!
//! The store is synchronous on purpose: a commit ends in an `fsync`, a
//! blocking system call that no async runtime can make cheaper, and SQLite is
//! a blocking library. One writer thread owns the write connection and
//! batches the commits of every caller into one transaction (group commit),
//! so the driver calls [`LeaseStore::commit`] from `spawn_blocking` and no
//! tokio type leaks into this crate or its tests.

mod error;
mod leases;
mod sqlite;
mod timeline;

pub use error::StoreError;
pub use leases::{LeaseStore, LoadedLeases, UnreadableRow};
pub use sqlite::{CommitStats, Salvage, SqliteLeases};
pub use timeline::{Entry, SqliteTimeline};
