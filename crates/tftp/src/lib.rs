//! TFTP for phones, without I/O: the packet codec (RFC 1350, RFC 2347),
//! option negotiation (RFC 2348, 2349, 7440), request-name checks, and the
//! read-transfer state machines of the server and of a client.
//!
//! Nothing here opens a socket or reads the clock: every call takes `now` and
//! bytes, and returns bytes to send and the next deadline. The server driver
//! lives in `phoneprov-server`; the phone simulator drives [`Download`].

mod client;
mod name;
pub mod netascii;
mod options;
mod packet;
mod source;
mod timer;
mod transfer;

pub use client::{ClientConfig, Download, DownloadError};
pub use name::{NameRefusal, RequestName, MAX_NAME_LEN};
pub use options::{
    negotiate, Negotiated, OptionError, ServerLimits, BLKSIZE_RANGE, DEFAULT_BLKSIZE,
    TIMEOUT_RANGE, WINDOWSIZE_RANGE,
};
pub use packet::{
    DecodeError, ErrorCode, Mode, Packet, Printable, RawOption, Request, MAX_ERROR_TEXT,
};
pub use source::{FileSource, Resolution, ResolvedFile};
pub use transfer::{Outcome, ReadTransfer, TransferStats};
