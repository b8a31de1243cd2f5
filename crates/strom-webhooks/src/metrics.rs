//! Per-subscription delivery metrics and their Prometheus rendering: delivered, failed
//! attempts by reason, dead-lettered, retries pending, blocked partitions, delivery latency
//! histogram; the registry adds lag, dead-letter topic size and endpoint state.

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
    pub blocked: AtomicI64,
    failed: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<Histogram>,
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
    let simple: [Family; 6] = [
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
            |s| s.metrics.blocked.load(Ordering::Relaxed) as f64,
        ),
        (
            "strom_webhook_lag_records",
            "gauge",
            "Records not yet delivered or dead-lettered.",
            |s| s.lag as f64,
        ),
        (
            "strom_webhook_dead_letter_records",
            "gauge",
            "Records in the dead-letter topic.",
            |s| s.dead_letter_records as f64,
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
