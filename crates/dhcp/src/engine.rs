//! The decision: one request, `now` and the lease view in; the reply, where
//! it goes, the lease writes and what happened, out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use dhcproto::v4::{DhcpOption, MessageType};

use crate::budget::NewLeaseBudget;
use crate::client::{ClientId, HwAddr};
use crate::lease::{Lease, LeaseChange, LeaseState, LeaseView};
use crate::reply::{self, Header, Reply, ReplyKind, ReplyOption};
use crate::request::{self, ClientMessage, Kind, Malformed};
use crate::settings::{DhcpSettings, Mode, Pool, SettingsError};

/// Where a datagram came from, as the driver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The sender: a client on port 68, or a relay agent on port 67.
    pub from: SocketAddrV4,
    /// True when it was sent to a broadcast address rather than to this
    /// server: tells a rebinding client from a renewing one.
    pub broadcast: bool,
}

/// How the server knows the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Listed in `[[phone]]`.
    Listed,
    /// Not listed, but a Cisco phone by its MAC prefix or vendor class. It
    /// gets an address and the TFTP options, and must get no file that
    /// changes its firmware until the operator adopts it.
    Discovered,
    /// Anything else (served in `pool` mode only).
    Stranger,
}

/// The client a packet came from, when the packet could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub hwaddr: HwAddr,
    pub client: ClientId,
    pub vendor_class: Option<String>,
    pub hostname: Option<String>,
    pub standing: Standing,
}

/// The state a DHCPREQUEST shows the client in (RFC 2131 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Answering an offer: server identifier and requested address.
    Selecting,
    /// Rebooted, asking to keep its address: requested address, no server identifier.
    InitReboot,
    /// Extending its lease, unicast to this server: `ciaddr`.
    Renewing,
    /// Extending its lease, broadcast to any server: `ciaddr`.
    Rebinding,
}

/// Why a client was told no (DHCPNAK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NakReason {
    #[error("it chose this server's offer, but the offer is gone")]
    OfferGone,
    #[error("the address is not on this server's network")]
    WrongNetwork,
    #[error("this server has no lease of that address for it")]
    UnknownLease,
    #[error("the address is no longer available to it")]
    NotAvailable,
}

/// Why a packet got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreReason {
    #[error("malformed: {0}")]
    Malformed(#[from] Malformed),
    #[error("DHCP is off")]
    Off,
    #[error("not a listed phone in known mode")]
    NotListed,
    #[error("neither listed nor a Cisco phone, in cisco mode")]
    NotAPhone,
    #[error("relayed from {0}, a network this server does not serve")]
    OtherNetwork(Ipv4Addr),
    #[error("no address free for it")]
    NoAddress,
    #[error("the cap on new leases per minute is reached")]
    NewLeaseCap,
    #[error("it chose the offer of server {0}")]
    ChoseAnotherServer(Ipv4Addr),
    #[error("would be refused ({0}), but this server is not authoritative")]
    NotAuthoritative(NakReason),
    #[error("it names no address it holds from this server")]
    NotItsAddress,
    #[error("a DHCPREQUEST with neither ciaddr, a requested address nor a server identifier")]
    NoAddressInRequest,
}

/// What happened, in the phone's terms, for its timeline and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpEvent {
    Offered {
        ip: Ipv4Addr,
    },
    Acked {
        ip: Ipv4Addr,
        state: RequestState,
        expires: SystemTime,
    },
    Naked {
        requested: Ipv4Addr,
        why: NakReason,
    },
    Declined {
        ip: Ipv4Addr,
    },
    Released {
        ip: Ipv4Addr,
    },
    Informed {
        ip: Ipv4Addr,
    },
    Ignored {
        why: IgnoreReason,
    },
}

/// Everything the driver does for one packet, in this order: apply
/// `changes` (durably, when a reply depends on them); when `check_unused` is
/// set, check nobody answers at that address before sending (see
/// [`Engine::in_use_elsewhere`]); send `reply`; publish `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub reply: Option<Reply>,
    pub changes: Vec<LeaseChange>,
    pub event: DhcpEvent,
    pub sender: Option<Sender>,
    /// Set on an offer of an address this client never had: the driver
    /// should make sure (ARP probe or ping) that no one uses it.
    pub check_unused: Option<Ipv4Addr>,
}

/// The server's rules, built once from validated settings. Immutable: share
/// it between tasks and replace it on reload.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: DhcpSettings,
    network: Ipv4Addr,
    broadcast: Ipv4Addr,
    /// Address → the phone it is reserved for.
    reserved: BTreeMap<Ipv4Addr, HwAddr>,
    /// Addresses the settings name for something else (router, DNS, NTP,
    /// TFTP servers, this server): never handed out.
    infrastructure: BTreeSet<Ipv4Addr>,
    tftp_servers: Vec<Ipv4Addr>,
    tftp_server_name: Vec<u8>,
    renew_after: Duration,
    rebind_after: Duration,
}

/// Options the reply to a phone carries even when it did not ask: the
/// reference (§7) says "send both 150 and 66, and set siaddr", SIP images
/// before 6.0 ignore 66, and not every image lists 150 in option 55.
/// RFC 2131 lets a server send options that were not requested; other
/// clients get them only when they ask.
const PHONE_OPTIONS: [u8; 2] = [150, 66];
/// Sent with every lease whether asked for or not, after the asked-for ones.
const LEASE_OPTIONS: [u8; 4] = [1, 51, 58, 59];
const INFORM_OPTIONS: [u8; 1] = [1];

fn secs(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}

impl Engine {
    /// Checks the settings and builds the engine.
    pub fn new(settings: DhcpSettings) -> Result<Engine, SettingsError> {
        let mask = u32::from(settings.subnet_mask);
        let prefix = mask.leading_ones();
        if mask.count_ones() != prefix || prefix > 30 || prefix == 0 {
            return Err(SettingsError::SubnetMask(settings.subnet_mask));
        }
        let network = Ipv4Addr::from(u32::from(settings.server) & mask);
        let broadcast = Ipv4Addr::from(u32::from(network) | !mask);
        if settings.server == network || settings.server == broadcast {
            return Err(SettingsError::ServerAddress(settings.server));
        }
        let host = |ip: Ipv4Addr| {
            u32::from(ip) & mask == u32::from(network) && ip != network && ip != broadcast
        };
        if let Some(pool) = settings.pool {
            if !host(pool.first) || !host(pool.last) || pool.first > pool.last {
                return Err(SettingsError::Pool {
                    first: pool.first,
                    last: pool.last,
                    network,
                    prefix,
                });
            }
        } else if settings.mode == Mode::Pool {
            return Err(SettingsError::PoolMissing);
        }
        let mut reserved = BTreeMap::new();
        for (&mac, &ip) in &settings.reservations {
            if !host(ip) || ip == settings.server {
                return Err(SettingsError::Reservation { mac, ip });
            }
            if let Some(first) = reserved.insert(ip, mac) {
                return Err(SettingsError::SharedReservation {
                    ip,
                    first,
                    second: mac,
                });
            }
        }
        let lease = settings.lease_time;
        let renew_after = settings.renew_after.unwrap_or(lease / 2);
        let rebind_after = settings.rebind_after.unwrap_or(lease / 8 * 7);
        let ten_years = Duration::from_secs(10 * 365 * 86_400);
        if lease < Duration::from_secs(60)
            || lease > ten_years
            || renew_after >= rebind_after
            || rebind_after >= lease
        {
            return Err(SettingsError::LeaseTimes);
        }
        let tftp_servers = if settings.tftp_servers.is_empty() {
            vec![settings.server]
        } else {
            settings.tftp_servers.clone()
        };
        if tftp_servers.len() > 63 {
            return Err(SettingsError::TooManyTftpServers);
        }
        let tftp_server_name = settings
            .tftp_server_name
            .clone()
            .unwrap_or_else(|| tftp_servers[0].to_string())
            .into_bytes();
        if tftp_server_name.is_empty() || tftp_server_name.len() > 255 {
            return Err(SettingsError::Text {
                key: "tftp_server_name",
            });
        }
        if settings
            .domain
            .as_ref()
            .is_some_and(|d| d.is_empty() || d.len() > 255)
        {
            return Err(SettingsError::Text { key: "domain" });
        }
        let infrastructure = std::iter::once(settings.server)
            .chain(settings.router)
            .chain(settings.dns.iter().copied())
            .chain(settings.ntp.iter().copied())
            .chain(tftp_servers.iter().copied())
            .collect::<BTreeSet<_>>();
        if let Some((&ip, &mac)) = reserved.iter().find(|(ip, _)| infrastructure.contains(*ip)) {
            return Err(SettingsError::Reservation { mac, ip });
        }
        Ok(Engine {
            settings,
            network,
            broadcast,
            reserved,
            infrastructure,
            tftp_servers,
            tftp_server_name,
            renew_after,
            rebind_after,
        })
    }

    pub fn settings(&self) -> &DhcpSettings {
        &self.settings
    }

    /// The hook for the driver's "is anyone using it" check: when the address
    /// of `offered` (the lease in an offer's changes) answers an ARP probe or
    /// a ping, the driver applies this change instead of sending the offer,
    /// then decides the same packet again, which offers another address. The
    /// address is then held back like a declined one.
    pub fn in_use_elsewhere(&self, offered: &Lease, now: SystemTime) -> LeaseChange {
        LeaseChange::Put(Lease {
            state: LeaseState::Declined,
            expires: now + self.settings.decline_hold,
            ..offered.clone()
        })
    }

    /// Decides what to do with one datagram. Never panics: anything it cannot
    /// read is ignored, with the reason.
    pub fn decide(
        &self,
        packet: &[u8],
        source: Source,
        now: SystemTime,
        leases: &dyn LeaseView,
        budget: &mut NewLeaseBudget,
    ) -> Decision {
        if self.settings.mode == Mode::Off {
            return ignored(None, IgnoreReason::Off);
        }
        let message = match request::parse(packet) {
            Ok(message) => message,
            Err(malformed) => return ignored(None, IgnoreReason::Malformed(malformed)),
        };
        let sender = self.sender(&message);
        let admitted = match (self.settings.mode, sender.standing) {
            (_, Standing::Listed) | (Mode::Pool, _) | (Mode::Cisco, Standing::Discovered) => Ok(()),
            (Mode::Known, _) => Err(IgnoreReason::NotListed),
            _ => Err(IgnoreReason::NotAPhone),
        };
        if let Err(why) = admitted {
            return ignored(Some(sender), why);
        }
        if !message.giaddr.is_unspecified() && !self.on_network(message.giaddr) {
            return ignored(Some(sender), IgnoreReason::OtherNetwork(message.giaddr));
        }
        let exchange = Exchange {
            engine: self,
            message: &message,
            sender: &sender,
            now,
            leases,
        };
        let outcome = match message.kind {
            Kind::Discover => exchange.discover(budget),
            Kind::Request => exchange.request(source),
            Kind::Decline => exchange.decline(),
            Kind::Release => exchange.release(),
            Kind::Inform => exchange.inform(source),
        };
        Decision {
            reply: outcome.reply,
            changes: outcome.changes,
            event: outcome.event,
            sender: Some(sender),
            check_unused: outcome.check_unused,
        }
    }

    fn sender(&self, message: &ClientMessage) -> Sender {
        let hwaddr = message.hwaddr;
        let standing = if self.settings.known.contains(&hwaddr)
            || self.settings.reservations.contains_key(&hwaddr)
        {
            Standing::Listed
        } else if self
            .settings
            .cisco
            .looks_like_a_phone(hwaddr, message.vendor_class.as_deref())
        {
            Standing::Discovered
        } else {
            Standing::Stranger
        };
        Sender {
            hwaddr,
            client: message.client_id(),
            vendor_class: message.vendor_class.clone(),
            hostname: message.hostname.clone(),
            standing,
        }
    }

    fn on_network(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.settings.subnet_mask) == u32::from(self.network)
    }

    /// May `ip` be leased to the phone `hwaddr`? Its own reservation always;
    /// otherwise a pool address that is not reserved for another phone and
    /// not named for something else in the settings, and never the network,
    /// broadcast or server address.
    fn allowed(&self, ip: Ipv4Addr, hwaddr: HwAddr) -> bool {
        if self.settings.reservations.get(&hwaddr) == Some(&ip) {
            return true;
        }
        self.settings.pool.is_some_and(|pool| pool.contains(ip))
            && ip != self.network
            && ip != self.broadcast
            && !self.infrastructure.contains(&ip)
            && !self.reserved.contains_key(&ip)
    }
}

fn ignored(sender: Option<Sender>, why: IgnoreReason) -> Decision {
    Decision {
        reply: None,
        changes: Vec::new(),
        event: DhcpEvent::Ignored { why },
        sender,
        check_unused: None,
    }
}

struct Outcome {
    reply: Option<Reply>,
    changes: Vec<LeaseChange>,
    event: DhcpEvent,
    check_unused: Option<Ipv4Addr>,
}

impl Outcome {
    fn ignored(why: IgnoreReason) -> Outcome {
        Outcome {
            reply: None,
            changes: Vec::new(),
            event: DhcpEvent::Ignored { why },
            check_unused: None,
        }
    }

    fn silent(changes: Vec<LeaseChange>, event: DhcpEvent) -> Outcome {
        Outcome {
            reply: None,
            changes,
            event,
            check_unused: None,
        }
    }
}

/// One request being decided.
struct Exchange<'a> {
    engine: &'a Engine,
    message: &'a ClientMessage,
    sender: &'a Sender,
    now: SystemTime,
    leases: &'a dyn LeaseView,
}

impl Exchange<'_> {
    fn settings(&self) -> &DhcpSettings {
        &self.engine.settings
    }

    /// Is `record` this client's? Its client identifier says so; and a
    /// phone's reserved address is the phone's whatever identifier it sends
    /// (new firmware, or another DHCP client, may send another option 61
    /// or none: the reservation is by MAC).
    fn owns(&self, record: &Lease) -> bool {
        record.client == self.sender.client
            || (record.hwaddr == self.sender.hwaddr
                && self.settings().reservations.get(&record.hwaddr) == Some(&record.ip))
    }

    /// Is `ip` free for this client: unrecorded, this client's own, or held
    /// by nobody any more? A declined address is free only once its hold is over.
    fn free(&self, ip: Ipv4Addr) -> bool {
        match self.leases.by_address(ip) {
            None => true,
            Some(record) => !record.holds(self.now) || (record.is_claim() && self.owns(record)),
        }
    }

    fn usable(&self, ip: Ipv4Addr) -> bool {
        self.engine.allowed(ip, self.sender.hwaddr) && self.free(ip)
    }

    /// The address to offer, in order: the phone's reservation; the
    /// client's previous address; the address it asks for (option 50); a
    /// never-used pool address; the longest-lapsed pool address.
    fn pick(&self) -> Option<Ipv4Addr> {
        let reservation = self
            .settings()
            .reservations
            .get(&self.sender.hwaddr)
            .copied();
        let claim = self.leases.by_client(&self.sender.client);
        // RFC 2131 §4.3.1: the client's current binding first, so an address
        // already acknowledged is never taken back by an offer; then its
        // reservation, its previous address, the one it asks for.
        let current = claim
            .filter(|lease| lease.state == LeaseState::Bound && lease.holds(self.now))
            .map(|lease| lease.ip);
        let previous = claim.map(|lease| lease.ip);
        if let Some(ip) = [current, reservation, previous, self.message.requested_ip]
            .into_iter()
            .flatten()
            .find(|&ip| self.usable(ip))
        {
            return Some(ip);
        }
        let pool: Pool = self.settings().pool?;
        let mut from = pool.first;
        while let Some(ip) = self.leases.first_unrecorded(from, pool.last) {
            if self.engine.allowed(ip, self.sender.hwaddr) {
                return Some(ip);
            }
            from = Ipv4Addr::from(u32::from(ip).checked_add(1)?);
        }
        self.leases
            .lapsed(self.now)
            .map(|lease| lease.ip)
            .find(|&ip| self.engine.allowed(ip, self.sender.hwaddr))
    }

    /// The client's lease of `ip`. A host name or vendor class the client
    /// sent before but left out this time (a renewal often carries fewer
    /// options) is kept.
    fn lease(&self, ip: Ipv4Addr, state: LeaseState, expires: SystemTime) -> Lease {
        let before = self.leases.by_client(&self.sender.client);
        let kept = |now: &Option<String>, then: fn(&Lease) -> &Option<String>| {
            now.clone()
                .or_else(|| before.and_then(|lease| then(lease).clone()))
        };
        Lease {
            client: self.sender.client.clone(),
            hwaddr: self.sender.hwaddr,
            ip,
            expires,
            hostname: kept(&self.sender.hostname, |lease| &lease.hostname),
            vendor_class: kept(&self.sender.vendor_class, |lease| &lease.vendor_class),
            state,
        }
    }

    fn discover(&self, budget: &mut NewLeaseBudget) -> Outcome {
        let Some(ip) = self.pick() else {
            return Outcome::ignored(IgnoreReason::NoAddress);
        };
        let record = self.leases.by_address(ip);
        let its_own = record.is_some_and(|r| r.is_claim() && self.owns(r));
        let returning = its_own || self.leases.by_client(&self.sender.client).is_some();
        if self.sender.standing != Standing::Listed && !returning && !budget.try_take(self.now) {
            return Outcome::ignored(IgnoreReason::NewLeaseCap);
        }
        // A client that still holds its lease keeps it as it is; any other
        // offer is held briefly so no one else is offered the address.
        let still_bound =
            record.is_some_and(|r| its_own && r.state == LeaseState::Bound && r.holds(self.now));
        let changes = if still_bound {
            Vec::new()
        } else {
            let hold = self.now + self.settings().offer_hold;
            vec![LeaseChange::Put(self.lease(ip, LeaseState::Offered, hold))]
        };
        Outcome {
            reply: Some(self.reply(ReplyKind::Offer, ip)),
            changes,
            event: DhcpEvent::Offered { ip },
            check_unused: (!its_own).then_some(ip),
        }
    }

    fn request(&self, source: Source) -> Outcome {
        let m = self.message;
        let (state, ip) = if let Some(server) = m.server_id {
            if server != self.settings().server {
                return self.chose_another_server(server);
            }
            match m
                .requested_ip
                .or(Some(m.ciaddr).filter(|ip| !ip.is_unspecified()))
            {
                Some(ip) => (RequestState::Selecting, ip),
                None => return Outcome::ignored(IgnoreReason::NoAddressInRequest),
            }
        } else if !m.ciaddr.is_unspecified() {
            let state = if source.broadcast || !m.giaddr.is_unspecified() {
                RequestState::Rebinding
            } else {
                RequestState::Renewing
            };
            (state, m.ciaddr)
        } else if let Some(ip) = m.requested_ip {
            (RequestState::InitReboot, ip)
        } else {
            return Outcome::ignored(IgnoreReason::NoAddressInRequest);
        };

        // The client's claim on this address, whatever its state: a phone
        // that released or let its offer lapse gets the address back if
        // nobody took it meanwhile.
        let ours = self
            .leases
            .by_client(&self.sender.client)
            .is_some_and(|lease| lease.ip == ip)
            || self
                .leases
                .by_address(ip)
                .is_some_and(|record| record.is_claim() && self.owns(record));
        if ours && self.usable(ip) {
            let expires = self.now + self.settings().lease_time;
            return Outcome {
                reply: Some(self.reply(ReplyKind::Ack, ip)),
                changes: vec![LeaseChange::Put(self.lease(ip, LeaseState::Bound, expires))],
                event: DhcpEvent::Acked { ip, state, expires },
                check_unused: None,
            };
        }
        let why = if !self.engine.on_network(ip) {
            NakReason::WrongNetwork
        } else if state == RequestState::Selecting {
            NakReason::OfferGone
        } else if ours {
            NakReason::NotAvailable
        } else {
            NakReason::UnknownLease
        };
        // Saying no to a phone that chose this server's offer is always
        // right; anything else only when this server owns the network.
        if state == RequestState::Selecting || self.settings().authoritative {
            Outcome {
                reply: Some(self.reply(ReplyKind::Nak, Ipv4Addr::UNSPECIFIED)),
                changes: Vec::new(),
                event: DhcpEvent::Naked { requested: ip, why },
                check_unused: None,
            }
        } else {
            Outcome::ignored(IgnoreReason::NotAuthoritative(why))
        }
    }

    /// The client took another server's offer: let ours go, quietly.
    fn chose_another_server(&self, server: Ipv4Addr) -> Outcome {
        let changes = self
            .leases
            .by_client(&self.sender.client)
            .filter(|lease| lease.state == LeaseState::Offered)
            .map(|lease| {
                LeaseChange::Put(Lease {
                    state: LeaseState::Released,
                    expires: self.now,
                    ..lease.clone()
                })
            })
            .into_iter()
            .collect();
        Outcome::silent(
            changes,
            DhcpEvent::Ignored {
                why: IgnoreReason::ChoseAnotherServer(server),
            },
        )
    }

    /// The client's own record of `ip` (offered or bound), when the packet
    /// names this server or no server.
    fn its_record(&self, ip: Option<Ipv4Addr>) -> Option<&Lease> {
        if self
            .message
            .server_id
            .is_some_and(|s| s != self.settings().server)
        {
            return None;
        }
        let record = self.leases.by_address(ip?)?;
        (self.owns(record) && matches!(record.state, LeaseState::Offered | LeaseState::Bound))
            .then_some(record)
    }

    fn decline(&self) -> Outcome {
        let ip = self
            .message
            .requested_ip
            .or(Some(self.message.ciaddr).filter(|ip| !ip.is_unspecified()));
        match self.its_record(ip) {
            Some(record) => Outcome::silent(
                vec![self.engine.in_use_elsewhere(record, self.now)],
                DhcpEvent::Declined { ip: record.ip },
            ),
            None => Outcome::ignored(IgnoreReason::NotItsAddress),
        }
    }

    fn release(&self) -> Outcome {
        match self.its_record(Some(self.message.ciaddr)) {
            Some(record) => Outcome::silent(
                vec![LeaseChange::Put(Lease {
                    state: LeaseState::Released,
                    expires: self.now,
                    ..record.clone()
                })],
                DhcpEvent::Released { ip: record.ip },
            ),
            None => Outcome::ignored(IgnoreReason::NotItsAddress),
        }
    }

    /// A client with an address of its own asks for options only (RFC 2131
    /// §3.4): an ACK without `yiaddr` or lease times, and no record.
    fn inform(&self, source: Source) -> Outcome {
        let ip = Some(self.message.ciaddr)
            .filter(|ip| !ip.is_unspecified())
            .unwrap_or(*source.from.ip());
        if ip.is_unspecified() || !self.engine.on_network(ip) {
            return Outcome::ignored(IgnoreReason::NotItsAddress);
        }
        Outcome {
            reply: Some(self.reply(ReplyKind::InformAck, Ipv4Addr::UNSPECIFIED)),
            changes: Vec::new(),
            event: DhcpEvent::Informed { ip },
            check_unused: None,
        }
    }

    /// The options of a reply, in order: message type and server identifier;
    /// the ones the client asked for (option 55), in its order; the ones
    /// every lease carries; 150 and 66 for phones; option 82 echoed last.
    fn reply(&self, kind: ReplyKind, yiaddr: Ipv4Addr) -> Reply {
        let s = self.settings();
        let message_type = match kind {
            ReplyKind::Offer => MessageType::Offer,
            ReplyKind::Ack | ReplyKind::InformAck => MessageType::Ack,
            ReplyKind::Nak => MessageType::Nak,
        };
        let mut options = vec![
            ReplyOption::Plain(DhcpOption::MessageType(message_type)),
            ReplyOption::Plain(DhcpOption::ServerIdentifier(s.server)),
        ];
        if kind == ReplyKind::Nak {
            options.push(ReplyOption::Plain(DhcpOption::Message(
                "address not available".to_owned(),
            )));
        } else {
            let always: &[u8] = if kind == ReplyKind::InformAck {
                &INFORM_OPTIONS
            } else {
                &LEASE_OPTIONS
            };
            let phone = self.sender.standing != Standing::Stranger;
            let extra: &[u8] = if phone { &PHONE_OPTIONS } else { &[] };
            let mut codes: Vec<u8> = Vec::new();
            for &code in self.message.parameters.iter().chain(always).chain(extra) {
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            options.extend(codes.into_iter().filter_map(|code| self.option(code, kind)));
        }
        if let Some(info) = &self.message.relay_agent_information {
            options.push(reply::relay_agent_information(info));
        }
        let header = Header {
            kind,
            ciaddr: if matches!(kind, ReplyKind::Ack | ReplyKind::InformAck) {
                self.message.ciaddr
            } else {
                Ipv4Addr::UNSPECIFIED
            },
            yiaddr,
            siaddr: if kind == ReplyKind::Nak {
                Ipv4Addr::UNSPECIFIED
            } else {
                self.engine.tftp_servers[0]
            },
        };
        Reply {
            bytes: reply::encode(self.message, &header, &options),
            destination: reply::destination(self.message, kind, yiaddr),
        }
    }

    /// One option this server can give, if configured; lease times only in a lease.
    fn option(&self, code: u8, kind: ReplyKind) -> Option<ReplyOption> {
        let s = self.settings();
        let lease = kind != ReplyKind::InformAck;
        let addresses = |ips: &[Ipv4Addr]| (!ips.is_empty()).then(|| ips.to_vec());
        let option = match code {
            1 => DhcpOption::SubnetMask(s.subnet_mask),
            3 => DhcpOption::Router(vec![s.router?]),
            6 => DhcpOption::DomainNameServer(addresses(&s.dns)?),
            15 => DhcpOption::DomainName(s.domain.clone()?),
            42 => DhcpOption::NtpServers(addresses(&s.ntp)?),
            51 if lease => DhcpOption::AddressLeaseTime(secs(s.lease_time)),
            58 if lease => DhcpOption::Renewal(secs(self.engine.renew_after)),
            59 if lease => DhcpOption::Rebinding(secs(self.engine.rebind_after)),
            // Without a trailing NUL (RFC 2132 §2), as Cisco IOS's
            // `option 66 ascii` sends it to 79xx phones.
            66 => DhcpOption::TFTPServerName(self.engine.tftp_server_name.clone()),
            150 => return Some(ReplyOption::TftpServers(self.engine.tftp_servers.clone())),
            _ => return None,
        };
        Some(ReplyOption::Plain(option))
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
