//! The admin token: asked of every request but the open routes (see
//! [`open`]) when the server listens beyond loopback (or is told to ask),
//! as `Authorization: Bearer TOKEN` or the cookie `/login` sets.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::{Form, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::api::ApiError;
use super::dashboard;
use super::{Owner, State};

const COOKIE: &str = "phoneprov_token";

/// The token, and the file it is kept in (named in refusals, so the
/// operator knows where to look; the token itself is never printed).
#[derive(Clone)]
pub struct AdminToken {
    pub value: String,
    pub path: PathBuf,
}

/// Whether a server bound to `bind` asks for the token: always beyond
/// loopback, and on loopback when `required` (a machine shared with
/// people who should not see the phones).
pub fn needs_token(bind: SocketAddr, required: bool) -> bool {
    required || !bind.ip().is_loopback()
}

/// Lets a request through when no token is asked, it came through the
/// control socket, the route is open, or the request carries the token. A
/// browser asking for a dashboard page without it is sent to /login.
pub(super) async fn check(state: State, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let owner = request.extensions().get::<Owner>().is_some();
    match &state.token {
        Some(token) if !owner && !open(path) && !carries(request.headers(), &token.value) => {
            if dashboard::page(path) {
                return Redirect::to("/login").into_response();
            }
            ApiError {
                status: StatusCode::UNAUTHORIZED,
                error: "this phoneprov asks for its admin token".into(),
                fix: format!(
                    "send `Authorization: Bearer TOKEN` with the token in {} on the server, or log in at /login",
                    token.path.display()
                ),
            }
            .into_response()
        }
        _ => next.run(request).await,
    }
}

/// The routes anyone may ask: the health check, the login form, and the
/// phones' XML services under `/services/` (a phone sends no token).
fn open(path: &str) -> bool {
    matches!(path, "/healthz" | "/login") || path.starts_with("/services/")
}

fn carries(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='));
    [bearer, cookie]
        .into_iter()
        .flatten()
        .any(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

/// Compares in a time that does not tell how much of the token was right.
fn same(given: &[u8], token: &[u8]) -> bool {
    given.len() == token.len() && given.iter().zip(token).fold(0, |d, (a, b)| d | (a ^ b)) == 0
}

pub(super) async fn login_form() -> Html<String> {
    form("")
}

fn form(message: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>phoneprov: log in</title></head>\n\
         <body><h1>phoneprov</h1>{message}\n<form method=\"post\" action=\"/login\">\n\
         <label>Admin token <input type=\"password\" name=\"token\" autofocus></label>\n\
         <button type=\"submit\">Log in</button>\n</form>\n\
         <p>The token is in the file <code>admin-token</code> of phoneprov's state folder.</p></body></html>\n"
    ))
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

/// Sets the cookie for a right token and goes to the dashboard; the
/// form again for a wrong one.
pub(super) async fn log_in(state: State, Form(login): Form<Login>) -> Response {
    let Some(token) = &state.token else {
        return Redirect::to("/").into_response();
    };
    if !same(login.token.trim().as_bytes(), token.value.as_bytes()) {
        let page = form("<p><strong>That is not the admin token.</strong></p>");
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    let secure = if state.https { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        token.value
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_asked_beyond_loopback_or_when_required() {
        for (bind, required, asked) in [
            ("127.0.0.1:8080", false, false),
            ("127.0.0.2:8080", false, false),
            ("[::1]:8080", false, false),
            ("127.0.0.1:8080", true, true),
            ("0.0.0.0:8080", false, true),
            ("[::]:8080", false, true),
            ("192.0.2.7:443", false, true),
        ] {
            assert_eq!(
                needs_token(bind.parse().unwrap(), required),
                asked,
                "{bind} required={required}"
            );
        }
    }

    #[test]
    fn health_login_and_the_phones_services_are_open() {
        for path in ["/healthz", "/login", "/services/directory"] {
            assert!(open(path), "{path}");
        }
        for path in ["/", "/metrics", "/api/phones", "/healthz/x", "/servicesx"] {
            assert!(!open(path), "{path}");
        }
    }

    #[test]
    fn token_comes_as_bearer_or_cookie() {
        let with = |name: header::HeaderName, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            headers
        };
        assert!(carries(
            &with(header::AUTHORIZATION, "Bearer s3cret"),
            "s3cret"
        ));
        assert!(carries(
            &with(header::COOKIE, "a=b; phoneprov_token=s3cret"),
            "s3cret"
        ));
        assert!(!carries(
            &with(header::AUTHORIZATION, "Bearer s3cre"),
            "s3cret"
        ));
        assert!(!carries(
            &with(header::AUTHORIZATION, "Basic s3cret"),
            "s3cret"
        ));
        assert!(!carries(
            &with(header::COOKIE, "phoneprov_token_x=s3cret"),
            "s3cret"
        ));
        assert!(!carries(&HeaderMap::new(), "s3cret"));
    }
}
