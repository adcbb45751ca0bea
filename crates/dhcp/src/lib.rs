//! DHCPv4 server engine for phones: pools, reservations, leases, options 66/150
//! and the reply target, as a pure function of the packet, `now` and the lease
//! view. No sockets, no clock (see `ARCHITECTURE.md`).
//!
//! Empty until the DHCP issue lands; the crate exists so the workspace has its
//! final shape and dependency rules from the start.
