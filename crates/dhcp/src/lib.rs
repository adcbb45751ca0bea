//! DHCP for Cisco 7940/7960 phones, safe to run on a production network.
//!
//! A phone finds its TFTP server through DHCP, so the server that answers
//! it decides where it takes its configuration and firmware from. This crate
//! is phoneprov's DHCPv4 server engine: it reads a client's packet and says
//! what to answer, where to send the answer, and which lease to store. It
//! opens no socket and reads no clock: the driver in `phoneprov-server`
//! passes `now` and a read-only view of the lease table, applies the
//! changes, and sends the reply (see `ARCHITECTURE.md`).
//!
//! # Whom phoneprov answers: the modes
//!
//! - **`known`** (the default) answers only the phones listed in
//!   `[[phone]]`. Every other device is left to the network's own DHCP
//!   server: phoneprov never answers it and never refuses it, so running
//!   phoneprov on an office LAN cannot take a PC's or printer's address,
//!   nor turn a phone that is not listed into a SIP phone. A listed phone
//!   gets its reserved address (`ip` in its `[[phone]]`), or one from the
//!   pool if a pool is set.
//! - **`cisco`** also answers devices that look like Cisco phones: a Cisco
//!   MAC prefix (00:0E:84, 00:11:BB, 00:15:F9, 00:18:B9, 00:1B:D4, 00:1D:A2,
//!   00:23:EB by default) or a vendor class starting with
//!   `Cisco Systems, Inc. IP Phone`. They get a pool address and the TFTP
//!   server, so they show up as *discovered*; they are given no file that
//!   changes their firmware until you adopt them into `[[phone]]`.
//! - **`pool`** answers everyone, like a home router: for a network that only
//!   phones (and phoneprov) are on.
//! - **`off`** answers nobody.
//!
//! # Safety rules
//!
//! - phoneprov says no (DHCPNAK) only when `authoritative = true`, or to a
//!   phone that picked phoneprov's own offer when that offer is gone. On a
//!   shared network leave `authoritative` off: a device that asks for an
//!   address phoneprov does not know is left alone, for its own server.
//! - It never hands out its own address, the network or broadcast address of
//!   the subnet, the router, DNS, NTP or TFTP addresses of the settings, an
//!   address outside the pool, or an address reserved for another phone.
//!   Reservations must lie inside the subnet.
//! - An address offered to one client is held for a minute (`offer_hold`),
//!   so two clients are never offered the same address.
//! - An address a client declines (it found someone else using it), or that
//!   answers the driver's check before the first offer, is not offered
//!   again for an hour (`decline_hold`).
//! - In `cisco` and `pool` modes, new clients are capped per minute
//!   ([`NewLeaseBudget`]), so a flood of made-up MACs cannot empty the pool;
//!   listed phones and clients coming back for their address are never held up.
//! - Any malformed packet (cut short, lengths that run past its end, a
//!   client identifier longer than 255 bytes, a bad host name) is ignored
//!   with a reason, never a crash; a bad host name is simply not recorded.
//!
//! # What a phone is sent
//!
//! The subnet mask, lease time and renewal times always; the router (3),
//! DNS (6), domain (15) and NTP (42) when it asks for them; and to every
//! phone, whether it asks or not, the TFTP server twice over: option 150 (a
//! list of addresses, which the phone tries in order) and option 66 (the
//! server as text, which SIP firmware before 6.0 ignores), with `siaddr` set
//! to the first TFTP server as well. The options come in the order the
//! phone listed them. The vendor class a phone sends (option 60, e.g.
//! `Cisco Systems, Inc. IP Phone CP-7940G`) is kept with its lease.

mod budget;
mod client;
mod engine;
mod lease;
pub mod probe;
mod reply;
mod request;
mod settings;
#[cfg(test)]
mod testing;

pub use budget::NewLeaseBudget;
pub use client::{ClientId, HwAddr, HwAddrError};
pub use engine::{
    Decision, DhcpEvent, Engine, IgnoreReason, NakReason, RequestState, Sender, Source, Standing,
};
pub use lease::{Lease, LeaseChange, LeaseState, LeaseView, MemoryLeases};
pub use reply::{Destination, Reply};
pub use request::{Malformed, MAX_CLIENT_ID_LEN};
pub use settings::{
    CiscoDetection, DhcpSettings, Mode, Pool, SettingsError, CISCO_PHONE_OUIS,
    CISCO_PHONE_VENDOR_CLASS,
};
