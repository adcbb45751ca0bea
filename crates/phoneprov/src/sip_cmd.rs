//! The SIP side of `phoneprov serve` (its registrar's lines, its secret)
//! and the commands that talk to a running serve: `phoneprov
//! registrations` and `phoneprov reboot`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::render::SyncValue;
use phoneprov_cisco::site::Site;
use phoneprov_cisco::Mac;
use phoneprov_server::{SipHandle, SipLine, SipServer, SipServerSettings};
use phoneprov_sip::{Account, CheckSyncError, Password};

use crate::config::{self, Config};
use crate::control;
use crate::tftp_cmd::SipService;
use phoneprov_server::view::{Contact, PhoneRow, Rebooted};
use serde::Deserialize;

/// List the phone lines registered with the running `phoneprov serve`:
/// line, phone, contact, source address, time left, model and firmware.
#[derive(Args)]
pub struct RegistrationsArgs {}

/// Show where each phone is in its boot, what it runs, how far it is from
/// its target firmware, and what is wrong, in words: a few lines per phone
/// (the listed ones, then any other phone seen), with each problem and its
/// fix. Asks the running `phoneprov serve`, which follows every phone's
/// DHCP, TFTP and SIP exchanges and keeps them over restarts.
///
/// Example: phoneprov status
#[derive(Args)]
pub struct StatusArgs {}

/// Reboot phones remotely so they fetch their configuration again.
///
/// phoneprov gives syncinfo.xml a new SYNC value and sends the phone a SIP
/// NOTIFY "check-sync". A 7940/7960 on SIP firmware then waits until it has
/// been idle for 20 s, fetches syncinfo.xml, sees the new value and reboots,
/// reading all its files again (and new firmware, if its target changed).
/// Its new SIPDefault.cnf carries the same value, so it reboots once.
///
/// The phone must be registered with the running `phoneprov serve`.
///
/// Examples: phoneprov reboot 00:18:B9:00:00:01; phoneprov reboot --all
#[derive(Args)]
pub struct RebootArgs {
    /// The phones' MACs, in any notation.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    phones: Vec<String>,
    /// Every phone in phoneprov.toml.
    #[arg(long)]
    all: bool,
}

const SECRET_FILE: &str = "sip-secret";
const SYNC_FILE: &str = "sync";
const KEPT_FILE: &str = "registrations.json";

/// The registrar of `[sip]`, its socket bound now so the port phones are
/// told is the port it really has; `None` with an external PBX.
pub(crate) fn service(config: &mut Config) -> anyhow::Result<Option<SipService>> {
    let Some(sip) = &config.sip else {
        return Ok(None);
    };
    let socket = SipServer::listen(sip.bind)?;
    let port = socket.local_addr()?.port();
    if let phoneprov_cisco::site::SipTarget::Registrar { port: told } = &mut config.site.sip {
        *told = port;
    }
    let settings = SipServerSettings {
        realm: sip.realm.clone(),
        qop: sip.qop,
        domains: vec![config.site.server.to_string()],
        lines: lines(&config.site),
        secret: secret(&config.state_dir)?,
        kept: Some(config.state_dir.join(KEPT_FILE)),
    };
    Ok(Some(SipService { socket, settings }))
}

/// Every line of every phone, as the registrar takes them.
pub(crate) fn lines(site: &Site) -> Vec<SipLine> {
    site.phones
        .iter()
        .flat_map(|phone| {
            phone.lines.iter().map(|line| SipLine {
                account: Account {
                    line: line.name.clone(),
                    authname: line.authname().to_owned(),
                    password: Password::new(line.password.reveal()),
                },
                phone: phone.mac,
            })
        })
        .collect()
}

/// Gives syncinfo.xml a new SYNC value, then sends each of `phones` (all
/// in `site`) a check-sync NOTIFY: the new value, and per phone the line
/// told or why none could be. The answers arrive as events.
pub(crate) async fn tell_to_reboot(
    sync: &SyncFile,
    sip: &SipHandle,
    site: &Site,
    phones: &[Mac],
) -> anyhow::Result<(u32, Vec<Result<String, CheckSyncError>>)> {
    let value = sync.advance()?;
    let lines = phones
        .iter()
        .filter_map(|mac| site.phone(*mac))
        .map(|phone| phone.lines.iter().map(|l| l.name.clone()).collect())
        .collect();
    Ok((value, sip.check_sync(lines).await?))
}

/// Why a phone could not be told to reboot, and what happens instead.
pub(crate) fn not_told(error: &CheckSyncError) -> &'static str {
    match error {
        CheckSyncError::NotRegistered(_) => {
            "not registered, so nothing was sent: it gets its new files when it next boots"
        }
        CheckSyncError::UnknownLine(_) => {
            "has no line, so it cannot be told over SIP: power-cycle it"
        }
    }
}

/// The key of the registrar's nonces, made once and kept in the state
/// folder, so nonces and tags stay valid across a restart.
fn secret(state_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = state_dir.join(SECRET_FILE);
    match std::fs::read(&path) {
        Ok(secret) if secret.len() >= 16 => return Ok(secret),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let secret: [u8; 32] = rand::random();
    crate::config::create_state_dir(state_dir)?;
    write_private(&path, &secret)?;
    Ok(secret.to_vec())
}

/// The sync value phones run with, kept in the state folder.
pub(crate) struct SyncFile {
    path: PathBuf,
    pub value: SyncValue,
    /// One advance at a time: `reboot` and the ladder's reboots run side by side.
    advancing: std::sync::Mutex<()>,
}

impl SyncFile {
    pub fn open(state_dir: &Path) -> anyhow::Result<SyncFile> {
        let path = state_dir.join(SYNC_FILE);
        let value = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().with_context(|| {
                format!(
                    "{} is damaged (not a number); remove it (phones then reboot at most once more)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(SyncFile {
            path,
            value: SyncValue::new(value),
            advancing: std::sync::Mutex::new(()),
        })
    }

    /// A value no phone runs with yet, written to disk first: a crash must
    /// not give phones an old value back.
    pub fn advance(&self) -> anyhow::Result<u32> {
        let _one_at_a_time = self.advancing.lock().unwrap_or_else(|e| e.into_inner());
        let next = self.value.get() + 1;
        let temporary = self.path.with_extension("new");
        write_private(&temporary, format!("{next}\n").as_bytes())?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(self.value.advance())
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

pub fn registrations(_args: RegistrationsArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let Registrations {
        registrations: contacts,
    } = control::ask(&config, "GET", "/api/registrations", None)?;
    if contacts.is_empty() {
        println!("no line is registered");
        return Ok(());
    }
    println!(
        "{:<10}  {:<17}  {:<32}  {:<21}  {:>7}  {:<5}  USER AGENT",
        "LINE", "PHONE", "CONTACT", "FROM", "EXPIRES", "MODEL"
    );
    for c in contacts {
        println!(
            "{:<10}  {:<17}  {:<32}  {:<21}  {:>5} s  {:<5}  {}",
            c.line,
            c.phone.as_deref().unwrap_or("-"),
            c.contact,
            c.source,
            c.expires_in,
            c.model.as_deref().unwrap_or("-"),
            c.user_agent.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

pub fn status(_args: StatusArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let Phones { phones } = control::ask(&config, "GET", "/api/phones", None)?;
    for phone in phones {
        for line in phone.paragraph() {
            println!("{line}");
        }
    }
    Ok(())
}

pub fn reboot(args: RebootArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    let phones = if args.all {
        None
    } else {
        let mut macs = Vec::new();
        for text in &args.phones {
            let mac: Mac = text.parse()?;
            if config.site.phone(mac).is_none() {
                bail!(
                    "{} is not in {}: phoneprov reboots only the phones it provisions",
                    mac.colons(),
                    config.path.display()
                );
            }
            macs.push(mac.colons());
        }
        Some(macs)
    };
    let rebooted: Rebooted = control::ask(
        &config,
        "POST",
        "/api/reboot",
        Some(serde_json::json!({ "phones": phones })),
    )?;
    for line in rebooted.lines() {
        println!("{line}");
    }
    if !rebooted.all_told() {
        bail!("not every phone was told; a phone that was not picks up its new files when it next boots");
    }
    Ok(())
}

/// `GET /api/registrations`.
#[derive(Deserialize)]
struct Registrations {
    registrations: Vec<Contact>,
}

/// `GET /api/phones`.
#[derive(Deserialize)]
struct Phones {
    phones: Vec<PhoneRow>,
}

/// How long `reboot` waits for the phones' answers: Timer F, 64 × T1.
pub(crate) const NOTIFY_ANSWER_WAIT: Duration = Duration::from_secs(33);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_side_by_side_each_get_a_value_and_the_file_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let sync = SyncFile::open(dir.path()).unwrap();
        let values: Vec<u32> = std::thread::scope(|scope| {
            let advances: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| sync.advance().unwrap()))
                .collect();
            advances.into_iter().map(|a| a.join().unwrap()).collect()
        });
        let mut sorted = values.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (2..=9).collect::<Vec<u32>>());
        assert_eq!(SyncFile::open(dir.path()).unwrap().value.get(), 9);
    }
}
