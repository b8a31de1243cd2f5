//! Validation on produce, per topic, with the config names Confluent Server uses:
//! `confluent.value.schema.validation` / `confluent.key.schema.validation` (`true` turns it
//! on) and `confluent.value.subject.name.strategy` / `confluent.key.subject.name.strategy`.
//! A record whose value (or key) does not start with the wire-format prefix of a schema
//! registered under the topic's subject is refused, with the index of the record and why;
//! unless the topic sets `strom.schema.validation.decode=false`, the payload after the
//! prefix must also decode against that schema ([`crate::payload`]). Batches are decoded
//! with the broker's bounded decompression.

use std::ops::ControlFlow;

use strom_broker::TopicConfig;
use strom_log::DecodeLimits;

use crate::registry::Registry;
use crate::wire;

pub const VALUE_VALIDATION: &str = "confluent.value.schema.validation";
pub const KEY_VALIDATION: &str = "confluent.key.schema.validation";
pub const VALUE_STRATEGY: &str = "confluent.value.subject.name.strategy";
pub const KEY_STRATEGY: &str = "confluent.key.subject.name.strategy";
/// Strom's extension: `false` checks only the prefix, not the payload.
pub const DECODE: &str = "strom.schema.validation.decode";
/// The strategies accepted (Confluent's class names).
pub const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
pub const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
pub const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";

/// How a subject is named for a topic's keys or values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The record's full name: any subject.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl Strategy {
    /// Parses a strategy class name (the short name works too). `None` for anything else.
    pub fn parse(name: &str) -> Option<Strategy> {
        match name.rsplit('.').next().unwrap_or(name) {
            "TopicNameStrategy" => Some(Strategy::TopicName),
            "RecordNameStrategy" => Some(Strategy::RecordName),
            "TopicRecordNameStrategy" => Some(Strategy::TopicRecordName),
            _ => None,
        }
    }
}

/// What a topic's configs ask to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicValidation {
    pub topic: String,
    pub key: Option<Strategy>,
    pub value: Option<Strategy>,
    /// Whether the payload must decode against the schema (not only carry its id).
    pub decode: bool,
}

impl TopicValidation {
    /// The checks `config` turns on for `topic`; `None` when it turns on none.
    pub fn of(topic: &str, config: &TopicConfig) -> Option<TopicValidation> {
        let on = |key: &str| config.overrides.get(key).is_some_and(|v| v == "true");
        let strategy = |key: &str| {
            config
                .overrides
                .get(key)
                .and_then(|v| Strategy::parse(v))
                .unwrap_or(Strategy::TopicName)
        };
        let key = on(KEY_VALIDATION).then(|| strategy(KEY_STRATEGY));
        let value = on(VALUE_VALIDATION).then(|| strategy(VALUE_STRATEGY));
        (key.is_some() || value.is_some()).then(|| TopicValidation {
            topic: topic.to_string(),
            key,
            value,
            decode: config.overrides.get(DECODE).is_none_or(|v| v != "false"),
        })
    }

    /// Checks one key or value. Errors: why it is refused.
    pub fn check_one(
        &self,
        registry: &Registry,
        is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(), String> {
        let (strategy, what) = match is_key {
            true => (self.key, "key"),
            false => (self.value, "value"),
        };
        let Some(strategy) = strategy else {
            return Ok(());
        };
        let bytes = bytes.unwrap_or_default();
        let id = wire::schema_id(bytes).ok_or_else(|| {
            format!("the {what} does not start with a schema id (magic byte 0 and 4 bytes), as topic '{}' requires", self.topic)
        })?;
        let subject = format!("{}-{what}", self.topic);
        let registered = match strategy {
            Strategy::TopicName => registry.id_in_subject(id, &subject),
            Strategy::RecordName => registry.id_versions(id, false).is_ok_and(|v| !v.is_empty()),
            Strategy::TopicRecordName => registry.id_versions(id, false).is_ok_and(|v| {
                v.iter()
                    .any(|(s, _)| s.starts_with(&format!("{}-", self.topic)))
            }),
        };
        if registered {
            self.check_payload(registry, what, id, bytes)
        } else if strategy == Strategy::TopicName {
            Err(format!(
                "the {what}'s schema id {id} is not registered under subject '{subject}'"
            ))
        } else {
            Err(format!(
                "the {what}'s schema id {id} is not a registered schema of topic '{}'",
                self.topic
            ))
        }
    }

    /// Checks that the payload after the prefix decodes against schema `id`.
    fn check_payload(
        &self,
        registry: &Registry,
        what: &str,
        id: i32,
        bytes: &[u8],
    ) -> Result<(), String> {
        if !self.decode {
            return Ok(());
        }
        let decoder = registry
            .payload_decoder(id)
            .map_err(|e| format!("the {what}'s schema id {id} cannot be used: {e}"))?;
        decoder.check(&bytes[wire::PREFIX_LEN..]).map_err(|e| {
            format!(
                "the {what} does not decode with schema id {id} ({}): {e}",
                decoder.schema_type().as_str()
            )
        })
    }

    /// Checks every record of `batches`. Errors: (index of the record in the request,
    /// reason) for each refused one, or one entry with index -1 when the batch does not decode.
    pub fn check_batches(
        &self,
        registry: &Registry,
        batches: &[u8],
        limits: DecodeLimits,
    ) -> Result<(), Vec<(i32, String)>> {
        let mut refused = Vec::new();
        let mut index = 0i32;
        let walked = strom_broker::for_each_record(batches, limits, &mut |r| {
            match r {
                Ok(r) => {
                    let key = self.check_one(registry, true, r.record.key.as_deref());
                    let value = key
                        .and_then(|()| self.check_one(registry, false, r.record.value.as_deref()));
                    if let Err(reason) = value {
                        refused.push((index, reason));
                    }
                }
                Err(e) => refused.push((index, e.to_string())),
            }
            index += 1;
            ControlFlow::Continue(())
        });
        if let Err(e) = walked {
            refused.push((-1, e.to_string()));
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(refused)
        }
    }
}
