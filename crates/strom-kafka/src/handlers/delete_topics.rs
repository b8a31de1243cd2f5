//! DeleteTopics: by name (v1-5) or by name or topic id (v6+).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::common::{message, topic_by_id, topic_name, topic_uuid};
use super::Context;
use crate::errors::response_error;

pub fn handle(ctx: &Context, version: i16, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
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
        .map(|(name, id)| delete(ctx, version, name, id))
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

fn delete(ctx: &Context, version: i16, name: Option<String>, id: Uuid) -> DeletableTopicResult {
    let name = match name {
        Some(name) => name,
        None => match topic_by_id(&ctx.broker, id) {
            Some(t) => t.name().to_owned(),
            None => {
                return DeletableTopicResult::default()
                    .with_name(None)
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code())
            }
        },
    };
    let topic_id = ctx.broker.topic(&name).map(|t| topic_uuid(&t));
    let mut result = DeletableTopicResult::default().with_name(Some(topic_name(&name)));
    if version >= 6 {
        result.topic_id = topic_id.unwrap_or(id);
    }
    match ctx.broker.delete_topic(&name) {
        Ok(()) => {
            tracing::info!(topic = %name, "topic deleted");
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
