//! Other DHCP servers on the phones' network: looked for by `phoneprov
//! serve` before its DHCP server starts, and by `phoneprov doctor`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{bail, Context};
use phoneprov_dhcp::Mode;
use phoneprov_server::dhcp::SERVER_PORT;
use phoneprov_server::dhcp_probe::{
    interface_holding, probe_other_servers, ProbeError, ProbeReport, ProbeSettings, DEFAULT_WAIT,
};

use crate::config::Config;

/// The interface to look on: `explicit`, else `[dhcp] interface`, else the
/// one that holds `[server] address`. None: the default route's.
pub(crate) fn probe_interface(config: Option<&Config>, explicit: Option<&str>) -> Option<String> {
    if let Some(interface) = explicit {
        return Some(interface.to_string());
    }
    let config = config?;
    if let Some(interface) = config.dhcp.as_ref().and_then(|d| d.interface.clone()) {
        return Some(interface);
    }
    match config.site.server {
        IpAddr::V4(server) => interface_holding(server).ok().flatten(),
        IpAddr::V6(_) => None,
    }
}

/// How an interface is named in a sentence.
pub(crate) fn interface_words(interface: Option<&str>) -> String {
    interface.map_or_else(
        || "the default route's interface".to_string(),
        str::to_string,
    )
}

/// This server's own address, to tell its own offers from others'.
pub(crate) fn own_addresses(config: Option<&Config>) -> Vec<Ipv4Addr> {
    match config.map(|c| c.site.server) {
        Some(IpAddr::V4(server)) => vec![server],
        _ => Vec::new(),
    }
}

/// Runs one probe to its end (`wait`) on a runtime of its own.
pub(crate) fn look(
    interface: Option<String>,
    own_addresses: Vec<Ipv4Addr>,
    wait: Duration,
) -> anyhow::Result<Result<ProbeReport, ProbeError>> {
    let mut settings = ProbeSettings::new(interface, own_addresses);
    settings.wait = wait;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    Ok(runtime.block_on(probe_other_servers(&settings)))
}

/// What to do when the probe could not run, for `error`.
pub(crate) fn probe_fix(error: &ProbeError) -> String {
    let io = error.io();
    match (error, io.kind(), io.raw_os_error()) {
        (_, std::io::ErrorKind::PermissionDenied, _) => {
            "listening on port 68 needs root or CAP_NET_BIND_SERVICE: run it with sudo".into()
        }
        (ProbeError::Listen { .. }, std::io::ErrorKind::AddrInUse, _) => {
            "a program holds port 68 without sharing it (SO_REUSEADDR); stop it for the check, \
             or run the check from another machine on the same network"
                .into()
        }
        (_, _, Some(libc::ENODEV)) => {
            "name an interface of this machine (`ip -br link` lists them)".into()
        }
        (ProbeError::Send { .. }, _, Some(libc::ENETUNREACH)) => {
            "name the phones' interface: [dhcp] interface in phoneprov.toml, or --interface".into()
        }
        _ => "check that the interface is up and has an address".into(),
    }
}

/// `serve`: before the DHCP server starts on port 67, looks for other DHCP
/// servers on its interface and names them. In `pool` mode, refuses to
/// start when one answers (or when it could not look), unless `force`; in
/// `known` and `cisco` modes, only warns.
pub(crate) fn check_before_serving(config: &Config, force: bool) -> anyhow::Result<()> {
    let Some(dhcp) = &config.dhcp else {
        return Ok(());
    };
    // On another port (tests and the demo) no other server would hear it.
    if dhcp.port != SERVER_PORT {
        return Ok(());
    }
    let interface = probe_interface(Some(config), None);
    let on = interface_words(interface.as_deref());
    let pool = dhcp.settings.mode == Mode::Pool;
    // phoneprov's own DHCP server does not run yet: whoever answers is another.
    let report = match look(interface.clone(), Vec::new(), DEFAULT_WAIT)? {
        Ok(report) => report,
        Err(error) if pool && !force => bail!(
            "cannot look for other DHCP servers on {on}: {error}\n  \
             In pool mode phoneprov answers every device, so it starts only once it knows no other \
             DHCP server answers on this network.\n  \
             fix: {}; or, if you are sure this network has no other DHCP server, `phoneprov serve --force`",
            probe_fix(&error)
        ),
        Err(error) => {
            eprintln!(
                "warning: cannot look for other DHCP servers on {on}: {error} ({})",
                probe_fix(&error)
            );
            return Ok(());
        }
    };
    let others: Vec<_> = report.others().collect();
    if others.is_empty() {
        println!(
            "DHCP check: no other DHCP server answered on {on} within {} s",
            DEFAULT_WAIT.as_secs()
        );
        return Ok(());
    }
    for server in &others {
        let here = if IpAddr::V4(server.address()) == config.site.server {
            " (on this machine)"
        } else {
            ""
        };
        eprintln!(
            "warning: another DHCP server answers on {on}: {}{here}",
            server.describe()
        );
    }
    if !pool {
        eprintln!(
            "  {} mode answers only {}, and leaves every other device to that server. A listed phone \
             gets both offers and may take the other one: on that server, leave your phones' MACs \
             out, or send them option 150 = {}.",
            format!("{:?}", dhcp.settings.mode).to_lowercase(),
            if dhcp.settings.mode == Mode::Cisco {
                "the phones in [[phone]] and other Cisco phones"
            } else {
                "the phones in [[phone]]"
            },
            config.site.server
        );
        return Ok(());
    }
    if force {
        eprintln!(
            "warning: --force: serving in pool mode beside {} other DHCP server{}",
            others.len(),
            if others.len() == 1 { "" } else { "s" }
        );
        return Ok(());
    }
    bail!(
        "not starting: [dhcp] mode = \"pool\" answers every device, and another DHCP server \
         already answers on {on} (see above). Two servers handing out addresses on one network \
         fight over its devices, and every phone in the building that takes phoneprov's offer \
         could be converted.\n  \
         fix: set [dhcp] mode = \"known\" to answer only the phones in [[phone]] (the intended \
         setup beside another server); or, if you are sure (that server is being retired, or \
         does not serve the phones), run `phoneprov serve --force`"
    )
}
