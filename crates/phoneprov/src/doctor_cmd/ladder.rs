//! The ladder: every listed phone can reach its target with the loads of
//! the firmware folder, from what it runs (what serve saw, else `current`).

use phoneprov_cisco::ladder::{Reader, Stop};
use phoneprov_cisco::render::SyncValue;

use super::Report;
use crate::config::Config;
use crate::serve_cmd::{provisioning, seen_so_far};
use phoneprov_server::view::plural;

const CHECK: &str = "ladder";

pub(super) fn check(report: &mut Report, config: &Config) {
    let watch = match seen_so_far(config) {
        Ok(watch) => watch,
        Err(e) => {
            report.warning(
                CHECK,
                format!("what serve saw of the phones cannot be read: {e:#}"),
                "move the state folder's timeline.db away; serve starts a new one",
            );
            return;
        }
    };
    // A failure to render is the config check's finding.
    let Ok(provisioning) = provisioning(config, SyncValue::new(1)) else {
        return;
    };
    let provisioning = provisioning.with_watch(watch);
    let (mut ready, mut unknown) = (0, 0);
    for phone in &config.site.phones {
        let Some(plan) = provisioning.plan(phone, Reader::Nobody) else {
            continue;
        };
        match &plan.stop {
            None => ready += 1,
            Some(Stop::Unknown) => unknown += 1,
            Some(stop) => report.warning(
                CHECK,
                format!("{}: {}", phone.mac.colons(), stop.problem(&plan.target)),
                stop.fix(),
            ),
        }
    }
    if ready > 0 {
        report.ok(
            CHECK,
            format!(
                "{} can reach {} target with the loads on hand",
                plural(ready, "listed phone"),
                if ready == 1 { "its" } else { "their" }
            ),
        );
    }
    if unknown > 0 {
        report.ok(
            CHECK,
            format!(
                "{} not seen yet: each is taken up its ladder once phoneprov sees what it \
                 runs (declare current = \"...\" for old SCCP phones)",
                plural(unknown, "listed phone")
            ),
        );
    }
}
