//! [`FailureLimiter`]: failed authentications per client address (governor's keyed GCRA
//! limiter, `failures_per_minute` with that many as burst). Once an address is over its
//! budget, its requests with credentials are answered 429 without checking them (so a
//! password guesser costs us no PBKDF2) until the budget refills.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;

/// Addresses tracked before stale ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct FailureLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl FailureLimiter {
    pub fn new(per_minute: u32) -> FailureLimiter {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        FailureLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` must still wait, when it is over its budget.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let mut blocked = self.blocked.lock();
        let until = *blocked.get(&ip)?;
        let now = Instant::now();
        if until <= now {
            blocked.remove(&ip);
            return None;
        }
        Some(until - now)
    }

    /// Counts a failure from `ip`; returns the wait when this one went over the budget.
    pub fn failed(&self, ip: IpAddr) -> Option<Duration> {
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        let wait = match self.limiter.check_key(&ip) {
            Ok(()) => return None,
            Err(not_until) => not_until.wait_time_from(self.clock.now()),
        };
        let mut blocked = self.blocked.lock();
        if blocked.len() > PRUNE_ABOVE {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(ip, Instant::now() + wait);
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_budget_and_others_are_not() {
        let limiter = FailureLimiter::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(limiter.failed(a), None);
        }
        assert!(limiter.blocked_for(a).is_none());
        let wait = limiter
            .failed(a)
            .expect("fourth failure is over the budget");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.blocked_for(a).is_some());
        assert!(limiter.blocked_for(b).is_none());
        assert_eq!(limiter.failed(b), None);
    }
}
