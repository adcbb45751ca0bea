//! The event bus: every driver publishes what happened, in the phone's terms;
//! the CLI, the store and (later) the dashboard subscribe.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use phoneprov_dhcp::{DhcpEvent, HwAddr};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Events a slow subscriber may fall behind by before it misses some.
const BUS_CAPACITY: usize = 16_384;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Tftp(TftpEvent),
    Dhcp(DhcpExchange),
    Sip(SipExchange),
}

/// Something the SIP service saw or did, with the phone whose line it is
/// about (when the line is in phoneprov.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipExchange {
    pub at: SystemTime,
    pub phone: Option<phoneprov_cisco::Mac>,
    pub event: phoneprov_sip::SipEvent,
}

/// One DHCP packet and what the server did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpExchange {
    pub at: SystemTime,
    /// The client, or the relay agent that forwarded its packet.
    pub from: SocketAddrV4,
    /// The client's MAC (chaddr), when the packet could be read.
    pub hwaddr: Option<HwAddr>,
    /// Option 60, e.g. `Cisco Systems, Inc. IP Phone CP-7940G`.
    pub vendor_class: Option<String>,
    /// What happened; the address is in it.
    pub event: DhcpEvent,
}

/// One TFTP request, from RRQ to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpEvent {
    pub at: SystemTime,
    pub client: SocketAddr,
    /// The name as the client sent it (escaped if it held odd bytes).
    pub requested: String,
    /// What the name resolved to, relative to the root, when it did.
    pub served_as: Option<String>,
    /// True when only a case-insensitive match was found.
    pub case_mismatch: bool,
    pub options_asked: Vec<(String, String)>,
    pub options_granted: Vec<(String, String)>,
    pub outcome: TftpOutcome,
    /// Payload bytes of the file (as sent on the wire).
    pub bytes: u64,
    /// DATA blocks acknowledged.
    pub blocks: u64,
    pub blocks_retransmitted: u64,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TftpOutcome {
    Sent,
    NotFound {
        reason: String,
    },
    Denied {
        reason: String,
    },
    /// Bad options (answered with ERROR 8).
    OptionRefused {
        reason: String,
    },
    /// Not a request we serve: bad mode, malformed packet (ERROR 4).
    Illegal {
        reason: String,
    },
    /// Dropped without an answer because of a limit; the client will retry.
    Busy {
        reason: String,
    },
    TimedOut,
    DeadlineExceeded,
    ClientError {
        code: u16,
        message: String,
    },
}

/// The bus itself: cheap to clone, publishing never blocks.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BUS_CAPACITY).0,
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        // No subscriber is not an error: the server works unobserved.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}

/// The next event of `feed` for a follower that may miss some (it skips
/// what it was too slow for); None once `shutdown` comes or the bus closes.
pub async fn next_event(
    feed: &mut broadcast::Receiver<Arc<Event>>,
    shutdown: &CancellationToken,
) -> Option<Arc<Event>> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            event = feed.recv() => match event {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        }
    }
}
