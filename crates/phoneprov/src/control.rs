//! The control socket of a running `phoneprov serve`:
//! `<state_dir>/control.sock`, owner only. `phoneprov reboot` and
//! `phoneprov registrations` connect, write one JSON request, read one JSON
//! reply. (The dashboard's HTTP API will offer the same to other machines.)

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::ladder::Reader;
use phoneprov_cisco::render::Provisioning;
use phoneprov_cisco::site::Phone;
use phoneprov_cisco::stage::Stage;
use phoneprov_cisco::Mac;
use phoneprov_server::{CancellationToken, Event, EventBus, PhoneStatus, SipHandle, Timelines};
use phoneprov_sip::SipEvent;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use crate::config::Config;
use crate::plan_cmd::{describe, describe_plan};
use crate::sip_cmd::{not_told, tell_to_reboot, SyncFile, NOTIFY_ANSWER_WAIT};

const SOCKET: &str = "control.sock";
/// Requests are a few hundred bytes; anything longer is not ours.
const MAX_REQUEST: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Registrations,
    Status,
    /// One listed phone's way to its target.
    Plan {
        phone: String,
    },
    /// Everything known about one phone.
    Show {
        phone: String,
    },
    /// Every phone when `phones` is absent.
    Reboot {
        phones: Option<Vec<String>>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Registrations {
        contacts: Vec<Contact>,
    },
    Status {
        phones: Vec<PhoneRow>,
    },
    Rebooted {
        sync: u32,
        phones: Vec<RebootedPhone>,
    },
    /// Text to print as it is.
    Lines {
        lines: Vec<String>,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Contact {
    pub line: String,
    pub phone: Option<String>,
    pub contact: String,
    pub source: String,
    /// Seconds.
    pub expires_in: u64,
    pub model: Option<String>,
    pub user_agent: Option<String>,
}

/// One phone in `phoneprov status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PhoneRow {
    pub phone: String,
    /// Its description in phoneprov.toml; `None` for a phone not listed there.
    pub listed: Option<String>,
    pub stage: String,
    /// What it runs, as far as phoneprov knows.
    pub firmware: Option<String>,
    /// Where it is on its way to its target.
    pub ladder: Option<String>,
    /// Seconds ago.
    pub last_seen: Option<u64>,
    /// Each problem with its fix.
    pub findings: Vec<(String, String)>,
}

impl PhoneRow {
    /// As `phoneprov status` prints it.
    pub fn paragraph(&self) -> Vec<String> {
        let who = match &self.listed {
            Some(description) if !description.is_empty() => description.clone(),
            Some(_) => "listed".into(),
            None => "not in phoneprov.toml".into(),
        };
        let seen = match self.last_seen {
            Some(secs) => format!("  (last seen {secs} s ago)"),
            None => String::new(),
        };
        let mut lines = vec![format!("{}  {who}: {}{seen}", self.phone, self.stage)];
        if let Some(firmware) = &self.firmware {
            lines.push(format!("    firmware: {firmware}"));
        }
        if let Some(ladder) = &self.ladder {
            lines.push(format!("    ladder: {ladder}"));
        }
        for (problem, fix) in &self.findings {
            lines.push(format!("    PROBLEM: {problem}"));
            lines.push(format!("      fix: {fix}"));
        }
        lines
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RebootedPhone {
    pub phone: String,
    /// The phone answered the NOTIFY.
    pub notified: bool,
    pub outcome: String,
}

fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

/// Sends `request` to the `phoneprov serve` running with `config`.
pub fn ask(config: &Config, request: &Request) -> anyhow::Result<Reply> {
    let path = socket_path(&config.state_dir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "phoneprov serve is not running with {} (no answer on {}); start it first",
            config.path.display(),
            path.display()
        )
    })?;
    stream.write_all(&serde_json::to_vec(request)?)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    match serde_json::from_slice(&answer).context("phoneprov serve's answer is unreadable")? {
        Reply::Error { message } => bail!("{message}"),
        reply => Ok(reply),
    }
}

/// The bound control socket; removes its file when dropped.
pub struct ControlSocket {
    listener: Option<std::os::unix::net::UnixListener>,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `<state_dir>/control.sock`, owner only. A socket file left by
    /// a killed serve is replaced; one a running serve answers on is not.
    pub fn bind(state_dir: &Path) -> anyhow::Result<ControlSocket> {
        let path = socket_path(state_dir);
        if UnixStream::connect(&path).is_ok() {
            bail!(
                "another phoneprov serve is running with the state folder {}; stop it first",
                state_dir.display()
            );
        }
        let _ = std::fs::remove_file(&path);
        crate::config::create_state_dir(state_dir)?;
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .with_context(|| format!("cannot create the control socket {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlSocket {
            listener: Some(listener),
            path,
        })
    }

    /// Answers requests until `shutdown`; call in the runtime.
    pub fn serve(&mut self, control: Control, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Some(listener) = self.listener.take() else {
            bail!("the control socket is already served");
        };
        let listener = tokio::net::UnixListener::from_std(listener)?;
        let control = Arc::new(control);
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let control = Arc::clone(&control);
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = control.answer(stream) => {}
                    }
                });
            }
        });
        Ok(())
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the control socket acts on.
pub struct Control {
    pub files: Arc<PhoneFiles>,
    pub timelines: Timelines,
    pub sync: Arc<SyncFile>,
    pub sip: Option<SipHandle>,
    pub events: EventBus,
}

impl Control {
    async fn answer(&self, mut stream: tokio::net::UnixStream) {
        let mut request = Vec::new();
        let read = (&mut stream)
            .take(MAX_REQUEST)
            .read_to_end(&mut request)
            .await;
        let reply = match read.map(|_| serde_json::from_slice::<Request>(&request)) {
            Ok(Ok(request)) => self.obey(request).await,
            _ => Reply::Error {
                message: "not a request phoneprov understands".into(),
            },
        };
        if let Ok(bytes) = serde_json::to_vec(&reply) {
            let _ = stream.write_all(&bytes).await;
        }
    }

    async fn obey(&self, request: Request) -> Reply {
        match request {
            Request::Status => self.status(),
            Request::Plan { phone } => self.plan(&phone),
            Request::Show { phone } => self.show(&phone),
            Request::Registrations => match self.registrar() {
                Ok(sip) => match sip.registrations().await {
                    Ok(contacts) => Reply::Registrations {
                        contacts: contacts
                            .into_iter()
                            .map(|c| Contact {
                                line: c.line,
                                phone: c.phone.map(|mac| mac.colons()),
                                contact: c.contact,
                                source: c.source.to_string(),
                                expires_in: c.expires_in.as_secs(),
                                model: c.model,
                                user_agent: c.user_agent,
                            })
                            .collect(),
                    },
                    Err(e) => error(&e.to_string()),
                },
                Err(off) => off,
            },
            Request::Reboot { phones } => match self.registrar() {
                Ok(sip) => self.reboot(sip, phones).await,
                Err(off) => off,
            },
        }
    }

    fn registrar(&self) -> Result<&SipHandle, Reply> {
        self.sip.as_ref().ok_or_else(|| {
            error(
                "phoneprov's registrar is off ([sip] registrar = false): your PBX knows the \
                 phones (Asterisk: `sip notify cisco-check-cfg <peer>` reboots one)",
            )
        })
    }

    fn plan(&self, phone: &str) -> Reply {
        let provisioning = self.files.provisioning();
        let listed = phone
            .parse::<Mac>()
            .ok()
            .and_then(|mac| provisioning.site().phone(mac));
        match listed {
            Some(listed) => Reply::Lines {
                lines: describe_plan(&provisioning, listed),
            },
            None => error(&format!("{phone} is not in phoneprov.toml")),
        }
    }

    /// The phone's status paragraph, its way, then its timeline.
    fn show(&self, phone: &str) -> Reply {
        let mac = match phone.parse::<Mac>() {
            Ok(mac) => mac,
            Err(e) => return error(&e.to_string()),
        };
        let Reply::Status { phones } = self.status() else {
            return error("no status");
        };
        let Some(row) = phones.into_iter().find(|row| row.phone == mac.colons()) else {
            return error(&format!(
                "{} is neither in phoneprov.toml nor seen since phoneprov serve started",
                mac.colons()
            ));
        };
        let mut lines = row.paragraph();
        let provisioning = self.files.provisioning();
        if let Some(listed) = provisioning.site().phone(mac) {
            lines.push(String::new());
            lines.extend(describe_plan(&provisioning, listed));
        }
        let history = self.timelines.history(mac);
        lines.push(String::new());
        lines.push(format!(
            "timeline ({} events, oldest first):",
            history.len()
        ));
        lines.extend(history.iter().map(|o| format!("  {}", describe(o))));
        Reply::Lines { lines }
    }

    /// Every listed phone, then every other phone seen, with its stage.
    fn status(&self) -> Reply {
        let provisioning = self.files.provisioning();
        let site = provisioning.site();
        let mut seen: HashMap<Mac, PhoneStatus> = self
            .timelines
            .status()
            .into_iter()
            .map(|s| (s.phone, s))
            .collect();
        let now = std::time::SystemTime::now();
        let row = |phone: Mac, listed: Option<&Phone>, status: Option<PhoneStatus>| {
            let (stage, last_seen, mut findings) = match &status {
                Some(s) => (
                    s.inference.stage.sentence(),
                    s.last_seen
                        .map(|at| now.duration_since(at).unwrap_or_default().as_secs()),
                    s.inference
                        .findings
                        .iter()
                        .map(|f| (f.problem(), f.fix()))
                        .collect(),
                ),
                None => (Stage::NotSeen.sentence(), None, Vec::new()),
            };
            let way = listed.and_then(|p| Way::of(&provisioning, p));
            if let Some(way) = &way {
                // Not knowing an unseen phone's firmware is no problem yet.
                let problem = way.problem.clone().filter(|_| status.is_some());
                findings.extend(problem);
            }
            let firmware = provisioning
                .watch()
                .and_then(|watch| watch.running(phone))
                .map(|f| f.to_string())
                .or_else(|| {
                    let current = listed?.current.as_ref()?;
                    Some(format!("{current} (declared in phoneprov.toml)"))
                });
            PhoneRow {
                phone: phone.colons(),
                listed: listed.map(|p| p.description.clone().unwrap_or_default()),
                stage,
                firmware,
                ladder: way.map(|way| way.progress),
                last_seen,
                findings,
            }
        };
        let mut phones: Vec<PhoneRow> = site
            .phones
            .iter()
            .map(|p| row(p.mac, Some(p), seen.remove(&p.mac)))
            .collect();
        let mut others: Vec<PhoneStatus> = seen.into_values().collect();
        others.sort_by_key(|s| s.phone.0);
        phones.extend(others.into_iter().map(|s| row(s.phone, None, Some(s))));
        Reply::Status { phones }
    }

    /// A new SYNC value, then check-sync to each phone, then the phones'
    /// answers (or Timer F).
    async fn reboot(&self, sip: &SipHandle, phones: Option<Vec<String>>) -> Reply {
        let provisioning = self.files.provisioning();
        let site = provisioning.site();
        let macs: Vec<Mac> = match phones {
            None => site.phones.iter().map(|p| p.mac).collect(),
            Some(texts) => {
                let mut macs = Vec::new();
                for text in texts {
                    match text.parse::<Mac>() {
                        Ok(mac) if site.phone(mac).is_some() => macs.push(mac),
                        Ok(mac) => {
                            return error(&format!("{} is not in phoneprov.toml", mac.colons()))
                        }
                        Err(e) => return error(&e.to_string()),
                    }
                }
                macs
            }
        };
        let mut feed = self.events.subscribe();
        let (sync, sent) = match tell_to_reboot(&self.sync, sip, site, &macs).await {
            Ok(told) => told,
            Err(e) => return error(&format!("{e:#}")),
        };
        let mut rows = Vec::new();
        let mut waiting: HashMap<String, usize> = HashMap::new();
        for (mac, result) in macs.iter().zip(sent) {
            let outcome = match result {
                Ok(line) => {
                    waiting.insert(line.clone(), rows.len());
                    format!("line {line}: NOTIFY check-sync sent, no answer yet")
                }
                Err(e) => not_told(&e).into(),
            };
            rows.push(RebootedPhone {
                phone: mac.colons(),
                notified: false,
                outcome,
            });
        }
        let deadline = tokio::time::Instant::now() + NOTIFY_ANSWER_WAIT;
        while !waiting.is_empty() {
            let event = match tokio::time::timeout_at(deadline, feed.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(RecvError::Lagged(_))) => continue,
                Ok(Err(RecvError::Closed)) | Err(_) => break,
            };
            let Event::Sip(exchange) = &*event else {
                continue;
            };
            let (line, answer) = match &exchange.event {
                SipEvent::CheckSyncAnswered { line, status } => (line, Some(*status)),
                SipEvent::CheckSyncTimedOut { line } => (line, None),
                _ => continue,
            };
            let Some(row) = waiting.remove(line).map(|i| &mut rows[i]) else {
                continue;
            };
            (row.notified, row.outcome) = match answer {
                Some(status @ 200..=299) => (
                    true,
                    format!(
                        "line {line}: answered {status}; it fetches syncinfo.xml once idle for 20 s, then reboots"
                    ),
                ),
                Some(status) => (false, format!("line {line}: the phone refused the NOTIFY with {status}")),
                None => (false, format!("line {line}: no answer to the NOTIFY (phone off or unreachable)")),
            };
        }
        Reply::Rebooted { sync, phones: rows }
    }
}

fn error(message: &str) -> Reply {
    Reply::Error {
        message: message.into(),
    }
}

/// A listed phone's way to its target, in words.
pub struct Way {
    /// `at its target P0S3-8-12-00`, or the rungs still to go.
    pub progress: String,
    /// Why it cannot go on, with the fix.
    pub problem: Option<(String, String)>,
}

impl Way {
    /// None for a phone with no target (nothing to reach).
    pub fn of(provisioning: &Provisioning, phone: &Phone) -> Option<Way> {
        let plan = provisioning.plan(phone, Reader::Nobody)?;
        let target = &plan.target;
        let rungs: Vec<&str> = plan.rungs.iter().map(|l| l.as_str()).collect();
        let progress = match (&plan.stop, rungs.is_empty()) {
            (None, true) => format!("at its target {target}"),
            (None, false) => format!(
                "{} to go: {}",
                plural(rungs.len(), "load"),
                rungs.join(" -> ")
            ),
            (Some(_), true) => format!("stopped on its way to {target}"),
            (Some(_), false) => format!(
                "{} to go, then stopped on its way to {target}: {}",
                plural(rungs.len(), "load"),
                rungs.join(" -> ")
            ),
        };
        Some(Way {
            progress,
            problem: plan.stop.map(|stop| (stop.problem(target), stop.fix())),
        })
    }
}

/// `1 phone`, `2 phones`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
