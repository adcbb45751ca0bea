//! The phones' own XML services (reference §5.9) over HTTP: the directory
//! behind the Directories button, its search, and the menu behind the
//! Services button. Open without the admin token, since a phone cannot send
//! one; rendered from the site phoneprov serves now, with links back to the
//! address the phone used.

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use phoneprov_cisco::services::{self, XmlObject};
use phoneprov_cisco::site::Site;
use serde::Deserialize;

use super::State;

/// `?page=N&q=TEXT`, both optional.
#[derive(Deserialize)]
pub(super) struct Asked {
    page: Option<usize>,
    q: Option<String>,
}

pub(super) async fn directory(
    shared: State,
    headers: HeaderMap,
    Query(asked): Query<Asked>,
) -> Response {
    answer(shared, &headers, |site, base| {
        services::directory_page(site, base, asked.page.unwrap_or(1))
    })
}

pub(super) async fn search(shared: State, headers: HeaderMap) -> Response {
    answer(shared, &headers, |_, base| services::search(base))
}

pub(super) async fn results(
    shared: State,
    headers: HeaderMap,
    Query(asked): Query<Asked>,
) -> Response {
    answer(shared, &headers, |site, base| {
        let query = asked.q.as_deref().unwrap_or("");
        services::search_results(site, base, query, asked.page.unwrap_or(1))
    })
}

pub(super) async fn menu(shared: State, headers: HeaderMap) -> Response {
    answer(shared, &headers, services::menu)
}

/// `render`'s object for the site served now and the base URL the phone
/// used, as `text/xml` in ISO-8859-1 with its `Refresh` header (the
/// phone's Next key) when it has one.
fn answer(
    axum::extract::State(shared): State,
    headers: &HeaderMap,
    render: impl FnOnce(&Site, &str) -> XmlObject,
) -> Response {
    let provisioning = shared.app.files.provisioning();
    let object = render(provisioning.site(), &base(headers, shared.https));
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
