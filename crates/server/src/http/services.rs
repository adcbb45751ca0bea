//! The phones' own XML services (reference §5.9) over HTTP: the directory
//! behind the Directories button, its search, and the menu behind the
//! Services button. Open without the admin token, since a phone cannot send
//! one; rendered from the site phoneprov serves now, with links back to the
//! address the phone used.

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use phoneprov_cisco::services::{self, XmlObject};
use serde::Deserialize;

use super::State;

/// `?page=N&q=TEXT`, both optional.
#[derive(Deserialize)]
pub(super) struct Asked {
    page: Option<usize>,
    q: Option<String>,
}

pub(super) async fn directory(
    axum::extract::State(shared): State,
    headers: HeaderMap,
    Query(asked): Query<Asked>,
) -> Response {
    let provisioning = shared.app.files.provisioning();
    let base = base(&headers, shared.https);
    xml(services::directory_page(
        provisioning.site(),
        &base,
        asked.page.unwrap_or(1),
    ))
}

pub(super) async fn search(axum::extract::State(shared): State, headers: HeaderMap) -> Response {
    xml(services::search(&base(&headers, shared.https)))
}

pub(super) async fn results(
    axum::extract::State(shared): State,
    headers: HeaderMap,
    Query(asked): Query<Asked>,
) -> Response {
    let provisioning = shared.app.files.provisioning();
    let base = base(&headers, shared.https);
    xml(services::search_results(
        provisioning.site(),
        &base,
        asked.q.as_deref().unwrap_or(""),
        asked.page.unwrap_or(1),
    ))
}

pub(super) async fn menu(axum::extract::State(shared): State, headers: HeaderMap) -> Response {
    let provisioning = shared.app.files.provisioning();
    xml(services::menu(
        provisioning.site(),
        &base(&headers, shared.https),
    ))
}

/// `http://HOST` as the phone addressed phoneprov (its Host header), so the
/// links lead back the way it came. A Host that is not a plain host name
/// or address (and port) is not trusted into the links: then the socket's
/// own name for the loopback, which no phone follows, shows the mistake.
fn base(headers: &HeaderMap, https: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// The object as `text/xml` in ISO-8859-1, with its `Refresh` header (the
/// phone's Next key) when it has one.
fn xml(object: XmlObject) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, services::CONTENT_TYPE)],
        object.body,
    )
        .into_response();
    if let Some(refresh) = object.refresh.and_then(|r| HeaderValue::from_str(&r).ok()) {
        response.headers_mut().insert(header::REFRESH, refresh);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        headers
    }

    #[test]
    fn links_lead_back_to_the_host_the_phone_asked() {
        assert_eq!(
            base(&with_host("10.0.0.5:8080"), false),
            "http://10.0.0.5:8080"
        );
        assert_eq!(
            base(&with_host("[fd00::5]:8080"), true),
            "https://[fd00::5]:8080"
        );
        for hostile in ["evil\"><x", "a b", "x/y", ""] {
            let headers = HeaderValue::from_str(hostile)
                .map(|value| {
                    let mut headers = HeaderMap::new();
                    headers.insert(header::HOST, value);
                    headers
                })
                .unwrap_or_default();
            assert_eq!(base(&headers, false), "http://127.0.0.1", "{hostile:?}");
        }
    }
}
