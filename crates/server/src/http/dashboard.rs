//! The dashboard (docs/dashboard.md): `/`, the phones, `/phones/{mac}`,
//! one phone, and the [`LISTINGS`]: the firmware, the leases, the
//! registrations, the live log and the doctor's findings. Each page is its `main` in one
//! [`FRAME`], which `dashboard/app.js` fills from the JSON API and keeps
//! current from `/api/events`; the pages, the script and the style are in
//! the binary, nothing is fetched from elsewhere.

use axum::extract::Path;
use axum::http::{header, Method, Uri};
use axum::response::{Html, IntoResponse};

use super::api::ApiError;
use crate::view;

/// The `main` of `/`.
const PHONES: &str = include_str!("dashboard/index.html");
/// The `main` of `/phones/{mac}`, its `{{mac}}` in colons.
const PHONE: &str = include_str!("dashboard/phone.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");
/// The frame of each page: its `data-page`, its title and its `main` go in.
const FRAME: &str = include_str!("dashboard/frame.html");

/// The pages that are only a `main` to frame: path, title, and the `main`
/// (its `data-page` is the path without its slash).
const LISTINGS: &[(&str, &str, &str)] = &[
    (
        "/firmware",
        "Firmware",
        include_str!("dashboard/firmware.html"),
    ),
    ("/leases", "Leases", include_str!("dashboard/leases.html")),
    (
        "/registrations",
        "Registrations",
        include_str!("dashboard/registrations.html"),
    ),
    ("/log", "Log", include_str!("dashboard/log.html")),
    ("/doctor", "Doctor", include_str!("dashboard/doctor.html")),
];

/// Whether `path` is one of the dashboard's pages (a browser without the
/// token is sent to /login from them).
pub(super) fn page(path: &str) -> bool {
    path == "/" || path.starts_with("/phones/") || LISTINGS.iter().any(|(at, ..)| *at == path)
}

/// `main` in the [`FRAME`], for the script's `page` under `title`.
fn framed(page: &str, title: &str, main: &str) -> Html<String> {
    Html(
        FRAME
            .replace("{{page}}", page)
            .replace("{{title}}", title)
            .replace("{{main}}", main),
    )
}

/// The listing at the request's path.
pub(super) async fn listing(uri: Uri) -> Result<Html<String>, ApiError> {
    let Some((path, title, main)) = LISTINGS.iter().find(|(at, ..)| *at == uri.path()) else {
        return Err(super::api::no_route(Method::GET, uri).await);
    };
    Ok(framed(&path[1..], title, main))
}

pub(super) async fn phones() -> Html<String> {
    framed("phones", "Phones", PHONES)
}

/// The phone's page, for a MAC in any notation; the script asks the API
/// for the rest (and says so when it does not know the phone).
pub(super) async fn phone(Path(text): Path<String>) -> Result<Html<String>, ApiError> {
    let mac = view::mac(&text)?.colons();
    Ok(framed(
        "phone",
        &format!("Phone {mac}"),
        &PHONE.replace("{{mac}}", &mac),
    ))
}

pub(super) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub(super) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_are_the_root_and_each_phone() {
        for path in ["/", "/phones/0018B9000001", "/firmware", "/log"] {
            assert!(page(path), "{path}");
        }
        for path in [
            "/api/phones",
            "/dashboard/app.js",
            "/phonesx",
            "/login",
            "/logs",
        ] {
            assert!(!page(path), "{path}");
        }
    }
}
