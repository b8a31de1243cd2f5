//! Failed-authentication throttling per client IP (governor's keyed GCRA limiter): each
//! failure takes a cell. A failure that finds its IP's cells spent (the 11th within a second
//! with the default of 10) blocks that IP until a cell is back; while blocked, its
//! authentication attempts are refused before any credential is checked. Successful logins
//! take nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Instant;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;

/// Above this many tracked IPs, idle entries are dropped (bounded memory under a flood).
const MAX_TRACKED: usize = 10_000;

pub struct FailureThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl FailureThrottle {
    /// Allows `per_second` failures per IP and second (at least 1).
    pub fn new(per_second: u32) -> FailureThrottle {
        let n = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        FailureThrottle {
            limiter: RateLimiter::keyed(Quota::per_second(n)),
            clock: DefaultClock::default(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` must wait before trying again.
    pub fn is_throttled(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let mut blocked = self.blocked.lock();
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                blocked.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records a failed authentication from `ip`; returns whether `ip` is now throttled.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.limiter.len() > MAX_TRACKED {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&ip) {
            Ok(()) => false,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let mut blocked = self.blocked.lock();
                if blocked.len() > MAX_TRACKED {
                    let now = Instant::now();
                    blocked.retain(|_, until| *until > now);
                }
                blocked.insert(ip, Instant::now() + wait);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_in_a_second_blocks_that_ip_only() {
        let throttle = FailureThrottle::new(10);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let throttled: Vec<bool> = (0..11).map(|_| throttle.record_failure(a)).collect();
        assert_eq!(throttled.iter().filter(|t| **t).count(), 1, "{throttled:?}");
        assert!(throttled[10]);
        assert!(throttle.is_throttled(a));
        assert!(!throttle.is_throttled(b));
    }
}
