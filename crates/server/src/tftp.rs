//! The TFTP driver: one listening socket, and one task with its own ephemeral
//! socket (its TID) per transfer, feeding `phoneprov-tftp`'s state machine.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use phoneprov_tftp::{
    negotiate, ErrorCode, FileSource, Mode, Outcome, Packet, Printable, ReadTransfer, RequestName,
    Resolution, ServerLimits,
};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info_span, warn, Instrument};

use crate::events::{Event, EventBus, TftpEvent, TftpOutcome};
use crate::udp;

/// Settings of the TFTP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpSettings {
    pub bind: SocketAddr,
    /// Network interface to bind to (SO_BINDTODEVICE), e.g. the phone VLAN.
    pub interface: Option<String>,
    /// Transfers running at once; further requests are dropped (the phone retries).
    pub max_transfers: usize,
    /// Transfers running at once for one client address.
    pub max_per_client: usize,
    /// Local ports for transfers, for firewalls; None lets the kernel choose.
    pub data_ports: Option<RangeInclusive<u16>>,
    pub limits: ServerLimits,
}

impl Default for TftpSettings {
    fn default() -> Self {
        TftpSettings {
            bind: SocketAddr::from(([0, 0, 0, 0], 69)),
            interface: None,
            max_transfers: 1000,
            max_per_client: 64,
            data_ports: None,
            limits: ServerLimits::default(),
        }
    }
}

/// Transfers under way, for the limits and to absorb repeated RRQs.
#[derive(Default)]
struct Running {
    peers: HashSet<SocketAddr>,
    per_ip: HashMap<IpAddr, usize>,
}

/// Releases a transfer's place in [`Running`] when the transfer ends.
struct Slot {
    running: Arc<Mutex<Running>>,
    peer: SocketAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.peers.remove(&self.peer);
        if let Some(count) = running.per_ip.get_mut(&self.peer.ip()) {
            *count -= 1;
            if *count == 0 {
                running.per_ip.remove(&self.peer.ip());
            }
        }
    }
}

pub struct TftpServer {
    socket: UdpSocket,
    settings: TftpSettings,
    source: Arc<dyn FileSource>,
    events: EventBus,
    running: Arc<Mutex<Running>>,
}

impl TftpServer {
    /// Binds the listening socket.
    pub fn bind(
        settings: TftpSettings,
        source: Arc<dyn FileSource>,
        events: EventBus,
    ) -> io::Result<TftpServer> {
        let socket = udp::listen(settings.bind, settings.interface.as_deref()).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied && settings.bind.port() < 1024
            {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE; try --bind 0.0.0.0:6969)"
            } else {
                ""
            };
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}{hint}", settings.bind),
            )
        })?;
        Ok(TftpServer {
            socket,
            settings,
            source,
            events,
            running: Arc::default(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves until `shutdown` fires, then stops listening and waits for the
    /// transfers under way to finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let mut buf = vec![0u8; 65536];
        let shared = Arc::new(Shared {
            settings: self.settings,
            source: self.source,
            events: self.events,
            local_ip: self.socket.local_addr().map(|a| a.ip()).ok(),
        });
        let mut limit = RefusalLimit::new();
        loop {
            let udp::Arrival {
                len,
                from: client,
                destination,
                ..
            } = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = udp::recv_with_destination(&self.socket, &mut buf) => match received {
                    Ok(received) => received,
                    Err(e) => {
                        debug!("tftp listener: {e}");
                        continue;
                    }
                },
            };
            let datagram = &buf[..len];
            let Some(slot) = admit(
                &shared,
                &self.running,
                &self.socket,
                &mut limit,
                client,
                datagram,
            )
            .await
            else {
                continue;
            };
            let request = datagram.to_vec();
            let shared = shared.clone();
            tracker.spawn(
                async move {
                    let event = serve(&shared, client, destination, &request).await;
                    drop(slot);
                    shared.events.publish(Event::Tftp(event));
                }
                .instrument(info_span!("tftp", %client)),
            );
        }
        drop(self.socket);
        tracker.close();
        tracker.wait().await;
    }
}

struct Shared {
    settings: TftpSettings,
    source: Arc<dyn FileSource>,
    events: EventBus,
    local_ip: Option<IpAddr>,
}

/// Decides whether a datagram on the listening socket starts a transfer.
/// Everything that does not is answered (or dropped) and reported here.
async fn admit(
    shared: &Shared,
    running: &Arc<Mutex<Running>>,
    listener: &UdpSocket,
    limit: &mut RefusalLimit,
    client: SocketAddr,
    datagram: &[u8],
) -> Option<Slot> {
    let packet = Packet::decode(datagram);
    let refused = matches!(packet, Ok(Packet::Wrq(_)) | Err(_));
    if refused && !limit.allow(Instant::now(), &shared.events, client) {
        return None;
    }
    let refuse = |requested: String, outcome: TftpOutcome| {
        shared.events.publish(Event::Tftp(TftpEvent {
            requested,
            outcome,
            ..TftpEvent::new(client)
        }));
    };
    let reply = |code: ErrorCode, text: &'static str| async move {
        let mut out = Vec::new();
        Packet::Error {
            code,
            message: text.as_bytes(),
        }
        .encode(&mut out);
        let _ = listener.send_to(&out, client).await;
    };
    match packet {
        Ok(Packet::Rrq(request)) => {
            let requested = Printable(request.filename).to_string();
            let mut guard = running.lock().unwrap_or_else(|e| e.into_inner());
            if guard.peers.contains(&client) {
                debug!("repeated RRQ from {client} absorbed");
                return None;
            }
            let settings = &shared.settings;
            let busy = if guard.peers.len() >= settings.max_transfers {
                Some(format!(
                    "{} transfers already running (max_transfers)",
                    guard.peers.len()
                ))
            } else if guard.per_ip.get(&client.ip()).copied().unwrap_or(0)
                >= settings.max_per_client
            {
                Some(format!(
                    "this client already has {} transfers running (max_per_client)",
                    settings.max_per_client
                ))
            } else {
                guard.peers.insert(client);
                *guard.per_ip.entry(client.ip()).or_default() += 1;
                None
            };
            drop(guard);
            match busy {
                Some(reason) => {
                    refuse(requested, TftpOutcome::Busy { reason });
                    None
                }
                None => Some(Slot {
                    running: running.clone(),
                    peer: client,
                }),
            }
        }
        Ok(Packet::Wrq(request)) => {
            reply(ErrorCode::AccessViolation, "Read-only server").await;
            refuse(
                Printable(request.filename).to_string(),
                TftpOutcome::Denied {
                    reason: "uploads (WRQ) are refused: phoneprov is read-only".into(),
                },
            );
            None
        }
        // DATA, ACK, ERROR or OACK on the listening port belong to no transfer.
        Ok(_) => None,
        Err(error) => {
            if datagram.len() >= 2 {
                reply(ErrorCode::IllegalOperation, "Illegal TFTP operation").await;
            }
            refuse(
                String::new(),
                TftpOutcome::Illegal {
                    reason: format!("malformed packet: {error}"),
                },
            );
            None
        }
    }
}

/// Refusals (WRQs, malformed packets) the listener answers and reports per
/// second at most. Past that, they are dropped unanswered and counted, so a
/// flood of junk neither floods the log nor turns the server into a reflector.
const REFUSALS_PER_SECOND: u32 = 50;

/// The listener's budget of refusals, one second at a time.
struct RefusalLimit {
    second: Instant,
    used: u32,
    dropped: u64,
}

impl RefusalLimit {
    fn new() -> RefusalLimit {
        RefusalLimit {
            second: Instant::now(),
            used: 0,
            dropped: 0,
        }
    }

    /// Whether one more refusal may be answered and reported now. The first
    /// refusal of a new second also reports how many the last ones dropped.
    fn allow(&mut self, now: Instant, events: &EventBus, client: SocketAddr) -> bool {
        if now.duration_since(self.second) >= Duration::from_secs(1) {
            if self.dropped > 0 {
                events.publish(Event::Tftp(TftpEvent {
                    outcome: TftpOutcome::Illegal {
                        reason: format!(
                            "{} more uploads or malformed packets were dropped unanswered (over {REFUSALS_PER_SECOND} a second)",
                            self.dropped
                        ),
                    },
                    ..TftpEvent::new(client)
                }));
            }
            *self = RefusalLimit {
                second: now,
                used: 0,
                dropped: 0,
            };
        }
        self.used += 1;
        if self.used > REFUSALS_PER_SECOND {
            self.dropped += 1;
        }
        self.used <= REFUSALS_PER_SECOND
    }
}

impl TftpEvent {
    /// An event for `client` with nothing known yet.
    fn new(client: SocketAddr) -> TftpEvent {
        TftpEvent {
            at: SystemTime::now(),
            client,
            requested: String::new(),
            served_as: None,
            case_mismatch: false,
            options_asked: Vec::new(),
            options_granted: Vec::new(),
            outcome: TftpOutcome::TimedOut,
            bytes: 0,
            blocks: 0,
            blocks_retransmitted: 0,
            duration: Default::default(),
        }
    }
}

/// Serves one admitted RRQ from its own socket and reports how it went.
async fn serve(
    shared: &Shared,
    client: SocketAddr,
    destination: Option<IpAddr>,
    datagram: &[u8],
) -> TftpEvent {
    let started = Instant::now();
    let mut event = TftpEvent::new(client);
    let Ok(Packet::Rrq(request)) = Packet::decode(datagram) else {
        unreachable!("admit() only admits RRQs");
    };
    event.requested = Printable(request.filename).to_string();
    event.options_asked = request
        .options
        .iter()
        .map(|(n, v)| (Printable(n).to_string(), Printable(v).to_string()))
        .collect();
    let socket = match transfer_socket(shared, destination).await {
        Ok(socket) => socket,
        Err(e) => {
            event.outcome = TftpOutcome::Busy {
                reason: format!("no transfer socket: {e}"),
            };
            return event;
        }
    };
    let refuse = |code: ErrorCode, text: &'static str, outcome: TftpOutcome| {
        let socket = &socket;
        async move {
            let mut out = Vec::new();
            Packet::Error {
                code,
                message: text.as_bytes(),
            }
            .encode(&mut out);
            let _ = socket.send_to(&out, client).await;
            outcome
        }
    };
    event.outcome = 'outcome: {
        let Some(mode) = Mode::parse(request.mode) else {
            let reason = format!(
                "unsupported transfer mode {:?}",
                Printable(request.mode).to_string()
            );
            break 'outcome refuse(
                ErrorCode::IllegalOperation,
                "Illegal TFTP operation",
                TftpOutcome::Illegal { reason },
            )
            .await;
        };
        let name = match RequestName::parse(request.filename) {
            Ok(name) => name,
            Err(refusal) => {
                let reason = refusal.to_string();
                break 'outcome refuse(
                    ErrorCode::AccessViolation,
                    "Access violation",
                    TftpOutcome::Denied { reason },
                )
                .await;
            }
        };
        let source = shared.source.clone();
        let resolution = tokio::task::spawn_blocking(move || source.resolve(&name, client))
            .await
            .unwrap_or_else(|e| Resolution::NotFound {
                reason: format!("the file lookup failed: {e}"),
            });
        let file = match resolution {
            Resolution::Found(file) => file,
            Resolution::NotFound { reason } => {
                break 'outcome refuse(
                    ErrorCode::FileNotFound,
                    "File not found",
                    TftpOutcome::NotFound { reason },
                )
                .await;
            }
            Resolution::Denied { reason } => {
                break 'outcome refuse(
                    ErrorCode::AccessViolation,
                    "Access violation",
                    TftpOutcome::Denied { reason },
                )
                .await;
            }
        };
        event.served_as = Some(file.served_as);
        event.case_mismatch = file.case_mismatch;
        let limits = &shared.settings.limits;
        let negotiated = match negotiate(&request.options, mode, file.content.len() as u64, limits)
        {
            Ok(negotiated) => negotiated,
            Err(e) => {
                let reason = e.to_string();
                break 'outcome refuse(
                    ErrorCode::OptionRefused,
                    "Failure to negotiate RFC2347 options",
                    TftpOutcome::OptionRefused { reason },
                )
                .await;
            }
        };
        event.options_granted = negotiated
            .granted
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let mut transfer = ReadTransfer::new(
            client,
            file.content,
            mode,
            &negotiated,
            limits,
            Instant::now(),
        );
        drive(&socket, &mut transfer).await;
        let stats = transfer.stats();
        event.bytes = stats.bytes;
        event.blocks = stats.blocks_acked;
        event.blocks_retransmitted = stats.blocks_retransmitted;
        match transfer.outcome() {
            Some(Outcome::Sent) => TftpOutcome::Sent,
            Some(Outcome::DeadlineExceeded) => TftpOutcome::DeadlineExceeded,
            Some(Outcome::ClientError { code, message }) => TftpOutcome::ClientError {
                code: code.as_u16(),
                message: message.clone(),
            },
            Some(Outcome::TimedOut) | None => TftpOutcome::TimedOut,
        }
    };
    event.duration = started.elapsed();
    event
}

/// Runs a transfer's state machine on its socket until it is finished.
async fn drive(socket: &UdpSocket, transfer: &mut ReadTransfer) {
    let mut out = Vec::with_capacity(1600);
    // Only ACKs and ERRORs arrive here; a longer ERROR text is cut, harmlessly.
    let mut incoming = [0u8; 1024];
    // One timer for the whole transfer. Each ACK moves the transfer's deadline
    // later, so re-arming the timer for every block (a timer-wheel removal and
    // insertion each) is wasted work: the timer stays armed at the earlier
    // instant, and when it fires early, `handle_timeout` finds nothing due and
    // the timer is re-armed at the current deadline. (Armed on the first pass.)
    let timer = tokio::time::sleep(Duration::MAX);
    tokio::pin!(timer);
    loop {
        while let Some(to) = transfer.poll_transmit(&mut out) {
            if let Err(e) = socket.send_to(&out, to).await {
                debug!("send to {to}: {e}");
            }
        }
        let Some(deadline) = transfer.poll_timeout() else {
            return;
        };
        let deadline = tokio::time::Instant::from(deadline);
        if timer.is_elapsed() || deadline < timer.deadline() {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            received = socket.recv_from(&mut incoming) => {
                if let Ok((len, from)) = received {
                    transfer.handle_datagram(from, &incoming[..len], Instant::now());
                }
            }
            () = &mut timer => transfer.handle_timeout(Instant::now()),
        }
    }
}

/// A fresh socket for one transfer: on the address the client sent its
/// request to, in the data port range when one is set.
async fn transfer_socket(shared: &Shared, destination: Option<IpAddr>) -> io::Result<UdpSocket> {
    let settings = &shared.settings;
    let ip = destination
        .or(shared.local_ip)
        .unwrap_or(settings.bind.ip());
    let interface = settings.interface.as_deref();
    let Some(range) = &settings.data_ports else {
        return udp::bind(SocketAddr::new(ip, 0), interface);
    };
    let span = u32::from(range.end() - range.start()) + 1;
    let first = rand::random_range(0..span);
    for i in 0..span {
        let port = range.start() + ((first + i) % span) as u16;
        match udp::bind(SocketAddr::new(ip, port), interface) {
            Ok(socket) => return Ok(socket),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    warn!("every port of the TFTP data port range {range:?} is in use");
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "all data ports {}-{} are in use",
            range.start(),
            range.end()
        ),
    ))
}
