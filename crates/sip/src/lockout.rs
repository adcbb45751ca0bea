//! Slowing, then locking out, a source that keeps sending wrong passwords,
//! by IP address and by time, so that one bad phone or one password guesser
//! never holds up the others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When a source is slowed and when it is locked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures answered at once (a phone with a stale nonce, a typo).
    pub free_failures: u32,
    /// Each failure past the free ones delays the answers to that source
    /// by this much more...
    pub delay_step: Duration,
    /// ...up to this much.
    pub max_delay: Duration,
    /// After this many failures the source gets no answer at all...
    pub lock_after: u32,
    /// ...for this long.
    pub lock_for: Duration,
    /// A source that has not failed for this long starts afresh.
    pub forget_after: Duration,
    /// Sources remembered at most; past that the stalest record is dropped,
    /// so a flood of addresses cannot grow the table.
    pub max_sources: usize,
}

impl Default for LockoutPolicy {
    fn default() -> LockoutPolicy {
        LockoutPolicy {
            free_failures: 3,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            lock_after: 10,
            lock_for: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(10 * 60),
            max_sources: 4096,
        }
    }
}

/// How a source stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Answered at once.
    Clear,
    /// Answered after this delay.
    Slowed(Duration),
    /// Not answered until then.
    Locked { until: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The failure records of the sources that failed recently.
#[derive(Debug, Clone)]
pub struct Lockout {
    policy: LockoutPolicy,
    records: HashMap<IpAddr, Record>,
}

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Lockout {
        Lockout {
            policy,
            records: HashMap::new(),
        }
    }

    /// How `source` stands at `now`.
    pub fn standing(&self, source: IpAddr, now: Instant) -> Standing {
        match self.records.get(&source) {
            Some(r) => self.judge(r, now),
            None => Standing::Clear,
        }
    }

    fn judge(&self, r: &Record, now: Instant) -> Standing {
        if let Some(until) = r.locked_until {
            if now < until {
                return Standing::Locked { until };
            }
            return Standing::Clear;
        }
        if now.saturating_duration_since(r.last) >= self.policy.forget_after {
            return Standing::Clear;
        }
        match r.failures.checked_sub(self.policy.free_failures) {
            None | Some(0) => Standing::Clear,
            Some(extra) => Standing::Slowed(
                self.policy
                    .delay_step
                    .saturating_mul(extra)
                    .min(self.policy.max_delay),
            ),
        }
    }

    /// Records one failure of `source` and returns its new standing.
    pub fn fail(&mut self, source: IpAddr, now: Instant) -> Standing {
        let policy = self.policy;
        if !self.records.contains_key(&source) && self.records.len() >= policy.max_sources {
            self.forget_stale(now);
            if self.records.len() >= policy.max_sources {
                let stalest = self
                    .records
                    .iter()
                    .filter(|(_, r)| r.locked_until.is_none_or(|until| until <= now))
                    .min_by_key(|(_, r)| r.last)
                    .map(|(ip, _)| *ip);
                match stalest {
                    Some(ip) => {
                        self.records.remove(&ip);
                    }
                    // Every record is a live lock: keep them, and slow this
                    // newcomer no further than a fresh source.
                    None => return Standing::Clear,
                }
            }
        }
        let record = self.records.entry(source).or_insert(Record {
            failures: 0,
            last: now,
            locked_until: None,
        });
        let lock_over = record.locked_until.is_some_and(|until| now >= until);
        if lock_over || now.saturating_duration_since(record.last) >= policy.forget_after {
            *record = Record {
                failures: 0,
                last: now,
                locked_until: None,
            };
        }
        record.failures = record.failures.saturating_add(1);
        record.last = now;
        if record.failures >= policy.lock_after && record.locked_until.is_none() {
            record.locked_until = Some(now + policy.lock_for);
        }
        let record = *record;
        self.judge(&record, now)
    }

    /// Drops the records that no longer slow or lock anyone.
    pub fn forget_stale(&mut self, now: Instant) {
        let forget = self.policy.forget_after;
        self.records.retain(|_, r| match r.locked_until {
            Some(until) => now < until,
            None => now.saturating_duration_since(r.last) < forget,
        });
    }

    /// Sources on record (for metrics).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no source is on record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 168, 1, last])
    }

    #[test]
    fn slowed_then_locked_then_released() {
        let policy = LockoutPolicy::default();
        let mut lockout = Lockout::new(policy);
        let t0 = Instant::now();
        for n in 1..=3 {
            assert_eq!(lockout.fail(ip(9), t0), Standing::Clear, "failure {n}");
        }
        assert_eq!(
            lockout.fail(ip(9), t0),
            Standing::Slowed(Duration::from_secs(1))
        );
        for _ in 5..10 {
            lockout.fail(ip(9), t0);
        }
        assert_eq!(
            lockout.standing(ip(9), t0),
            Standing::Slowed(Duration::from_secs(6))
        );
        let until = t0 + policy.lock_for;
        assert_eq!(lockout.fail(ip(9), t0), Standing::Locked { until });
        // Others are untouched.
        assert_eq!(lockout.standing(ip(10), t0), Standing::Clear);
        assert_eq!(
            lockout.standing(ip(9), until - Duration::from_millis(1)),
            Standing::Locked { until }
        );
        assert_eq!(lockout.standing(ip(9), until), Standing::Clear);
        // After the lock, counting starts again.
        assert_eq!(lockout.fail(ip(9), until), Standing::Clear);
    }

    #[test]
    fn failures_are_forgotten_and_the_table_is_bounded() {
        let policy = LockoutPolicy {
            max_sources: 4,
            ..LockoutPolicy::default()
        };
        let mut lockout = Lockout::new(policy);
        let t0 = Instant::now();
        for _ in 0..5 {
            lockout.fail(ip(1), t0);
        }
        assert!(matches!(lockout.standing(ip(1), t0), Standing::Slowed(_)));
        assert_eq!(
            lockout.standing(ip(1), t0 + policy.forget_after),
            Standing::Clear
        );
        for last in 2..=100 {
            lockout.fail(ip(last), t0 + Duration::from_secs(u64::from(last)));
        }
        assert!(lockout.len() <= 4);
        lockout.forget_stale(t0 + Duration::from_secs(100) + policy.forget_after);
        assert!(lockout.is_empty());
    }
}
