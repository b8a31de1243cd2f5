//! CreateTopics: creates (or with `validate_only` just validates) each topic.
//! `num_partitions` -1 means the broker default; replication factors other than -1/1 are
//! refused because Strom keeps a single replica. Needs Create on the cluster, else on each
//! topic (TOPIC_AUTHORIZATION_FAILED); the returned configs need DescribeConfigs on it.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::ResponseError;

use super::auth::{denied_message, Access};
use super::common::{message, str_bytes, topic_uuid};
use super::configs::{CONFIG_SOURCE_DEFAULT, CONFIG_SOURCE_TOPIC};
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            if !access.may_create_topic(&t.name) {
                return CreatableTopicResult::default()
                    .with_name(t.name)
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(denied_message());
            }
            let configs_allowed = access.topic(Operation::DescribeConfigs, &t.name);
            let name = t.name.0.clone();
            let mut result = create(ctx, version, t, request.validate_only);
            if result.error_code == 0 && !request.validate_only {
                let s = access.session();
                let partitions = ctx.broker.topic(&name).map_or(0, |t| t.partition_count());
                tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, topic = %name, partitions, "topic created");
            }
            if version >= 5 && result.error_code == 0 && !configs_allowed {
                result.configs = None;
                result.topic_config_error_code = ResponseError::TopicAuthorizationFailed.code();
            }
            result
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

fn create(
    ctx: &Context,
    version: i16,
    topic: CreatableTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let result = CreatableTopicResult::default().with_name(topic.name.clone());
    let fail = |code: ResponseError, msg: String| {
        result
            .clone()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(&msg)))
    };
    if !matches!(topic.replication_factor, -1 | 1) {
        return fail(
            ResponseError::InvalidReplicationFactor,
            format!(
                "replication factor {} is not possible: Strom keeps one replica",
                topic.replication_factor
            ),
        );
    }
    let partitions = if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 {
            return fail(
                ResponseError::InvalidRequest,
                "give either num_partitions or assignments, not both".into(),
            );
        }
        topic.assignments.len() as i32
    } else if topic.num_partitions == -1 {
        ctx.broker.config().default_partitions
    } else {
        topic.num_partitions
    };
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        match &c.value {
            Some(v) => {
                configs.insert(c.name.to_string(), v.to_string());
            }
            None => {
                return fail(
                    ResponseError::InvalidConfig,
                    format!("config '{}' has a null value", c.name),
                )
            }
        }
    }
    let outcome = if validate_only {
        ctx.broker
            .validate_new_topic(&topic.name, partitions, &configs)
            .map(|()| None)
    } else {
        ctx.broker
            .create_topic(&topic.name, partitions, &configs)
            .map(Some)
    };
    match outcome {
        Err(err) => {
            tracing::debug!(topic = %topic.name.0, error = %err, "create topic refused");
            result
                .with_error_code(response_error(&err).code())
                .with_error_message(message(&err))
        }
        Ok(created) => {
            let mut result = result;
            if version >= 5 {
                result.num_partitions = partitions;
                result.replication_factor = 1;
                result.configs = created.as_ref().map(|t| {
                    ctx.broker
                        .effective_topic_config(t.name())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(name, value, is_default)| {
                            CreatableTopicConfigs::default()
                                .with_name(str_bytes(&name))
                                .with_value(Some(str_bytes(&value)))
                                .with_config_source(if is_default {
                                    CONFIG_SOURCE_DEFAULT
                                } else {
                                    CONFIG_SOURCE_TOPIC
                                })
                        })
                        .collect()
                });
            }
            if version >= 7 {
                if let Some(t) = &created {
                    result.topic_id = topic_uuid(t);
                }
            }
            result
        }
    }
}
