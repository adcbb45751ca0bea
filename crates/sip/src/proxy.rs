//! The stateless proxy (RFC 3261 §16.11) that lets two registered phones
//! call each other by line name, with no PBX. It keeps no state per call:
//! each request or response is forwarded or answered on its own, and media
//! flows phone to phone.

use std::net::SocketAddr;
use std::time::Instant;

use crate::digest::NonceKey;
use crate::event::SipEvent;
use crate::header::{Method, Via, BRANCH_COOKIE};
use crate::message::{Request, Response};
use crate::registrar::Registrar;

/// Max-Forwards of a request that arrived without one (RFC 3261 §8.1.1.6).
const DEFAULT_MAX_FORWARDS: u8 = 70;

/// Who this server is, for the proxy's decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// The address phoneprov's SIP socket listens on: its Via sent-by.
    pub local: SocketAddr,
    /// Hosts that name this server in a Request-URI (its addresses, its
    /// host name). A request to one of them is routed by the line it names.
    pub domains: Vec<String>,
}

impl ProxySettings {
    /// True when `via` is the Via this proxy adds.
    pub(crate) fn is_own(&self, via: &Via) -> bool {
        let own = Via::udp(self.local, "");
        via.host.eq_ignore_ascii_case(&own.host) && via.port.unwrap_or(5060) == self.local.port()
    }

    fn names_us(&self, request: &Request) -> bool {
        let uri = &request.uri;
        let host_is_ours = self
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&uri.host))
            || uri.ip() == Some(self.local.ip());
        host_is_ours && uri.port.unwrap_or(5060) == self.local.port()
    }
}

/// What the proxy does with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    /// Forward this request (our Via on top) to `to`.
    Request { to: SocketAddr, request: Request },
    /// Forward this response (our Via removed) to `to`.
    Response { to: SocketAddr, response: Response },
    /// Answer the request's sender with this response.
    Answer(Response),
    /// Nothing to send (an ACK that cannot be routed, a response that is
    /// not ours or has nowhere to go).
    Drop(&'static str),
}

/// The branch of our Via for `request` (RFC 3261 §16.11): the same for a
/// retransmission, for the CANCEL of an INVITE and for the ACK of its
/// non-2xx answer, because it is derived from what those share with it.
fn branch(key: &NonceKey, request: &Request) -> String {
    let top = &request.head.via[0];
    let label = match top.branch() {
        Some(b) if b.starts_with(BRANCH_COOKIE) => key.label(&["branch", b, &top.sent_by()]),
        _ => key.label(&[
            "branch-2543",
            request.head.to.tag().unwrap_or(""),
            request.head.from.tag().unwrap_or(""),
            &request.head.call_id,
            &request.uri.to_string(),
            &top.to_string(),
            &request.head.cseq.seq.to_string(),
        ]),
    };
    format!("{BRANCH_COOKIE}{label}")
}

/// Routes a request for a call (INVITE, ACK, BYE, CANCEL) from `source`.
/// Returns the routing and the event it makes, if any.
pub fn route_request(
    mut request: Request,
    registrar: &Registrar,
    settings: &ProxySettings,
    now: Instant,
) -> (Routing, Option<SipEvent>) {
    let method = request.method.clone();
    let to_user = request.uri.user_name().map(str::to_owned);
    let refuse = |request: &Request, status: u16| {
        if request.method == Method::Ack {
            // An ACK is never answered (RFC 3261 §17.1.1.3).
            return (Routing::Drop("an ACK that cannot be routed"), None);
        }
        let event = (request.method == Method::Invite).then(|| SipEvent::CallRefused {
            method: request.method.clone(),
            to: request.uri.user_name().map(str::to_owned),
            status,
        });
        // Our answer ends the transaction: To gets our tag (RFC 3261 §8.2.6.2).
        let mut response = request.response(status);
        registrar.tag(request, &mut response);
        (Routing::Answer(response), event)
    };
    let max_forwards = request.head.max_forwards.unwrap_or(DEFAULT_MAX_FORWARDS);
    if max_forwards == 0 {
        return refuse(&request, 483);
    }
    if request.head.via.iter().any(|via| settings.is_own(via)) {
        return refuse(&request, 482);
    }
    let target = if settings.names_us(&request) {
        let Some(line) = to_user.as_deref() else {
            return refuse(&request, 404);
        };
        if !registrar.is_line(line) {
            return refuse(&request, 404);
        }
        let Some(binding) = registrar.bindings(line, now).last() else {
            return refuse(&request, 480);
        };
        request.uri = binding.contact.uri.clone();
        binding.target
    } else {
        // Sent through us as an outbound proxy to a phone's own contact:
        // forward only to a registered phone, never relay elsewhere.
        let registered = request
            .uri
            .socket_addr()
            .filter(|addr| is_registered_phone(registrar, *addr, now));
        match registered {
            Some(addr) => addr,
            None => return refuse(&request, 403),
        }
    };
    let our_via = Via::udp(settings.local, &branch(registrar.key(), &request));
    request.head.via.insert(0, our_via);
    request.head.max_forwards = Some(max_forwards - 1);
    let event = (method == Method::Invite).then(|| SipEvent::CallRouted {
        method,
        from: request.head.from.uri.user_name().map(str::to_owned),
        to: to_user.unwrap_or_default(),
        target,
    });
    (
        Routing::Request {
            to: target,
            request,
        },
        event,
    )
}

/// Routes a response to a request this proxy forwarded: removes our Via
/// and sends it where the next Via says. Only responses to requests this
/// proxy forwarded go on: with an RFC 3261 branch below ours, ours is
/// derived from it (see [`branch`]), so a forged response is recognised;
/// and in any case only to a registered phone, so phoneprov cannot be made
/// to send to anyone else.
pub fn route_response(
    mut response: Response,
    registrar: &Registrar,
    settings: &ProxySettings,
    now: Instant,
) -> Routing {
    if !settings.is_own(&response.head.via[0]) {
        return Routing::Drop("a response whose top Via is not ours");
    }
    let ours = response.head.via.remove(0);
    let Some(next) = response.head.via.first() else {
        return Routing::Drop("a response to a request of our own that no transaction awaits");
    };
    if let Some(theirs) = next.branch().filter(|b| b.starts_with(BRANCH_COOKIE)) {
        let label = registrar.key().label(&["branch", theirs, &next.sent_by()]);
        if ours.branch() != Some(format!("{BRANCH_COOKIE}{label}").as_str()) {
            return Routing::Drop("a response to a request phoneprov did not forward");
        }
    }
    match next.response_addr() {
        Some(to) if is_registered_phone(registrar, to, now) => Routing::Response { to, response },
        Some(_) => Routing::Drop("a response for an address no registered phone has"),
        None => Routing::Drop("a response whose next Via has no address"),
    }
}

/// True when a phone registered from `addr`, or registered it as its contact.
fn is_registered_phone(registrar: &Registrar, addr: SocketAddr, now: Instant) -> bool {
    registrar
        .registrations()
        .flat_map(|(_, bindings)| bindings)
        .any(|b| (b.target == addr || b.source == addr) && b.expires_at > now)
}
