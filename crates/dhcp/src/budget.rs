//! The cap on new leases per minute, against pool starvation.

use std::time::{Duration, SystemTime};

/// A token bucket of new leases: up to `per_minute` at once, refilled
/// evenly over each minute. The driver owns it and lends it to
/// [`crate::Engine::decide`]; the engine takes a token only when it offers an
/// address to a client that is neither listed nor returning, so phones in
/// `[[phone]]` and clients coming back for their address are never held up
/// by a flood of random MACs. (Per-MAC rate limits are the driver's.)
///
/// Kept apart from the engine so that [`crate::Engine`] stays immutable and
/// `Sync` and `decide` a plain function of its inputs, and so that a
/// configuration reload (a new engine) does not reset the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeaseBudget {
    per_minute: u32,
    /// Tokens in thousandths, so refills need no floating point.
    milli_tokens: u64,
    refilled_at: Option<SystemTime>,
}

impl NewLeaseBudget {
    pub fn new(per_minute: u32) -> NewLeaseBudget {
        NewLeaseBudget {
            per_minute,
            milli_tokens: u64::from(per_minute) * 1000,
            refilled_at: None,
        }
    }

    /// Takes one new lease if the budget allows it at `now`. A clock that
    /// steps back refills nothing.
    pub fn try_take(&mut self, now: SystemTime) -> bool {
        let full = u64::from(self.per_minute) * 1000;
        if let Some(then) = self.refilled_at {
            let elapsed = now.duration_since(then).unwrap_or(Duration::ZERO);
            let refill = elapsed
                .as_millis()
                .saturating_mul(u128::from(self.per_minute))
                / 60;
            self.milli_tokens = u64::try_from(refill)
                .unwrap_or(u64::MAX)
                .saturating_add(self.milli_tokens)
                .min(full);
        }
        if self.refilled_at.is_none_or(|then| now > then) {
            self.refilled_at = Some(now);
        }
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_capped_then_refilled_over_the_minute() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut budget = NewLeaseBudget::new(60);
        assert_eq!((0..100).filter(|_| budget.try_take(start)).count(), 60);
        assert!(!budget.try_take(start + Duration::from_millis(500)));
        assert!(budget.try_take(start + Duration::from_millis(1500)));
        assert!(!budget.try_take(start + Duration::from_millis(1600)));
        // A clock stepping back neither refills nor panics.
        assert!(!budget.try_take(start - Duration::from_secs(3600)));
        assert_eq!(
            (0..100)
                .filter(|_| budget.try_take(start + Duration::from_secs(600)))
                .count(),
            60
        );
    }

    #[test]
    fn a_zero_budget_allows_nothing() {
        let mut budget = NewLeaseBudget::new(0);
        assert!(!budget.try_take(SystemTime::UNIX_EPOCH));
    }
}
