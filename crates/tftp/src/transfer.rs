//! The server side of a read transfer (RFC 1350, RFC 2347 OACK, RFC 7440
//! windows), as a state machine without I/O.
//!
//! The driver feeds it datagrams and timeouts with `now`, and sends what
//! [`ReadTransfer::poll_transmit`] hands out. Data is retransmitted only when
//! the timer fires, never because an ACK came twice (the Sorcerer's Apprentice
//! bug of RFC 1350 §4.2 / RFC 1123 §4.2.3.1).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::netascii;
use crate::options::{Negotiated, ServerLimits};
use crate::packet::{ErrorCode, Mode, Packet, Printable};
use crate::timer::RetryTimer;

/// At most this many ERROR 5 replies wait to be sent, so a flood of strays
/// cannot grow memory.
const MAX_QUEUED_STRAY_ERRORS: usize = 8;

/// How a read transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every block, the last one included, was acknowledged.
    Sent,
    /// The client stopped answering; the retries ran out.
    TimedOut,
    /// The transfer ran past the overall deadline.
    DeadlineExceeded,
    /// The client sent an ERROR packet.
    ClientError { code: ErrorCode, message: String },
}

/// Counters for the transfer's event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Blocks in the file as sent (the final, short block included).
    pub blocks: u64,
    /// Blocks acknowledged by the client.
    pub blocks_acked: u64,
    /// DATA packets sent again after a timeout.
    pub blocks_retransmitted: u64,
    /// Bytes on the wire in DATA payloads (after netascii conversion).
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// OACK sent, waiting for ACK 0.
    Negotiating,
    Sending,
    Finished,
}

#[derive(Debug)]
pub struct ReadTransfer {
    peer: SocketAddr,
    content: Bytes,
    blksize: usize,
    windowsize: u64,
    phase: Phase,
    /// The encoded OACK, while negotiating.
    oack: Option<Vec<u8>>,
    oack_due: bool,
    /// Highest block index (1-based) acknowledged.
    acked: u64,
    /// Next block index to put on the wire.
    next_block: u64,
    /// Highest block index ever sent.
    highest_sent: u64,
    timer: RetryTimer,
    deadline: Instant,
    /// ERROR packets to send: to strays (code 5) and, when the transfer is
    /// abandoned, one to the client.
    errors: VecDeque<(SocketAddr, ErrorCode, &'static str)>,
    stats: TransferStats,
    outcome: Option<Outcome>,
}

impl ReadTransfer {
    /// Starts sending `content` to `peer` with the negotiated options: the OACK
    /// first when there is one, else DATA block 1.
    pub fn new(
        peer: SocketAddr,
        content: Bytes,
        mode: Mode,
        negotiated: &Negotiated,
        limits: &ServerLimits,
        now: Instant,
    ) -> ReadTransfer {
        let content = match mode {
            Mode::Octet => content,
            Mode::Netascii => Bytes::from(netascii::encode(&content)),
        };
        let blksize = usize::from(negotiated.blksize);
        let blocks = content.len() as u64 / blksize as u64 + 1;
        let oack = negotiated.sends_oack().then(|| {
            let options: Vec<(&[u8], &[u8])> = negotiated
                .granted
                .iter()
                .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
                .collect();
            let mut buf = Vec::new();
            Packet::Oack { options }.encode(&mut buf);
            buf
        });
        // A client that asked for a timeout gets exactly that interval
        // (RFC 2349); otherwise the server's own timeout backs off.
        let timer = match negotiated.timeout {
            Some(asked) => RetryTimer::new(asked, false, limits.max_retries, now),
            None => RetryTimer::new(limits.retransmit_after, true, limits.max_retries, now),
        };
        ReadTransfer {
            peer,
            blksize,
            windowsize: u64::from(negotiated.windowsize.max(1)),
            phase: if oack.is_some() {
                Phase::Negotiating
            } else {
                Phase::Sending
            },
            oack_due: oack.is_some(),
            oack,
            acked: 0,
            next_block: 1,
            highest_sent: 0,
            timer,
            deadline: now + limits.deadline,
            errors: VecDeque::new(),
            stats: TransferStats {
                blocks,
                bytes: content.len() as u64,
                ..TransferStats::default()
            },
            content,
            outcome: None,
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn stats(&self) -> TransferStats {
        self.stats
    }

    /// How the transfer ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// True when the transfer has ended and has nothing left to send.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished && self.errors.is_empty()
    }

    /// When [`ReadTransfer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.phase != Phase::Finished).then(|| self.timer.fires_at().min(self.deadline))
    }

    /// Encodes the next datagram to send into `buf` and returns where it goes.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        if let Some((to, code, text)) = self.errors.pop_front() {
            Packet::Error {
                code,
                message: text.as_bytes(),
            }
            .encode(buf);
            return Some(to);
        }
        match self.phase {
            Phase::Finished => None,
            Phase::Negotiating => {
                let oack = self.oack.as_ref().filter(|_| self.oack_due)?;
                self.oack_due = false;
                buf.clear();
                buf.extend_from_slice(oack);
                Some(self.peer)
            }
            Phase::Sending => {
                let window_end = (self.acked + self.windowsize).min(self.stats.blocks);
                if self.next_block > window_end {
                    return None;
                }
                let block = self.next_block;
                let start = ((block - 1) as usize).saturating_mul(self.blksize);
                let end = (start + self.blksize).min(self.content.len());
                Packet::Data {
                    block: block as u16,
                    data: &self.content[start.min(end)..end],
                }
                .encode(buf);
                if block <= self.highest_sent {
                    self.stats.blocks_retransmitted += 1;
                } else {
                    self.highest_sent = block;
                }
                self.next_block += 1;
                Some(self.peer)
            }
        }
    }

    /// Feeds one datagram received on the transfer's socket.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        if from != self.peer {
            // RFC 1350 §4: a packet from an unknown TID gets ERROR 5 and the
            // transfer goes on undisturbed.
            if self.errors.len() < MAX_QUEUED_STRAY_ERRORS {
                self.errors
                    .push_back((from, ErrorCode::UnknownTransferId, "Unknown transfer ID"));
            }
            return;
        }
        if self.phase == Phase::Finished {
            return;
        }
        match Packet::decode(datagram) {
            Ok(Packet::Ack { block }) => self.on_ack(block, now),
            Ok(Packet::Error { code, message }) => {
                self.finish(Outcome::ClientError {
                    code,
                    message: Printable(message).to_string(),
                });
            }
            // Anything else from the client (a stray RRQ, DATA, garbage) is
            // ignored: the timer decides what happens next.
            _ => {}
        }
    }

    fn on_ack(&mut self, wire_block: u16, now: Instant) {
        if self.phase == Phase::Negotiating {
            if wire_block == 0 {
                self.phase = Phase::Sending;
                self.oack = None;
                self.timer.progress(now);
            }
            return;
        }
        // Which block does this 16-bit number mean? Only one of the blocks
        // from the last acknowledged one up to the highest sent can match,
        // since a window never spans more than 65535 blocks.
        let delta = u64::from(wire_block.wrapping_sub(self.acked as u16));
        let block = self.acked + delta;
        if delta == 0 || block > self.highest_sent {
            return; // a duplicate or an ACK for a block never sent: ignore
        }
        self.acked = block;
        self.stats.blocks_acked = block;
        if block == self.stats.blocks {
            self.finish(Outcome::Sent);
            return;
        }
        // Continue after the acknowledged block. When it lies inside the
        // window the client missed what followed, so this rewinds (RFC 7440 §4).
        self.next_block = block + 1;
        self.timer.progress(now);
    }

    /// Call when [`ReadTransfer::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Finished {
            return;
        }
        if now >= self.deadline {
            self.abandon(Outcome::DeadlineExceeded, "Transfer took too long");
            return;
        }
        if now < self.timer.fires_at() {
            return;
        }
        if !self.timer.expire(now) {
            self.abandon(Outcome::TimedOut, "Timed out waiting for ACK");
            return;
        }
        match self.phase {
            Phase::Negotiating => self.oack_due = true,
            Phase::Sending => self.next_block = self.acked + 1,
            Phase::Finished => {}
        }
    }

    /// Ends the transfer and tells the client why.
    fn abandon(&mut self, outcome: Outcome, text: &'static str) {
        self.errors
            .push_back((self.peer, ErrorCode::NotDefined, text));
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Finished;
        self.outcome = Some(outcome);
    }
}
