//! The DHCP driver: one listening socket feeding `phoneprov-dhcp`'s engine,
//! with leases made durable in a [`LeaseStore`] before the reply that
//! depends on them is sent.
//!
//! Packets are decided one at a time, in arrival order, against an
//! in-memory lease table ([`MemoryLeases`], loaded from the store at start)
//! and the decision's changes are applied to that table at once, so the
//! next packet sees them. Everything slow then happens in a task of its own
//! per packet, so a burst of phones is not served one fsync at a time:
//!
//! 1. The changes go to one committer task, which writes whatever has
//!    queued up meanwhile in one transaction (one fsync for the group), in
//!    the order the packets were decided.
//! 2. A new address is pinged when the engine asks (`check_unused`); when
//!    something answers, the address is held back and the packet decided
//!    again. Probes run side by side, so they add one wait to a boot storm,
//!    not one per phone.
//! 3. Only then is the reply sent: nothing is ever acknowledged that a crash
//!    could forget. A failed commit drops the reply (the client retries).
//!    The in-memory table keeps the change: it can only hold back an
//!    address that the store does not, never hand out one the store holds.
//!
//! Replies go where RFC 2131 §4.1 says, as the engine decides: to a relay
//! agent, broadcast out of the interface the request came in on, or unicast
//! to a client's new address after putting its MAC in the kernel's ARP
//! cache (the client cannot answer ARP before it has the address). Where
//! the ARP cache cannot be written (no CAP_NET_ADMIN, an interface without
//! ARP) the reply is broadcast instead, which every client hears.
//!
//! Each client MAC may send [`CLIENT_BURST`] packets at once and one a
//! second after that; more are dropped unread, so a phone stuck in a loop or
//! a flood from one MAC costs nothing and delays no one else.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use phoneprov_dhcp::{
    Decision, Destination, DhcpEvent, DhcpSettings, Engine, HwAddr, LeaseChange, MemoryLeases,
    NewLeaseBudget, Source,
};
use phoneprov_store::LeaseStore;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info_span, warn, Instrument};

use crate::events::{DhcpExchange, Event, EventBus};
use crate::ping::Pinger;
use crate::udp;

/// The server port, where clients send and relay agents listen.
pub const SERVER_PORT: u16 = 67;
/// The client port.
pub const CLIENT_PORT: u16 = 68;
/// New clients (neither listed nor returning) given an address per minute
/// in `cisco` and `pool` modes, against pool starvation, unless configured.
pub const NEW_LEASES_PER_MINUTE: u32 = 120;
/// How long a ping probe waits for an answer, unless configured.
pub const PROBE_WAIT: Duration = Duration::from_millis(500);
/// Packets one client MAC may send at once; then one a second.
pub const CLIENT_BURST: u32 = 10;
/// How many addresses in a row may answer a probe before the client is
/// offered the last one checked anyway (something on the network answers
/// pings for every address: a misconfigured proxy-ARP router).
const PROBES_PER_OFFER: usize = 3;
/// Changes written in one transaction at most.
const MAX_GROUP: usize = 1024;

/// Settings of the DHCP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpServerSettings {
    pub engine: DhcpSettings,
    /// Where to listen: 0.0.0.0:67 on a real network. On any other port the
    /// server is in [`ReplyRoute::ToSender`] mode.
    pub bind: SocketAddr,
    /// Network interface to bind to (SO_BINDTODEVICE), e.g. the phone VLAN.
    pub interface: Option<String>,
    /// New clients given an address per minute in `cisco` and `pool` modes.
    pub new_leases_per_minute: u32,
    /// How to make sure no one uses an address before offering it.
    pub probe: Probe,
}

/// The "is this address in use" check before an address is first offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Offer at once (a network where every device gets its address from
    /// this server, or a benchmark).
    Off,
    /// One ICMP echo request; an answer within `wait` means in use.
    Ping { wait: Duration },
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
    /// its answer and nothing needs root. No address is probed (everything
    /// in 127.0.0.0/8 answers a ping).
    ToSender,
}

pub struct DhcpServer {
    shared: Arc<Shared>,
    store: Arc<dyn LeaseStore>,
    commits: mpsc::UnboundedReceiver<Commit>,
}

/// What the listening loop and the per-packet tasks share.
/// Told of each address acknowledged, before the answer leaves: whoever
/// ties the phone's next requests to it (the TFTP server asks who is at an
/// address) knows it before the phone can use it.
pub type OnBound = Arc<dyn Fn(Ipv4Addr, HwAddr) + Send + Sync>;

struct Shared {
    engine: Engine,
    on_bound: std::sync::OnceLock<OnBound>,
    table: Mutex<Table>,
    socket: UdpSocket,
    route: ReplyRoute,
    pinger: Option<Pinger>,
    events: EventBus,
    commits: mpsc::UnboundedSender<Commit>,
}

struct Table {
    leases: MemoryLeases,
    budget: NewLeaseBudget,
}

/// Changes to make durable, and who waits for them.
struct Commit {
    changes: Vec<LeaseChange>,
    done: oneshot::Sender<Result<(), String>>,
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
            leases.apply(&LeaseChange::Put(lease));
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
        let pinger = match (route, settings.probe) {
            (ReplyRoute::AsDecided, Probe::Ping { wait }) => {
                match Pinger::new(settings.interface.clone(), wait) {
                    Ok(pinger) => Some(pinger),
                    Err(e) => {
                        warn!("{e}: new addresses are offered without checking that they are free");
                        None
                    }
                }
            }
            _ => None,
        };
        let (queue, commits) = mpsc::unbounded_channel();
        Ok(DhcpServer {
            shared: Arc::new(Shared {
                engine,
                on_bound: std::sync::OnceLock::new(),
                table: Mutex::new(Table {
                    leases,
                    budget: NewLeaseBudget::new(settings.new_leases_per_minute),
                }),
                socket,
                route,
                pinger,
                events,
                commits: queue,
            }),
            store,
            commits,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }

    /// Tells `on_bound` of every address acknowledged from now on (once;
    /// a second call is ignored).
    pub fn tell_bound(&self, on_bound: OnBound) {
        let _ = self.shared.on_bound.set(on_bound);
    }

    pub fn route(&self) -> ReplyRoute {
        self.shared.route
    }

    /// True when new addresses are pinged before they are offered.
    pub fn probes(&self) -> bool {
        self.shared.pinger.is_some()
    }

    /// Serves until `shutdown` fires. The exchanges under way then are
    /// finished (their leases committed and answered) first.
    pub async fn run(self, shutdown: CancellationToken) {
        let DhcpServer {
            shared,
            store,
            commits,
        } = self;
        let committer = tokio::spawn(commit_in_groups(store, commits));
        let exchanges = TaskTracker::new();
        let mut limit = ClientRateLimit::default();
        let mut buf = vec![0u8; 65536];
        loop {
            let arrival = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = udp::recv_with_destination(&shared.socket, &mut buf) => match received {
                    Ok(received) => received,
                    Err(e) => {
                        debug!("dhcp listener: {e}");
                        continue;
                    }
                },
            };
            let SocketAddr::V4(from) = arrival.from else {
                continue;
            };
            let packet = &buf[..arrival.len];
            if !limit.admit(packet, Instant::now()) {
                continue;
            }
            let broadcast =
                matches!(arrival.destination, Some(IpAddr::V4(ip)) if ip.is_broadcast());
            let source = Source { from, broadcast };
            let now = SystemTime::now();
            let decision = shared.decide(packet, source, now);
            let exchange = Exchange {
                shared: Arc::clone(&shared),
                packet: packet.to_vec(),
                source,
                interface: arrival.interface,
                now,
            };
            exchanges.spawn(
                exchange
                    .finish(decision)
                    .instrument(info_span!("dhcp", %from)),
            );
        }
        exchanges.close();
        exchanges.wait().await;
        drop(shared);
        let _ = committer.await;
    }
}

impl Shared {
    /// Decides `packet` and applies its changes to the in-memory table.
    fn decide(&self, packet: &[u8], source: Source, now: SystemTime) -> Decision {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let Table { leases, budget } = &mut *table;
        let decision = self.engine.decide(packet, source, now, leases, budget);
        decision.changes.iter().for_each(|c| leases.apply(c));
        decision
    }

    /// Waits until `changes` are durable; false (logged) when they cannot be.
    async fn commit(&self, changes: Vec<LeaseChange>) -> bool {
        let (done, committed) = oneshot::channel();
        if self.commits.send(Commit { changes, done }).is_err() {
            return false;
        }
        match committed.await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                warn!("lease not stored, reply dropped (the client will retry): {e}");
                false
            }
            Err(_) => false,
        }
    }
}

/// One datagram after its first decision: commit, probe, answer, publish.
struct Exchange {
    shared: Arc<Shared>,
    packet: Vec<u8>,
    source: Source,
    interface: Option<u32>,
    now: SystemTime,
}

impl Exchange {
    async fn finish(self, mut decision: Decision) {
        let shared = &*self.shared;
        for probe in 1.. {
            if !decision.changes.is_empty() && !shared.commit(decision.changes.clone()).await {
                return;
            }
            let Some(in_use) = self.in_use(&decision, probe).await else {
                break;
            };
            shared
                .table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .leases
                .apply(&in_use);
            if !shared.commit(vec![in_use]).await {
                return;
            }
            decision = shared.decide(&self.packet, self.source, SystemTime::now());
        }
        if let (DhcpEvent::Acked { ip, .. }, Some(sender), Some(on_bound)) =
            (&decision.event, &decision.sender, shared.on_bound.get())
        {
            on_bound(*ip, sender.hwaddr);
        }
        if let Some(reply) = &decision.reply {
            self.send(&reply.bytes, reply.destination).await;
        }
        let (hwaddr, vendor_class) = match decision.sender {
            Some(sender) => (Some(sender.hwaddr), sender.vendor_class),
            None => (None, None),
        };
        shared.events.publish(Event::Dhcp(DhcpExchange {
            at: self.now,
            from: self.source.from,
            hwaddr,
            vendor_class,
            event: decision.event,
        }));
    }

    /// When the address this decision offers answers a ping: the change
    /// that holds it back.
    async fn in_use(&self, decision: &Decision, probe: usize) -> Option<LeaseChange> {
        let ip = decision.check_unused?;
        let pinger = self.shared.pinger.as_ref()?;
        if probe > PROBES_PER_OFFER {
            warn!("{PROBES_PER_OFFER} addresses in a row answered a ping; offering {ip} anyway");
            return None;
        }
        match pinger.answers(ip).await {
            Ok(false) => None,
            Ok(true) => {
                let LeaseChange::Put(offered) = decision
                    .changes
                    .iter()
                    .find(|LeaseChange::Put(l)| l.ip == ip)?;
                warn!(
                    "{ip} answers a ping though no lease of ours says it is taken (a device with \
                     a fixed address inside the pool?); holding it back and offering another"
                );
                Some(
                    self.shared
                        .engine
                        .in_use_elsewhere(offered, SystemTime::now()),
                )
            }
            Err(e) => {
                debug!("cannot ping {ip}: {e}");
                None
            }
        }
    }

    async fn send(&self, bytes: &[u8], destination: Destination) {
        let shared = &*self.shared;
        let (to, interface) = match (shared.route, destination, self.interface) {
            (ReplyRoute::ToSender, ..) => (self.source.from, None),
            (ReplyRoute::AsDecided, Destination::Relay(ip), _) => {
                (SocketAddrV4::new(ip, SERVER_PORT), None)
            }
            (ReplyRoute::AsDecided, Destination::Unicast { ip, hwaddr }, Some(interface)) => {
                match udp::inject_arp(&shared.socket, interface, ip, hwaddr.octets()) {
                    Ok(()) => (SocketAddrV4::new(ip, CLIENT_PORT), None),
                    Err(e) => {
                        debug!("cannot put {ip} at {hwaddr} in the ARP cache ({e}); broadcasting");
                        (broadcast(), Some(interface))
                    }
                }
            }
            (ReplyRoute::AsDecided, Destination::Unicast { ip, .. }, None) => {
                (SocketAddrV4::new(ip, CLIENT_PORT), None)
            }
            (ReplyRoute::AsDecided, Destination::Broadcast, interface) => (broadcast(), interface),
        };
        let sent = match interface {
            Some(interface) => udp::send_on_interface(&shared.socket, bytes, to, interface).await,
            None => shared.socket.send_to(bytes, to).await.map(drop),
        };
        if let Err(e) = sent {
            warn!("cannot send the reply to {to}: {e}");
        }
    }
}

fn broadcast() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
}

/// Writes queued changes in groups, in queue order: one transaction, and so
/// one fsync, for everything that arrived while the last one was written.
async fn commit_in_groups(store: Arc<dyn LeaseStore>, mut queue: mpsc::UnboundedReceiver<Commit>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let changes: Vec<LeaseChange> = group
            .iter()
            .flat_map(|commit| commit.changes.iter().cloned())
            .collect();
        let store = Arc::clone(&store);
        let result = match tokio::task::spawn_blocking(move || store.commit(changes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the lease writer failed: {e}")),
        };
        for commit in group {
            let _ = commit.done.send(result.clone());
        }
    }
}

/// A token bucket per client MAC (the chaddr of the packet, read before
/// anything else): [`CLIENT_BURST`] packets, refilled at one a second.
#[derive(Default)]
struct ClientRateLimit {
    buckets: HashMap<[u8; 6], (f32, Instant)>,
    /// MACs told about in the log, so a flood logs once per MAC.
    reported: std::collections::HashSet<[u8; 6]>,
}

/// Beyond this many MACs tracked, the full buckets are forgotten.
const TRACKED_CLIENTS: usize = 16_384;

impl ClientRateLimit {
    fn admit(&mut self, packet: &[u8], now: Instant) -> bool {
        let Some(chaddr) = packet.get(28..34).and_then(|b| <[u8; 6]>::try_from(b).ok()) else {
            return true; // too short to name a client: the engine refuses it
        };
        if self.buckets.len() >= TRACKED_CLIENTS {
            self.forget_full(now);
        }
        let burst = CLIENT_BURST as f32;
        let (tokens, at) = self.buckets.entry(chaddr).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f32()).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return true;
        }
        if self.reported.len() < TRACKED_CLIENTS && self.reported.insert(chaddr) {
            warn!(
                "{}: more than {CLIENT_BURST} DHCP packets at once; ignoring the excess \
                 (a phone in a loop, or a flood)",
                HwAddr::new(chaddr)
            );
        }
        false
    }

    fn forget_full(&mut self, now: Instant) {
        let burst = CLIENT_BURST as f32;
        self.buckets
            .retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f32() < burst);
        if self.buckets.len() >= TRACKED_CLIENTS {
            self.buckets.clear();
        }
        self.reported.clear();
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
        /// How many commits (transactions) were made.
        groups: Mutex<usize>,
        /// Each commit takes this long, like an fsync.
        slow: Duration,
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
            std::thread::sleep(self.slow);
            *self.groups.lock().unwrap() += 1;
            self.committed.lock().unwrap().extend(changes);
            Ok(())
        }
    }

    const PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0xFF, 0xFF, 0xFF];

    fn discover() -> Vec<u8> {
        discover_from(PHONE)
    }

    fn discover_from(mac: [u8; 6]) -> Vec<u8> {
        let zero = Ipv4Addr::UNSPECIFIED;
        let mut m = v4::Message::new_with_id(7, zero, zero, zero, zero, &mac);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        m.to_vec().unwrap()
    }

    /// A known-mode server on a loopback port, with `store`, and a client socket.
    async fn start(store: Arc<TestStore>) -> (SocketAddr, UdpSocket, EventBus, CancellationToken) {
        start_telling(store, None).await
    }

    /// [`start`], telling `on_bound` of each address acknowledged.
    async fn start_telling(
        store: Arc<TestStore>,
        on_bound: Option<OnBound>,
    ) -> (SocketAddr, UdpSocket, EventBus, CancellationToken) {
        let mut engine = DhcpSettings::new(
            Mode::Known,
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(255, 0, 0, 0),
        );
        engine.known.insert(HwAddr::new(PHONE));
        engine.known.extend((0..20).map(|n| HwAddr::new(phone(n))));
        engine.pool = Some(phoneprov_dhcp::Pool {
            first: Ipv4Addr::new(127, 0, 0, 100),
            last: Ipv4Addr::new(127, 0, 0, 150),
        });
        let settings = DhcpServerSettings {
            engine,
            bind: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            new_leases_per_minute: NEW_LEASES_PER_MINUTE,
            probe: Probe::Ping { wait: PROBE_WAIT },
        };
        let events = EventBus::default();
        let server = DhcpServer::bind(settings, store, events.clone()).unwrap();
        assert_eq!(server.route(), ReplyRoute::ToSender);
        assert!(!server.probes(), "every loopback address answers a ping");
        if let Some(on_bound) = on_bound {
            server.tell_bound(on_bound);
        }
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
        assert!((Ipv4Addr::new(127, 0, 0, 100)..=Ipv4Addr::new(127, 0, 0, 150)).contains(&offered));
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
    async fn the_bound_address_is_told_before_the_ack_leaves() {
        let bound: Arc<Mutex<Vec<(Ipv4Addr, HwAddr)>>> = Arc::default();
        let told = Arc::clone(&bound);
        let on_bound: OnBound = Arc::new(move |ip, hwaddr| told.lock().unwrap().push((ip, hwaddr)));
        let store = Arc::new(TestStore::default());
        let (addr, client, _events, shutdown) = start_telling(store, Some(on_bound)).await;
        client.send_to(&discover(), addr).await.unwrap();
        let offer = receive(&client).await;
        assert!(bound.lock().unwrap().is_empty(), "an offer binds nothing");
        let zero = Ipv4Addr::UNSPECIFIED;
        let mut request = v4::Message::new_with_id(7, zero, zero, zero, zero, &PHONE);
        let opts = request.opts_mut();
        opts.insert(DhcpOption::MessageType(MessageType::Request));
        opts.insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
        opts.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(127, 0, 0, 1)));
        client
            .send_to(&request.to_vec().unwrap(), addr)
            .await
            .unwrap();
        let ack = receive(&client).await;
        assert_eq!(ack.yiaddr(), offer.yiaddr());
        // Already known when the ACK arrived.
        assert_eq!(
            *bound.lock().unwrap(),
            [(offer.yiaddr(), HwAddr::new(PHONE))]
        );
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

    fn phone(n: u8) -> [u8; 6] {
        [0x00, 0x18, 0xB9, 0x00, 0x01, n]
    }

    async fn receive(client: &UdpSocket) -> v4::Message {
        let mut buf = [0u8; 1500];
        let (len, _) = tokio::time::timeout(Duration::from_secs(10), client.recv_from(&mut buf))
            .await
            .expect("a reply")
            .unwrap();
        v4::Message::decode(&mut dhcproto::Decoder::new(&buf[..len])).unwrap()
    }

    #[tokio::test]
    async fn a_burst_is_written_in_groups_and_every_phone_answered() {
        let store = Arc::new(TestStore {
            slow: Duration::from_millis(50),
            ..TestStore::default()
        });
        let (addr, client, _events, shutdown) = start(Arc::clone(&store)).await;
        for n in 0..20 {
            client
                .send_to(&discover_from(phone(n)), addr)
                .await
                .unwrap();
        }
        let mut offered = std::collections::BTreeMap::new();
        for _ in 0..20 {
            let offer = receive(&client).await;
            offered.insert(offer.chaddr()[..6].to_vec(), offer.yiaddr());
        }
        assert_eq!(offered.len(), 20, "one offer per phone");
        let addresses: std::collections::BTreeSet<_> = offered.values().collect();
        assert_eq!(addresses.len(), 20, "no address offered twice: {offered:?}");
        assert_eq!(store.committed.lock().unwrap().len(), 20);
        let groups = *store.groups.lock().unwrap();
        assert!(
            groups < 20,
            "20 offers written in {groups} commits: decided one fsync at a time"
        );
        shutdown.cancel();
    }

    #[test]
    fn a_client_that_floods_is_held_to_its_burst_then_one_a_second() {
        let mut limit = ClientRateLimit::default();
        let (flood, other) = (discover_from(phone(1)), discover_from(phone(2)));
        let start = Instant::now();
        let admitted = (0..100).filter(|_| limit.admit(&flood, start)).count();
        assert_eq!(admitted, CLIENT_BURST as usize);
        assert!(limit.admit(&other, start), "another phone is not held up");
        assert!(!limit.admit(&flood, start + Duration::from_millis(500)));
        assert!(limit.admit(&flood, start + Duration::from_millis(1600)));
        assert!(limit.admit(&[0u8; 3], start), "too short to name a client");
    }

    #[test]
    fn the_rate_limit_forgets_quiet_clients_to_stay_bounded() {
        let mut limit = ClientRateLimit::default();
        let start = Instant::now();
        for n in 0..TRACKED_CLIENTS as u32 + 10 {
            let mut mac = [0x02, 0, 0, 0, 0, 0];
            mac[2..].copy_from_slice(&n.to_be_bytes());
            assert!(limit.admit(
                &discover_from(mac),
                start + Duration::from_millis(u64::from(n))
            ));
        }
        assert!(
            limit.buckets.len() <= TRACKED_CLIENTS,
            "{}",
            limit.buckets.len()
        );
    }
}
