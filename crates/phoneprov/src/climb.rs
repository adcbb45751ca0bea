//! Keeps registered phones climbing: a listed SIP phone that registers
//! with firmware below its next rung is told to reboot (check-sync), so it
//! reads the file that names the rung. This is how a phone whose firmware
//! phoneprov learned only from its REGISTER (old SIP firmware, no
//! `current` in phoneprov.toml) goes on up its ladder without anyone
//! power-cycling it. Once per phone and rung: a phone that refuses a rung
//! registers again on its old firmware and is not rebooted in a loop.

use std::collections::HashSet;
use std::sync::Arc;

use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::ladder::{agent_version, position, Firmware, Reader};
use phoneprov_cisco::{LoadName, Mac};
use phoneprov_server::events::next_event;
use phoneprov_server::{CancellationToken, Event, EventBus, SipExchange, SipHandle};
use phoneprov_sip::SipEvent;

use crate::sip_cmd::{tell_to_reboot, SyncFile};

pub(crate) struct Climb {
    pub files: Arc<PhoneFiles>,
    pub sync: Arc<SyncFile>,
    pub sip: SipHandle,
}

impl Climb {
    /// Follows `events` until `shutdown`.
    pub fn spawn(self, events: &EventBus, shutdown: CancellationToken) {
        let mut feed = events.subscribe();
        let climb = Arc::new(self);
        tokio::spawn(async move {
            let mut told: HashSet<(Mac, LoadName)> = HashSet::new();
            while let Some(event) = next_event(&mut feed, &shutdown).await {
                let Some((phone, rung)) = climb.behind(&event) else {
                    continue;
                };
                if told.insert((phone, rung.clone())) {
                    // The phone's answer can take Timer F: others go on meanwhile.
                    tokio::spawn(Arc::clone(&climb).tell(phone, rung));
                }
            }
        });
    }

    async fn tell(self: Arc<Self>, phone: Mac, rung: LoadName) {
        let provisioning = self.files.provisioning();
        match tell_to_reboot(&self.sync, &self.sip, provisioning.site(), &[phone]).await {
            Ok((_, sent)) if sent.iter().all(Result::is_ok) => println!(
                "phoneprov serve: {} runs older firmware than its next rung {rung}: told it to reboot (check-sync)",
                phone.colons()
            ),
            Ok(_) => {}
            Err(e) => println!(
                "phoneprov serve: {} could not be told to reboot for {rung}: {e:#}",
                phone.colons()
            ),
        }
    }

    /// The listed phone that just registered on firmware below its next
    /// rung, and that rung. The version comes from the REGISTER itself (the
    /// timeline may not have noted it yet).
    fn behind(&self, event: &Event) -> Option<(Mac, LoadName)> {
        let Event::Sip(SipExchange {
            phone: Some(phone),
            event:
                SipEvent::Registered {
                    user_agent: Some(agent),
                    renewed: false,
                    ..
                },
            ..
        }) = event
        else {
            return None;
        };
        let version = agent_version(agent)?;
        let provisioning = self.files.provisioning();
        let listed = provisioning.site().phone(*phone)?;
        let target = provisioning.target(listed)?;
        let from = position(Some(&Firmware::Sip(version)), None, Reader::Nobody);
        let plan = provisioning
            .site()
            .ladder
            .plan(&from, target, &provisioning.watch()?.loads());
        let rung = plan.next()?;
        let watch = provisioning.watch()?;
        if matches!(watch.running(*phone), Some(Firmware::Load(load)) if load == *rung) {
            return None;
        }
        let there = (rung.version.major, rung.version.minor) == (version.major, version.minor)
            && rung.protocol == phoneprov_cisco::Protocol::Sip;
        (!there).then(|| (*phone, rung.clone()))
    }
}
