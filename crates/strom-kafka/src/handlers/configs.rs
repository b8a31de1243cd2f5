//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topic configs, plus a
//! read-only broker resource so `kafka-configs`-style tools that describe the broker work.
//!
//! Topic configs are the broker's (`Broker::effective_topic_config`, `alter_topic_config`);
//! validation of keys and values is the broker's too, so every front end accepts the same.
//! Needs DescribeConfigs / AlterConfigs on the topic, or on the cluster for broker resources.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_broker::{config_def, BrokerError, TopicConfig};

use super::auth::{denied_message, Access};
use super::common::{message, str_bytes};
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

/// Kafka `ConfigResource.Type` codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Kafka `DescribeConfigsResponse.ConfigSource` codes.
pub const CONFIG_SOURCE_TOPIC: i8 = 1;
const CONFIG_SOURCE_STATIC_BROKER: i8 = 4;
pub const CONFIG_SOURCE_DEFAULT: i8 = 5;

/// Kafka `ConfigDef.Type` codes carried by DescribeConfigs v3+.
const TYPE_BOOLEAN: i8 = 1;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

/// IncrementalAlterConfigs operations (KIP-339).
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn config_type(key: &str) -> i8 {
    if let Some(def) = config_def(key) {
        return def.kind as i8;
    }
    match key {
        "segment.bytes"
        | "max.message.bytes"
        | "num.partitions"
        | "node.id"
        | "broker.id"
        | "default.replication.factor"
        | "min.insync.replicas" => TYPE_INT,
        "auto.create.topics.enable" => TYPE_BOOLEAN,
        _ => TYPE_LONG,
    }
}

/// What DescribeConfigs was asked to include.
#[derive(Clone, Copy)]
struct Detail {
    version: i16,
    synonyms: bool,
    documentation: bool,
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_source(source)
}

fn entry(
    detail: Detail,
    name: &str,
    value: &str,
    source: i8,
    read_only: bool,
) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)))
        .with_read_only(read_only)
        .with_config_source(source);
    if detail.synonyms {
        e.synonyms = vec![synonym(name, value, source)];
    }
    if detail.version >= 3 {
        e.config_type = config_type(name);
        if detail.documentation {
            e.documentation = config_def(name).map(|d| str_bytes(d.doc));
        }
    }
    e
}

/// A topic config's entry; its synonyms are the override (if any), then the broker-level
/// setting that supplies the default, as Kafka lists them.
fn topic_entry(
    detail: Detail,
    name: &str,
    value: &str,
    default: Option<&str>,
) -> DescribeConfigsResourceResult {
    let source = if default.is_none() {
        CONFIG_SOURCE_TOPIC
    } else {
        CONFIG_SOURCE_DEFAULT
    };
    let mut e = entry(detail, name, value, source, false);
    if detail.synonyms {
        let def = config_def(name);
        let broker_default = default
            .map(str::to_owned)
            .or_else(|| def.map(|d| d.default.to_owned()));
        e.synonyms = Vec::new();
        if default.is_none() {
            e.synonyms.push(synonym(name, value, CONFIG_SOURCE_TOPIC));
        }
        if let (Some(broker_name), Some(v)) = (def.and_then(|d| d.broker_synonym), broker_default) {
            e.synonyms
                .push(synonym(broker_name, &v, CONFIG_SOURCE_DEFAULT));
        }
    }
    e
}

pub fn describe(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let detail = Detail {
                version,
                synonyms: request.include_synonyms,
                documentation: request.include_documentation,
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let op = Operation::DescribeConfigs;
            if let Some(code) = access.config_denied(op, r.resource_type, &r.resource_name) {
                return result
                    .with_error_code(code.code())
                    .with_error_message(denied_message());
            }
            let wanted = |key: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            let entries: Result<Vec<_>, (ResponseError, String)> = match r.resource_type {
                RESOURCE_TOPIC => ctx
                    .broker
                    .effective_topic_config(&r.resource_name)
                    .map(|configs| {
                        configs
                            .into_iter()
                            .filter(|(k, _, _)| wanted(k))
                            .map(|(k, v, is_default)| {
                                let default = is_default.then_some(v.as_str());
                                topic_entry(detail, &k, &v, default)
                            })
                            .collect()
                    })
                    .map_err(|e| (response_error(&e), crate::errors::error_message(&e))),
                RESOURCE_BROKER => broker_resource(ctx, &r.resource_name).map(|configs| {
                    configs
                        .into_iter()
                        .filter(|(k, _)| wanted(k))
                        .map(|(k, v)| entry(detail, k, &v, CONFIG_SOURCE_STATIC_BROKER, true))
                        .collect()
                }),
                // Log levels are set with STROM_LOG at start-up; nothing to list at run time.
                RESOURCE_BROKER_LOGGER => Ok(Vec::new()),
                other => Err((
                    ResponseError::InvalidRequest,
                    format!("resource type {other} has no configs in Strom"),
                )),
            };
            match entries {
                Ok(configs) => result.with_configs(configs),
                Err((code, msg)) => result
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&msg))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The broker resource: static settings, read-only. The name is the node id, or empty for
/// the cluster-wide default resource.
fn broker_resource(
    ctx: &Context,
    name: &StrBytes,
) -> Result<Vec<(&'static str, String)>, (ResponseError, String)> {
    let config = ctx.broker.config();
    if !name.is_empty() && name.as_str() != config.node_id.to_string() {
        return Err((
            ResponseError::InvalidRequest,
            format!("no broker '{name}': this node is {}", config.node_id),
        ));
    }
    Ok(vec![
        ("node.id", config.node_id.to_string()),
        ("broker.id", config.node_id.to_string()),
        (
            "auto.create.topics.enable",
            config.auto_create_topics.to_string(),
        ),
        ("num.partitions", config.default_partitions.to_string()),
        ("default.replication.factor", "1".to_string()),
        ("min.insync.replicas", "1".to_string()),
        (
            "log.segment.bytes",
            config.log_defaults.segment_bytes.to_string(),
        ),
        (
            "log.retention.ms",
            config
                .log_defaults
                .retention_ms
                .map_or(-1, |ms| ms)
                .to_string(),
        ),
        (
            "message.max.bytes",
            config.log_defaults.max_batch_bytes.to_string(),
        ),
    ])
}

/// Validates and applies topic config changes; `validate_only` checks the topic and keys.
fn apply_topic_changes(
    (ctx, access): (&Context, &Access),
    topic: &str,
    changes: &[(String, Option<String>)],
    validate_only: bool,
) -> Result<(), BrokerError> {
    if ctx.broker.topic(topic).is_none() {
        return Err(BrokerError::UnknownTopic(topic.to_owned()));
    }
    if validate_only {
        for (key, value) in changes {
            TopicConfig::validate_change(key, value.as_deref())?;
        }
        return Ok(());
    }
    ctx.broker.alter_topic_config(topic, changes)?;
    let s = access.session();
    let changes = strom_broker::topic_config::describe_changes(changes);
    tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, topic, %changes, "topic config altered");
    Ok(())
}

/// Result code and message for a resource of an alter request.
fn alter_resource(
    (ctx, access): (&Context, &Access),
    resource_type: i8,
    name: &str,
    changes: Result<Vec<(String, Option<String>)>, BrokerError>,
    validate_only: bool,
) -> (i16, Option<StrBytes>) {
    if let Some(code) = access.config_denied(Operation::AlterConfigs, resource_type, name) {
        return (code.code(), denied_message());
    }
    let outcome = match resource_type {
        RESOURCE_TOPIC => {
            changes.and_then(|c| apply_topic_changes((ctx, access), name, &c, validate_only))
        }
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => Err(BrokerError::InvalidConfig(
            "broker configs are static: set them in the Strom configuration file".into(),
        )),
        other => {
            return (
                ResponseError::InvalidRequest.code(),
                Some(str_bytes(&format!("resource type {other} has no configs"))),
            )
        }
    };
    match outcome {
        Ok(()) => (0, None),
        Err(err) => (response_error(&err).code(), message(&err)),
    }
}

/// Legacy AlterConfigs: the given set replaces all of the topic's overrides.
pub fn alter(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let responses = request
        .resources
        .into_iter()
        .map(|r| {
            let name = r.resource_name.to_string();
            let mut wanted: BTreeMap<String, Option<String>> = BTreeMap::new();
            if let Some(topic) = ctx.broker.topic(&name) {
                for key in topic.config().overrides.keys() {
                    wanted.insert(key.clone(), None);
                }
            }
            for c in &r.configs {
                wanted.insert(c.name.to_string(), c.value.as_ref().map(|v| v.to_string()));
            }
            let changes = Ok(wanted.into_iter().collect());
            let (code, msg) = alter_resource(
                (ctx, access),
                r.resource_type,
                &name,
                changes,
                request.validate_only,
            );
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(code)
                .with_error_message(msg)
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET, DELETE, and APPEND/SUBTRACT on list configs.
pub fn incremental_alter(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = request
        .resources
        .into_iter()
        .map(|r| {
            let name = r.resource_name.to_string();
            let changes = r
                .configs
                .iter()
                .map(|c| {
                    let key = c.name.to_string();
                    let value = c.value.as_ref().map(|v| v.to_string());
                    let change = match c.config_operation {
                        OP_SET => value,
                        OP_DELETE => None,
                        op @ (OP_APPEND | OP_SUBTRACT) => {
                            Some(list_change(ctx, &name, &key, value, op == OP_APPEND)?)
                        }
                        op => {
                            return Err(BrokerError::InvalidConfig(format!(
                                "unknown config operation {op}"
                            )))
                        }
                    };
                    Ok((key, change))
                })
                .collect::<Result<Vec<_>, _>>();
            let (code, msg) = alter_resource(
                (ctx, access),
                r.resource_type,
                &name,
                changes,
                request.validate_only,
            );
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(code)
                .with_error_message(msg)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// The new value of a list config after appending or removing `value`'s items.
fn list_change(
    ctx: &Context,
    topic: &str,
    key: &str,
    value: Option<String>,
    append: bool,
) -> Result<String, BrokerError> {
    if config_type(key) != TYPE_LIST {
        return Err(BrokerError::InvalidConfig(format!(
            "'{key}' is not a list config; APPEND/SUBTRACT need one"
        )));
    }
    let current = ctx
        .broker
        .effective_topic_config(topic)?
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, v, _)| v)
        .unwrap_or_default();
    let mut items: Vec<String> = split_list(&current);
    let given = split_list(value.as_deref().unwrap_or(""));
    if append {
        for item in given {
            if !items.contains(&item) {
                items.push(item);
            }
        }
    } else {
        items.retain(|i| !given.contains(i));
    }
    Ok(items.join(","))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_values_split_and_trim() {
        assert_eq!(split_list("compact, delete,,"), vec!["compact", "delete"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn config_types_follow_kafka() {
        assert_eq!(config_type("cleanup.policy"), TYPE_LIST);
        assert_eq!(config_type("retention.ms"), TYPE_LONG);
        assert_eq!(config_type("segment.bytes"), TYPE_INT);
    }
}
