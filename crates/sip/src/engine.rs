//! The whole SIP engine the driver runs: one datagram and `now` in; the
//! datagrams to send, when, and the events out. It ties the registrar, the
//! server transactions, the stateless proxy and the check-sync NOTIFYs
//! together; the driver owns only the socket and the timer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use crate::event::SipEvent;
use crate::header::{HeaderName, Method, NameAddr, Via, BRANCH_COOKIE};
use crate::message::{Head, Malformed, Message, Request, Response};
use crate::proxy::{self, ProxySettings, Routing};
use crate::registrar::{Binding, Registrar};
use crate::transaction::{Arrival, ClientTimeout, ClientTransaction, ServerTransactions, Timers};
use crate::uri::SipUri;

/// The methods phoneprov takes, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER";

/// The user part phoneprov's own requests come from.
const OWN_USER: &str = "phoneprov";

/// How the engine is set up, beside the registrar's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSettings {
    pub proxy: ProxySettings,
    pub timers: Timers,
    /// Open server transactions at most (see [`ServerTransactions::new`]).
    pub max_transactions: usize,
}

impl CoreSettings {
    /// Settings for a server listening on `local`, known by `domains`, with
    /// RFC 3261's timers and room for 65 536 open transactions.
    pub fn new(local: SocketAddr, domains: Vec<String>) -> CoreSettings {
        CoreSettings {
            proxy: ProxySettings { local, domains },
            timers: Timers::default(),
            max_transactions: 65_536,
        }
    }
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
    /// Not before this instant (a slowed source); usually `now`.
    pub at: Instant,
}

/// Why a datagram got nothing back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    #[error("malformed: {0}")]
    Malformed(#[from] Malformed),
    #[error("a retransmission, absorbed")]
    Retransmission,
    #[error("from a source locked out after repeated wrong passwords")]
    LockedOut,
    #[error("{0}")]
    NotRouted(&'static str),
}

/// What one call into the engine produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub transmits: Vec<Transmit>,
    pub events: Vec<SipEvent>,
    /// Set when a received datagram got nothing back, and why.
    pub dropped: Option<Dropped>,
}

impl Output {
    fn dropped(why: Dropped) -> Output {
        Output {
            dropped: Some(why),
            ..Output::default()
        }
    }
}

/// A check-sync NOTIFY that could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckSyncError {
    #[error("line {0} is not in phoneprov.toml")]
    UnknownLine(String),
    #[error("line {0} is not registered")]
    NotRegistered(String),
}

/// The SIP engine: registrar, proxy and check-sync, over transactions.
#[derive(Debug)]
pub struct Core {
    settings: CoreSettings,
    registrar: Registrar,
    server: ServerTransactions,
    /// Check-sync NOTIFYs under way, by branch, with their line.
    notifies: HashMap<String, (String, ClientTransaction)>,
    notify_seq: u32,
}

impl Core {
    pub fn new(settings: CoreSettings, registrar: Registrar) -> Core {
        let server = ServerTransactions::new(settings.timers, settings.max_transactions);
        Core {
            settings,
            registrar,
            server,
            notifies: HashMap::new(),
            notify_seq: 0,
        }
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// For changing the accounts when the configuration changes.
    pub fn registrar_mut(&mut self) -> &mut Registrar {
        &mut self.registrar
    }

    /// Handles one datagram that came from `from` at `now`.
    pub fn receive(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) -> Output {
        self.receive_read(Message::parse(datagram), from, now)
    }

    /// [`Core::receive`] for a datagram already read with
    /// [`Message::parse`]: a driver with several receiving threads reads
    /// there, in parallel, and brings only the result to the one engine.
    pub fn receive_read(
        &mut self,
        read: Result<Message, Malformed>,
        from: SocketAddr,
        now: Instant,
    ) -> Output {
        match read {
            Err(e) => Output::dropped(Dropped::Malformed(e)),
            Ok(Message::Request(request)) => self.request(request, from, now),
            Ok(Message::Response(response)) => self.response(response, now),
        }
    }

    fn request(&mut self, mut request: Request, from: SocketAddr, now: Instant) -> Output {
        stamp_received(&mut request.head.via[0], from);
        if matches!(
            request.method,
            Method::Invite | Method::Ack | Method::Bye | Method::Cancel
        ) {
            let (routing, event) =
                proxy::route_request(request, &self.registrar, &self.settings.proxy, now);
            let mut out = self.routed(routing, from, now);
            out.events.extend(event);
            return out;
        }
        let key = match self.server.arrive(&request, now) {
            Arrival::New(key) => key,
            Arrival::Absorbed => return Output::dropped(Dropped::Retransmission),
            Arrival::Replay { to, bytes } => {
                return Output {
                    transmits: vec![Transmit { to, bytes, at: now }],
                    ..Output::default()
                }
            }
        };
        let mut events = Vec::new();
        let (response, at) = match request.method {
            Method::Register => match self.registrar.register(&request, from, now) {
                Ok(registration) => {
                    events = registration.events;
                    (registration.response, now + registration.delay)
                }
                Err(_) => {
                    self.server.complete(key, None, now, now);
                    return Output::dropped(Dropped::LockedOut);
                }
            },
            Method::Options => {
                let mut response = request.response(200);
                response.head.push(HeaderName::Allow, ALLOW);
                self.registrar.tag(&request, &mut response);
                (response, now)
            }
            _ => {
                let mut response = request.response(405);
                response.head.push(HeaderName::Allow, ALLOW);
                self.registrar.tag(&request, &mut response);
                (response, now)
            }
        };
        let to = reply_addr(&response, from);
        let bytes = response.to_bytes();
        self.server
            .complete(key, Some((to, bytes.clone())), at, now);
        Output {
            transmits: vec![Transmit { to, bytes, at }],
            events,
            dropped: None,
        }
    }

    fn routed(&self, routing: Routing, from: SocketAddr, now: Instant) -> Output {
        let transmit = |to, bytes| Output {
            transmits: vec![Transmit { to, bytes, at: now }],
            ..Output::default()
        };
        match routing {
            Routing::Request { to, request } => transmit(to, request.to_bytes()),
            Routing::Response { to, response } => transmit(to, response.to_bytes()),
            Routing::Answer(response) => transmit(reply_addr(&response, from), response.to_bytes()),
            Routing::Drop(why) => Output::dropped(Dropped::NotRouted(why)),
        }
    }

    fn response(&mut self, response: Response, now: Instant) -> Output {
        let ours = self.settings.proxy.is_own(&response.head.via[0]);
        if ours && response.head.via.len() == 1 {
            let branch = response.head.via[0].branch().unwrap_or_default().to_owned();
            let Some((line, transaction)) = self.notifies.get_mut(&branch) else {
                return Output::dropped(Dropped::NotRouted("a response no transaction awaits"));
            };
            if !transaction.matches(&response) {
                return Output::dropped(Dropped::NotRouted("a response no transaction awaits"));
            }
            let mut out = Output::default();
            match transaction.on_response(&response, now) {
                Some(status) => out.events.push(SipEvent::CheckSyncAnswered {
                    line: line.clone(),
                    status,
                }),
                None => out.dropped = Some(Dropped::Retransmission),
            }
            return out;
        }
        let routing = proxy::route_response(response, &self.registrar, &self.settings.proxy, now);
        // A response has no sender to answer: `from` is never used for it.
        self.routed(routing, self.settings.proxy.local, now)
    }

    /// Sends `Event: check-sync` to every registered contact of `line`
    /// (reference §9.2): the phone fetches syncinfo.xml and reboots if its
    /// sync value changed. Each NOTIFY is a client transaction (timers E
    /// and F); the answers come back as `CheckSyncAnswered` or
    /// `CheckSyncTimedOut` events.
    pub fn check_sync(&mut self, line: &str, now: Instant) -> Result<Output, CheckSyncError> {
        if !self.registrar.is_line(line) {
            return Err(CheckSyncError::UnknownLine(line.to_owned()));
        }
        let bindings: Vec<Binding> = self.registrar.bindings(line, now).cloned().collect();
        if bindings.is_empty() {
            return Err(CheckSyncError::NotRegistered(line.to_owned()));
        }
        let mut out = Output::default();
        for binding in bindings {
            self.notify_seq = self.notify_seq.wrapping_add(1) % (1 << 31);
            let request = self.check_sync_request(line, &binding, self.notify_seq);
            let transaction =
                ClientTransaction::start(&request, binding.target, self.settings.timers, now);
            out.transmits.push(Transmit {
                to: binding.target,
                bytes: transaction.bytes().to_vec(),
                at: now,
            });
            self.notifies.insert(
                transaction.branch().to_owned(),
                (line.to_owned(), transaction),
            );
        }
        Ok(out)
    }

    /// The NOTIFY of reference §9.2 for one binding: to the registered
    /// contact, `Event: check-sync`, no body. Like Cisco's sample it carries
    /// no Subscription-State: it answers no subscription.
    pub fn check_sync_request(&self, line: &str, binding: &Binding, seq: u32) -> Request {
        let local = self.settings.proxy.local;
        let key = self.registrar.key();
        let seq_text = seq.to_string();
        let id = key.label(&[
            "check-sync",
            line,
            &binding.contact.uri.to_string(),
            &seq_text,
        ]);
        let own = Via::udp(local, "");
        let own_uri = SipUri::new(Some(OWN_USER), &own.host, Some(local.port()));
        let mut from = NameAddr::new(own_uri.clone());
        from.params.set("tag", Some(id.clone()));
        let mut to_uri = binding.contact.uri.clone();
        to_uri.params.0.clear();
        to_uri.headers = None;
        if to_uri.user.is_none() {
            to_uri.user = Some(line.to_owned());
        }
        let mut uri = binding.contact.uri.clone();
        uri.headers = None;
        let mut head = Head {
            via: vec![Via::udp(local, &format!("{BRANCH_COOKIE}{id}"))],
            from,
            to: NameAddr::new(to_uri),
            call_id: format!("{id}@{}", own.host),
            cseq: crate::header::CSeq {
                seq,
                method: Method::Notify,
            },
            max_forwards: Some(70),
            contact: Some(crate::header::Contact::Addresses(vec![NameAddr::new(
                own_uri,
            )])),
            expires: None,
            extra: Vec::new(),
        };
        head.push(HeaderName::Event, "check-sync");
        Request {
            method: Method::Notify,
            uri,
            head,
            body: Vec::new(),
        }
    }

    /// When the driver should call [`Core::handle_timeout`].
    pub fn next_timeout(&self) -> Option<Instant> {
        let notify = self.notifies.values().filter_map(|(_, t)| t.next_timeout());
        [self.server.next_timeout(), self.registrar.next_expiry()]
            .into_iter()
            .flatten()
            .chain(notify)
            .min()
    }

    /// Fires every timer due at `now`: retransmits NOTIFYs, gives up on
    /// unanswered ones, ends transactions and expires bindings.
    pub fn handle_timeout(&mut self, now: Instant) -> Output {
        self.server.handle_timeout(now);
        let mut out = Output {
            events: self.registrar.expire(now),
            ..Output::default()
        };
        self.notifies.retain(|_, (line, transaction)| {
            if transaction.next_timeout().is_some_and(|at| at <= now) {
                match transaction.on_timeout(now) {
                    ClientTimeout::Retransmit(bytes) => out.transmits.push(Transmit {
                        to: transaction.destination(),
                        bytes,
                        at: now,
                    }),
                    ClientTimeout::TimedOut => out
                        .events
                        .push(SipEvent::CheckSyncTimedOut { line: line.clone() }),
                    ClientTimeout::Quiet => {}
                }
            }
            transaction.next_timeout().is_some()
        });
        out
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: note on the top Via where the request
/// really came from, so that responses go back there.
fn stamp_received(via: &mut Via, from: SocketAddr) {
    let ip = from.ip().to_string();
    let sent_from = via.host.trim_start_matches('[').trim_end_matches(']');
    if sent_from != ip {
        via.params.set("received", Some(ip));
    }
    if via.params.get("rport") == Some(None) {
        via.params.set("rport", Some(from.port().to_string()));
    }
}

/// Where a response goes: its top Via's address, else the request's sender.
fn reply_addr(response: &Response, from: SocketAddr) -> SocketAddr {
    response.head.via[0].response_addr().unwrap_or(from)
}
