//! The control socket of a running `phoneprov serve`:
//! `<state_dir>/control.sock`, owner only. Serve answers the HTTP API
//! (docs/api.md) on it without asking for the admin token, whether or not
//! `[http]` is set; `phoneprov status`, `show`, `plan`, `registrations`
//! and `reboot` ask it there.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::Mac;
use phoneprov_server::http::Reboot;
use phoneprov_server::view::{Rebooted, RebootedPhone, Refusal, RefusalKind};
use phoneprov_server::{Event, EventBus, SipHandle};
use phoneprov_sip::SipEvent;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::config::Config;
use crate::sip_cmd::{not_told, tell_to_reboot, SyncFile, NOTIFY_ANSWER_WAIT};

const SOCKET: &str = "control.sock";

fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

/// No `phoneprov serve` answers on the control socket.
#[derive(Debug)]
pub struct NotRunning(String);

impl std::fmt::Display for NotRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotRunning {}

/// An error as the API answers it.
#[derive(Deserialize)]
struct ApiError {
    error: String,
    fix: String,
}

/// Asks the `phoneprov serve` running with `config` for `method path`
/// of its HTTP API (docs/api.md), with `body` as JSON, over the control
/// socket. Its answer, or its `{error, fix}` as the error; [`NotRunning`]
/// when no serve answers.
pub fn ask<T: DeserializeOwned>(
    config: &Config,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<T> {
    let socket = socket_path(&config.state_dir);
    let mut stream = UnixStream::connect(&socket).map_err(|_| {
        NotRunning(format!(
            "phoneprov serve is not running with {} (no answer on {}); start it first",
            config.path.display(),
            socket.display()
        ))
    })?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    // HTTP/1.0: the answer ends when the connection does, never chunked.
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let unreadable =
        || anyhow::anyhow!("phoneprov serve's answer to {method} {path} is unreadable");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(unreadable)?;
    let status: u16 = std::str::from_utf8(&answer[..split])?
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(unreadable)?;
    let json = &answer[split + 4..];
    if !(200..300).contains(&status) {
        let refusal: ApiError = serde_json::from_slice(json).map_err(|_| unreadable())?;
        bail!("{}: {}", refusal.error, refusal.fix);
    }
    serde_json::from_slice(json).with_context(unreadable)
}

/// The bound control socket; removes its file when dropped.
pub struct ControlSocket {
    listener: Option<UnixListener>,
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
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot create the control socket {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlSocket {
            listener: Some(listener),
            path,
        })
    }

    /// The listening socket, to serve the API on; the file stays until
    /// this is dropped.
    pub fn listener(&mut self) -> anyhow::Result<UnixListener> {
        self.listener
            .take()
            .context("the control socket is already served")
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reboots phones for the API: a new SYNC, check-sync, their answers.
pub struct Control {
    pub files: Arc<PhoneFiles>,
    pub sync: Arc<SyncFile>,
    pub sip: Option<SipHandle>,
    pub events: EventBus,
}

impl Control {
    fn registrar(&self) -> Result<&SipHandle, Refusal> {
        self.sip.as_ref().ok_or_else(Refusal::registrar_off)
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
