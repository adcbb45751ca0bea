//! The JSON API (docs/api.md, docs/openapi.yaml): what `phoneprov status`,
//! `show`, `render`, `reboot`, `leases`, `registrations` and `firmware
//! list` tell, for programs. Errors are `{error, fix}` with a status code.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use phoneprov_cisco::firmware::Catalog;
use phoneprov_cisco::render::generated_for;
use phoneprov_cisco::{Model, PhoneFile};
use phoneprov_dhcp::Lease;
use phoneprov_store::LeaseStore;
use phoneprov_tftp::{RequestName, Resolution};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::metrics;
use super::State;
use crate::events::{next_event, Event};
use crate::sip::RegisteredContact;
use crate::view::{self, Contact, Moment, PlanView, Refusal, RefusalKind};
use crate::words;

/// An error as the API answers it.
pub(super) struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub fix: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.error, "fix": self.fix })),
        )
            .into_response()
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        ApiError {
            status: match refusal.kind {
                RefusalKind::Unknown => StatusCode::NOT_FOUND,
                RefusalKind::Malformed => StatusCode::BAD_REQUEST,
                RefusalKind::Off | RefusalKind::Exists => StatusCode::CONFLICT,
                RefusalKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            },
            error: refusal.error,
            fix: refusal.fix,
        }
    }
}

type Answer<T> = Result<T, ApiError>;

pub(super) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        error: format!("phoneprov has no {method} {}", uri.path()),
        fix: "see docs/api.md for the routes".into(),
    }
}

/// What the registrar holds now; nothing when it is off.
async fn registered(state: &State) -> Vec<RegisteredContact> {
    match &state.app.sip {
        Some(sip) => sip.registrations().await.unwrap_or_default(),
        None => Vec::new(),
    }
}

pub(super) async fn phones(state: State) -> Json<Value> {
    let registered = registered(&state).await;
    let rows = view::phone_rows(
        &state.app.files.provisioning(),
        &state.app.timelines,
        &registered,
    );
    Json(json!({ "phones": rows }))
}

pub(super) async fn phone(
    state: State,
    Path(text): Path<String>,
) -> Answer<Json<view::PhoneDetail>> {
    let mac = view::mac(&text)?;
    let provisioning = state.app.files.provisioning();
    let registered = registered(&state).await;
    let row = view::phone_rows(&provisioning, &state.app.timelines, &registered)
        .into_iter()
        .find(|row| row.phone == mac.colons())
        .ok_or_else(|| Refusal::unknown(mac))?;
    let plan = provisioning
        .site()
        .phone(mac)
        .and_then(|listed| PlanView::of(&provisioning, listed));
    let history = state.app.timelines.history(mac);
    Ok(Json(view::PhoneDetail {
        phone: row,
        plan,
        files: generated_for(mac),
        asked: view::asked_files(&history),
        timeline: history.iter().map(Moment::of).collect(),
    }))
}

/// The file `name` as the phone `mac` would get it over TFTP.
pub(super) async fn file(
    state: State,
    Path((text, name)): Path<(String, String)>,
) -> Answer<Response> {
    let mac = view::mac(&text)?;
    let request = RequestName::parse(name.as_bytes()).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        error: format!("{name:?} is not a name a phone can ask for: {e}"),
        fix: "ask for a file as the phone names it, e.g. SIPDefault.cnf".into(),
    })?;
    // A MAC in the name decides, as it does over TFTP.
    let requester = PhoneFile::parse(request.path()).map_or(mac, |(_, named)| named);
    let client = SocketAddr::new(
        state
            .app
            .timelines
            .address_of(requester)
            .unwrap_or([0, 0, 0, 0].into()),
        0,
    );
    let files = std::sync::Arc::clone(&state.app.files);
    let resolution =
        tokio::task::spawn_blocking(move || files.resolve_for(&request, Some(requester), client))
            .await
            .map_err(|e| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: format!("resolving {name} failed: {e}"),
                fix: "see phoneprov serve's output".into(),
            })?;
    match resolution {
        Resolution::Found(file) => {
            let kind = if std::str::from_utf8(&file.content).is_ok() {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            Ok((
                [
                    (header::CONTENT_TYPE, kind.to_string()),
                    (
                        header::HeaderName::from_static("x-served-as"),
                        file.served_as,
                    ),
                ],
                file.content,
            )
                .into_response())
        }
        Resolution::NotFound { reason } => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            error: format!("{name} is not served to {}: {reason}", requester.colons()),
            fix: "put the file in the firmware folder, or list the phone in phoneprov.toml".into(),
        }),
        Resolution::Denied { reason } => Err(ApiError {
            status: StatusCode::FORBIDDEN,
            error: format!("{name} is refused to {}: {reason}", requester.colons()),
            fix: "make the file readable by the user phoneprov runs as".into(),
        }),
    }
}

pub(super) async fn reboot(state: State, Path(text): Path<String>) -> Answer<Json<view::Rebooted>> {
    let mac = view::mac(&text)?;
    Ok(Json(state.app.reboot.reboot(Some(vec![mac])).await?))
}

/// The body of `POST /api/reboot`: the phones, or every listed one when
/// `phones` is absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RebootBody {
    phones: Option<Vec<String>>,
}

/// Reboots several phones with one new SYNC value, as `phoneprov reboot`.
pub(super) async fn reboot_phones(
    state: State,
    body: Result<Json<RebootBody>, JsonRejection>,
) -> Answer<Json<view::Rebooted>> {
    let Json(body) = body.map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        error: format!("the request is not phones to reboot: {}", e.body_text()),
        fix: r#"send JSON like {"phones": ["00:18:B9:00:00:12"]}, or {} for every listed phone"#
            .into(),
    })?;
    let phones = body
        .phones
        .map(|texts| texts.iter().map(|text| view::mac(text)).collect())
        .transpose()?;
    Ok(Json(state.app.reboot.reboot(phones).await?))
}

/// Re-provisions a phone: from now on phoneprov judges it only by what
/// follows (its timeline is kept), and a listed phone is told to reboot, so
/// it fetches every file again and its ladder is planned from what it
/// shows.
pub(super) async fn reprovision(
    state: State,
    Path(text): Path<String>,
) -> Answer<Json<view::Reprovisioned>> {
    let mac = view::mac(&text)?;
    let listed = state.app.files.provisioning().site().phone(mac).is_some();
    if !listed && state.app.timelines.history(mac).is_empty() {
        return Err(Refusal::unknown(mac).into());
    }
    state.app.timelines.start_over(mac);
    let rebooted = match (listed, &state.app.sip) {
        (true, Some(_)) => Some(state.app.reboot.reboot(Some(vec![mac])).await?),
        _ => None,
    };
    let next = match &rebooted {
        Some(rebooted) if rebooted.all_told() => "it reboots and fetches every file again",
        Some(_) => "it could not be told to reboot (see rebooted): power-cycle it",
        None if listed => {
            "phoneprov's registrar is off: power-cycle it, or reboot it from your PBX"
        }
        None => "it is not in phoneprov.toml, so it is served nothing of its own: adopt it",
    };
    Ok(Json(view::Reprovisioned {
        phone: mac.colons(),
        outcome: format!("phoneprov judges it afresh from now on; {next}"),
        rebooted,
    }))
}

/// The body of `POST /api/discovered/{mac}/adopt`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdoptBody {
    model: String,
    description: Option<String>,
}

/// Adds the phone `mac` to phoneprov.toml; serve reloads it.
pub(super) async fn adopt(
    state: State,
    Path(text): Path<String>,
    body: Result<Json<AdoptBody>, JsonRejection>,
) -> Answer<(StatusCode, Json<view::Adopted>)> {
    let mac = view::mac(&text)?;
    let Json(body) = body.map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        error: format!("the request is not a phone to adopt: {}", e.body_text()),
        fix: r#"send JSON like {"model": "7960", "description": "Reception"}"#.into(),
    })?;
    let model = body.model.parse::<Model>().map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        error: e.to_string(),
        fix: r#"give the model on the phone's label: "7940" or "7960""#.into(),
    })?;
    let description = body
        .description
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    let adoption = view::Adoption {
        mac,
        model,
        description,
    };
    let adopted = state.app.adopt.adopt(adoption).await?;
    Ok((StatusCode::CREATED, Json(adopted)))
}

pub(super) async fn registrations(state: State) -> Answer<Json<Value>> {
    let sip = state.app.sip.as_ref().ok_or_else(Refusal::registrar_off)?;
    let contacts = sip.registrations().await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: e.to_string(),
        fix: "see phoneprov serve's output".into(),
    })?;
    let contacts: Vec<Contact> = contacts.into_iter().map(Contact::from).collect();
    Ok(Json(json!({ "registrations": contacts })))
}

#[derive(Serialize)]
struct LeaseRow {
    mac: String,
    ip: std::net::Ipv4Addr,
    state: &'static str,
    /// Milliseconds since 1970.
    expires: u64,
    hostname: Option<String>,
    vendor_class: Option<String>,
    /// Its description in phoneprov.toml, when listed.
    listed: Option<String>,
}

/// The leases `store` holds now (read off the runtime's threads).
pub(super) async fn held(store: Arc<dyn LeaseStore>) -> Result<Vec<Lease>, String> {
    match tokio::task::spawn_blocking(move || store.load()).await {
        Ok(Ok(loaded)) => Ok(loaded.leases),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

pub(super) async fn leases(state: State) -> Answer<Json<Value>> {
    let store = state.app.leases.clone().ok_or_else(|| ApiError {
        status: StatusCode::CONFLICT,
        error: "phoneprov's DHCP server is off".into(),
        fix: "add a [dhcp] section to phoneprov.toml (see docs/dhcp.md)".into(),
    })?;
    let held = held(store).await.map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: format!("the leases cannot be read: {e}"),
        fix: "see `phoneprov leases` and phoneprov serve's warnings".into(),
    })?;
    let provisioning = state.app.files.provisioning();
    let rows: Vec<LeaseRow> = held
        .into_iter()
        .map(|lease| LeaseRow {
            mac: lease.hwaddr.to_string(),
            ip: lease.ip,
            state: lease.state.name(),
            expires: view::unix_millis(lease.expires),
            listed: provisioning
                .site()
                .phone(phoneprov_cisco::Mac(lease.hwaddr.octets()))
                .map(|p| p.description.clone().unwrap_or_default()),
            hostname: lease.hostname,
            vendor_class: lease.vendor_class,
        })
        .collect();
    Ok(Json(json!({ "leases": rows })))
}

pub(super) async fn firmware(state: State) -> Answer<Json<Value>> {
    let dir = state.app.firmware_dir.clone();
    let catalog = tokio::task::spawn_blocking(move || Catalog::scan(&dir))
        .await
        .map_err(|e| e.to_string())
        .and_then(|scanned| scanned.map_err(|e| e.to_string()))
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: e,
            fix: "create the firmware folder and import Cisco's loads (`phoneprov firmware import FILE.zip`)".into(),
        })?;
    let loads: Vec<Value> = catalog
        .loads()
        .iter()
        .map(|load| {
            json!({
                "name": load.name.as_str(),
                "protocol": load.name.protocol.to_string(),
                "version": load.name.version.to_string(),
                "signed": load.name.signed(),
                "loader": load.loader.as_ref().map(|l| l.as_str()),
                "complete": load.is_complete(),
                "missing": load.missing,
                "files": load.files.iter().map(|f| json!({ "name": f.name, "size": f.size })).collect::<Vec<_>>(),
                "warnings": load.size_problems().map(|p| p.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let others: Vec<Value> = catalog
        .other_files()
        .iter()
        .map(|f| json!({ "name": f.name, "size": f.size, "note": f.note }))
        .collect();
    Ok(Json(
        json!({ "dir": state.app.firmware_dir, "loads": loads, "other_files": others }),
    ))
}

/// The event bus as server-sent events, one JSON object per event.
pub(super) async fn events(state: State) -> impl IntoResponse {
    let feed = state.app.events.subscribe();
    let shutdown = state.shutdown.clone();
    let events =
        futures_util::stream::unfold((feed, shutdown), |(mut feed, shutdown)| async move {
            let event = next_event(&mut feed, &shutdown).await?;
            let sent = sse::Event::default().data(event_json(&event).to_string());
            Some((Ok::<_, Infallible>(sent), (feed, shutdown)))
        });
    // Said at once, so the client knows it is subscribed before any event.
    let following = sse::Event::default().comment("following phoneprov's events");
    let stream = futures_util::stream::once(async { Ok(following) }).chain(events);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// One event of the bus for `/api/events`, with the line `phoneprov
/// serve` prints for it (`text`, null when it prints none).
fn event_json(event: &Event) -> Value {
    let mut json = match event {
        Event::Tftp(tftp) => json!({
            "kind": "tftp",
            "at": view::unix_millis(tftp.at),
            "client": tftp.client,
            "requested": tftp.requested,
            "served_as": tftp.served_as,
            "outcome": metrics::outcome(&tftp.outcome),
            "bytes": tftp.bytes,
            "blocks": tftp.blocks,
            "blocks_retransmitted": tftp.blocks_retransmitted,
            "milliseconds": tftp.duration.as_millis() as u64,
        }),
        Event::Dhcp(exchange) => json!({
            "kind": "dhcp",
            "at": view::unix_millis(exchange.at),
            "from": exchange.from,
            "mac": exchange.hwaddr.map(|mac| mac.to_string()),
            "vendor_class": exchange.vendor_class,
            "event": metrics::dhcp(&exchange.event),
        }),
        Event::Sip(exchange) => json!({
            "kind": "sip",
            "at": view::unix_millis(exchange.at),
            "phone": exchange.phone.map(|mac| mac.colons()),
            "event": sip_event(&exchange.event),
        }),
    };
    json["text"] = json!(words::describe(event, false));
    json
}

fn sip_event(event: &phoneprov_sip::SipEvent) -> &'static str {
    use phoneprov_sip::SipEvent::*;
    match event {
        Registered { .. } => "registered",
        Unregistered { .. } => "unregistered",
        AuthFailed { .. } => "auth_failed",
        SourceLocked { .. } => "source_locked",
        CallRouted { .. } => "call_routed",
        CallRefused { .. } => "call_refused",
        CheckSyncAnswered { .. } => "check_sync_answered",
        CheckSyncTimedOut { .. } => "check_sync_timed_out",
    }
}

/// The query of `GET /api/doctor`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DoctorQuery {
    /// Seconds to collect other DHCP servers' offers; not looked for
    /// without it.
    look_for_dhcp: Option<f64>,
}

/// The findings of `phoneprov doctor` on the configuration serve runs
/// with.
pub(super) async fn doctor(
    state: State,
    query: Result<Query<DoctorQuery>, QueryRejection>,
) -> Answer<Json<Value>> {
    let wrong = || ApiError {
        status: StatusCode::BAD_REQUEST,
        error: "look_for_dhcp must be seconds between 0 and 60".into(),
        fix: "ask /api/doctor, or /api/doctor?look_for_dhcp=4".into(),
    };
    let Query(query) = query.map_err(|_| wrong())?;
    let wait = match query.look_for_dhcp {
        Some(secs) if secs > 0.0 && secs <= 60.0 => Some(Duration::from_secs_f64(secs)),
        Some(_) => return Err(wrong()),
        None => None,
    };
    let findings = state.app.doctor.examine(wait).await?;
    Ok(Json(json!({ "findings": findings })))
}
