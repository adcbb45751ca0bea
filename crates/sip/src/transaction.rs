//! Non-INVITE transactions over UDP (RFC 3261 §17): the server side absorbs
//! retransmitted requests and replays the last response; the client side
//! retransmits a request until it is answered or gives up. Both are pure
//! state machines driven by `now`, with a `next_timeout` for the driver.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::header::{Method, BRANCH_COOKIE};
use crate::message::{Request, Response};

/// RFC 3261's timer values (§17.1.1.1, table 4). The 79xx uses T1 500 ms
/// and T2 4 s too (reference §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate.
    pub t1: Duration,
    /// Longest retransmit interval of a non-INVITE request.
    pub t2: Duration,
    /// Longest time a message stays in the network.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// What identifies a server transaction (RFC 3261 §17.2.3): the branch,
/// the sent-by and the method of the top Via. For a request from an
/// RFC 2543 client (no magic cookie) the branch is replaced by its Call-ID,
/// CSeq number, From tag and Request-URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    branch: String,
    sent_by: String,
    method: Method,
}

impl TransactionKey {
    pub fn of(request: &Request) -> TransactionKey {
        let top = &request.head.via[0];
        let branch = match top.branch() {
            Some(b) if b.starts_with(BRANCH_COOKIE) => b.to_owned(),
            _ => format!(
                "{} {} {} {}",
                request.head.call_id,
                request.head.cseq.seq,
                request.head.from.tag().unwrap_or(""),
                request.uri
            ),
        };
        TransactionKey {
            branch,
            sent_by: top.sent_by().to_ascii_lowercase(),
            method: request.method.clone(),
        }
    }
}

/// What a request is to the server transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// A new request: answer it, then call [`ServerTransactions::complete`].
    New(TransactionKey),
    /// A retransmission of a request not answered yet, or answered with
    /// silence (a locked-out source): nothing to send.
    Absorbed,
    /// A retransmission of an answered request: send this again.
    Replay { to: SocketAddr, bytes: Vec<u8> },
}

#[derive(Debug, Clone)]
enum ServerState {
    Trying,
    Completed {
        answer: Option<(SocketAddr, Vec<u8>)>,
        not_before: Instant,
    },
}

/// Every non-INVITE server transaction the registrar has open.
#[derive(Debug)]
pub struct ServerTransactions {
    timers: Timers,
    max: usize,
    states: HashMap<TransactionKey, ServerState>,
    /// Completed transactions in the order their Timer J fires (a fixed
    /// 64*T1 after completion, so the order of completion).
    expiry: VecDeque<(Instant, TransactionKey)>,
}

impl ServerTransactions {
    /// At most `max` open transactions; past that, requests are answered
    /// without retransmission absorption rather than growing the table.
    pub fn new(timers: Timers, max: usize) -> ServerTransactions {
        ServerTransactions {
            timers,
            max,
            states: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    /// Looks a request up (RFC 3261 §17.2.2: Trying absorbs, Completed replays).
    pub fn arrive(&mut self, request: &Request, now: Instant) -> Arrival {
        let key = TransactionKey::of(request);
        match self.states.get(&key) {
            Some(ServerState::Trying) => Arrival::Absorbed,
            Some(ServerState::Completed {
                answer: Some((to, bytes)),
                not_before,
            }) if now >= *not_before => Arrival::Replay {
                to: *to,
                bytes: bytes.clone(),
            },
            Some(ServerState::Completed { .. }) => Arrival::Absorbed,
            None => {
                if self.states.len() < self.max {
                    self.states.insert(key.clone(), ServerState::Trying);
                }
                Arrival::New(key)
            }
        }
    }

    /// Records the final answer of a transaction (`None`: deliberately no
    /// answer), sent no sooner than `not_before`, and starts its Timer J.
    pub fn complete(
        &mut self,
        key: TransactionKey,
        answer: Option<(SocketAddr, Vec<u8>)>,
        not_before: Instant,
        now: Instant,
    ) {
        if let Some(state) = self.states.get_mut(&key) {
            *state = ServerState::Completed { answer, not_before };
            self.expiry.push_back((now + 64 * self.timers.t1, key));
        }
    }

    /// When the next Timer J fires.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.expiry.front().map(|(at, _)| *at)
    }

    /// Ends the transactions whose Timer J has fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, _)) = self.expiry.front() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.expiry.pop_front() {
                self.states.remove(&key);
            }
        }
    }

    /// Open transactions (for metrics and tests).
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no transaction is open.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// The state of a client transaction (RFC 3261 §17.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// What a client transaction asks of the driver on a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTimeout {
    /// Timer E: send the request again.
    Retransmit(Vec<u8>),
    /// Timer F: no final answer came; the transaction is over.
    TimedOut,
    /// Nothing to do (Timer K ended a completed transaction, or no timer is due).
    Quiet,
}

/// A non-INVITE client transaction over UDP, for the check-sync NOTIFY.
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    timers: Timers,
    bytes: Vec<u8>,
    to: SocketAddr,
    branch: String,
    method: Method,
    state: ClientState,
    /// Timer E: when the next retransmission is due, and the interval after it.
    timer_e: Instant,
    interval: Duration,
    timer_f: Instant,
    timer_k: Option<Instant>,
}

impl ClientTransaction {
    /// Starts a transaction for `request` (whose top Via carries the branch)
    /// to `to`; the first transmission is [`ClientTransaction::bytes`].
    pub fn start(
        request: &Request,
        to: SocketAddr,
        timers: Timers,
        now: Instant,
    ) -> ClientTransaction {
        ClientTransaction {
            timers,
            bytes: request.to_bytes(),
            to,
            branch: request.head.via[0].branch().unwrap_or_default().to_owned(),
            method: request.method.clone(),
            state: ClientState::Trying,
            timer_e: now + timers.t1,
            interval: timers.t1,
            timer_f: now + 64 * timers.t1,
            timer_k: None,
        }
    }

    /// The request, for the first and every later transmission.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the request goes.
    pub fn destination(&self) -> SocketAddr {
        self.to
    }

    /// The branch that matches responses to it.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    /// True when this transaction's request is the one `response` answers
    /// (RFC 3261 §17.1.3: top Via branch and CSeq method).
    pub fn matches(&self, response: &Response) -> bool {
        response.head.via[0].branch() == Some(self.branch.as_str())
            && response.head.cseq.method == self.method
    }

    /// Takes a matching response; returns its status when it is the first
    /// final one.
    pub fn on_response(&mut self, response: &Response, now: Instant) -> Option<u16> {
        match self.state {
            ClientState::Trying | ClientState::Proceeding if response.status < 200 => {
                self.state = ClientState::Proceeding;
                None
            }
            ClientState::Trying | ClientState::Proceeding => {
                self.state = ClientState::Completed;
                self.timer_k = Some(now + self.timers.t4);
                Some(response.status)
            }
            ClientState::Completed | ClientState::Terminated => None,
        }
    }

    /// When the driver should call [`ClientTransaction::on_timeout`].
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            ClientState::Trying | ClientState::Proceeding => Some(self.timer_e.min(self.timer_f)),
            ClientState::Completed => self.timer_k,
            ClientState::Terminated => None,
        }
    }

    /// Fires the timers due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> ClientTimeout {
        match self.state {
            ClientState::Trying | ClientState::Proceeding => {
                if now >= self.timer_f {
                    self.state = ClientState::Terminated;
                    return ClientTimeout::TimedOut;
                }
                if now < self.timer_e {
                    return ClientTimeout::Quiet;
                }
                // Trying doubles up to T2; Proceeding retransmits every T2.
                self.interval = match self.state {
                    ClientState::Trying => (self.interval * 2).min(self.timers.t2),
                    _ => self.timers.t2,
                };
                self.timer_e = now + self.interval;
                ClientTimeout::Retransmit(self.bytes.clone())
            }
            ClientState::Completed => {
                if self.timer_k.is_some_and(|k| now >= k) {
                    self.state = ClientState::Terminated;
                }
                ClientTimeout::Quiet
            }
            ClientState::Terminated => ClientTimeout::Quiet,
        }
    }
}
