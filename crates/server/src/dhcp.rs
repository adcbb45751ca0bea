//! The DHCP driver: one listening socket feeding `phoneprov-dhcp`'s engine,
//! with leases made durable in a [`LeaseStore`] before the reply that
//! depends on them is sent.
//!
//! Packets are decided one at a time against an in-memory copy of the lease
//! table ([`MemoryLeases`], loaded from the store at start). When a decision
//! changes leases, the changes are committed to the store first (on a
//! blocking thread: a commit ends in an fsync) and applied to the in-memory
//! table and answered only once the commit succeeded. A failed commit drops
//! the reply: the client retries, and both tables stay as they were.
//!
//! # Not done yet
//!
//! - **ARP injection.** A reply the engine sends by unicast to an address
//!   the client does not hold yet (an OFFER to a booting phone that did not
//!   set the broadcast flag) needs the client's MAC put in the ARP cache, or
//!   the reply sent at layer 2: the kernel's own ARP request goes
//!   unanswered. This driver sends such a reply to the IP address alone; it
//!   reaches clients that set the broadcast flag (the engine then
//!   broadcasts), clients renewing from their own address, and clients
//!   behind a relay. On a real LAN, phones that do not set the flag need the
//!   injection, still to come.
//! - **The "is it in use" probe.** The engine asks (`check_unused`) that a
//!   new address be probed (ARP or ping) before it is first offered; the
//!   driver skips the probe for now and offers it straight away. A client
//!   that finds the address taken declines it, and the engine holds it back.
//! - A per-MAC rate limit, and pipelining of commits (each packet's commit
//!   is awaited before the next packet is decided, so the store's group
//!   commit has nothing to group).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::SystemTime;

use phoneprov_dhcp::{
    Decision, Destination, DhcpEvent, DhcpSettings, Engine, HwAddr, MemoryLeases, NewLeaseBudget,
    Source,
};
use phoneprov_store::LeaseStore;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, warn, Instrument};

use crate::events::{DhcpExchange, Event, EventBus};
use crate::udp;

/// The server port, where clients send and relay agents listen.
pub const SERVER_PORT: u16 = 67;
/// The client port.
pub const CLIENT_PORT: u16 = 68;
/// New clients (neither listed nor returning) given an address per minute
/// in `cisco` and `pool` modes, against pool starvation.
pub const NEW_LEASES_PER_MINUTE: u32 = 120;

/// Settings of the DHCP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpServerSettings {
    pub engine: DhcpSettings,
    /// Where to listen: 0.0.0.0:67 on a real network. On any other port the
    /// server is in [`ReplyRoute::ToSender`] mode.
    pub bind: SocketAddr,
    /// Network interface to bind to (SO_BINDTODEVICE), e.g. the phone VLAN.
    pub interface: Option<String>,
}

/// Where replies go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRoute {
    /// As RFC 2131 says and the engine decides: to a relay agent on port 67,
    /// broadcast, or unicast to the client on port 68. Needs port 67 (root
    /// or CAP_NET_BIND_SERVICE).
    AsDecided,
    /// Test and demo mode, when the server listens on a port other than 67:
    /// every reply goes by unicast straight back to the address and port the
    /// request came from, so a client on a high port of the loopback gets
    /// its answer and nothing needs root.
    ToSender,
}

pub struct DhcpServer {
    socket: UdpSocket,
    engine: Engine,
    store: Arc<dyn LeaseStore>,
    leases: MemoryLeases,
    budget: NewLeaseBudget,
    route: ReplyRoute,
    events: EventBus,
}

impl DhcpServer {
    /// Checks the settings, loads the leases from `store` (a blocking read:
    /// call it at start) and binds the listening socket.
    pub fn bind(
        settings: DhcpServerSettings,
        store: Arc<dyn LeaseStore>,
        events: EventBus,
    ) -> io::Result<DhcpServer> {
        let engine = Engine::new(settings.engine)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let loaded = store
            .load()
            .map_err(|e| io::Error::other(format!("cannot read the leases: {e}")))?;
        for row in &loaded.unreadable {
            warn!(
                "lease store: row {} is unreadable ({}); left for its address to be given again",
                row.key, row.problem
            );
        }
        let mut leases = MemoryLeases::new();
        for lease in loaded.leases {
            leases.apply(&phoneprov_dhcp::LeaseChange::Put(lease));
        }
        let socket = udp::listen(settings.bind, settings.interface.as_deref()).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied {
                " (port 67 needs root or CAP_NET_BIND_SERVICE; for a test, set [dhcp] port = 6767)"
            } else {
                ""
            };
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}{hint}", settings.bind),
            )
        })?;
        socket2::SockRef::from(&socket).set_broadcast(true)?;
        let route = if settings.bind.port() == SERVER_PORT {
            ReplyRoute::AsDecided
        } else {
            ReplyRoute::ToSender
        };
        Ok(DhcpServer {
            socket,
            engine,
            store,
            leases,
            budget: NewLeaseBudget::new(NEW_LEASES_PER_MINUTE),
            route,
            events,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn route(&self) -> ReplyRoute {
        self.route
    }

    /// Serves until `shutdown` fires. The exchange under way when it fires
    /// is finished (its lease committed and answered) first.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 65536];
        loop {
            let (len, from, destination) = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = udp::recv_with_destination(&self.socket, &mut buf) => match received {
                    Ok(received) => received,
                    Err(e) => {
                        debug!("dhcp listener: {e}");
                        continue;
                    }
                },
            };
            let SocketAddr::V4(from) = from else {
                continue;
            };
            let broadcast = matches!(destination, Some(IpAddr::V4(ip)) if ip.is_broadcast());
            let packet = buf[..len].to_vec();
            self.exchange(&packet, Source { from, broadcast })
                .instrument(info_span!("dhcp", %from))
                .await;
        }
    }

    /// One datagram: decide, commit, answer, publish.
    async fn exchange(&mut self, packet: &[u8], source: Source) {
        let now = SystemTime::now();
        let Decision {
            reply,
            changes,
            event,
            sender,
            check_unused: _, // the probe is not done yet: see the module docs
        } = self
            .engine
            .decide(packet, source, now, &self.leases, &mut self.budget);
        if !changes.is_empty() {
            let store = Arc::clone(&self.store);
            let to_store = changes.clone();
            let committed = tokio::task::spawn_blocking(move || store.commit(to_store)).await;
            match committed {
                Ok(Ok(())) => changes.iter().for_each(|c| self.leases.apply(c)),
                Ok(Err(e)) => {
                    warn!("lease not stored, reply dropped (the client will retry): {e}");
                    return;
                }
                Err(e) => {
                    warn!("lease commit failed, reply dropped: {e}");
                    return;
                }
            }
        }
        if let Some(reply) = reply {
            let to = self.reply_address(source.from, reply.destination);
            if let Err(e) = self.socket.send_to(&reply.bytes, to).await {
                warn!("cannot send the reply to {to}: {e}");
            }
        }
        let (hwaddr, vendor_class) = match sender {
            Some(sender) => (Some(sender.hwaddr), sender.vendor_class),
            None => (None, None),
        };
        self.events.publish(Event::Dhcp(DhcpExchange {
            at: now,
            from: source.from,
            hwaddr,
            vendor_class,
            event,
        }));
    }

    /// Where a reply goes. Unicast to a client's new address is sent to the
    /// address alone, without ARP injection (see the module docs).
    fn reply_address(&self, from: SocketAddrV4, destination: Destination) -> SocketAddrV4 {
        match (self.route, destination) {
            (ReplyRoute::ToSender, _) => from,
            (ReplyRoute::AsDecided, Destination::Relay(ip)) => SocketAddrV4::new(ip, SERVER_PORT),
            (ReplyRoute::AsDecided, Destination::Broadcast) => {
                SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
            }
            (ReplyRoute::AsDecided, Destination::Unicast { ip, .. }) => {
                SocketAddrV4::new(ip, CLIENT_PORT)
            }
        }
    }
}

/// The client's MAC in an event, for printing: `-` when the packet could not be read.
pub fn hwaddr_or_dash(hwaddr: Option<HwAddr>) -> String {
    hwaddr.map_or_else(|| "-".into(), |mac| mac.to_string())
}

/// True for the events that are other devices' business in `known` and
/// `cisco` modes (a PC asking the LAN's DHCP server): worth a debug line, not
/// a line on the operator's screen.
pub fn is_neighbours_traffic(event: &DhcpEvent) -> bool {
    matches!(
        event,
        DhcpEvent::Ignored {
            why: phoneprov_dhcp::IgnoreReason::NotListed
                | phoneprov_dhcp::IgnoreReason::NotAPhone
                | phoneprov_dhcp::IgnoreReason::ChoseAnotherServer(_)
        }
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use dhcproto::v4::{self, Decodable, DhcpOption, Encodable, MessageType};
    use phoneprov_dhcp::{LeaseChange, Mode};
    use phoneprov_store::{LoadedLeases, StoreError};

    use super::*;

    /// A store in memory that can be told to fail.
    #[derive(Default)]
    struct TestStore {
        committed: Mutex<Vec<LeaseChange>>,
        fail: bool,
    }

    impl LeaseStore for TestStore {
        fn load(&self) -> Result<LoadedLeases, StoreError> {
            Ok(LoadedLeases::default())
        }

        fn commit(&self, changes: Vec<LeaseChange>) -> Result<(), StoreError> {
            if self.fail {
                return Err(StoreError::WriterGone {
                    path: "test".into(),
                });
            }
            self.committed.lock().unwrap().extend(changes);
            Ok(())
        }
    }

    const PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF];

    fn discover() -> Vec<u8> {
        let zero = Ipv4Addr::UNSPECIFIED;
        let mut m = v4::Message::new_with_id(7, zero, zero, zero, zero, &PHONE);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        m.to_vec().unwrap()
    }

    /// A known-mode server on a loopback port, with `store`, and a client socket.
    async fn start(store: Arc<TestStore>) -> (SocketAddr, UdpSocket, EventBus, CancellationToken) {
        let mut engine = DhcpSettings::new(
            Mode::Known,
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(255, 0, 0, 0),
        );
        engine.known.insert(HwAddr::new(PHONE));
        engine.pool = Some(phoneprov_dhcp::Pool {
            first: Ipv4Addr::new(127, 0, 0, 100),
            last: Ipv4Addr::new(127, 0, 0, 110),
        });
        let settings = DhcpServerSettings {
            engine,
            bind: "127.0.0.1:0".parse().unwrap(),
            interface: None,
        };
        let events = EventBus::default();
        let server = DhcpServer::bind(settings, store, events.clone()).unwrap();
        assert_eq!(server.route(), ReplyRoute::ToSender);
        let addr = server.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(server.run(shutdown.clone()));
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (addr, client, events, shutdown)
    }

    #[tokio::test]
    async fn an_offer_is_stored_then_sent_back_to_the_sender() {
        let store = Arc::new(TestStore::default());
        let (addr, client, events, shutdown) = start(Arc::clone(&store)).await;
        let mut feed = events.subscribe();
        client.send_to(&discover(), addr).await.unwrap();
        let mut buf = [0u8; 1500];
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("an offer")
            .unwrap();
        let offer = v4::Message::decode(&mut dhcproto::Decoder::new(&buf[..len])).unwrap();
        let offered = offer.yiaddr();
        assert!((Ipv4Addr::new(127, 0, 0, 100)..=Ipv4Addr::new(127, 0, 0, 110)).contains(&offered));
        assert_eq!(store.committed.lock().unwrap().len(), 1);
        let event = feed.recv().await.unwrap();
        let Event::Dhcp(exchange) = &*event else {
            panic!("{event:?}")
        };
        assert_eq!(exchange.hwaddr, Some(HwAddr::new(PHONE)));
        assert_eq!(exchange.event, DhcpEvent::Offered { ip: offered });
        shutdown.cancel();
    }

    #[tokio::test]
    async fn no_reply_when_the_lease_cannot_be_stored() {
        let store = Arc::new(TestStore {
            fail: true,
            ..TestStore::default()
        });
        let (addr, client, _events, shutdown) = start(store).await;
        client.send_to(&discover(), addr).await.unwrap();
        let mut buf = [0u8; 1500];
        let answer =
            tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buf)).await;
        assert!(answer.is_err(), "a reply was sent for a lease not stored");
        shutdown.cancel();
    }
}
