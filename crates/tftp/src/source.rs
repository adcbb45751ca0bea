//! Where the bytes of a requested file come from.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::name::RequestName;

/// Resolves a checked request name to the bytes to send. One implementation
/// answers every request, so what the operator previews is what the phone gets.
/// Implementations may read a disk; the server calls them off its packet loop.
pub trait FileSource: Send + Sync {
    fn resolve(&self, name: &RequestName, client: SocketAddr) -> Resolution;
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found(ResolvedFile),
    /// Answered with ERROR 1; the reason is for the operator, not the wire.
    NotFound {
        reason: String,
    },
    /// Answered with ERROR 2.
    Denied {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFile {
    pub content: Bytes,
    /// What was served, relative to the source's root (differs from the
    /// request when a case-insensitive match was used).
    pub served_as: String,
    /// True when the name matched only case-insensitively.
    pub case_mismatch: bool,
}
