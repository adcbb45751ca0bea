//! The retransmission timer both sides of a transfer share: retry only when it
//! fires, back off exponentially, give up after a bounded number of tries.

use std::time::{Duration, Instant};

/// Backoff never waits longer than this between two tries (unless the base
/// timeout itself is longer, as a client's timeout option may ask).
const BACKOFF_CAP: Duration = Duration::from_secs(16);

#[derive(Debug, Clone)]
pub(crate) struct RetryTimer {
    base: Duration,
    current: Duration,
    backoff: bool,
    retries: u32,
    max_retries: u32,
    fires_at: Instant,
}

impl RetryTimer {
    pub(crate) fn new(base: Duration, backoff: bool, max_retries: u32, now: Instant) -> Self {
        let base = base.max(Duration::from_millis(1));
        RetryTimer {
            base,
            current: base,
            backoff,
            retries: 0,
            max_retries,
            fires_at: now + base,
        }
    }

    /// The peer made progress: start counting again from the base timeout.
    pub(crate) fn progress(&mut self, now: Instant) {
        self.retries = 0;
        self.current = self.base;
        self.fires_at = now + self.current;
    }

    pub(crate) fn fires_at(&self) -> Instant {
        self.fires_at
    }

    /// The timer fired. Returns true when another try is allowed (and arms the
    /// timer for it), false when the tries are used up.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        if self.retries >= self.max_retries {
            return false;
        }
        self.retries += 1;
        if self.backoff {
            self.current = (self.current * 2).min(BACKOFF_CAP.max(self.base));
        }
        self.fires_at = now + self.current;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_gives_up() {
        let t0 = Instant::now();
        let mut timer = RetryTimer::new(Duration::from_secs(1), true, 5, t0);
        let mut waits = vec![];
        let mut now;
        loop {
            now = timer.fires_at();
            if !timer.expire(now) {
                break;
            }
            waits.push((timer.fires_at() - now).as_secs());
        }
        assert_eq!(waits, vec![2, 4, 8, 16, 16]);
        timer.progress(now);
        assert_eq!(timer.fires_at() - now, Duration::from_secs(1));
    }
}
