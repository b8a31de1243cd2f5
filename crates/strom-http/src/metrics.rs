//! `GET /metrics`: Prometheus text exposition (format 0.0.4) of what operators watch. Two
//! sources: figures read from the broker at scrape time (per-partition offsets, sizes and
//! segment counts, the log cleaner's figures, the data directory's free space and write state,
//! consumer-group lag in records and seconds and membership, the limits' figures in
//! `metrics_limits.rs`, `process_*` and build info in `metrics_process.rs`), and the counters
//! and histograms recorded on hot paths through the `metrics` facade (names and rules in
//! `strom_broker::telemetry`), rendered by the Prometheus recorder [`install`] sets up.
//!
//! Why `metrics` + `metrics-exporter-prometheus` rather than `prometheus-client`: the facade's
//! macros record from any crate (log, broker, Kafka, HTTP) without passing a registry around,
//! and the exporter renders the 0.0.4 text format the scrape-time families above already use
//! (prometheus-client writes OpenMetrics, whose counter naming would clash with them).

use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use strom_broker::telemetry::{Kind, DESCRIPTIONS};
use strom_broker::Broker;

use crate::state::Shared;

/// Histogram buckets in seconds (request, produce, fetch and fsync latencies).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (first call wins; later calls only return
/// it) and caps the `topic` label at `max_topic_labels` values. `None` if another recorder
/// was installed first (then only the scrape-time figures are served).
pub fn install(max_topic_labels: usize) -> Option<&'static PrometheusHandle> {
    strom_broker::telemetry::set_max_topic_labels(max_topic_labels);
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            for (name, kind, help) in DESCRIPTIONS {
                match kind {
                    Kind::Counter => metrics::describe_counter!(*name, *help),
                    Kind::Histogram => metrics::describe_histogram!(*name, *help),
                    Kind::Gauge => metrics::describe_gauge!(*name, *help),
                }
            }
            Some(handle)
        })
        .as_ref()
}

/// Escapes a label value as the exposition format requires (backslash, quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: `# HELP`, `# TYPE` and its samples.
pub(crate) struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    pub(crate) fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: "gauge",
            samples: Vec::new(),
        }
    }

    pub(crate) fn counter(name: &'static str, help: &'static str) -> Family {
        Family {
            kind: "counter",
            ..Family::gauge(name, help)
        }
    }

    /// A family with one labelled sample.
    pub(crate) fn labelled(mut self, labels: &[(&str, &str)], value: f64) -> Family {
        self.add(labels, value);
        self
    }

    /// A family with one unlabelled sample.
    pub(crate) fn single(mut self, value: f64) -> Family {
        self.add(&[], value);
        self
    }

    pub(crate) fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        let labels = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect::<Vec<_>>()
            .join(",");
        self.samples.push((labels, value));
    }

    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", self.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {value}", self.name);
            }
        }
    }
}

fn partition_families(broker: &Broker) -> Vec<Family> {
    let mut end = Family::gauge(
        "strom_partition_high_watermark",
        "Offset of the next record readers will see (exclusive end of the readable log).",
    );
    let mut start = Family::gauge(
        "strom_partition_log_start_offset",
        "First readable offset (moved by retention and DeleteRecords).",
    );
    let mut size = Family::gauge("strom_partition_size_bytes", "Bytes of all segments.");
    let mut segments = Family::gauge("strom_partition_segments", "Number of segment files.");
    let mut dirty = Family::gauge(
        "strom_partition_cleaner_dirty_ratio",
        "Compacted partitions: uncleaned bytes over closed-segment bytes.",
    );
    let mut before = Family::gauge(
        "strom_partition_cleaner_last_bytes_before",
        "Compacted partitions: bytes of the segments the last cleaning rewrote, before.",
    );
    let mut after = Family::gauge(
        "strom_partition_cleaner_last_bytes_after",
        "Compacted partitions: bytes of those segments after the last cleaning.",
    );
    let mut cleaned_at = Family::gauge(
        "strom_partition_cleaner_last_run_timestamp_seconds",
        "Compacted partitions: when the cleaner last ran (Unix time).",
    );
    let mut skipped = Family::gauge(
        "strom_partition_cleaner_skipped_batches",
        "Compacted partitions: stored batches the cleaner's last run could not decode and kept as they are.",
    );
    for topic in broker.topics() {
        let compacted = topic.config().is_compacted();
        for p in topic.partitions() {
            let index = p.index().to_string();
            let labels = [("topic", topic.name()), ("partition", index.as_str())];
            let log = p.log();
            end.add(&labels, p.high_watermark() as f64);
            start.add(&labels, p.log_start_offset() as f64);
            size.add(&labels, p.size_bytes() as f64);
            segments.add(&labels, log.segment_count() as f64);
            if compacted {
                let stats = log.cleaner_stats();
                dirty.add(&labels, stats.dirty_ratio);
                before.add(&labels, stats.bytes_before as f64);
                after.add(&labels, stats.bytes_after as f64);
                skipped.add(&labels, stats.batches_skipped as f64);
                if let Some(ms) = stats.last_cleaned_ms {
                    cleaned_at.add(&labels, ms as f64 / 1000.0);
                }
            }
        }
    }
    vec![
        end, start, size, segments, dirty, before, after, cleaned_at, skipped,
    ]
}

fn storage_families(broker: &Broker) -> Vec<Family> {
    let s = broker.storage_status();
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    vec![
        Family::gauge(
            "strom_storage_writable",
            "1 while appends are accepted; 0 while the data directory is full or read-only.",
        )
        .single(flag(s.accepts_writes())),
        Family::gauge(
            "strom_storage_read_only",
            "1 while the data directory's file system is read-only.",
        )
        .single(flag(s.state == strom_broker::DiskState::ReadOnly)),
        Family::gauge(
            "strom_storage_free_bytes",
            "Free bytes on the data directory's file system (last check, less appends since).",
        )
        .single(s.free_bytes as f64),
        Family::gauge(
            "strom_storage_total_bytes",
            "Size of the data directory's file system.",
        )
        .single(s.total_bytes as f64),
        Family::gauge(
            "strom_storage_min_free_bytes",
            "Appends are refused below this many free bytes.",
        )
        .single(s.min_free_bytes as f64),
        Family::gauge(
            "strom_storage_poisoned_partitions",
            "Partitions refusing writes after a failed write or fsync, until reopened.",
        )
        .single(s.poisoned_partitions as f64),
        Family::counter(
            "strom_storage_refused_appends_total",
            "Appends refused because the disk was full or read-only.",
        )
        .single(s.refused_appends as f64),
        Family::counter(
            "strom_storage_reopened_partitions_total",
            "Poisoned partitions reopened from disk without a restart.",
        )
        .single(s.reopened_partitions as f64),
    ]
}

/// Lag in records from `committed` to the high watermark, never more than the partition
/// holds: a negative committed offset (a reset marker such as -2) or one below the log start
/// counts from the log start.
pub(crate) fn lag_records(committed: i64, log_start: i64, high_watermark: i64) -> i64 {
    (high_watermark - committed.max(log_start)).max(0)
}

/// Seconds since the oldest record the group has not consumed was written (0 without lag).
async fn lag_seconds(p: &Arc<strom_broker::Partition>, committed: i64, lag: i64) -> f64 {
    if lag <= 0 {
        return 0.0;
    }
    let from = committed.max(p.log_start_offset());
    let Ok(read) = crate::reader::read_uncounted(Arc::clone(p), from, 1, 64 * 1024).await else {
        return 0.0;
    };
    read.records.first().map_or(0.0, |r| {
        ((crate::timefmt::now_ms() - r.timestamp).max(0)) as f64 / 1000.0
    })
}

async fn group_families(broker: &Broker, groups: &strom_broker::GroupCoordinator) -> Vec<Family> {
    let mut lag = Family::gauge(
        "strom_consumer_group_lag",
        "Records the group has not consumed, per partition: high watermark minus the committed offset (from the log start when that is negative or older).",
    );
    let mut lag_secs = Family::gauge(
        "strom_consumer_group_lag_seconds",
        "Age of the oldest record the group has not consumed, per partition (0 without lag).",
    );
    let mut committed = Family::gauge(
        "strom_consumer_group_committed_offset",
        "The group's committed offset, per partition.",
    );
    let mut members = Family::gauge(
        "strom_consumer_group_members",
        "Members of the group, labelled with its state.",
    );
    let listings = groups.list_groups(&[], &[]);
    let ids: Vec<String> = listings.iter().map(|l| l.group_id.clone()).collect();
    for description in groups.describe_groups(&ids) {
        // A KIP-848 group's members and state are its own, not the classic group's.
        let (state, count) = match groups.describe_consumer_group(&description.group_id) {
            Ok(consumer) => (consumer.state.to_string(), consumer.members.len()),
            Err(_) => (
                format!("{:?}", description.state),
                description.members.len(),
            ),
        };
        members.add(
            &[("group", &description.group_id), ("state", &state)],
            count as f64,
        );
    }
    for id in &ids {
        let Ok(partitions) = groups.lag(id) else {
            continue;
        };
        for p in partitions {
            let index = p.partition.to_string();
            let labels = [
                ("group", id.as_str()),
                ("topic", p.topic.as_str()),
                ("partition", index.as_str()),
            ];
            committed.add(&labels, p.committed_offset as f64);
            let Ok(part) = broker.partition(&p.topic, p.partition) else {
                continue;
            };
            let records = lag_records(
                p.committed_offset,
                part.log_start_offset(),
                part.high_watermark(),
            );
            lag.add(&labels, records as f64);
            lag_secs.add(
                &labels,
                lag_seconds(&part, p.committed_offset, records).await,
            );
        }
    }
    vec![lag, lag_secs, committed, members]
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<Shared>) -> Response {
    let mut out = String::new();
    let mut families = partition_families(&state.broker);
    families.extend(storage_families(&state.broker));
    families.extend(crate::metrics_limits::limit_families(&state.broker));
    if let Some(consumers) = &state.consumers {
        families.extend(group_families(&state.broker, &consumers.groups).await);
    }
    families.extend(crate::metrics_process::process_families());
    for family in &families {
        family.render(&mut out);
    }
    if let Some(webhooks) = &state.config.webhooks {
        webhooks.render_metrics(&mut out).await;
    }
    if let Some(handle) = RECORDER.get().and_then(Option::as_ref) {
        out.push_str(&handle.render());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_never_exceeds_what_the_partition_holds() {
        // kafkajs resetOffsets commits -2: everything retained is unconsumed.
        assert_eq!(lag_records(-2, 5, 10), 5);
        assert_eq!(lag_records(-1, 0, 10), 10);
        assert_eq!(lag_records(3, 5, 10), 5);
        assert_eq!(lag_records(7, 5, 10), 3);
        assert_eq!(lag_records(12, 5, 10), 0);
    }

    #[test]
    fn renders_exposition_format_with_escaped_labels() {
        let mut f = Family::gauge("strom_x", "An example.");
        f.add(&[("topic", "a\"b\\c")], 3.0);
        let mut out = String::new();
        f.render(&mut out);
        assert_eq!(
            out,
            "# HELP strom_x An example.\n# TYPE strom_x gauge\nstrom_x{topic=\"a\\\"b\\\\c\"} 3\n"
        );
    }
}
