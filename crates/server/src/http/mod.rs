//! The HTTP app: the dashboard, the JSON API, `/metrics` and `/healthz`,
//! over HTTP or HTTPS (rustls), behind the admin token unless bound to
//! loopback.
//! [`router`] is where every route is mounted.

mod api;
mod auth;
mod dashboard;
mod import;
mod metrics;
mod services;
mod tls;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, MethodRouter};
use axum::Router;
use futures_util::future::BoxFuture;
use hyper_util::rt::TokioIo;
use phoneprov_cisco::files::PhoneFiles;
use phoneprov_cisco::Mac;
use phoneprov_store::LeaseStore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use auth::{needs_token, AdminToken};
pub use tls::{load_tls, TlsError};
pub use tokio_rustls::rustls::ServerConfig as TlsConfig;

use crate::connections::answer_each;
use crate::doctor::Finding;
use crate::events::EventBus;
use crate::sip::SipHandle;
use crate::timeline::Timelines;
use crate::view::{Adopted, Adoption, Rebooted, Refusal};

/// Tells phones to reboot (check-sync), as `phoneprov reboot` does.
pub trait Reboot: Send + Sync {
    /// Every listed phone when `phones` is None.
    fn reboot(&self, phones: Option<Vec<Mac>>) -> BoxFuture<'_, Result<Rebooted, Refusal>>;
}

/// Adds a phone to phoneprov.toml, the rest of the file kept as it is
/// (the configuration is the binary's).
pub trait Adopt: Send + Sync {
    fn adopt(&self, phone: Adoption) -> BoxFuture<'_, Result<Adopted, Refusal>>;
}

/// Runs the checks of `phoneprov doctor` (which are the binary's).
pub trait Doctor: Send + Sync {
    /// Every check; the DHCP servers on the phones' network are looked for
    /// during `look_for_dhcp` when it is given (one DHCPDISCOVER broadcast).
    fn examine(
        &self,
        look_for_dhcp: Option<Duration>,
    ) -> BoxFuture<'_, Result<Vec<Finding>, Refusal>>;
}

/// What the API reads and acts on.
pub struct App {
    pub files: Arc<PhoneFiles>,
    pub timelines: Timelines,
    pub sip: Option<SipHandle>,
    pub events: EventBus,
    /// The DHCP server's leases, when it runs.
    pub leases: Option<Arc<dyn LeaseStore>>,
    pub firmware_dir: PathBuf,
    /// Where an uploaded firmware package is kept while it arrives.
    pub state_dir: PathBuf,
    pub reboot: Arc<dyn Reboot>,
    pub adopt: Arc<dyn Adopt>,
    pub doctor: Arc<dyn Doctor>,
}

/// How the HTTP server listens.
pub struct HttpSettings {
    pub bind: SocketAddr,
    /// Asked of every request but `/healthz` when set.
    pub token: Option<AdminToken>,
    /// HTTPS with this certificate when set.
    pub tls: Option<Arc<TlsConfig>>,
}

/// The state every handler shares.
struct Shared {
    app: App,
    metrics: metrics::Metrics,
    token: Option<AdminToken>,
    /// Cookies are marked Secure over HTTPS.
    https: bool,
    shutdown: CancellationToken,
}

type State = axum::extract::State<Arc<Shared>>;

/// What answers on one path.
type Answers = fn() -> MethodRouter<Arc<Shared>>;

/// Every route: its path and what answers there. The phones' XML
/// services (`/services/...`, in `services.rs` beside this file) are
/// mounted here too. docs/openapi.yaml describes each path (a test keeps
/// them in step).
const ROUTES: &[(&str, Answers)] = &[
    ("/", || get(dashboard::phones)),
    ("/phones/{mac}", || get(dashboard::phone)),
    ("/firmware", || get(dashboard::listing)),
    ("/leases", || get(dashboard::listing)),
    ("/registrations", || get(dashboard::listing)),
    ("/log", || get(dashboard::listing)),
    ("/doctor", || get(dashboard::listing)),
    ("/dashboard/app.js", || get(dashboard::script)),
    ("/dashboard/style.css", || get(dashboard::style)),
    ("/healthz", || get(|| async { "ok" })),
    ("/metrics", || get(metrics::render)),
    ("/login", || get(auth::login_form).post(auth::log_in)),
    ("/api/phones", || get(api::phones)),
    ("/api/phones/{mac}", || get(api::phone)),
    ("/api/phones/{mac}/files/{*name}", || get(api::file)),
    ("/api/phones/{mac}/reboot", || post(api::reboot)),
    ("/api/phones/{mac}/reprovision", || post(api::reprovision)),
    ("/api/reboot", || post(api::reboot_phones)),
    ("/api/discovered/{mac}/adopt", || post(api::adopt)),
    ("/api/leases", || get(api::leases)),
    ("/api/registrations", || get(api::registrations)),
    ("/api/firmware", || get(api::firmware)),
    ("/api/firmware/import", || post(import::firmware)),
    ("/api/events", || get(api::events)),
    ("/api/doctor", || get(api::doctor)),
    (phoneprov_cisco::services::DIRECTORY, || {
        get(services::directory)
    }),
    (phoneprov_cisco::services::SEARCH, || get(services::search)),
    (phoneprov_cisco::services::RESULTS, || {
        get(services::results)
    }),
    (phoneprov_cisco::services::MENU, || get(services::menu)),
];

fn router(shared: Arc<Shared>) -> Router {
    ROUTES
        .iter()
        .fold(Router::new(), |router, (path, answers)| {
            router.route(path, answers())
        })
        .fallback(api::no_route)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth::check,
        ))
        .with_state(shared)
}

/// A bound HTTP server, not serving yet.
pub struct HttpServer {
    listener: std::net::TcpListener,
    settings: HttpSettings,
}

impl HttpServer {
    /// Binds `settings.bind` (outside the runtime, so a taken port is
    /// reported before anything starts).
    pub fn bind(settings: HttpSettings) -> io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(settings.bind)?;
        listener.set_nonblocking(true)?;
        Ok(HttpServer { listener, settings })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.settings.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// A request that came through the control socket: its owner's, so it
/// needs no token.
#[derive(Clone, Copy)]
struct Owner;

/// Serves `app` on the control socket `control` (the phoneprov commands'
/// way in; the file's permissions guard it) and, with an `[http]` section,
/// on `http`, until `shutdown`; call in the runtime.
pub fn spawn(
    app: App,
    control: std::os::unix::net::UnixListener,
    http: Option<HttpServer>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let control = tokio::net::UnixListener::from_std(control)?;
    let (tcp, settings) = match http {
        Some(server) => (
            Some(tokio::net::TcpListener::from_std(server.listener)?),
            Some(server.settings),
        ),
        None => (None, None),
    };
    let (token, tls) = settings.map_or((None, None), |s| (s.token, s.tls));
    let shared = Arc::new(Shared {
        metrics: metrics::Metrics::follow(&app.events, shutdown.clone()),
        app,
        token,
        https: tls.is_some(),
        shutdown: shutdown.clone(),
    });
    let router = router(shared);
    let owners = router.clone();
    answer_each(control, shutdown.clone(), move |stream| {
        answer(stream, owners.clone(), Some(Owner))
    });
    if let Some(tcp) = tcp {
        let tls = tls.map(TlsAcceptor::from);
        answer_each(tcp, shutdown, move |stream| {
            let (tls, router) = (tls.clone(), router.clone());
            async move {
                match tls {
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            answer(stream, router, None).await
                        }
                    }
                    None => answer(stream, router, None).await,
                }
            }
        });
    }
    Ok(())
}

/// Answers the requests of one connection.
async fn answer<S>(stream: S, router: Router, owner: Option<Owner>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: axum::extract::Request<_>| {
        let router = router.clone();
        if let Some(owner) = owner {
            request.extensions_mut().insert(owner);
        }
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

#[cfg(test)]
mod tests {
    use super::ROUTES;

    /// docs/openapi.yaml's paths, as written under `paths:`.
    fn documented() -> Vec<String> {
        let spec = include_str!("../../../../docs/openapi.yaml");
        let paths = spec.split("\npaths:\n").nth(1).expect("a paths: section");
        paths
            .lines()
            .take_while(|line| line.is_empty() || line.starts_with(' '))
            .filter_map(|line| line.strip_prefix("  /"))
            .map(|path| format!("/{}", path.trim_end_matches(':')))
            .collect()
    }

    #[test]
    fn openapi_describes_every_route_and_no_other() {
        let documented = documented();
        // OpenAPI writes a path parameter that spans slashes as {name}.
        let routes: Vec<String> = ROUTES
            .iter()
            .map(|(path, _)| path.replace("{*", "{"))
            .collect();
        for route in &routes {
            assert!(
                documented.contains(route),
                "{route} is not in docs/openapi.yaml"
            );
        }
        for path in &documented {
            assert!(
                routes.contains(path),
                "docs/openapi.yaml has {path}, which the router lacks"
            );
        }
    }
}
