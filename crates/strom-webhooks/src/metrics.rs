//! Per-subscription delivery metrics and their Prometheus rendering: delivered, failed
//! attempts by reason, dead-lettered, retries pending, blocked partitions, delivery latency
//! histogram, endpoints disabled for failing, and a one-minute window of deliveries and
//! failures per second; the registry adds lag, blocked partitions, dead-letter topic size and
//! endpoint state.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Latency bucket bounds, seconds.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

#[derive(Debug, Default)]
pub struct SubMetrics {
    pub delivered: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retries_pending: AtomicI64,
    /// Times the endpoint was disabled for failing continuously.
    pub auto_disabled: AtomicU64,
    failed: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<Histogram>,
    window: Mutex<Window>,
}

/// Seconds in the rate window.
pub const WINDOW_SECS: i64 = 60;

/// Per-second counts of the last [`WINDOW_SECS`] seconds: (second, delivered, failed).
#[derive(Debug, Default)]
struct Window {
    seconds: std::collections::VecDeque<(i64, u64, u64)>,
}

impl Window {
    fn add(&mut self, now_s: i64, delivered: u64, failed: u64) {
        match self.seconds.back_mut() {
            Some(last) if last.0 == now_s => {
                last.1 += delivered;
                last.2 += failed;
            }
            _ => self.seconds.push_back((now_s, delivered, failed)),
        }
        self.trim(now_s);
    }

    fn trim(&mut self, now_s: i64) {
        while self
            .seconds
            .front()
            .is_some_and(|f| f.0 <= now_s - WINDOW_SECS)
        {
            self.seconds.pop_front();
        }
    }
}

/// Deliveries and failed attempts per second over the last minute.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, PartialEq)]
pub struct Rates {
    pub delivered_per_sec: f64,
    pub failed_per_sec: f64,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl SubMetrics {
    pub fn failed(&self, reason: &'static str) {
        *self.failed.lock().entry(reason).or_default() += 1;
        self.window.lock().add(crate::now_ms() / 1000, 0, 1);
    }

    pub fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.window.lock().add(crate::now_ms() / 1000, 1, 0);
    }

    /// The rates over the last minute (at `now_ms`).
    pub fn rates(&self, now_ms: i64) -> Rates {
        let mut w = self.window.lock();
        w.trim(now_ms / 1000);
        let (d, f) = w
            .seconds
            .iter()
            .fold((0, 0), |(d, f), s| (d + s.1, f + s.2));
        Rates {
            delivered_per_sec: d as f64 / WINDOW_SECS as f64,
            failed_per_sec: f as f64 / WINDOW_SECS as f64,
        }
    }

    /// Latency of a successful delivery (request sent to 2xx received).
    pub fn observe(&self, latency: Duration) {
        let s = latency.as_secs_f64();
        let mut h = self.latency.lock();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if s <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }
}

/// What the registry knows beyond the counters, for one subscription.
pub struct Snapshot<'a> {
    pub name: &'a str,
    pub metrics: &'a SubMetrics,
    pub lag: i64,
    /// Age of the oldest record not yet delivered or dead-lettered.
    pub lag_seconds: f64,
    pub blocked_partitions: i64,
    pub dead_letter_records: i64,
    pub state: &'static str,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family read off a subscription: name, type, help, value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Snapshot<'_>) -> f64,
);

/// Renders every subscription's samples in the text exposition format.
pub fn render(subs: &[Snapshot<'_>], out: &mut String) {
    let simple: [Family; 8] = [
        (
            "strom_webhook_delivered_total",
            "counter",
            "Events delivered (2xx).",
            |s| s.metrics.delivered.load(Ordering::Relaxed) as f64,
        ),
        (
            "strom_webhook_dead_lettered_total",
            "counter",
            "Events written to the dead-letter topic.",
            |s| s.metrics.dead_lettered.load(Ordering::Relaxed) as f64,
        ),
        (
            "strom_webhook_retries_pending",
            "gauge",
            "Events waiting for a retry.",
            |s| s.metrics.retries_pending.load(Ordering::Relaxed) as f64,
        ),
        (
            "strom_webhook_blocked_partitions",
            "gauge",
            "Partitions stopped at a failing event (block policy).",
            |s| s.blocked_partitions as f64,
        ),
        (
            "strom_webhook_lag_records",
            "gauge",
            "Records not yet delivered or dead-lettered.",
            |s| s.lag as f64,
        ),
        (
            "strom_webhook_lag_seconds",
            "gauge",
            "Age of the oldest record not yet delivered or dead-lettered (0 without lag).",
            |s| s.lag_seconds,
        ),
        (
            "strom_webhook_dead_letter_records",
            "gauge",
            "Records in the dead-letter topic.",
            |s| s.dead_letter_records as f64,
        ),
        (
            "strom_webhook_auto_disabled_total",
            "counter",
            "Times the endpoint was disabled after failing continuously for disable_after_ms.",
            |s| s.metrics.auto_disabled.load(Ordering::Relaxed) as f64,
        ),
    ];
    for (name, kind, help, value) in simple {
        family(out, name, kind, help);
        for s in subs {
            let _ = writeln!(
                out,
                "{name}{{subscription=\"{}\"}} {}",
                label(s.name),
                value(s)
            );
        }
    }
    family(
        out,
        "strom_webhook_failed_attempts_total",
        "counter",
        "Failed delivery attempts by reason.",
    );
    for s in subs {
        for (reason, n) in s.metrics.failed.lock().iter() {
            let _ = writeln!(
                out,
                "strom_webhook_failed_attempts_total{{subscription=\"{}\",reason=\"{reason}\"}} {n}",
                label(s.name)
            );
        }
    }
    family(
        out,
        "strom_webhook_endpoint_state",
        "gauge",
        "1 for the endpoint's current state.",
    );
    for s in subs {
        for state in ["active", "paused", "disabled"] {
            let v = u8::from(state == s.state);
            let _ = writeln!(
                out,
                "strom_webhook_endpoint_state{{subscription=\"{}\",state=\"{state}\"}} {v}",
                label(s.name)
            );
        }
    }
    render_latency(subs, out);
}

fn render_latency(subs: &[Snapshot<'_>], out: &mut String) {
    let name = "strom_webhook_delivery_seconds";
    family(out, name, "histogram", "Latency of successful deliveries.");
    for s in subs {
        let h = s.metrics.latency.lock();
        let sub = label(s.name);
        for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "{name}_bucket{{subscription=\"{sub}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{subscription=\"{sub}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "{name}_sum{{subscription=\"{sub}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{subscription=\"{sub}\"}} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_the_last_minute_only() {
        let mut w = Window::default();
        w.add(100, 1, 0);
        w.add(100, 1, 1);
        w.add(130, 3, 0);
        w.trim(159);
        assert_eq!(w.seconds.len(), 2);
        w.trim(160);
        assert_eq!(w.seconds.iter().map(|s| s.1).sum::<u64>(), 3);
        w.trim(190);
        assert!(w.seconds.is_empty());
    }
}
