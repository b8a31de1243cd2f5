//! Topic configuration: the Kafka config names Strom honours, their validation, defaults and
//! translation into the log's settings.

use std::collections::BTreeMap;

use strom_log::LogConfig;

use crate::topic_config_defs::{check_value, config_def, Effect, CONFIG_DEFS};
use crate::{AppendPolicy, BrokerError};

/// A topic's explicit config overrides (only names from [`crate::CONFIG_DEFS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    pub overrides: BTreeMap<String, String>,
}

fn unknown(key: &str) -> BrokerError {
    BrokerError::InvalidConfig(format!(
        "unknown topic config '{key}' (Kafka's topic configs and Strom's documented extensions \
         are accepted; see docs/kafka.md)"
    ))
}

/// Checks one key/value pair against Kafka's validation for that config.
pub(crate) fn validate_entry(key: &str, value: &str) -> Result<(), BrokerError> {
    let def = config_def(key).ok_or_else(|| unknown(key))?;
    check_value(def, value)
}

/// Checks that `key` is an accepted topic config (for removals, which carry no value).
pub(crate) fn validate_key(key: &str) -> Result<(), BrokerError> {
    config_def(key).map(|_| ()).ok_or_else(|| unknown(key))
}

/// A pseudo-random value in `0..bound` (segment jitter needs no strong randomness).
fn jitter_below(bound: i64) -> i64 {
    use std::hash::{BuildHasher, Hasher};
    if bound <= 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() % bound as u64) as i64
}

impl TopicConfig {
    /// Checks one change as an alter would (a value for a set, none for a removal), without
    /// applying it (validate-only requests).
    pub fn validate_change(key: &str, value: Option<&str>) -> Result<(), BrokerError> {
        match value {
            Some(v) => validate_entry(key, v),
            None => validate_key(key),
        }
    }

    /// Builds and validates overrides.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<TopicConfig, BrokerError> {
        for (k, v) in map {
            validate_entry(k, v)?;
        }
        let config = TopicConfig {
            overrides: map.clone(),
        };
        if config.remote_storage() && config.is_compacted() {
            // As Kafka: the cleaner needs the segments, so compacted topics stay local.
            return Err(BrokerError::InvalidConfig(
                "remote.storage.enable=true is not supported on compacted topics (cleanup.policy \
                 contains compact): the cleaner needs every segment on local disk"
                    .into(),
            ));
        }
        Ok(config)
    }

    /// Whether `remote.storage.enable` is true (tiered storage).
    pub fn remote_storage(&self) -> bool {
        self.overrides
            .get("remote.storage.enable")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// `(local.retention.ms, local.retention.bytes)` as limits: -2 (the default) takes
    /// `retention.*` from `log`, -1 means no limit.
    pub fn local_retention(&self, log: &LogConfig) -> (Option<i64>, Option<u64>) {
        let get = |k: &str| {
            self.overrides
                .get(k)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(-2)
        };
        let ms = match get("local.retention.ms") {
            -2 => log.retention_ms,
            v if v < 0 => None,
            v => Some(v),
        };
        let bytes = match get("local.retention.bytes") {
            -2 => log.retention_bytes,
            v if v < 0 => None,
            v => Some(v as u64),
        };
        (ms, bytes)
    }

    /// Whether `cleanup.policy` includes compact.
    pub fn is_compacted(&self) -> bool {
        self.overrides
            .get("cleanup.policy")
            .is_some_and(|p| p.split(',').any(|s| s.trim() == "compact"))
    }

    fn deletes(&self) -> bool {
        self.overrides
            .get("cleanup.policy")
            .is_none_or(|p| p.split(',').any(|s| s.trim() == "delete"))
    }

    /// The log settings for this topic on top of the broker defaults.
    pub fn log_config(&self, defaults: &LogConfig) -> LogConfig {
        let mut c = defaults.clone();
        let get = |k: &str| {
            self.overrides
                .get(k)
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if let Some(v) = get("retention.ms") {
            c.retention_ms = (v >= 0).then_some(v);
        }
        if let Some(v) = get("retention.bytes") {
            c.retention_bytes = (v >= 0).then_some(v as u64);
        }
        if let Some(v) = get("segment.bytes") {
            c.segment_bytes = v.max(14) as u64;
        }
        if let Some(v) = get("segment.ms") {
            c.segment_ms = Some(v.max(1) as u64);
        }
        if let (Some(jitter), Some(ms)) = (get("segment.jitter.ms"), c.segment_ms) {
            // Kafka subtracts a random jitter below min(segment.jitter.ms, segment.ms).
            let ms = ms.min(i64::MAX as u64) as i64;
            c.segment_ms = Some((ms - jitter_below(jitter.min(ms))).max(1) as u64);
        }
        if let Some(v) = get("index.interval.bytes") {
            c.index_interval_bytes = v.max(0) as u64;
        }
        if let Some(v) = get("max.message.bytes") {
            c.max_batch_bytes = v.max(0) as usize;
        }
        if self.is_compacted() {
            let d = strom_log::CompactionConfig::default();
            let ratio = self
                .overrides
                .get("min.cleanable.dirty.ratio")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(d.min_cleanable_dirty_ratio);
            c.compaction = Some(strom_log::CompactionConfig {
                min_cleanable_dirty_ratio: ratio,
                min_compaction_lag_ms: get("min.compaction.lag.ms")
                    .unwrap_or(d.min_compaction_lag_ms),
                max_compaction_lag_ms: get("max.compaction.lag.ms")
                    .unwrap_or(d.max_compaction_lag_ms),
                delete_retention_ms: get("delete.retention.ms").unwrap_or(d.delete_retention_ms),
            });
        } else {
            c.compaction = None;
        }
        if !self.deletes() {
            // A compact-only topic keeps every key's latest value regardless of age or size.
            c.retention_ms = None;
            c.retention_bytes = None;
        }
        c
    }

    /// What each append must check or stamp (see [`AppendPolicy`]).
    pub fn append_policy(&self) -> AppendPolicy {
        let d = AppendPolicy::default();
        let get = |k: &str| {
            self.overrides
                .get(k)
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        AppendPolicy {
            keys_required: self.is_compacted(),
            log_append_time: self
                .overrides
                .get("message.timestamp.type")
                .is_some_and(|v| v.trim() == "LogAppendTime"),
            before_max_ms: get("message.timestamp.before.max.ms").unwrap_or(d.before_max_ms),
            after_max_ms: get("message.timestamp.after.max.ms").unwrap_or(d.after_max_ms),
            compression: self.compression(),
        }
    }

    /// The codec and level batches are stored with (`compression.type` and its
    /// `compression.<codec>.level`); `None` for `producer`, the default.
    pub fn compression(&self) -> Option<strom_log::Codec> {
        let level = |k: &str| {
            self.overrides
                .get(k)
                .and_then(|v| v.trim().parse::<i32>().ok())
        };
        let (id, level) = match self.overrides.get("compression.type").map(|v| v.trim()) {
            Some("uncompressed") => (0, None),
            // gzip's -1 is zlib's default level.
            Some("gzip") => (1, level("compression.gzip.level").filter(|l| *l >= 0)),
            Some("snappy") => (2, None),
            Some("lz4") => (3, level("compression.lz4.level")),
            Some("zstd") => (4, level("compression.zstd.level")),
            _ => return None,
        };
        Some(strom_log::Codec { id, level })
    }

    /// `min.insync.replicas` (1 unless set).
    pub fn min_insync_replicas(&self) -> i64 {
        self.overrides
            .get("min.insync.replicas")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1)
    }

    /// Effective value of every topic config: `(key, value, is_default)`. Legacy names Kafka
    /// 4 removed are listed only when set.
    pub fn effective(&self, defaults: &LogConfig) -> Vec<(String, String, bool)> {
        let d = |v: Option<i64>| v.unwrap_or(-1).to_string();
        let default_of = |key: &str, kafka_default: &str| -> String {
            match key {
                "retention.ms" => d(defaults.retention_ms),
                "retention.bytes" => d(defaults.retention_bytes.map(|b| b as i64)),
                "segment.bytes" => defaults.segment_bytes.to_string(),
                "segment.ms" => d(defaults.segment_ms.map(|m| m as i64)),
                "max.message.bytes" => defaults.max_batch_bytes.to_string(),
                "index.interval.bytes" => defaults.index_interval_bytes.to_string(),
                _ => kafka_default.to_string(),
            }
        };
        CONFIG_DEFS
            .iter()
            .filter_map(|def| match self.overrides.get(def.name) {
                Some(v) => Some((def.name.to_string(), v.clone(), false)),
                None if def.effect == Effect::Legacy => None,
                None => Some((
                    def.name.to_string(),
                    default_of(def.name, def.default),
                    true,
                )),
            })
            .collect()
    }
}

/// Config changes as one log field: `retention.ms=7200000, cleanup.policy=(default)` (`None`
/// removes an override).
pub fn describe_changes(changes: &[(String, Option<String>)]) -> String {
    changes
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(default)")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_log_without_debug_syntax() {
        let changes = [
            ("retention.ms".to_string(), Some("7200000".to_string())),
            ("cleanup.policy".to_string(), None),
        ];
        assert_eq!(
            describe_changes(&changes),
            "retention.ms=7200000, cleanup.policy=(default)"
        );
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_values_and_names() {
        assert!(TopicConfig::from_map(&map(&[("retention.ms", "1000")])).is_ok());
        assert!(TopicConfig::from_map(&map(&[("cleanup.policy", "compact,delete")])).is_ok());
        for bad in [
            ("retention.ms", "soon"),
            ("retention.ms", "-2"),
            ("cleanup.policy", "shred"),
            ("segment.bytes", "10"),
            ("min.cleanable.dirty.ratio", "2"),
            ("no.such.config", "1"),
            ("compression.type", "brotli"),
            ("message.timestamp.type", "WallClock"),
            ("min.insync.replicas", "0"),
            ("compression.gzip.level", "0"),
            ("compression.zstd.level", "23"),
            ("max.message.bytes", "3000000000"),
            ("preallocate", "yes"),
            ("remote.storage.enable", "maybe"),
            ("leader.replication.throttled.replicas", "0:a"),
        ] {
            let err = TopicConfig::from_map(&map(&[bad])).expect_err("must fail");
            assert!(err.to_string().contains(bad.0) || err.to_string().contains("unknown"));
        }
    }

    #[test]
    fn accepts_every_kafka_topic_config_with_its_default() {
        for def in CONFIG_DEFS {
            TopicConfig::from_map(&map(&[(def.name, def.default)]))
                .unwrap_or_else(|e| panic!("{} = {}: {e}", def.name, def.default));
        }
        for ok in [
            ("compression.type", "zstd"),
            ("compression.gzip.level", "-1"),
            ("message.format.version", "0.10.0"),
            ("message.timestamp.type", "LogAppendTime"),
            ("min.insync.replicas", "3"),
            ("follower.replication.throttled.replicas", "0:1,1:1"),
            ("confluent.value.schema.validation", "true"),
        ] {
            TopicConfig::from_map(&map(&[ok])).expect("valid");
        }
        let shown = TopicConfig::default().effective(&LogConfig::default());
        assert!(shown
            .iter()
            .any(|(k, v, _)| k == "compression.type" && v == "producer"));
        assert!(!shown.iter().any(|(k, _, _)| k == "message.format.version"));
    }

    #[test]
    fn index_interval_and_policy_follow_the_configs() {
        let c = TopicConfig::from_map(&map(&[
            ("index.interval.bytes", "100"),
            ("message.timestamp.type", "LogAppendTime"),
            ("message.timestamp.before.max.ms", "5"),
            ("segment.ms", "1000"),
            ("segment.jitter.ms", "500"),
        ]))
        .expect("valid");
        let lc = c.log_config(&LogConfig::default());
        assert_eq!(lc.index_interval_bytes, 100);
        let ms = lc.segment_ms.expect("segment.ms");
        assert!((501..=1000).contains(&ms), "{ms}");
        let p = c.append_policy();
        assert!(p.log_append_time);
        assert_eq!(p.before_max_ms, 5);
    }

    #[test]
    fn maps_onto_log_config() {
        let defaults = LogConfig::default();
        let c = TopicConfig::from_map(&map(&[
            ("retention.ms", "-1"),
            ("retention.bytes", "5000"),
            ("segment.bytes", "100000"),
        ]))
        .expect("valid");
        let lc = c.log_config(&defaults);
        assert_eq!(lc.retention_ms, None);
        assert_eq!(lc.retention_bytes, Some(5000));
        assert_eq!(lc.segment_bytes, 100_000);
        let compact = TopicConfig::from_map(&map(&[("cleanup.policy", "compact")])).expect("ok");
        assert!(compact.is_compacted());
        assert_eq!(compact.log_config(&defaults).retention_ms, None);
    }
}
