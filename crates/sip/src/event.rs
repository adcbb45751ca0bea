//! What happened, in the phone's terms, for its timeline, its boot stage
//! and the logs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::header::Method;
use crate::uri::SipUri;

/// One thing the SIP engine saw or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipEvent {
    /// A line registered a contact, or refreshed it (`renewed`).
    Registered {
        line: String,
        contact: SipUri,
        /// Where calls and check-sync NOTIFYs for the line go.
        target: SocketAddr,
        source: SocketAddr,
        expires: Duration,
        /// Cisco's model code from the Contact (`"7"` for a 7960, `"8"` for
        /// a 7940, as in XMLDefault's loadInformation numbers).
        model: Option<String>,
        user_agent: Option<String>,
        renewed: bool,
    },
    /// A contact of a line is gone.
    Unregistered {
        line: String,
        contact: SipUri,
        reason: UnregisterReason,
    },
    /// A REGISTER's credentials were refused.
    AuthFailed {
        source: SocketAddr,
        /// The digest user name the phone sent.
        authname: String,
        /// The line it tried to register (the To user).
        line: Option<String>,
        user_agent: Option<String>,
        cause: AuthFailure,
    },
    /// A source sent too many wrong passwords: nothing it sends is answered until `until`.
    SourceLocked { source: IpAddr, until: Instant },
    /// A call request was forwarded to a registered line.
    CallRouted {
        method: Method,
        /// The caller's user (From), when it has one.
        from: Option<String>,
        /// The dialled line.
        to: String,
        target: SocketAddr,
    },
    /// A call request could not be forwarded, and was answered `status`.
    CallRefused {
        method: Method,
        to: Option<String>,
        status: u16,
    },
    /// A phone answered the check-sync NOTIFY sent to a line.
    CheckSyncAnswered { line: String, status: u16 },
    /// A phone never answered the check-sync NOTIFY (Timer F).
    CheckSyncTimedOut { line: String },
}

/// Why a contact is no longer registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnregisterReason {
    /// The phone asked (`Expires: 0`, or `Contact: *`).
    ByPhone,
    /// It was not refreshed in time.
    Expired,
    /// Another contact of the same device or line took its place.
    Replaced,
    /// Its line is no longer in `phoneprov.toml`.
    LineRemoved,
}

/// Why credentials were refused, with what most likely caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error(
        "wrong password: the password in phoneprov.toml differs from the one in the \
         phone's config: a stale SIP<MAC>.cnf? (reboot the phone so it fetches the new one)"
    )]
    WrongPassword,
    #[error(
        "unknown authname: no line in phoneprov.toml has this lineN_authname: the phone \
         runs a config from elsewhere, or a stale SIP<MAC>.cnf"
    )]
    UnknownAuthname,
    #[error(
        "answered for realm {0:?}: the phone is answering another server's challenge \
         (its proxy settings point elsewhere)"
    )]
    WrongRealm(String),
    #[error(
        "the authname is line {authname_line}'s, not the registered line's: lineN_name and \
         lineN_authname in the phone's config do not match phoneprov.toml"
    )]
    WrongLine { authname_line: String },
}
