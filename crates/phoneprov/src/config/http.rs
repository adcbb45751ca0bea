//! `[http]`: whether the HTTP server runs, asks for the admin token, and
//! speaks HTTPS (its bind is checked with the rest, in `validate`).

use std::path::Path;
use std::sync::Arc;

use phoneprov_server::http::{load_tls, TlsConfig, TlsError};

use super::validate::Checker;
use super::wire::HttpSection;

/// How the HTTP server serves, when phoneprov.toml has an `[http]` section.
pub struct HttpServing {
    /// Ask for the admin token even on a loopback bind.
    pub require_token: bool,
    /// HTTPS with `[http] cert` and `key`.
    pub tls: Option<Arc<TlsConfig>>,
}

/// Checks `section` (paths relative to `base`, the config file's folder);
/// None when there is no section or it has errors (they are in `checker`).
pub(super) fn serving(
    section: &HttpSection,
    base: &Path,
    checker: &mut Checker<'_>,
) -> Option<HttpServing> {
    if !section.written {
        return None;
    }
    let tls = match (&section.cert, &section.key) {
        (None, None) => None,
        (Some(cert), None) => {
            checker.error(
                Some(cert.span()),
                "http.cert",
                "cert is set but key is not",
                "set key = \"PATH\" to the certificate's private key (PEM), or remove cert to serve plain HTTP",
            );
            return None;
        }
        (None, Some(key)) => {
            checker.error(
                Some(key.span()),
                "http.key",
                "key is set but cert is not",
                "set cert = \"PATH\" to the certificate chain (PEM), or remove key to serve plain HTTP",
            );
            return None;
        }
        (Some(cert), Some(key)) => {
            let (cert_path, key_path) = (base.join(cert.get_ref()), base.join(key.get_ref()));
            match load_tls(&cert_path, &key_path) {
                Ok(config) => Some(config),
                Err(e) => {
                    let (at, name, fix) = match &e {
                        TlsError::Certificate { .. } => (
                            cert.span(),
                            "http.cert",
                            "name a readable PEM file holding the certificate, then any intermediates (relative to this file)",
                        ),
                        TlsError::Key { .. } => (
                            key.span(),
                            "http.key",
                            "name a readable PEM file holding the private key (PKCS#8, PKCS#1 or SEC1; relative to this file)",
                        ),
                        TlsError::Mismatch { .. } => (
                            key.span(),
                            "http.key",
                            "use the key the certificate was issued for",
                        ),
                    };
                    checker.error(Some(at), name, e.to_string(), fix);
                    return None;
                }
            }
        }
    };
    Some(HttpServing {
        require_token: section.require_token.unwrap_or(false),
        tls,
    })
}
