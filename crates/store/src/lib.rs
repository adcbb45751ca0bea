//! Persistence behind one trait: leases, events, phones seen, registrations and
//! generated secrets (SQLite by default).
//!
//! Empty until the first durable state lands (leases, with the DHCP issue).
