//! The control socket of a running `phoneprov serve`:
//! `<state_dir>/control.sock`, owner only. `phoneprov reboot` and
//! `phoneprov registrations` connect, write one JSON request, read one JSON
//! reply. What it answers is phoneprov_server::view's, as the HTTP API's is.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::Mac;
use phoneprov_server::connections::answer_each;
use phoneprov_server::http::Reboot;
use phoneprov_server::view::{
    self, describe, describe_plan, phone_rows, Contact, PhoneRow, Rebooted, RebootedPhone, Refusal,
    RefusalKind,
};
use phoneprov_server::{CancellationToken, Event, EventBus, SipHandle, Timelines};
use phoneprov_sip::SipEvent;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use crate::config::Config;
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
    Rebooted(Rebooted),
    /// Text to print as it is.
    Lines {
        lines: Vec<String>,
    },
    Error {
        message: String,
    },
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
    pub fn serve(
        &mut self,
        control: Arc<Control>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let Some(listener) = self.listener.take() else {
            bail!("the control socket is already served");
        };
        let listener = tokio::net::UnixListener::from_std(listener)?;
        answer_each(listener, shutdown, move |stream| {
            let control = Arc::clone(&control);
            async move { control.answer(stream).await }
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
        let answer = match request {
            Request::Status => Ok(Reply::Status {
                phones: self.status().await,
            }),
            Request::Plan { phone } => self.plan(&phone),
            Request::Show { phone } => self.show(&phone).await,
            Request::Registrations => self.registrations().await,
            Request::Reboot { phones } => {
                let macs = phones
                    .map(|texts| texts.iter().map(|text| view::mac(text)).collect())
                    .transpose();
                match macs {
                    Ok(macs) => self.reboot_phones(macs).await.map(Reply::Rebooted),
                    Err(refusal) => Err(refusal),
                }
            }
        };
        answer.unwrap_or_else(|refusal| Reply::Error {
            message: refusal.sentence(),
        })
    }

    fn registrar(&self) -> Result<&SipHandle, Refusal> {
        self.sip.as_ref().ok_or_else(Refusal::registrar_off)
    }

    async fn registrations(&self) -> Result<Reply, Refusal> {
        let contacts = self.registrar()?.registrations().await.map_err(|e| {
            Refusal::new(
                RefusalKind::Failed,
                e.to_string(),
                "see phoneprov serve's output",
            )
        })?;
        Ok(Reply::Registrations {
            contacts: contacts.into_iter().map(Contact::from).collect(),
        })
    }

    fn plan(&self, phone: &str) -> Result<Reply, Refusal> {
        let mac = view::mac(phone)?;
        let provisioning = self.files.provisioning();
        let listed = provisioning
            .site()
            .phone(mac)
            .ok_or_else(|| Refusal::not_listed(mac))?;
        Ok(Reply::Lines {
            lines: describe_plan(&provisioning, listed),
        })
    }

    /// The phone's status paragraph, its way, then its timeline.
    async fn show(&self, phone: &str) -> Result<Reply, Refusal> {
        let mac = view::mac(phone)?;
        let row = self
            .status()
            .await
            .into_iter()
            .find(|row| row.phone == mac.colons())
            .ok_or_else(|| {
                Refusal::new(
                    RefusalKind::Unknown,
                    format!(
                        "{} is neither in phoneprov.toml nor seen since phoneprov serve started",
                        mac.colons()
                    ),
                    "check the MAC on the phone's label, or add a [[phone]] for it",
                )
            })?;
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
        Ok(Reply::Lines { lines })
    }

    /// Every listed phone, then every other phone seen, with its stage.
    async fn status(&self) -> Vec<PhoneRow> {
        let registered = match &self.sip {
            Some(sip) => sip.registrations().await.unwrap_or_default(),
            None => Vec::new(),
        };
        phone_rows(&self.files.provisioning(), &self.timelines, &registered)
    }

    /// A new SYNC value, then check-sync to each phone (every listed one
    /// when `phones` is None), then the phones' answers (or Timer F).
    async fn reboot_phones(&self, phones: Option<Vec<Mac>>) -> Result<Rebooted, Refusal> {
        let sip = self.registrar()?;
        let provisioning = self.files.provisioning();
        let site = provisioning.site();
        let macs: Vec<Mac> = match phones {
            None => site.phones.iter().map(|p| p.mac).collect(),
            Some(macs) => match macs.iter().find(|mac| site.phone(**mac).is_none()) {
                Some(unlisted) => return Err(Refusal::not_listed(*unlisted)),
                None => macs,
            },
        };
        let mut feed = self.events.subscribe();
        let (sync, sent) = tell_to_reboot(&self.sync, sip, site, &macs)
            .await
            .map_err(|e| {
                Refusal::new(
                    RefusalKind::Failed,
                    format!("{e:#}"),
                    "see phoneprov serve's output",
                )
            })?;
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
        Ok(Rebooted { sync, phones: rows })
    }
}

impl Reboot for Control {
    fn reboot(&self, phones: Option<Vec<Mac>>) -> BoxFuture<'_, Result<Rebooted, Refusal>> {
        Box::pin(self.reboot_phones(phones))
    }
}
