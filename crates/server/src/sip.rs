//! The SIP driver: one UDP socket and one timer feeding `phoneprov-sip`'s
//! [`Core`] (registrar, server transactions, stateless proxy, check-sync
//! NOTIFYs). Everything the engine decides is sent as it says, when it says
//! (a source that keeps sending wrong passwords is answered later), and
//! every event goes on the bus, tied to the phone that owns the line.
//!
//! Other parts of phoneprov reach the running engine through a
//! [`SipHandle`]: `phoneprov reboot` (check-sync), `phoneprov
//! registrations`, and a configuration reload (new lines and passwords).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use phoneprov_cisco::{Mac, Model};
use phoneprov_sip::{
    Account, Binding, CheckSyncError, Core, CoreSettings, Message, NameAddr, Output, Registrar,
    RegistrarSettings, SipEvent, Transmit,
};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::events::{Event, EventBus, SipExchange};

/// A line as the registrar knows it, and the phone it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipLine {
    pub account: Account,
    pub phone: Mac,
}

/// Settings of the SIP service.
#[derive(Debug, Clone)]
pub struct SipServerSettings {
    /// The digest realm (the 7940 answers any; phoneprov uses the server
    /// address, as in the phone's own trace).
    pub realm: String,
    /// Offer `qop=auth` in challenges (the 7940 answers without it either way).
    pub qop: bool,
    /// The names phones may use for this server in a Request-URI, beside
    /// the bound address.
    pub domains: Vec<String>,
    pub lines: Vec<SipLine>,
    /// Keys nonces and tags; keep it across restarts so a phone's nonce
    /// stays valid.
    pub secret: Vec<u8>,
    /// Where the registrations are kept over a restart (a JSON file in the
    /// state folder), so phones stay reachable without registering again.
    pub kept: Option<PathBuf>,
}

/// How often changed registrations are written to `kept`.
const KEEP_EVERY: Duration = Duration::from_secs(5);

/// A binding as written to the `kept` file.
#[derive(Debug, Serialize, Deserialize)]
struct KeptBinding {
    line: String,
    contact: String,
    target: SocketAddr,
    source: SocketAddr,
    /// Milliseconds since the Unix epoch.
    expires: u64,
    call_id: String,
    cseq: u32,
    model: Option<String>,
    instance: Option<String>,
    user_agent: Option<String>,
}

/// One registered contact, for `phoneprov registrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredContact {
    pub line: String,
    pub phone: Option<Mac>,
    pub contact: String,
    pub source: SocketAddr,
    pub expires_in: Duration,
    /// What its REGISTER says it is.
    pub model: Option<Model>,
    pub user_agent: Option<String>,
}

/// What other parts of phoneprov ask of the running SIP service.
enum Command {
    CheckSync {
        phones: Vec<Vec<String>>,
        done: oneshot::Sender<Vec<Result<String, CheckSyncError>>>,
    },
    Registrations {
        done: oneshot::Sender<Vec<RegisteredContact>>,
    },
    SetLines {
        lines: Vec<SipLine>,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// Talks to a running [`SipServer`]; cheap to clone.
#[derive(Clone)]
pub struct SipHandle {
    commands: mpsc::Sender<Command>,
}

impl SipHandle {
    /// Sends check-sync to each phone, given as its lines: to the
    /// registered contacts of its first registered line, so a phone with
    /// several lines gets one NOTIFY. For each phone, the line used, or why
    /// none could be (the answers arrive as events).
    pub async fn check_sync(
        &self,
        phones: Vec<Vec<String>>,
    ) -> io::Result<Vec<Result<String, CheckSyncError>>> {
        self.ask(|done| Command::CheckSync { phones, done }).await
    }

    /// Every registered contact, by line.
    pub async fn registrations(&self) -> io::Result<Vec<RegisteredContact>> {
        self.ask(|done| Command::Registrations { done }).await
    }

    /// Replaces the lines (the configuration changed); bindings of removed
    /// lines end with an `Unregistered` event.
    pub async fn set_lines(&self, lines: Vec<SipLine>) -> io::Result<Result<(), String>> {
        self.ask(|done| Command::SetLines { lines, done }).await
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> io::Result<T> {
        let gone = || io::Error::other("the SIP service has stopped");
        let (done, answer) = oneshot::channel();
        self.commands
            .send(command(done))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

pub struct SipServer {
    socket: Arc<UdpSocket>,
    state: Arc<Mutex<State>>,
    events: EventBus,
    commands: mpsc::Receiver<Command>,
    handle: SipHandle,
}

/// The engine and what goes with it. Several tasks receive and read
/// datagrams in parallel (reading is a third of the work); each locks this
/// for the engine's step alone, and sends and publishes after.
struct State {
    core: Core,
    owners: HashMap<String, Mac>,
    kept: Option<PathBuf>,
    /// Registrations changed since they were last written.
    changed: bool,
}

/// Receiving tasks at most (one per core is the useful number).
const RECEIVERS: usize = 4;
/// The timer task looks at the engine's timers at least this often, as
/// receiving tasks may arm new ones meanwhile.
const TIMER_CHECK: Duration = Duration::from_millis(500);

impl SipServer {
    /// Binds the SIP socket, before the runtime starts, so that the port
    /// the kernel picks for `:0` can go into the phones' configs.
    pub fn listen(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
        std::net::UdpSocket::bind(addr)
            .and_then(|socket| {
                crate::udp::enlarge_receive_buffer(socket2::SockRef::from(&socket));
                socket.set_nonblocking(true).map(|()| socket)
            })
            .map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::AddrInUse {
                    " (another SIP server, e.g. Asterisk, holds it: stop it, or set [sip] \
                     registrar = false and proxy = \"its-address:5060\" to use it)"
                } else {
                    ""
                };
                io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}{hint}"))
            })
    }

    /// Serves on `socket` (from [`SipServer::listen`]) the lines of
    /// `settings`; call it inside the runtime.
    pub fn new(
        socket: std::net::UdpSocket,
        settings: SipServerSettings,
        events: EventBus,
    ) -> io::Result<SipServer> {
        let socket = UdpSocket::from_std(socket)?;
        let local = socket.local_addr()?;
        let now = Instant::now();
        let mut registrar_settings = RegistrarSettings::new(settings.realm);
        registrar_settings.offer_qop = settings.qop;
        let (accounts, owners) = split(settings.lines);
        let registrar = Registrar::new(registrar_settings, accounts, &settings.secret, now)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut domains = settings.domains;
        domains.push(local.ip().to_string());
        let mut core = Core::new(CoreSettings::new(local, domains), registrar);
        if let Some(path) = &settings.kept {
            restore(path, &mut core, now);
        }
        let (sender, commands) = mpsc::channel(64);
        Ok(SipServer {
            socket: Arc::new(socket),
            state: Arc::new(Mutex::new(State {
                core,
                owners,
                kept: settings.kept,
                changed: false,
            })),
            events,
            commands,
            handle: SipHandle { commands: sender },
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn handle(&self) -> SipHandle {
        self.handle.clone()
    }

    /// Serves until `shutdown` fires: receiving tasks, one per core, and
    /// this one for the timers, the commands and keeping the registrations.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let receivers = std::thread::available_parallelism().map_or(1, |n| n.get().min(RECEIVERS));
        let tasks = TaskTracker::new();
        for _ in 0..receivers {
            tasks.spawn(receive(
                Arc::clone(&self.socket),
                Arc::clone(&self.state),
                self.events.clone(),
                shutdown.clone(),
            ));
        }
        let mut keep = tokio::time::interval(KEEP_EVERY);
        loop {
            let check = Instant::now() + TIMER_CHECK;
            let timer = self
                .lock()
                .core
                .next_timeout()
                .map_or(check, |at| at.min(check));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = keep.tick() => self.lock().keep(),
                _ = tokio::time::sleep_until(timer.into()) => {
                    let step = {
                        let mut state = self.lock();
                        let output = state.core.handle_timeout(Instant::now());
                        state.step(output)
                    };
                    step.deliver(&self.socket, &self.events).await;
                }
                Some(command) = self.commands.recv() => self.obey(command).await,
            }
        }
        tasks.close();
        tasks.wait().await;
        self.lock().keep();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn obey(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::CheckSync { phones, done } => {
                let (results, step) = {
                    let mut state = self.lock();
                    let mut results = Vec::new();
                    let mut sent = Output::default();
                    for lines in phones {
                        let mut result = Err(CheckSyncError::UnknownLine(String::new()));
                        for line in lines {
                            match state.core.check_sync(&line, now) {
                                Ok(output) => {
                                    sent.transmits.extend(output.transmits);
                                    sent.events.extend(output.events);
                                    result = Ok(line);
                                    break;
                                }
                                Err(e) => result = Err(e),
                            }
                        }
                        results.push(result);
                    }
                    (results, state.step(sent))
                };
                step.deliver(&self.socket, &self.events).await;
                let _ = done.send(results);
            }
            Command::Registrations { done } => {
                let _ = done.send(self.lock().registrations(now));
            }
            Command::SetLines { lines, done } => {
                let (accounts, owners) = split(lines);
                let (result, published) = {
                    let mut state = self.lock();
                    match state.core.registrar_mut().set_accounts(accounts) {
                        Ok(events) => {
                            state.changed |= !events.is_empty();
                            // Removed lines' events go out under their old owners.
                            let published = state.events(events);
                            state.owners = owners;
                            (Ok(()), published)
                        }
                        Err(e) => (Err(e.to_string()), Vec::new()),
                    }
                };
                published.into_iter().for_each(|e| self.events.publish(e));
                let _ = done.send(result);
            }
        }
    }
}

/// One receiving task: reads datagrams in parallel with the others, and
/// takes each to the engine.
async fn receive(
    socket: Arc<UdpSocket>,
    state: Arc<Mutex<State>>,
    events: EventBus,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (len, from) = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = socket.recv_from(&mut buf) => match received {
                Ok(received) => received,
                Err(e) => {
                    debug!("sip listener: {e}");
                    continue;
                }
            },
        };
        let read = Message::parse(&buf[..len]);
        let step = {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let output = state.core.receive_read(read, from, Instant::now());
            if let Some(why) = &output.dropped {
                debug!("sip: nothing sent back to {from}: {why}");
            }
            state.step(output)
        };
        step.deliver(&socket, &events).await;
    }
}

/// What one step of the engine leaves to do once the lock is released.
struct Step {
    transmits: Vec<Transmit>,
    published: Vec<Event>,
}

impl Step {
    /// Sends now or at its time, then publishes.
    async fn deliver(self, socket: &Arc<UdpSocket>, events: &EventBus) {
        let now = Instant::now();
        for transmit in self.transmits {
            if transmit.at <= now {
                // The address comes from the peer's own Via or Contact:
                // a bad one is the peer's problem, not worth a warning.
                if let Err(e) = socket.send_to(&transmit.bytes, transmit.to).await {
                    debug!("sip: cannot send to {}: {e}", transmit.to);
                }
            } else {
                let socket = Arc::clone(socket);
                tokio::spawn(async move {
                    tokio::time::sleep_until(transmit.at.into()).await;
                    let _ = socket.send_to(&transmit.bytes, transmit.to).await;
                });
            }
        }
        self.published.into_iter().for_each(|e| events.publish(e));
    }
}

impl State {
    /// Notes what the registrations file must show, and ties the events to
    /// their phones.
    fn step(&mut self, output: Output) -> Step {
        self.changed |= output.events.iter().any(|e| {
            matches!(
                e,
                SipEvent::Registered { .. } | SipEvent::Unregistered { .. }
            )
        });
        Step {
            transmits: output.transmits,
            published: self.events(output.events),
        }
    }

    fn events(&self, events: Vec<SipEvent>) -> Vec<Event> {
        let at = SystemTime::now();
        events
            .into_iter()
            .map(|event| {
                let phone = line_of(&event).and_then(|line| self.owners.get(line).copied());
                Event::Sip(SipExchange { at, phone, event })
            })
            .collect()
    }

    fn registrations(&self, now: Instant) -> Vec<RegisteredContact> {
        let mut contacts: Vec<RegisteredContact> = self
            .core
            .registrar()
            .registrations()
            .flat_map(|(line, bindings)| {
                bindings
                    .iter()
                    .filter(|b| b.expires_at > now)
                    .map(move |b| (line, b))
            })
            .map(|(line, b)| RegisteredContact {
                line: line.to_owned(),
                phone: self.owners.get(line).copied(),
                contact: b.contact.uri.to_string(),
                source: b.source,
                expires_in: b.expires_at - now,
                model: model_of(b),
                user_agent: b.user_agent.clone(),
            })
            .collect();
        contacts.sort_by(|a, b| (&a.line, &a.contact).cmp(&(&b.line, &b.contact)));
        contacts
    }

    /// Writes the registrations to `kept` if they changed.
    fn keep(&mut self) {
        let Some(path) = self.kept.as_ref().filter(|_| self.changed) else {
            return;
        };
        let (now, wall) = (Instant::now(), SystemTime::now());
        let bindings: Vec<KeptBinding> = self
            .core
            .registrar()
            .registrations()
            .flat_map(|(line, bindings)| bindings.iter().map(move |b| (line, b)))
            .filter(|(_, b)| b.expires_at > now)
            .map(|(line, b)| KeptBinding {
                line: line.to_owned(),
                contact: b.contact.to_string(),
                target: b.target,
                source: b.source,
                expires: unix_ms(wall + (b.expires_at - now)),
                call_id: b.call_id.clone(),
                cseq: b.cseq,
                model: b.model.clone(),
                instance: b.instance.clone(),
                user_agent: b.user_agent.clone(),
            })
            .collect();
        let written = serde_json::to_vec(&bindings)
            .map_err(io::Error::other)
            .and_then(|json| {
                let temporary = path.with_extension("new");
                std::fs::write(&temporary, json)?;
                std::fs::rename(&temporary, path)
            });
        match written {
            Ok(()) => self.changed = false,
            Err(e) => warn!("cannot keep the registrations in {}: {e}", path.display()),
        }
    }
}

/// The model of the phone a binding's REGISTER came from: Cisco's model
/// code in its Contact (`"7"`, the `N` of a 7960's `loadInformationN`),
/// else its User-Agent (`Cisco-CP7960G/8.0`).
fn model_of(binding: &Binding) -> Option<Model> {
    let coded = binding.model.as_deref().and_then(|code| {
        Model::ALL
            .into_iter()
            .find(|model| model.device_type().to_string() == code)
    });
    coded.or_else(|| {
        let agent = binding.user_agent.as_deref()?.strip_prefix("Cisco-CP")?;
        agent.split('/').next()?.parse().ok()
    })
}

/// The line an event is about, when it names one.
fn line_of(event: &SipEvent) -> Option<&str> {
    match event {
        SipEvent::Registered { line, .. }
        | SipEvent::Unregistered { line, .. }
        | SipEvent::CheckSyncAnswered { line, .. }
        | SipEvent::CheckSyncTimedOut { line } => Some(line),
        SipEvent::AuthFailed { line, .. } => line.as_deref(),
        SipEvent::CallRouted { to, .. } => Some(to),
        SipEvent::CallRefused { to, .. } => to.as_deref(),
        SipEvent::SourceLocked { .. } => None,
    }
}

fn split(lines: Vec<SipLine>) -> (Vec<Account>, HashMap<String, Mac>) {
    let owners = lines
        .iter()
        .map(|l| (l.account.line.clone(), l.phone))
        .collect();
    (lines.into_iter().map(|l| l.account).collect(), owners)
}

/// Puts back the registrations kept in `path` by the last run.
fn restore(path: &Path, core: &mut Core, now: Instant) {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            warn!("cannot read the kept registrations {}: {e}", path.display());
            return;
        }
    };
    let kept: Vec<KeptBinding> = match serde_json::from_slice(&text) {
        Ok(kept) => kept,
        Err(e) => {
            warn!(
                "{} is damaged ({e}); phones register again within their expiry",
                path.display()
            );
            return;
        }
    };
    let wall = unix_ms(SystemTime::now());
    for binding in kept {
        let Some(contact) = NameAddr::parse(&binding.contact) else {
            continue;
        };
        let left = Duration::from_millis(binding.expires.saturating_sub(wall));
        let restored = Binding {
            contact,
            target: binding.target,
            source: binding.source,
            expires_at: now + left,
            call_id: binding.call_id,
            cseq: binding.cseq,
            model: binding.model,
            instance: binding.instance,
            user_agent: binding.user_agent,
        };
        core.registrar_mut().restore(&binding.line, restored, now);
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const PHONE: Mac = Mac([0x00, 0x18, 0xB9, 0x00, 0x00, 0x01]);

    fn register(to: SocketAddr, from: SocketAddr) -> Vec<u8> {
        format!(
            "REGISTER sip:{to} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from};branch=z9hG4bK-7940-1\r\n\
             From: <sip:1001@{to}>;tag=7940\r\n\
             To: <sip:1001@{to}>\r\n\
             Call-ID: boot-1@{from}\r\n\
             CSeq: 143 REGISTER\r\n\
             Max-Forwards: 70\r\n\
             User-Agent: Cisco-CP7940G/8.0\r\n\
             Contact: <sip:1001@{from}>;+u.sip!model.ccm.cisco.com=\"8\"\r\n\
             Expires: 3600\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_binding_names_its_model_by_code_else_by_user_agent() {
        let binding = |code: Option<&str>, agent: Option<&str>| Binding {
            contact: NameAddr::parse("<sip:1001@10.0.0.23>").unwrap(),
            target: "10.0.0.23:5060".parse().unwrap(),
            source: "10.0.0.23:5060".parse().unwrap(),
            expires_at: Instant::now(),
            call_id: "boot-1".into(),
            cseq: 1,
            model: code.map(str::to_owned),
            instance: None,
            user_agent: agent.map(str::to_owned),
        };
        assert_eq!(model_of(&binding(Some("7"), None)), Some(Model::Cp7960));
        assert_eq!(model_of(&binding(Some("8"), None)), Some(Model::Cp7940));
        let agent = Some("Cisco-CP7960G/7.4");
        assert_eq!(model_of(&binding(None, agent)), Some(Model::Cp7960));
        assert_eq!(
            model_of(&binding(Some("30006"), Some("Cisco-CP7970G/8.5"))),
            None
        );
    }

    #[tokio::test]
    async fn a_phone_is_challenged_and_unregistered_lines_get_no_notify() {
        let settings = SipServerSettings {
            realm: "127.0.0.1".into(),
            qop: false,
            domains: vec!["127.0.0.1".into()],
            lines: vec![SipLine {
                account: Account {
                    line: "1001".into(),
                    authname: "1001".into(),
                    password: phoneprov_sip::Password::new("secret"),
                },
                phone: PHONE,
            }],
            secret: vec![7; 32],
            kept: None,
        };
        let socket = SipServer::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let server = SipServer::new(socket, settings, EventBus::default()).unwrap();
        let (addr, handle) = (server.local_addr().unwrap(), server.handle());
        let shutdown = CancellationToken::new();
        tokio::spawn(server.run(shutdown.clone()));
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let request = register(addr, phone.local_addr().unwrap());
        phone.send_to(&request, addr).await.unwrap();
        let mut buf = [0u8; 4096];
        let (len, _) = tokio::time::timeout(Duration::from_secs(10), phone.recv_from(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..len]);
        assert!(answer.starts_with("SIP/2.0 401 "), "{answer}");
        assert!(answer.contains("realm=\"127.0.0.1\""), "{answer}");
        assert!(answer.contains("CSeq: 143 REGISTER"), "{answer}");
        assert_eq!(handle.registrations().await.unwrap(), vec![]);
        let sent = handle
            .check_sync(vec![vec!["1001".into()], vec![]])
            .await
            .unwrap();
        assert_eq!(
            sent,
            vec![
                Err(CheckSyncError::NotRegistered("1001".into())),
                Err(CheckSyncError::UnknownLine(String::new()))
            ]
        );
        shutdown.cancel();
    }
}
