//! The catalogue of topic configs Strom accepts: every topic config Kafka 4.x defines, the
//! legacy names Kafka 3.x still took, and Strom's documented extensions. Each entry carries
//! its Kafka type, default, validation, broker-level synonym, documentation and whether it has
//! an effect on a single node (`docs/kafka.md` lists the same table).

use crate::BrokerError;

/// Kafka's `ConfigDef.Type`, with the codes DescribeConfigs v3+ carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// What a config does on Strom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Honoured as Kafka does.
    Honoured,
    /// Accepted and validated; it has no effect on a single node.
    NoEffect,
    /// A name Kafka 3.x accepted and Kafka 4 removed; accepted and ignored.
    Legacy,
    /// A Strom extension (its meaning belongs to the feature that reads it).
    Extension,
}

/// How a value is checked.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// An integer in `min..=max`.
    Range(i64, i64),
    /// An integer in `min..=max`, or exactly the given default marker.
    RangeOr(i64, i64, i64),
    /// A number in `0.0..=1.0`.
    Ratio,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A non-empty comma-separated subset of these strings.
    ListOf(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// Replicas to throttle: `*`, empty, or `partition:broker` pairs.
    Throttled,
    /// Anything (legacy names).
    Any,
    /// A non-empty string.
    NonEmpty,
}

/// One topic config.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: ConfigKind,
    /// Kafka's default when the broker setting does not decide it.
    pub default: &'static str,
    pub check: Check,
    pub effect: Effect,
    /// The broker-level setting that supplies the default (Kafka's synonym), if any.
    pub broker_synonym: Option<&'static str>,
    pub doc: &'static str,
}

const MAX: i64 = i64::MAX;
const INT_MAX: i64 = i32::MAX as i64;
const CODECS: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

const fn def(
    name: &'static str,
    kind: ConfigKind,
    default: &'static str,
    check: Check,
    effect: Effect,
    broker_synonym: Option<&'static str>,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        default,
        check,
        effect,
        broker_synonym,
        doc,
    }
}

use Check::*;
use ConfigKind::{Boolean, Double, Int, List, Long};
use Effect::*;

/// Every accepted topic config, in Kafka's alphabetical order, extensions last.
#[rustfmt::skip]
pub static CONFIG_DEFS: &[ConfigDef] = &[
    def("cleanup.policy", List, "delete", ListOf(&["delete", "compact"]), Honoured,
        Some("log.cleanup.policy"), "Retention policy for old segments: delete, compact, or both."),
    def("compression.gzip.level", Int, "-1", RangeOr(1, 9, -1), NoEffect, Some("compression.gzip.level"),
        "Compression level for gzip when compression.type is gzip."),
    def("compression.lz4.level", Int, "9", Range(1, 17), NoEffect, Some("compression.lz4.level"),
        "Compression level for lz4 when compression.type is lz4."),
    def("compression.type", ConfigKind::String, "producer", OneOf(CODECS), NoEffect,
        Some("compression.type"),
        "Final compression of the topic's batches. Validated; Strom stores batches as the producer compressed them (no recompression yet)."),
    def("compression.zstd.level", Int, "3", Range(-131_072, 22), NoEffect, Some("compression.zstd.level"),
        "Compression level for zstd when compression.type is zstd."),
    def("delete.retention.ms", Long, "86400000", Range(0, MAX), Honoured,
        Some("log.cleaner.delete.retention.ms"), "How long tombstones stay readable on compacted topics."),
    def("file.delete.delay.ms", Long, "60000", Range(0, MAX), NoEffect, Some("log.segment.delete.delay.ms"),
        "Delay before a deleted segment's files are removed (Strom removes them once no reader uses them)."),
    def("flush.messages", Long, "9223372036854775807", Range(1, MAX), NoEffect,
        Some("log.flush.interval.messages"), "Force an fsync every this many messages (Strom's durability setting decides)."),
    def("flush.ms", Long, "9223372036854775807", Range(0, MAX), NoEffect, Some("log.flush.interval.ms"),
        "Force an fsync after this many ms (Strom's durability setting decides)."),
    def("follower.replication.throttled.replicas", List, "", Throttled, NoEffect,
        Some("follower.replication.throttled.replicas"), "Replicas throttled on the follower side (one node: none)."),
    def("index.interval.bytes", Int, "4096", Range(0, INT_MAX), Honoured, Some("log.index.interval.bytes"),
        "Bytes of batches between offset-index entries."),
    def("leader.replication.throttled.replicas", List, "", Throttled, NoEffect,
        Some("leader.replication.throttled.replicas"), "Replicas throttled on the leader side (one node: none)."),
    def("local.retention.bytes", Long, "-2", Range(-2, MAX), Honoured, Some("log.local.retention.bytes"),
        "With remote.storage.enable: local bytes kept once uploaded; -2 uses retention.bytes, -1 keeps all."),
    def("local.retention.ms", Long, "-2", Range(-2, MAX), Honoured, Some("log.local.retention.ms"),
        "With remote.storage.enable: age after which uploaded segments leave the local disk; -2 uses retention.ms, -1 keeps all."),
    def("max.compaction.lag.ms", Long, "9223372036854775807", Range(1, MAX), Honoured,
        Some("log.cleaner.max.compaction.lag.ms"), "Longest a record stays uncompacted."),
    def("max.message.bytes", Int, "1048588", Range(0, INT_MAX), Honoured, Some("message.max.bytes"),
        "Largest record batch the topic accepts."),
    def("message.downconversion.enable", Boolean, "true", Bool, Legacy, None,
        "Removed in Kafka 4; accepted and ignored (Strom never down-converts)."),
    def("message.format.version", ConfigKind::String, "3.0-IV1", Any, Legacy, None,
        "Removed in Kafka 4; accepted and ignored as Kafka 3.x does."),
    def("message.timestamp.after.max.ms", Long, "3600000", Range(0, MAX), Honoured,
        Some("log.message.timestamp.after.max.ms"),
        "Largest amount a CreateTime record timestamp may lie after the broker's clock."),
    def("message.timestamp.before.max.ms", Long, "9223372036854775807", Range(0, MAX), Honoured,
        Some("log.message.timestamp.before.max.ms"),
        "Largest amount a CreateTime record timestamp may lie before the broker's clock."),
    def("message.timestamp.difference.max.ms", Long, "9223372036854775807", Range(0, MAX), Legacy, None,
        "Removed in Kafka 4 (see message.timestamp.before.max.ms); accepted and ignored."),
    def("message.timestamp.type", ConfigKind::String, "CreateTime", OneOf(&["CreateTime", "LogAppendTime"]),
        Honoured, Some("log.message.timestamp.type"),
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time."),
    def("min.cleanable.dirty.ratio", Double, "0.5", Ratio, Honoured, Some("log.cleaner.min.cleanable.ratio"),
        "Share of the log that must be uncompacted before the cleaner runs."),
    def("min.compaction.lag.ms", Long, "0", Range(0, MAX), Honoured,
        Some("log.cleaner.min.compaction.lag.ms"), "Shortest a record stays uncompacted."),
    def("min.insync.replicas", Int, "1", Range(1, INT_MAX), Honoured, Some("min.insync.replicas"),
        "Replicas that must acknowledge an acks=all write; above 1, acks=all fails with NOT_ENOUGH_REPLICAS on one node."),
    def("preallocate", Boolean, "false", Bool, NoEffect, Some("log.preallocate"),
        "Preallocate segment files."),
    def("remote.log.copy.disable", Boolean, "false", Bool, NoEffect, None,
        "Tiered storage (not available in Strom)."),
    def("remote.log.delete.on.disable", Boolean, "false", Bool, NoEffect, None,
        "Tiered storage (not available in Strom)."),
    def("remote.storage.enable", Boolean, "false", Bool, Honoured, None,
        "Tiered storage: upload closed segments to the server's [tiered] store (not on compacted topics)."),
    def("retention.bytes", Long, "-1", Range(-1, MAX), Honoured, Some("log.retention.bytes"),
        "Largest size of a partition before old segments are deleted; -1 for none."),
    def("retention.ms", Long, "604800000", Range(-1, MAX), Honoured, Some("log.retention.ms"),
        "Age after which old segments are deleted; -1 for none."),
    def("segment.bytes", Int, "1073741824", Range(14, INT_MAX), Honoured, Some("log.segment.bytes"),
        "Size at which a segment is rolled."),
    def("segment.index.bytes", Int, "10485760", Range(4, INT_MAX), NoEffect, Some("log.index.size.max.bytes"),
        "Size of the offset index file (Strom's indexes grow as needed)."),
    def("segment.jitter.ms", Long, "0", Range(0, MAX), Honoured, Some("log.roll.jitter.ms"),
        "Random jitter subtracted from segment.ms so partitions do not roll together."),
    def("segment.ms", Long, "604800000", Range(1, MAX), Honoured, Some("log.roll.ms"),
        "Age at which a segment is rolled."),
    def("unclean.leader.election.enable", Boolean, "false", Bool, NoEffect,
        Some("unclean.leader.election.enable"), "Allow out-of-sync replicas to lead (one node: nothing to elect)."),
    def("confluent.key.schema.validation", Boolean, "false", Bool, Extension, None,
        "Strom extension: validate record keys against the schema registry."),
    def("confluent.key.subject.name.strategy", ConfigKind::String,
        "io.confluent.kafka.serializers.subject.TopicNameStrategy", NonEmpty, Extension, None,
        "Strom extension: how the key schema's subject is named."),
    def("confluent.value.schema.validation", Boolean, "false", Bool, Extension, None,
        "Strom extension: validate record values against the schema registry."),
    def("confluent.value.subject.name.strategy", ConfigKind::String,
        "io.confluent.kafka.serializers.subject.TopicNameStrategy", NonEmpty, Extension, None,
        "Strom extension: how the value schema's subject is named."),
    def("strom.schema.validation.decode", Boolean, "true", Bool, Extension, None,
        "Strom extension: with schema validation on, the payload must also decode against the schema (false: only its id is checked)."),
];

/// The definition of `name`, if it is an accepted topic config.
pub fn config_def(name: &str) -> Option<&'static ConfigDef> {
    CONFIG_DEFS.iter().find(|d| d.name == name)
}

fn invalid(msg: String) -> BrokerError {
    BrokerError::InvalidConfig(msg)
}

fn int_in(name: &str, value: &str, min: i64, max: i64) -> Result<i64, BrokerError> {
    let n = value
        .trim()
        .parse::<i64>()
        .map_err(|_| invalid(format!("{name} must be an integer, got '{value}'")))?;
    if n < min {
        return Err(invalid(format!("{name} must be at least {min}, got {n}")));
    }
    if n > max {
        return Err(invalid(format!("{name} must be at most {max}, got {n}")));
    }
    Ok(n)
}

fn throttled(name: &str, value: &str) -> Result<(), BrokerError> {
    let v = value.trim();
    if v.is_empty() || v == "*" {
        return Ok(());
    }
    let ok = v.split(',').all(|pair| {
        let mut it = pair.trim().split(':');
        let (Some(p), Some(b), None) = (it.next(), it.next(), it.next()) else {
            return false;
        };
        p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} must be '*' or a list of partition:broker pairs, got '{value}'"
        )))
    }
}

/// Checks `value` for the config `def` describes, as Kafka's `ConfigDef` validators do.
pub fn check_value(def: &ConfigDef, value: &str) -> Result<(), BrokerError> {
    let name = def.name;
    match def.check {
        Range(min, max) => int_in(name, value, min, max).map(|_| ()),
        RangeOr(min, max, marker) => {
            let n = int_in(name, value, marker.min(min), max)?;
            if n != marker && n < min {
                return Err(invalid(format!(
                    "{name} must be {marker} or between {min} and {max}, got {n}"
                )));
            }
            Ok(())
        }
        Ratio => {
            let r = value
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid(format!("{name} must be a number, got '{value}'")))?;
            if !(0.0..=1.0).contains(&r) {
                return Err(invalid(format!("{name} must be between 0 and 1, got {r}")));
            }
            Ok(())
        }
        OneOf(allowed) => {
            if allowed.contains(&value.trim()) {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{name} must be one of {}, got '{value}'",
                    allowed.join(", ")
                )))
            }
        }
        ListOf(allowed) => {
            let items: Vec<&str> = value.split(',').map(str::trim).collect();
            if items.is_empty() || items.iter().any(|i| !allowed.contains(i)) {
                return Err(invalid(format!(
                    "{name} must be a list of {}, got '{value}'",
                    allowed.join(", ")
                )));
            }
            Ok(())
        }
        Bool => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(invalid(format!(
                "{name} must be true or false, got '{value}'"
            ))),
        },
        Throttled => throttled(name, value),
        Any => Ok(()),
        NonEmpty => {
            if value.trim().is_empty() {
                Err(invalid(format!("{name} must not be empty")))
            } else {
                Ok(())
            }
        }
    }
}
