//! Metrics instrumentation shared by every crate: the names, help texts and label rules of the
//! counters and histograms Strom records on its hot paths, through the `metrics` facade (the
//! HTTP front end installs the Prometheus recorder and renders them on `GET /metrics`).
//!
//! To add a metric: record it with `metrics::counter!` / `metrics::histogram!` /
//! `metrics::gauge!` where it happens (any crate; `strom_broker::telemetry::metrics` re-exports
//! the macros), and add one row to [`DESCRIPTIONS`] (its `# HELP` text; `promtool check
//! metrics` fails without it). Follow Prometheus naming: `strom_` prefix, base units
//! (`_seconds`, `_bytes`), counters end in `_total`. A label whose values come from clients
//! (topic names) must go through [`topic_label`], which caps its cardinality.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use metrics;

/// Default of [`set_max_topic_labels`].
pub const DEFAULT_MAX_TOPIC_LABELS: usize = 1000;
/// The label value of topics past the cap.
pub const OTHER: &str = "other";

static MAX_TOPIC_LABELS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_TOPIC_LABELS);
static TOPIC_LABELS: parking_lot::Mutex<Option<HashSet<String>>> = parking_lot::Mutex::new(None);
static TOTALS: parking_lot::Mutex<Option<HashMap<String, TopicTotals>>> =
    parking_lot::Mutex::new(None);

/// A topic's counters since the process started (the same figures as the `strom_topic_*`
/// counters, summed over protocols), for the console's in-memory history.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TopicTotals {
    pub records_in: u64,
    pub bytes_in: u64,
    pub records_out: u64,
    pub bytes_out: u64,
}

fn add_totals(topic: &str, add: impl FnOnce(&mut TopicTotals)) {
    let mut totals = TOTALS.lock();
    let totals = totals.get_or_insert_with(HashMap::new);
    match totals.get_mut(topic) {
        Some(t) => add(t),
        None => add(totals.entry(topic.to_string()).or_default()),
    }
}

/// Every topic's totals (keyed by its capped label, see [`topic_label`]).
pub fn topic_totals() -> Vec<(String, TopicTotals)> {
    TOTALS
        .lock()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

/// What kind of metric a [`DESCRIPTIONS`] row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
    Gauge,
}

/// Every recorded metric: name, kind, help text.
pub const DESCRIPTIONS: &[(&str, Kind, &str)] = &[
    ("strom_topic_records_in_total", Kind::Counter, "Records appended by clients, per topic and protocol (kafka, http)."),
    ("strom_topic_bytes_in_total", Kind::Counter, "Bytes appended by clients, per topic and protocol (record batches as stored; WebSocket publishes: keys and values)."),
    ("strom_topic_records_out_total", Kind::Counter, "Records sent to clients, per topic and protocol."),
    ("strom_topic_bytes_out_total", Kind::Counter, "Bytes sent to clients, per topic and protocol (Kafka: record batches as stored; HTTP: keys and values)."),
    ("strom_kafka_requests_total", Kind::Counter, "Kafka requests handled, per API and outcome (ok, failed)."),
    ("strom_kafka_request_errors_total", Kind::Counter, "Kafka error codes answered, per API and error (Kafka's name of the code; one per partition, topic or group result that carries one)."),
    ("strom_kafka_request_duration_seconds", Kind::Histogram, "Time to handle a Kafka request, per API (Fetch includes its long-poll wait)."),
    ("strom_connections_accepted_total", Kind::Counter, "Connections accepted, per protocol (kafka, http), before the connection limits."),
    ("strom_http_requests_total", Kind::Counter, "HTTP requests answered, per method, route template and status code."),
    ("strom_http_request_duration_seconds", Kind::Histogram, "Time to answer an HTTP request (until the response head), per method and route."),
    ("strom_http_rejected_requests_total", Kind::Counter, "HTTP requests answered with a 4xx or 5xx status, per status code."),
    ("strom_log_fsync_duration_seconds", Kind::Histogram, "Time of one fdatasync of a segment file."),
    ("strom_tier_uploaded_segments_total", Kind::Counter, "Closed segments uploaded to the tiered store and recorded in their manifest."),
    ("strom_tier_uploaded_bytes_total", Kind::Counter, "Segment bytes uploaded to the tiered store (log files, recorded in a manifest)."),
    ("strom_tier_upload_errors_total", Kind::Counter, "Tiering passes of a partition that failed (store unreachable, fenced, local read error); retried on the next pass."),
    ("strom_tier_remote_reads_total", Kind::Counter, "Reads answered from the remote tier."),
    ("strom_tier_read_errors_total", Kind::Counter, "Ranged GETs of remote segments that failed."),
    ("strom_tier_read_failures_total", Kind::Counter, "Reads that needed the remote tier and failed (answered KAFKA_STORAGE_ERROR / HTTP 503)."),
    ("strom_tier_cache_hits_total", Kind::Counter, "Remote segment chunks found in the local chunk cache."),
    ("strom_tier_cache_misses_total", Kind::Counter, "Remote segment chunks fetched from the store (cache misses)."),
    ("strom_tier_readahead_fetches_total", Kind::Counter, "Remote segment chunks fetched ahead of a sequential reader."),
    ("strom_tier_readahead_hits_total", Kind::Counter, "Reads served by a chunk fetched ahead (counted as cache hits too)."),
    ("strom_tier_remote_fetch_timeouts_total", Kind::Counter, "Kafka fetches answered without their remote data after remote_fetch_max_wait_ms (the client fetches again)."),
    ("strom_tier_remote_bytes", Kind::Gauge, "Bytes of a partition's segments in the remote tier, per topic and partition."),
    ("strom_tier_remote_segments", Kind::Gauge, "Segments of a partition in the remote tier, per topic and partition."),
    ("strom_tier_local_bytes", Kind::Gauge, "Bytes of a tiered partition's segments on local disk, per topic and partition."),
    ("strom_tier_local_segments", Kind::Gauge, "Segments of a tiered partition on local disk (the active one included), per topic and partition."),
    ("strom_tier_upload_lag_bytes", Kind::Gauge, "Bytes of closed segments not yet uploaded, per topic and partition."),
];

/// Caps the number of distinct topic label values at `max` (overflow is labelled [`OTHER`]).
pub fn set_max_topic_labels(max: usize) {
    MAX_TOPIC_LABELS.store(max, Ordering::Relaxed);
}

/// The label value for `topic`: its name while fewer than the cap have been seen (a topic keeps
/// its own label once given one), else [`OTHER`].
pub fn topic_label(topic: &str) -> String {
    let mut seen = TOPIC_LABELS.lock();
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(topic) {
        return topic.to_string();
    }
    if seen.len() < MAX_TOPIC_LABELS.load(Ordering::Relaxed) {
        seen.insert(topic.to_string());
        return topic.to_string();
    }
    OTHER.to_string()
}

/// Counts records a client appended to `topic` over `protocol`.
pub fn records_in(topic: &str, protocol: &'static str, records: u64, bytes: u64) {
    let topic = topic_label(topic);
    add_totals(&topic, |t| {
        t.records_in += records;
        t.bytes_in += bytes;
    });
    metrics::counter!("strom_topic_records_in_total", "topic" => topic.clone(), "protocol" => protocol)
        .increment(records);
    metrics::counter!("strom_topic_bytes_in_total", "topic" => topic, "protocol" => protocol)
        .increment(bytes);
}

/// Counts records sent to a client from `topic` over `protocol`.
pub fn records_out(topic: &str, protocol: &'static str, records: u64, bytes: u64) {
    if records == 0 && bytes == 0 {
        return;
    }
    let topic = topic_label(topic);
    add_totals(&topic, |t| {
        t.records_out += records;
        t.bytes_out += bytes;
    });
    metrics::counter!("strom_topic_records_out_total", "topic" => topic.clone(), "protocol" => protocol)
        .increment(records);
    metrics::counter!("strom_topic_bytes_out_total", "topic" => topic, "protocol" => protocol)
        .increment(bytes);
}

/// Records in whole v2 record batches (`recordCount` of each batch header); a truncated
/// trailing batch is not counted.
pub fn batch_record_count(mut bytes: &[u8]) -> u64 {
    const HEADER: usize = 61;
    let mut count = 0u64;
    while bytes.len() >= HEADER {
        let length = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let Ok(length) = usize::try_from(length) else {
            break;
        };
        let total = 12 + length;
        if total > bytes.len() || total < HEADER {
            break;
        }
        let records = i32::from_be_bytes([bytes[57], bytes[58], bytes[59], bytes[60]]);
        count += u64::try_from(records).unwrap_or(0);
        bytes = &bytes[total..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_labels_are_capped_but_known_topics_keep_theirs() {
        set_max_topic_labels(2);
        let first = topic_label("telemetry-a");
        assert_eq!(first, "telemetry-a");
        // Other tests may have labelled topics already: fill up to the cap.
        let _ = topic_label("telemetry-b");
        assert_eq!(topic_label("telemetry-z"), OTHER);
        assert_eq!(topic_label("telemetry-a"), "telemetry-a");
        set_max_topic_labels(DEFAULT_MAX_TOPIC_LABELS);
    }

    #[test]
    fn counts_records_of_whole_batches() {
        let mut batch = vec![0u8; 70];
        batch[8..12].copy_from_slice(&58i32.to_be_bytes());
        batch[57..61].copy_from_slice(&3i32.to_be_bytes());
        let mut two = batch.clone();
        two.extend_from_slice(&batch);
        assert_eq!(batch_record_count(&two), 6);
        assert_eq!(batch_record_count(&two[..100]), 3);
    }

    #[test]
    fn every_description_follows_prometheus_naming() {
        for (name, kind, _) in DESCRIPTIONS {
            assert!(name.starts_with("strom_"), "{name}");
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(
                    name.ends_with("_seconds") || name.ends_with("_bytes"),
                    "{name}"
                ),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
    }
}
