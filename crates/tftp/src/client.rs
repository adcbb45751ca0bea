//! The client side of a read transfer, as a state machine without I/O. The
//! phone simulator and the boot-storm benchmark drive it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::netascii;
use crate::options::{BLKSIZE_RANGE, DEFAULT_BLKSIZE};
use crate::packet::{ErrorCode, Mode, Packet, Printable, Request};
use crate::timer::RetryTimer;

/// What the client asks for and how patient it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub mode: Mode,
    /// blksize to ask for; None sends no blksize option.
    pub blksize: Option<u16>,
    /// windowsize to ask for; None sends no windowsize option.
    pub windowsize: Option<u16>,
    /// Ask for the transfer size (tsize 0).
    pub tsize: bool,
    /// Timeout before the first retransmission.
    pub retransmit_after: Duration,
    /// Double the timeout on each retry (a 79xx phone does not).
    pub backoff: bool,
    pub max_retries: u32,
    /// Upper bound on the whole transfer.
    pub deadline: Duration,
    /// Refuse files larger than this.
    pub max_size: u64,
}

impl Default for ClientConfig {
    /// Like a 7940: octet, no options, a retry every 4 s, five tries.
    fn default() -> Self {
        ClientConfig {
            mode: Mode::Octet,
            blksize: None,
            windowsize: None,
            tsize: false,
            retransmit_after: Duration::from_secs(4),
            backoff: false,
            max_retries: 5,
            deadline: Duration::from_secs(600),
            max_size: 64 << 20,
        }
    }
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error("server error {}: {message}", code.as_u16())]
    Server { code: ErrorCode, message: String },
    #[error("timed out")]
    TimedOut,
    #[error("deadline exceeded")]
    DeadlineExceeded,
    #[error("file larger than {0} bytes")]
    TooLarge(u64),
    #[error("protocol violation: {0}")]
    Protocol(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// RRQ sent, no answer yet.
    Requesting,
    Receiving,
    /// Complete; still re-acknowledging the final block if it comes again.
    Dallying,
    Closed,
}

#[derive(Debug)]
pub struct Download {
    server: SocketAddr,
    peer: Option<SocketAddr>,
    config: ClientConfig,
    rrq: Vec<u8>,
    phase: Phase,
    blksize: usize,
    windowsize: u64,
    /// Blocks received in order so far.
    received: u64,
    /// Blocks received since the last ACK (window accounting).
    unacked: u64,
    data: Vec<u8>,
    tsize: Option<u64>,
    /// The next packet for the server is due: the RRQ (before any answer) or
    /// an ACK of `received`.
    reply_due: bool,
    errors: VecDeque<(SocketAddr, ErrorCode, String)>,
    timer: RetryTimer,
    deadline: Instant,
    retransmits: u64,
    result: Option<Result<(), DownloadError>>,
}

impl Download {
    pub fn new(server: SocketAddr, filename: &str, config: ClientConfig, now: Instant) -> Download {
        let blksize = config.blksize.map(|b| b.to_string());
        let windowsize = config.windowsize.map(|w| w.to_string());
        let mut options: Vec<(&[u8], &[u8])> = Vec::new();
        if let Some(b) = &blksize {
            options.push((b"blksize", b.as_bytes()));
        }
        if let Some(w) = &windowsize {
            options.push((b"windowsize", w.as_bytes()));
        }
        if config.tsize {
            options.push((b"tsize", b"0"));
        }
        let mut rrq = Vec::new();
        Packet::Rrq(Request {
            filename: filename.as_bytes(),
            mode: config.mode.as_str().as_bytes(),
            options,
        })
        .encode(&mut rrq);
        Download {
            server,
            peer: None,
            rrq,
            phase: Phase::Requesting,
            blksize: usize::from(DEFAULT_BLKSIZE),
            windowsize: 1,
            received: 0,
            unacked: 0,
            data: Vec::new(),
            tsize: None,
            reply_due: true,
            errors: VecDeque::new(),
            timer: RetryTimer::new(
                config.retransmit_after,
                config.backoff,
                config.max_retries,
                now,
            ),
            deadline: now + config.deadline,
            retransmits: 0,
            result: None,
            config,
        }
    }

    /// The result, once the file is complete or the download failed.
    pub fn result(&self) -> Option<&Result<(), DownloadError>> {
        self.result.as_ref()
    }

    /// True once nothing more will happen (the dally after the last block is over).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed && self.errors.is_empty()
    }

    /// The file received so far (netascii decoded in netascii mode).
    pub fn content(&self) -> Vec<u8> {
        match self.config.mode {
            Mode::Octet => self.data.clone(),
            Mode::Netascii => netascii::decode(&self.data),
        }
    }

    /// Bytes received so far, as on the wire.
    pub fn received_len(&self) -> usize {
        self.data.len()
    }

    /// The transfer size the server announced, if it did.
    pub fn tsize(&self) -> Option<u64> {
        self.tsize
    }

    /// Packets this side sent again after a timeout.
    pub fn retransmits(&self) -> u64 {
        self.retransmits
    }

    /// The server's transfer address, once it answered.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            _ => Some(self.timer.fires_at().min(self.deadline)),
        }
    }

    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        if let Some((to, code, text)) = self.errors.pop_front() {
            Packet::Error {
                code,
                message: text.as_bytes(),
            }
            .encode(buf);
            return Some(to);
        }
        if !self.reply_due || self.phase == Phase::Closed {
            return None;
        }
        self.reply_due = false;
        match self.phase {
            Phase::Requesting => {
                buf.clear();
                buf.extend_from_slice(&self.rrq);
                Some(self.server)
            }
            _ => {
                Packet::Ack {
                    block: self.received as u16,
                }
                .encode(buf);
                self.peer
            }
        }
    }

    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        if self.peer.is_some_and(|peer| peer != from) {
            self.errors.push_back((
                from,
                ErrorCode::UnknownTransferId,
                "Unknown transfer ID".into(),
            ));
            self.errors.truncate(8);
            return;
        }
        let Ok(packet) = Packet::decode(datagram) else {
            return;
        };
        if self.peer.is_none() {
            // The first answer comes from the server's new port: its TID. Only
            // a real answer to the RRQ sets it, so garbage or a stray packet
            // from the server's host cannot capture the transfer.
            let answers = matches!(
                packet,
                Packet::Oack { .. } | Packet::Data { .. } | Packet::Error { .. }
            );
            if !answers || from.ip() != self.server.ip() || self.phase != Phase::Requesting {
                return;
            }
            self.peer = Some(from);
        }
        match (self.phase, packet) {
            (Phase::Closed, _) => {}
            (_, Packet::Error { code, message }) => {
                if self.result.is_none() {
                    self.result = Some(Err(DownloadError::Server {
                        code,
                        message: Printable(message).to_string(),
                    }));
                }
                self.phase = Phase::Closed;
            }
            (Phase::Requesting, Packet::Oack { options }) => self.on_oack(&options, now),
            (Phase::Requesting | Phase::Receiving, Packet::Data { block, data }) => {
                self.phase = Phase::Receiving;
                self.on_data(block, data, now);
            }
            (Phase::Dallying, Packet::Data { block, .. }) if block == self.received as u16 => {
                self.reply_due = true;
            }
            _ => {}
        }
    }

    fn on_oack(&mut self, options: &[(&[u8], &[u8])], now: Instant) {
        for (name, value) in options {
            let number = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
            let asked_blksize = self.config.blksize.map(u64::from);
            let asked_window = self.config.windowsize.map(u64::from);
            let accepted = match number {
                Some(n) if name.eq_ignore_ascii_case(b"blksize") => asked_blksize
                    .filter(|&asked| n <= asked && BLKSIZE_RANGE.contains(&(n as u32)))
                    .map(|_| self.blksize = n as usize),
                Some(n) if name.eq_ignore_ascii_case(b"windowsize") => asked_window
                    .filter(|&asked| (1..=asked).contains(&n))
                    .map(|_| self.windowsize = n),
                Some(n) if name.eq_ignore_ascii_case(b"tsize") && self.config.tsize => {
                    self.tsize = Some(n);
                    Some(())
                }
                _ => None,
            };
            if accepted.is_none() {
                let text = format!("Bad option in OACK: {}", Printable(name));
                return self.fail(ErrorCode::OptionRefused, DownloadError::Protocol(text));
            }
        }
        if let Some(size) = self.tsize.filter(|&size| size > self.config.max_size) {
            return self.fail(ErrorCode::DiskFull, DownloadError::TooLarge(size));
        }
        self.phase = Phase::Receiving;
        self.reply_due = true; // ACK 0
        self.timer.progress(now);
    }

    fn on_data(&mut self, wire_block: u16, data: &[u8], now: Instant) {
        if wire_block != (self.received + 1) as u16 {
            // A duplicate (our ACK was lost) or a gap in a window: acknowledge
            // what we have, so the server resends from there.
            self.unacked = 0;
            self.reply_due = true;
            return;
        }
        if data.len() > self.blksize {
            let text = format!(
                "DATA of {} bytes exceeds blksize {}",
                data.len(),
                self.blksize
            );
            return self.fail(ErrorCode::IllegalOperation, DownloadError::Protocol(text));
        }
        if (self.data.len() + data.len()) as u64 > self.config.max_size {
            return self.fail(
                ErrorCode::DiskFull,
                DownloadError::TooLarge(self.config.max_size),
            );
        }
        self.data.extend_from_slice(data);
        self.received += 1;
        self.unacked += 1;
        self.timer.progress(now);
        if data.len() < self.blksize {
            self.reply_due = true;
            self.phase = Phase::Dallying;
            self.result = Some(Ok(()));
        } else if self.unacked >= self.windowsize {
            self.unacked = 0;
            self.reply_due = true;
        }
    }

    fn fail(&mut self, code: ErrorCode, error: DownloadError) {
        if let Some(peer) = self.peer {
            self.errors.push_back((peer, code, error.to_string()));
        }
        self.result = Some(Err(error));
        self.phase = Phase::Closed;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase != Phase::Dallying && now >= self.deadline {
            self.result = Some(Err(DownloadError::DeadlineExceeded));
            self.phase = Phase::Closed;
            return;
        }
        if now < self.timer.fires_at() {
            return;
        }
        if self.phase == Phase::Dallying {
            self.phase = Phase::Closed;
            return;
        }
        if !self.timer.expire(now) {
            self.result = Some(Err(DownloadError::TimedOut));
            self.phase = Phase::Closed;
            return;
        }
        self.retransmits += 1;
        self.unacked = 0;
        self.reply_due = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_an_answer_sets_the_transfer_id() {
        let now = Instant::now();
        let mut download = Download::new(
            addr("127.0.0.1:69"),
            "SEP0018B9FFFFFF.cnf.xml",
            ClientConfig::default(),
            now,
        );
        // Garbage and a stray ACK from other ports of the server's host.
        download.handle_datagram(addr("127.0.0.1:50001"), b"\x00\x34", now);
        download.handle_datagram(addr("127.0.0.1:50002"), b"\x00\x04\x00\x01", now);
        assert_eq!(download.peer(), None);
        let mut buf = Vec::new();
        assert_eq!(download.poll_transmit(&mut buf), Some(addr("127.0.0.1:69")));
        assert_eq!(download.poll_transmit(&mut buf), None);

        Packet::Data {
            block: 1,
            data: b"<device/>",
        }
        .encode(&mut buf);
        download.handle_datagram(addr("127.0.0.1:50000"), &buf, now);
        assert_eq!(download.peer(), Some(addr("127.0.0.1:50000")));
        assert_eq!(download.result(), Some(&Ok(())));
        assert_eq!(download.content(), b"<device/>");
    }
}
