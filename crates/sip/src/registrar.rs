//! The registrar (RFC 3261 §10.3): who may register which line, with which
//! password, and where each registered line can be reached.
//!
//! Lines and passwords come from `phoneprov.toml`: the driver maps each
//! phone's lines into [`Account`]s. A phone registers its line (`lineN_name`,
//! the user of the To URI) and authenticates with `lineN_authname` and the
//! line's password, as the 79xx SIP firmware does (reference §9.1).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::digest::{Challenge, Credentials, NonceKey, NonceState};
use crate::event::{AuthFailure, SipEvent, UnregisterReason};
use crate::header::{Contact, HeaderName, NameAddr, CISCO_MODEL_PARAM, INSTANCE_PARAM};
use crate::lockout::{Lockout, LockoutPolicy, Standing};
use crate::message::{Request, Response};
use crate::syntax::unquote;
use crate::uri::SipUri;

/// A line's password: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Password {
        Password(value.into())
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// One line that may register: what `phoneprov.toml` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The line's SIP user (`lineN_name`): the user of the To URI, and the
    /// number other phones dial.
    pub line: String,
    /// The digest user name (`lineN_authname`, or the line name).
    pub authname: String,
    pub password: Password,
}

/// Why a set of accounts cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("line {0} is listed twice")]
    DuplicateLine(String),
    #[error("authname {0} is used by two lines")]
    DuplicateAuthname(String),
    #[error("an account with an empty line name or authname")]
    Empty,
}

/// How the registrar behaves; the defaults suit 79xx phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarSettings {
    /// The digest realm (the phones do not check it; the server address is usual).
    pub realm: String,
    /// Shortest registration accepted, in seconds; shorter ones get 423.
    pub min_expires: u32,
    /// Longest registration granted, in seconds; longer ones are cut to it.
    pub max_expires: u32,
    /// Granted when the REGISTER names no lifetime.
    pub default_expires: u32,
    /// How long a nonce may be used before it is answered with `stale=true`.
    pub nonce_lifetime: Duration,
    /// Offer `qop="auth"` in challenges (both answers are accepted anyway).
    pub offer_qop: bool,
    /// Contacts one line may have; a new one replaces the one expiring first.
    pub max_bindings_per_line: usize,
    pub lockout: LockoutPolicy,
}

impl RegistrarSettings {
    /// Settings with `realm` and the defaults: 60 s to 2 h, 3600 s when the
    /// phone says nothing (`timer_register_expires`'s default), nonces good
    /// for 5 minutes, no qop offered, 4 contacts per line.
    pub fn new(realm: impl Into<String>) -> RegistrarSettings {
        RegistrarSettings {
            realm: realm.into(),
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            nonce_lifetime: Duration::from_secs(300),
            offer_qop: false,
            max_bindings_per_line: 4,
            lockout: LockoutPolicy::default(),
        }
    }
}

/// Where a registered line can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact as registered, its parameters included.
    pub contact: NameAddr,
    /// Where requests for the line go: the Contact's address when it is an
    /// IP address, else the address the REGISTER came from.
    pub target: SocketAddr,
    /// Where the REGISTER came from.
    pub source: SocketAddr,
    pub expires_at: Instant,
    pub call_id: String,
    pub cseq: u32,
    /// Cisco's model code from the Contact (`+u.sip!model.ccm.cisco.com`).
    pub model: Option<String>,
    /// `+sip.instance`, without quotes.
    pub instance: Option<String>,
    pub user_agent: Option<String>,
}

/// What to answer a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub response: Response,
    /// Send the response no sooner than this after `now`: a source that
    /// keeps failing is slowed down.
    pub delay: Duration,
    pub events: Vec<SipEvent>,
}

/// A REGISTER from a locked-out source: it gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("locked out after repeated wrong passwords")]
pub struct LockedOut {
    pub until: Instant,
}

/// The registrar: accounts, bindings, the nonce key and the lockout.
#[derive(Debug)]
pub struct Registrar {
    settings: RegistrarSettings,
    accounts: HashMap<String, Account>,
    line_by_authname: HashMap<String, String>,
    bindings: HashMap<String, Vec<Binding>>,
    /// Every binding's expiry, counted: the earliest without a scan of all
    /// bindings, which the driver asks for after every datagram.
    expiries: BTreeMap<Instant, usize>,
    key: NonceKey,
    lockout: Lockout,
}

impl Registrar {
    /// A registrar for `accounts`. `secret` keys nonces and tags (see
    /// [`NonceKey::new`]); `now` is when nonce times start.
    pub fn new(
        settings: RegistrarSettings,
        accounts: Vec<Account>,
        secret: &[u8],
        now: Instant,
    ) -> Result<Registrar, AccountError> {
        let lockout = Lockout::new(settings.lockout);
        let mut registrar = Registrar {
            settings,
            accounts: HashMap::new(),
            line_by_authname: HashMap::new(),
            bindings: HashMap::new(),
            expiries: BTreeMap::new(),
            key: NonceKey::new(secret, now),
            lockout,
        };
        registrar.set_accounts(accounts)?;
        Ok(registrar)
    }

    /// Replaces the accounts (the configuration changed). Bindings of lines
    /// that are gone are dropped, with an `Unregistered` event each.
    pub fn set_accounts(&mut self, accounts: Vec<Account>) -> Result<Vec<SipEvent>, AccountError> {
        let mut by_line = HashMap::new();
        let mut by_authname = HashMap::new();
        for account in accounts {
            if account.line.is_empty() || account.authname.is_empty() {
                return Err(AccountError::Empty);
            }
            if by_authname
                .insert(account.authname.clone(), account.line.clone())
                .is_some()
            {
                return Err(AccountError::DuplicateAuthname(account.authname));
            }
            if by_line.contains_key(&account.line) {
                return Err(AccountError::DuplicateLine(account.line));
            }
            by_line.insert(account.line.clone(), account);
        }
        self.accounts = by_line;
        self.line_by_authname = by_authname;
        let mut events = Vec::new();
        let accounts = &self.accounts;
        let expiries = &mut self.expiries;
        self.bindings.retain(|line, bindings| {
            let keep = accounts.contains_key(line);
            if !keep {
                for b in bindings.iter() {
                    events.push(unbound(expiries, line, b, UnregisterReason::LineRemoved));
                }
            }
            keep
        });
        Ok(events)
    }

    pub fn settings(&self) -> &RegistrarSettings {
        &self.settings
    }

    /// True when `line` is a line of this site, registered or not.
    pub fn is_line(&self, line: &str) -> bool {
        self.accounts.contains_key(line)
    }

    /// The live bindings of `line` at `now`, most recently registered last.
    pub fn bindings(&self, line: &str, now: Instant) -> impl Iterator<Item = &Binding> {
        self.bindings
            .get(line)
            .into_iter()
            .flatten()
            .filter(move |b| b.expires_at > now)
    }

    /// Every line with at least one binding, and its bindings.
    pub fn registrations(&self) -> impl Iterator<Item = (&str, &[Binding])> {
        self.bindings
            .iter()
            .map(|(line, bindings)| (line.as_str(), bindings.as_slice()))
    }

    /// The key nonces, tags and branches are made with.
    pub(crate) fn key(&self) -> &NonceKey {
        &self.key
    }

    /// The first instant a binding expires, for the driver's timer.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.keys().next().copied()
    }

    /// Puts back a binding kept from before a restart, so a phone stays
    /// reachable (calls, check-sync) without re-registering. Refused (false)
    /// when its line is no longer an account, it has expired, its contact is
    /// already bound, or the line holds the most bindings it may.
    pub fn restore(&mut self, line: &str, binding: Binding, now: Instant) -> bool {
        if !self.is_line(line) || binding.expires_at <= now {
            return false;
        }
        let bindings = self.bindings.entry(line.to_owned()).or_default();
        if bindings.len() >= self.settings.max_bindings_per_line
            || bindings
                .iter()
                .any(|b| b.contact.uri == binding.contact.uri)
        {
            return false;
        }
        track(&mut self.expiries, binding.expires_at);
        bindings.push(binding);
        true
    }

    /// Drops the bindings expired at `now` (and forgotten failures).
    pub fn expire(&mut self, now: Instant) -> Vec<SipEvent> {
        let mut events = Vec::new();
        let expiries = &mut self.expiries;
        for (line, bindings) in &mut self.bindings {
            bindings.retain(|b| {
                let live = b.expires_at > now;
                if !live {
                    events.push(unbound(expiries, line, b, UnregisterReason::Expired));
                }
                live
            });
        }
        self.bindings.retain(|_, bindings| !bindings.is_empty());
        self.lockout.forget_stale(now);
        events
    }

    /// Answers a REGISTER that came from `source` at `now`.
    pub fn register(
        &mut self,
        request: &Request,
        source: SocketAddr,
        now: Instant,
    ) -> Result<Registration, LockedOut> {
        if let Standing::Locked { until } = self.lockout.standing(source.ip(), now) {
            return Err(LockedOut { until });
        }
        let mut events = Vec::new();
        let mut response = self.decide(request, source, now, &mut events);
        self.tag(request, &mut response);
        let delay = match self.lockout.standing(source.ip(), now) {
            Standing::Clear => Duration::ZERO,
            Standing::Slowed(delay) => delay,
            // This very failure locked it: the last answer it gets is slow.
            Standing::Locked { .. } => self.settings.lockout.max_delay,
        };
        Ok(Registration {
            response,
            delay,
            events,
        })
    }

    /// Adds a To tag the same for every retransmission (RFC 3261 §8.2.6.2).
    pub(crate) fn tag(&self, request: &Request, response: &mut Response) {
        if response.head.to.tag().is_none() {
            let from_tag = request.head.from.tag().unwrap_or("");
            let tag = self.key.label(&["to-tag", &request.head.call_id, from_tag]);
            response.head.to.params.set("tag", Some(tag));
        }
    }

    fn challenge(&self, request: &Request, now: Instant, stale: bool) -> Response {
        let mut response = request.response(401);
        let challenge = Challenge {
            realm: self.settings.realm.clone(),
            nonce: self.key.issue(&self.settings.realm, now),
            stale,
            qop: self.settings.offer_qop,
        };
        response
            .head
            .push(HeaderName::WwwAuthenticate, challenge.to_string());
        response
    }

    fn failure(
        &mut self,
        request: &Request,
        source: SocketAddr,
        now: Instant,
        authname: &str,
        cause: AuthFailure,
        events: &mut Vec<SipEvent>,
    ) {
        events.push(SipEvent::AuthFailed {
            source,
            authname: authname.to_owned(),
            line: request.head.to.uri.user_name().map(str::to_owned),
            user_agent: request.head.get(&HeaderName::UserAgent).map(str::to_owned),
            cause,
        });
        // `register` answers nothing to a locked source, so a lock seen
        // here is new.
        if let Standing::Locked { until } = self.lockout.fail(source.ip(), now) {
            events.push(SipEvent::SourceLocked {
                source: source.ip(),
                until,
            });
        }
    }

    fn decide(
        &mut self,
        request: &Request,
        source: SocketAddr,
        now: Instant,
        events: &mut Vec<SipEvent>,
    ) -> Response {
        let Some(line) = request.head.to.uri.user_name().map(str::to_owned) else {
            return request.response(400);
        };
        let Some(authorization) = request.head.get(&HeaderName::Authorization) else {
            return self.challenge(request, now, false);
        };
        let Ok(credentials) = Credentials::parse(authorization) else {
            return request.response(400);
        };
        if credentials.realm != self.settings.realm {
            let cause = AuthFailure::WrongRealm(credentials.realm.clone());
            self.failure(request, source, now, &credentials.username, cause, events);
            return self.challenge(request, now, false);
        }
        let nonce = self.key.check(
            &credentials.nonce,
            &self.settings.realm,
            now,
            self.settings.nonce_lifetime,
        );
        if nonce == NonceState::Forged {
            return self.challenge(request, now, false);
        }
        let Some(account) = self
            .line_by_authname
            .get(&credentials.username)
            .and_then(|line| self.accounts.get(line))
            .cloned()
        else {
            let cause = AuthFailure::UnknownAuthname;
            self.failure(request, source, now, &credentials.username, cause, events);
            return self.challenge(request, now, false);
        };
        if !credentials.verify(request.method.as_str(), account.password.reveal()) {
            let cause = AuthFailure::WrongPassword;
            self.failure(request, source, now, &credentials.username, cause, events);
            return self.challenge(request, now, false);
        }
        if nonce == NonceState::Stale {
            return self.challenge(request, now, true);
        }
        if account.line != line {
            events.push(SipEvent::AuthFailed {
                source,
                authname: credentials.username,
                line: Some(line.clone()),
                user_agent: request.head.get(&HeaderName::UserAgent).map(str::to_owned),
                cause: AuthFailure::WrongLine {
                    authname_line: account.line,
                },
            });
            return request.response(403);
        }
        self.update_bindings(request, &line, source, now, events)
    }

    fn update_bindings(
        &mut self,
        request: &Request,
        line: &str,
        source: SocketAddr,
        now: Instant,
        events: &mut Vec<SipEvent>,
    ) -> Response {
        let head = &request.head;
        match &head.contact {
            None => {}
            Some(Contact::Any) => {
                if head.expires != Some(0) {
                    return request.response(400);
                }
                for b in self.bindings.remove(line).unwrap_or_default() {
                    events.push(unbound(
                        &mut self.expiries,
                        line,
                        &b,
                        UnregisterReason::ByPhone,
                    ));
                }
            }
            Some(Contact::Addresses(contacts)) => {
                // Check every contact before changing anything.
                let mut lifetimes = Vec::with_capacity(contacts.len());
                for contact in contacts {
                    let asked = match contact.params.get("expires") {
                        Some(Some(v)) => v.parse::<u32>().ok(),
                        _ => None,
                    };
                    let asked = asked
                        .or(head.expires)
                        .unwrap_or(self.settings.default_expires);
                    if asked != 0 && asked < self.settings.min_expires {
                        let mut response = request.response(423);
                        response.head.push(
                            HeaderName::MinExpires,
                            self.settings.min_expires.to_string(),
                        );
                        return response;
                    }
                    lifetimes.push(asked.min(self.settings.max_expires));
                }
                let existing = self.bindings.get(line);
                let out_of_order = contacts.iter().any(|c| {
                    existing.into_iter().flatten().any(|b| {
                        b.contact.uri.same_address(&c.uri)
                            && b.call_id == head.call_id
                            && b.cseq >= head.cseq.seq
                    })
                });
                if out_of_order {
                    return request.response(500);
                }
                for (contact, lifetime) in contacts.iter().zip(lifetimes) {
                    self.bind(request, line, contact, lifetime, source, now, events);
                }
            }
        }
        let mut response = request.response(200);
        let mut listed = Vec::new();
        for b in self.bindings(line, now) {
            let mut contact = b.contact.clone();
            let left = b.expires_at.saturating_duration_since(now).as_secs();
            contact.params.set("expires", Some(left.to_string()));
            listed.push(contact);
        }
        if let Some(first) = listed.first() {
            if let Some(Some(left)) = first.params.get("expires") {
                response.head.expires = left.parse().ok();
            }
            response.head.contact = Some(Contact::Addresses(listed));
        }
        response
    }

    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        request: &Request,
        line: &str,
        contact: &NameAddr,
        lifetime: u32,
        source: SocketAddr,
        now: Instant,
        events: &mut Vec<SipEvent>,
    ) {
        let instance = contact.params.get(INSTANCE_PARAM).flatten().map(unquote);
        let bindings = self.bindings.entry(line.to_owned()).or_default();
        let same = |b: &Binding| {
            b.contact.uri.same_address(&contact.uri)
                || (instance.is_some() && b.instance == instance)
        };
        let previous = bindings.iter().position(same);
        if lifetime == 0 {
            if let Some(i) = previous {
                let gone = bindings.remove(i);
                events.push(unbound(
                    &mut self.expiries,
                    line,
                    &gone,
                    UnregisterReason::ByPhone,
                ));
            }
            if bindings.is_empty() {
                self.bindings.remove(line);
            }
            return;
        }
        let renewed = previous.is_some();
        if let Some(i) = previous {
            let old = bindings.remove(i);
            untrack(&mut self.expiries, old.expires_at);
            if !old.contact.uri.same_address(&contact.uri) {
                events.push(SipEvent::Unregistered {
                    line: line.to_owned(),
                    contact: old.contact.uri,
                    reason: UnregisterReason::Replaced,
                });
            }
        } else if bindings.len() >= self.settings.max_bindings_per_line {
            let first = (0..bindings.len()).min_by_key(|&i| bindings[i].expires_at);
            if let Some(i) = first {
                let old = bindings.remove(i);
                events.push(unbound(
                    &mut self.expiries,
                    line,
                    &old,
                    UnregisterReason::Replaced,
                ));
            }
        }
        let binding = Binding {
            contact: contact.clone(),
            target: target_of(&contact.uri, source),
            source,
            expires_at: now + Duration::from_secs(u64::from(lifetime)),
            call_id: request.head.call_id.clone(),
            cseq: request.head.cseq.seq,
            model: contact.params.get(CISCO_MODEL_PARAM).flatten().map(unquote),
            instance,
            user_agent: request.head.get(&HeaderName::UserAgent).map(str::to_owned),
        };
        events.push(SipEvent::Registered {
            line: line.to_owned(),
            contact: binding.contact.uri.clone(),
            target: binding.target,
            source,
            expires: Duration::from_secs(u64::from(lifetime)),
            model: binding.model.clone(),
            user_agent: binding.user_agent.clone(),
            renewed,
        });
        track(&mut self.expiries, binding.expires_at);
        bindings.push(binding);
    }
}

/// A binding taken out of the table: its expiry leaves the index, and the
/// event says why.
fn unbound(
    expiries: &mut BTreeMap<Instant, usize>,
    line: &str,
    binding: &Binding,
    reason: UnregisterReason,
) -> SipEvent {
    untrack(expiries, binding.expires_at);
    SipEvent::Unregistered {
        line: line.to_owned(),
        contact: binding.contact.uri.clone(),
        reason,
    }
}

fn track(expiries: &mut BTreeMap<Instant, usize>, at: Instant) {
    *expiries.entry(at).or_default() += 1;
}

fn untrack(expiries: &mut BTreeMap<Instant, usize>, at: Instant) {
    if let Entry::Occupied(mut count) = expiries.entry(at) {
        *count.get_mut() -= 1;
        if *count.get() == 0 {
            count.remove();
        }
    }
}

/// Where requests for a contact go: its own address when it is an IP
/// address, else the address its REGISTER came from.
fn target_of(uri: &SipUri, source: SocketAddr) -> SocketAddr {
    uri.socket_addr().unwrap_or(source)
}
