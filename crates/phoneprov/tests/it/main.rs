//! System tests of `phoneprov tftp`: the real binary on loopback, driven by
//! real TFTP clients (tftp-hpa, atftp, curl, busybox) and by raw UDP.
//!
//! Run with `cargo test -p phoneprov --test it`. Tests that need a client
//! binary skip with a message when it is missing, and fail instead when
//! PHONEPROV_REQUIRE_PEERS=1 (as CI sets it).

mod dhcp_wire;
mod harness;
mod netns;

mod atftp;
mod clients;
mod dashboard;
mod demo;
mod dhcp;
mod dhcp_netns;
mod doctor;
mod explain;
mod export;
mod firmware;
mod freebsd;
mod http;
mod ladder;
mod lifecycle;
mod refusals;
mod sim;
mod sip;
