//! SIP for phones: message facade, digest authentication, registrar, stateless
//! proxy and the check-sync NOTIFY. No sockets, no clock (see `ARCHITECTURE.md`).
//!
//! Empty until the SIP issue lands; the crate exists so the workspace has its
//! final shape and dependency rules from the start.
