//! [`Rate`]: an amount per second measured over a few short sample windows, and the throttle
//! delay that brings a rate back under a bound. The arithmetic is Kafka's (`SampledStat` and
//! `Rate` in `org.apache.kafka.common.metrics.stats`, `QuotaUtils.throttleTime`), so clients
//! see the delays they would see from Kafka. Pure: the caller passes the time.

use std::collections::VecDeque;
use std::time::Duration;

/// Kafka's `quota.window.num` and `quota.window.size.seconds` defaults: 11 windows of 1 s.
pub(crate) const SAMPLES: usize = 11;
pub(crate) const WINDOW_MS: u64 = 1000;

/// Longest delay a client is told (`throttle_time_ms` is an i32 of milliseconds).
const MAX_DELAY_MS: f64 = i32::MAX as f64;

#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: u64,
    value: f64,
}

/// Amounts recorded in up to [`SAMPLES`] windows of [`WINDOW_MS`]; older windows expire.
#[derive(Debug, Default)]
pub(crate) struct Rate {
    samples: VecDeque<Sample>,
    last_ms: u64,
}

impl Rate {
    /// Adds `value` at `now_ms`.
    pub(crate) fn record(&mut self, value: f64, now_ms: u64) {
        self.purge(now_ms);
        let fresh = match self.samples.back() {
            Some(s) => now_ms.saturating_sub(s.start_ms) >= WINDOW_MS,
            None => true,
        };
        if fresh {
            self.samples.push_back(Sample {
                start_ms: now_ms,
                value: 0.0,
            });
            while self.samples.len() > SAMPLES {
                self.samples.pop_front();
            }
        }
        if let Some(current) = self.samples.back_mut() {
            current.value += value;
        }
        self.last_ms = now_ms;
    }

    /// Takes back `value` recorded earlier (a throttled fetch sends no data, so it is not
    /// charged, as Kafka's `unrecordQuotaSensor`).
    pub(crate) fn unrecord(&mut self, value: f64, now_ms: u64) {
        self.record(-value, now_ms);
    }

    /// Amount per second at `now_ms`: the retained total over the time it covers, which is
    /// never taken as less than `SAMPLES - 1` windows (so a new client's first burst is
    /// measured against ten seconds, exactly as Kafka does).
    pub(crate) fn per_second(&mut self, now_ms: u64) -> f64 {
        self.purge(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (self.window_ms(now_ms) as f64 / 1000.0)
    }

    /// How long the client must wait for this rate to come back down to `bound` (zero when
    /// it is within it): `(rate - bound) / bound × window`, Kafka's `QuotaUtils.throttleTime`.
    pub(crate) fn delay(&mut self, bound: f64, now_ms: u64) -> Duration {
        let rate = self.per_second(now_ms);
        if rate <= bound || bound <= 0.0 {
            return Duration::ZERO;
        }
        let ms = (rate - bound) / bound * self.window_ms(now_ms) as f64;
        Duration::from_millis(ms.round().min(MAX_DELAY_MS) as u64)
    }

    /// Whether nothing has been recorded for longer than the samples cover.
    pub(crate) fn idle(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_ms) >= SAMPLES as u64 * WINDOW_MS
    }

    /// Kafka's `Rate.windowSize`: from the oldest sample's start to now, at least
    /// `SAMPLES - 1` full windows.
    fn window_ms(&self, now_ms: u64) -> u64 {
        let oldest = self.samples.front().map_or(now_ms, |s| s.start_ms);
        let elapsed = now_ms.saturating_sub(oldest);
        let min_full = (SAMPLES as u64 - 1) * WINDOW_MS;
        let full = elapsed / WINDOW_MS * WINDOW_MS;
        if full < min_full {
            elapsed + (min_full - full)
        } else {
            elapsed
        }
    }

    /// Drops samples that started `SAMPLES` windows ago or earlier.
    fn purge(&mut self, now_ms: u64) {
        let max_age = SAMPLES as u64 * WINDOW_MS;
        while let Some(s) = self.samples.front() {
            if now_ms.saturating_sub(s.start_ms) >= max_age {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    #[test]
    fn a_first_burst_is_measured_over_ten_windows() {
        let mut r = Rate::default();
        r.record(10.0 * MIB, 0);
        // 10 MiB at once is exactly 1 MiB/s over the minimum window of 10 s.
        assert_eq!(r.per_second(0), MIB);
        assert_eq!(r.delay(MIB, 0), Duration::ZERO);
        r.record(MIB, 0);
        // 11 MiB: 1.1 MiB/s, 10 % over, so 10 % of the 10 s window: 1 s.
        assert_eq!(r.delay(MIB, 0), Duration::from_millis(1000));
    }

    #[test]
    fn delay_brings_the_rate_back_to_the_bound() {
        let mut r = Rate::default();
        // One second of steady 2 MiB/s for 20 s; the bound is 1 MiB/s.
        for s in 0..20u64 {
            r.record(2.0 * MIB, s * 1000);
        }
        let now = 19_500;
        let delay = r.delay(MIB, now);
        assert!(delay > Duration::ZERO);
        // Waiting out the delay without sending brings the measured rate to about the bound
        // (the window also slides, so it lands at or under it).
        let later = now + delay.as_millis() as u64;
        let rate = r.per_second(later);
        assert!(rate <= MIB * 1.01, "{rate}");
    }

    #[test]
    fn window_grows_to_eleven_samples_and_old_samples_expire() {
        let mut r = Rate::default();
        for s in 0..=11u64 {
            r.record(1000.0, s * 1000);
        }
        // Samples of seconds 1..=11 are kept (second 0 expired): 11 000 over 10 s + the
        // current window's elapsed 0 ms.
        assert_eq!(r.per_second(11_000), 11_000.0 / 10.0);
        // 500 ms later the window is 10.5 s.
        assert_eq!(r.per_second(11_500), 11_000.0 / 10.5);
        // Long silence: everything expires.
        assert_eq!(r.per_second(30_000), 0.0);
        assert!(r.idle(30_000));
        assert!(!r.idle(11_500));
    }

    #[test]
    fn unrecord_takes_a_charge_back() {
        let mut r = Rate::default();
        r.record(5000.0, 100);
        r.record(7000.0, 200);
        r.unrecord(7000.0, 300);
        // Oldest sample started at 100: 200 ms elapsed, plus the ten-window minimum.
        assert_eq!(r.per_second(300), 5000.0 / 10.2);
    }

    #[test]
    fn no_bound_or_no_traffic_means_no_delay() {
        let mut r = Rate::default();
        assert_eq!(r.delay(1.0, 5), Duration::ZERO);
        r.record(1e12, 5);
        assert_eq!(r.delay(0.0, 5), Duration::ZERO);
        // An absurd overshoot is capped to what throttle_time_ms can carry.
        assert_eq!(r.delay(1e-9, 5), Duration::from_millis(i32::MAX as u64));
    }
}
