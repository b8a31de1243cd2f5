//! Topic configuration: the Kafka config names Strom honours, their validation, defaults and
//! translation into the log's settings.

use std::collections::BTreeMap;

use strom_log::LogConfig;

use crate::BrokerError;

/// Config keys that Strom honours (Kafka names).
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "max.message.bytes",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "delete.retention.ms",
    "message.timestamp.type",
    // Strom's documented extensions (Confluent Server's names): schema validation on
    // produce, enforced by strom-schema (docs/schemas.md).
    "confluent.key.schema.validation",
    "confluent.value.schema.validation",
    "confluent.key.subject.name.strategy",
    "confluent.value.subject.name.strategy",
];

/// A topic's explicit config overrides (only keys from [`TOPIC_CONFIG_KEYS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    pub overrides: BTreeMap<String, String>,
}

fn parse_i64(key: &str, value: &str, min: i64) -> Result<i64, BrokerError> {
    let n = value.trim().parse::<i64>().map_err(|_| {
        BrokerError::InvalidConfig(format!("{key} must be an integer, got '{value}'"))
    })?;
    if n < min {
        return Err(BrokerError::InvalidConfig(format!(
            "{key} must be at least {min}, got {n}"
        )));
    }
    Ok(n)
}

/// Checks one key/value pair.
pub(crate) fn validate_entry(key: &str, value: &str) -> Result<(), BrokerError> {
    match key {
        "cleanup.policy" => {
            let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
            parts.sort_unstable();
            parts.dedup();
            if parts.is_empty() || parts.iter().any(|p| *p != "delete" && *p != "compact") {
                return Err(BrokerError::InvalidConfig(format!(
                    "cleanup.policy must be delete, compact or compact,delete, got '{value}'"
                )));
            }
        }
        "retention.ms" | "retention.bytes" => {
            parse_i64(key, value, -1)?;
        }
        "segment.bytes" => {
            let n = parse_i64(key, value, 14)?;
            if n > i64::from(i32::MAX) {
                return Err(BrokerError::InvalidConfig(format!(
                    "segment.bytes must be at most {}, got {n}",
                    i32::MAX
                )));
            }
        }
        "segment.ms" | "max.compaction.lag.ms" => {
            parse_i64(key, value, 1)?;
        }
        "max.message.bytes" | "min.compaction.lag.ms" | "delete.retention.ms" => {
            parse_i64(key, value, 0)?;
        }
        "min.cleanable.dirty.ratio" => {
            let r = value.trim().parse::<f64>().map_err(|_| {
                BrokerError::InvalidConfig(format!(
                    "min.cleanable.dirty.ratio must be a number, got '{value}'"
                ))
            })?;
            if !(0.0..=1.0).contains(&r) {
                return Err(BrokerError::InvalidConfig(format!(
                    "min.cleanable.dirty.ratio must be between 0 and 1, got {r}"
                )));
            }
        }
        "message.timestamp.type" => {
            if value != "CreateTime" && value != "LogAppendTime" {
                return Err(BrokerError::InvalidConfig(format!(
                    "message.timestamp.type must be CreateTime or LogAppendTime, got '{value}'"
                )));
            }
            if value == "LogAppendTime" {
                return Err(BrokerError::InvalidConfig(
                    "message.timestamp.type=LogAppendTime is not supported yet".into(),
                ));
            }
        }
        "confluent.key.schema.validation" | "confluent.value.schema.validation" => {
            if value != "true" && value != "false" {
                return Err(BrokerError::InvalidConfig(format!(
                    "{key} must be true or false, got '{value}'"
                )));
            }
        }
        "confluent.key.subject.name.strategy" | "confluent.value.subject.name.strategy" => {
            let class = value.rsplit('.').next().unwrap_or(value);
            let known = [
                "TopicNameStrategy",
                "RecordNameStrategy",
                "TopicRecordNameStrategy",
            ];
            if !known.contains(&class) {
                return Err(BrokerError::InvalidConfig(format!(
                    "{key} must be TopicNameStrategy, RecordNameStrategy or \
                     TopicRecordNameStrategy, got '{value}'"
                )));
            }
        }
        other => {
            return Err(BrokerError::InvalidConfig(format!(
                "unknown topic config '{other}'; supported: {}",
                TOPIC_CONFIG_KEYS.join(", ")
            )))
        }
    }
    Ok(())
}

/// Checks that `key` is a config Strom honours (for removals, which carry no value).
pub(crate) fn validate_key(key: &str) -> Result<(), BrokerError> {
    if TOPIC_CONFIG_KEYS.contains(&key) {
        Ok(())
    } else {
        Err(BrokerError::InvalidConfig(format!(
            "unknown topic config '{key}'; supported: {}",
            TOPIC_CONFIG_KEYS.join(", ")
        )))
    }
}

impl TopicConfig {
    /// Builds and validates overrides.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<TopicConfig, BrokerError> {
        for (k, v) in map {
            validate_entry(k, v)?;
        }
        Ok(TopicConfig {
            overrides: map.clone(),
        })
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

    /// Effective value of every honoured key: `(key, value, is_default)`.
    pub fn effective(&self, defaults: &LogConfig) -> Vec<(String, String, bool)> {
        let d = |v: Option<i64>| v.unwrap_or(-1).to_string();
        let default_of = |key: &str| -> String {
            match key {
                "cleanup.policy" => "delete".into(),
                "retention.ms" => d(defaults.retention_ms),
                "retention.bytes" => d(defaults.retention_bytes.map(|b| b as i64)),
                "segment.bytes" => defaults.segment_bytes.to_string(),
                "segment.ms" => d(defaults.segment_ms.map(|m| m as i64)),
                "max.message.bytes" => defaults.max_batch_bytes.to_string(),
                "min.cleanable.dirty.ratio" => "0.5".into(),
                "min.compaction.lag.ms" => "0".into(),
                "max.compaction.lag.ms" => i64::MAX.to_string(),
                "delete.retention.ms" => "86400000".into(),
                "message.timestamp.type" => "CreateTime".into(),
                "confluent.key.schema.validation" | "confluent.value.schema.validation" => {
                    "false".into()
                }
                "confluent.key.subject.name.strategy" | "confluent.value.subject.name.strategy" => {
                    "io.confluent.kafka.serializers.subject.TopicNameStrategy".into()
                }
                _ => String::new(),
            }
        };
        TOPIC_CONFIG_KEYS
            .iter()
            .map(|k| match self.overrides.get(*k) {
                Some(v) => (k.to_string(), v.clone(), false),
                None => (k.to_string(), default_of(k), true),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            let err = TopicConfig::from_map(&map(&[bad])).expect_err("must fail");
            assert!(err.to_string().contains(bad.0) || err.to_string().contains("unknown"));
        }
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
