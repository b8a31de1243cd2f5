//! `GET /metrics`: Prometheus text exposition (format 0.0.4) of what operators watch:
//! per-partition offsets, sizes and segment counts, the log cleaner's figures for compacted
//! partitions, the data directory's free space and write state, consumer-group lag and
//! membership, and the limits' figures (open files, connections; `metrics_limits.rs`). Values are read from the broker at
//! scrape time, so nothing is double-counted and nothing needs instrumenting on hot paths.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use strom_broker::Broker;

use crate::state::Shared;

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

    fn render(&self, out: &mut String) {
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

fn group_families(groups: &strom_broker::GroupCoordinator) -> Vec<Family> {
    let mut lag = Family::gauge(
        "strom_consumer_group_lag",
        "High watermark minus the group's committed offset, per partition.",
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
        let state = format!("{:?}", description.state);
        members.add(
            &[("group", &description.group_id), ("state", &state)],
            description.members.len() as f64,
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
            if let Some(l) = p.lag {
                lag.add(&labels, l as f64);
            }
        }
    }
    vec![lag, committed, members]
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
        families.extend(group_families(&consumers.groups));
    }
    for family in &families {
        family.render(&mut out);
    }
    if let Some(webhooks) = &state.config.webhooks {
        webhooks.render_metrics(&mut out);
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
