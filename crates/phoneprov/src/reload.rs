//! `phoneprov serve` follows phoneprov.toml: when the file changes it is
//! read again and, if valid, the phones' files and the registrar's lines
//! are replaced at once. With `--apply-on-change`, every registered phone
//! whose files changed is told to reboot (check-sync) and so picks them up.
//! A file with mistakes is reported and the previous version kept.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::render::{generated_for, Answer, Provisioning};
use phoneprov_cisco::site::SipTarget;
use phoneprov_cisco::Mac;
use phoneprov_server::{CancellationToken, SipHandle};

use crate::config::{self, Config};
use crate::serve_cmd::provisioning;
use crate::sip_cmd::{lines, not_told, tell_to_reboot, SyncFile};

/// How often the file's time and size are looked at.
const POLL: Duration = Duration::from_secs(2);

pub(crate) struct Watch {
    pub who: &'static str,
    pub config: Config,
    pub files: Arc<PhoneFiles>,
    pub sync: Arc<SyncFile>,
    pub sip: Option<SipHandle>,
    /// Reboot registered phones whose files changed.
    pub apply: bool,
}

impl Watch {
    /// Follows the file until `shutdown`; call in the runtime.
    pub fn spawn(mut self, shutdown: CancellationToken) {
        tokio::spawn(async move {
            let mut seen = stamp(&self.config.path);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => {}
                }
                let now = stamp(&self.config.path);
                if now != seen {
                    seen = now;
                    self.reload().await;
                }
            }
        });
    }

    async fn reload(&mut self) {
        let who = self.who;
        let path = self.config.path.clone();
        let mut next = match config::load(&path) {
            Ok(next) => next,
            Err(e) => {
                println!(
                    "{who}: {} changed but has mistakes; still serving the previous version:\n{e:#}",
                    path.display()
                );
                return;
            }
        };
        // The registrar and the HTTP server keep listening where they do:
        // keep telling phones so.
        if let (SipTarget::Registrar { port }, SipTarget::Registrar { port: running }) =
            (&mut next.site.sip, &self.config.site.sip)
        {
            *port = *running;
        }
        if let (Some(http), Some(running)) = (
            next.site.services.http.as_mut(),
            self.config.site.services.http,
        ) {
            http.set_port(running.port());
        }
        let before = self.files.provisioning();
        let generator = match provisioning(&next, self.sync.value.clone()) {
            Ok(generator) => match before.watch() {
                Some(watch) => generator.with_watch(watch),
                None => generator,
            },
            Err(e) => {
                println!(
                    "{who}: {} changed, but {e:#}; still serving the previous version",
                    path.display()
                );
                return;
            }
        };
        let changed: Vec<Mac> = next
            .site
            .phones
            .iter()
            .map(|phone| phone.mac)
            .filter(|mac| files_of(&before, *mac) != files_of(&generator, *mac))
            .collect();
        self.files.replace_provisioning(generator);
        if let Some(sip) = &self.sip {
            match sip.set_lines(lines(&next.site)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => println!("{who}: the registrar kept its previous lines: {e}"),
                Err(e) => println!("{who}: {e}"),
            }
        }
        let restart: Vec<&str> = [
            ("[tftp]", self.config.tftp != next.tftp),
            ("[dhcp]", self.config.dhcp != next.dhcp),
            ("[sip]", self.config.sip != next.sip),
            (
                "[server] state_dir",
                self.config.state_dir != next.state_dir,
            ),
        ]
        .into_iter()
        .filter_map(|(section, differs)| differs.then_some(section))
        .collect();
        let macs: Vec<String> = changed.iter().map(Mac::colons).collect();
        println!(
            "{who}: reloaded {}: {} phone{}; files changed for {}",
            path.display(),
            next.site.phones.len(),
            if next.site.phones.len() == 1 { "" } else { "s" },
            if macs.is_empty() {
                "none".into()
            } else {
                macs.join(", ")
            }
        );
        if !restart.is_empty() {
            println!(
                "{who}: restart phoneprov serve to apply the changes to {}",
                restart.join(", ")
            );
        }
        if self.apply && !changed.is_empty() {
            self.reboot(&next, &changed).await;
        }
        self.config = next;
    }

    /// Tells the registered phones among `changed` to fetch their files.
    async fn reboot(&self, next: &Config, changed: &[Mac]) {
        let who = self.who;
        let Some(sip) = &self.sip else {
            println!("{who}: --apply-on-change needs phoneprov's registrar; reboot the phones from your PBX");
            return;
        };
        let sent = match tell_to_reboot(&self.sync, sip, &next.site, changed).await {
            Ok((_, sent)) => sent,
            Err(e) => {
                println!("{who}: cannot tell phones to reboot: {e:#}");
                return;
            }
        };
        for (mac, result) in changed.iter().zip(sent) {
            let what = match result {
                Ok(line) => {
                    format!("check-sync sent to line {line}, so it reboots with its new files")
                }
                Err(e) => not_told(&e).into(),
            };
            println!("{}  {what}", mac.colons());
        }
    }
}

/// Everything a phone fetches, as `generator` makes it for the phone.
fn files_of(generator: &Provisioning, mac: Mac) -> Vec<Answer> {
    generated_for(mac)
        .into_iter()
        .filter(|name| name != "syncinfo.xml")
        .map(|name| generator.answer(&name, Some(mac)))
        .collect()
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
