//! SIP for Cisco 7940/7960 phones: the message facade, digest
//! authentication, the registrar, the stateless proxy and the check-sync
//! NOTIFY. No sockets, no clock (see `ARCHITECTURE.md`): every call takes
//! the bytes and `now`, and returns the bytes to send, when, and events.
//!
//! # For the driver
//!
//! Build a [`Registrar`] from the site's lines ([`Account`]: `lineN_name`,
//! `lineN_authname`, password) and a secret, wrap it in a [`Core`] with the
//! socket's address, then:
//!
//! - every datagram goes to [`Core::receive`]; send each [`Transmit`] of the
//!   [`Output`] at its `at` instant, publish its [`SipEvent`]s, and log its
//!   [`Dropped`] reason when set;
//! - arm one timer at [`Core::next_timeout`] and call [`Core::handle_timeout`]
//!   when it fires (NOTIFY retransmissions, transaction ends, expiries);
//! - `phoneprov reboot` calls [`Core::check_sync`] for the phone's lines
//!   after writing the new `syncinfo.xml`;
//! - a configuration change goes to [`Registrar::set_accounts`] through
//!   [`Core::registrar_mut`].
//!
//! # What the engine does
//!
//! - REGISTER (RFC 3261 §10.3) with MD5 digest, with or without `qop=auth`,
//!   table-less nonces and `stale=true` ([`NonceKey`]); the lifetime from a
//!   Contact `expires` parameter or, as the 7940 sends it, the `Expires`
//!   header; `Expires: 0` and `Contact: *` unregister; 423 below the
//!   minimum; Cisco's model code and `+sip.instance` kept with the binding.
//! - A source that keeps failing is slowed, then locked out ([`Lockout`]).
//! - OPTIONS answered; other methods addressed to phoneprov get 405.
//! - Retransmitted requests absorbed and answered again from the server
//!   transactions (RFC 3261 §17.2.2).
//! - INVITE, ACK, BYE and CANCEL routed statelessly between registered
//!   lines (RFC 3261 §16.11): 404, 480, 482, 483 and 403 (no relaying).

mod digest;
mod engine;
mod event;
mod header;
mod lockout;
mod message;
mod proxy;
mod registrar;
mod syntax;
mod transaction;
mod uri;

pub use digest::{
    ha1, response as digest_response, Challenge, Credentials, DigestError, NonceKey, NonceState,
    QopAuth,
};
pub use engine::{CheckSyncError, Core, CoreSettings, Dropped, Output, Transmit, ALLOW};
pub use event::{AuthFailure, SipEvent, UnregisterReason};
pub use header::{
    CSeq, Contact, Header, HeaderName, Method, NameAddr, Via, BRANCH_COOKIE, CISCO_MODEL_PARAM,
    INSTANCE_PARAM,
};
pub use lockout::{Lockout, LockoutPolicy, Standing};
pub use message::{
    reason_phrase, Head, Malformed, Message, Request, Response, MAX_FIELD_LEN, MAX_HEADERS,
    MAX_HEAD_LEN, MAX_MESSAGE_LEN, MAX_VALUES,
};
pub use proxy::{route_request, route_response, ProxySettings, Routing};
pub use registrar::{
    Account, AccountError, Binding, LockedOut, Password, Registrar, RegistrarSettings, Registration,
};
pub use syntax::{quote, unquote, Param, Params};
pub use transaction::{
    Arrival, ClientState, ClientTimeout, ClientTransaction, ServerTransactions, Timers,
    TransactionKey,
};
pub use uri::SipUri;
