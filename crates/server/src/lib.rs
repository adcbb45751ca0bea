//! The only crate that owns sockets and tasks: tokio drivers for the protocol
//! engines (TFTP, DHCP, SIP), the HTTP app and the event bus that
//! ties what each phone did together.

pub mod connections;
pub mod dhcp;
pub mod dhcp_probe;
pub mod doctor;
pub mod events;
pub mod http;
pub mod neighbours;
mod ping;
pub mod preflight;
pub mod sip;
pub mod tftp;
pub mod timeline;
mod udp;
pub mod view;
pub mod words;

pub use dhcp::{DhcpServer, DhcpServerSettings, OnBound, Probe, ReplyRoute};
pub use events::{DhcpExchange, Event, EventBus, SipExchange, TftpEvent, TftpOutcome};
pub use sip::{RegisteredContact, SipHandle, SipLine, SipServer, SipServerSettings};
pub use tftp::{TftpServer, TftpSettings};
pub use timeline::{PhoneStatus, Timelines};
pub use tokio_util::sync::CancellationToken;
