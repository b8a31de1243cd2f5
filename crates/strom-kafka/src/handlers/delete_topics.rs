//! DeleteTopics: by name (v1-5) or by name or topic id (v6+). Needs Delete on each topic
//! (TOPIC_AUTHORIZATION_FAILED); a topic named by id without Describe is answered without
//! its name, as Kafka does.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::auth::Access;
use super::common::{message, topic_by_id, topic_name, topic_uuid};
use super::Context;
use crate::errors::response_error;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let requested: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n.to_string()), Uuid::nil()))
            .collect()
    };
    let responses = requested
        .into_iter()
        .map(|(name, id)| delete(ctx, access, version, name, id))
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

fn delete(
    ctx: &Context,
    access: &Access,
    version: i16,
    name: Option<String>,
    id: Uuid,
) -> DeletableTopicResult {
    let denied = || ResponseError::TopicAuthorizationFailed.code();
    let name = match name {
        Some(name) => name,
        None => match topic_by_id(&ctx.broker, id) {
            Some(t) if !access.topic(Operation::Describe, t.name()) => {
                return DeletableTopicResult::default()
                    .with_name(None)
                    .with_topic_id(id)
                    .with_error_code(denied())
            }
            Some(t) => t.name().to_owned(),
            None => {
                return DeletableTopicResult::default()
                    .with_name(None)
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code())
            }
        },
    };
    if !access.topic(Operation::Delete, &name) {
        let mut result = DeletableTopicResult::default()
            .with_name(Some(topic_name(&name)))
            .with_error_code(denied());
        if version >= 6 {
            result.topic_id = id;
        }
        return result;
    }
    let topic_id = ctx.broker.topic(&name).map(|t| topic_uuid(&t));
    let mut result = DeletableTopicResult::default().with_name(Some(topic_name(&name)));
    if version >= 6 {
        result.topic_id = topic_id.unwrap_or(id);
    }
    match ctx.broker.delete_topic(&name) {
        Ok(()) => {
            let s = access.session();
            tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, topic = %name, "topic deleted");
            result
        }
        Err(err) => {
            let mut result = result.with_error_code(response_error(&err).code());
            if version >= 5 {
                result.error_message = message(&err);
            }
            result
        }
    }
}
