//! CreatePartitions: grows a topic to `count` partitions. Replica assignments are ignored
//! (one node holds every partition). Needs Alter on the topic.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use strom_broker::BrokerError;

use super::auth::{denied_message, Access};
use super::common::message;
use super::Context;
use crate::errors::response_error;
use kafka_protocol::ResponseError;
use strom_auth::Operation;

pub fn handle(
    ctx: &Context,
    access: &Access,
    _version: i16,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|t| {
            let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if !access.topic(Operation::Alter, &t.name) {
                return result
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                    .with_error_message(denied_message());
            }
            let outcome = if request.validate_only {
                match ctx.broker.topic(&t.name) {
                    None => Err(BrokerError::UnknownTopic(t.name.to_string())),
                    Some(topic) if t.count <= topic.partition_count() => {
                        Err(BrokerError::InvalidPartitions(format!(
                            "topic has {} partitions, {} would not add any",
                            topic.partition_count(),
                            t.count
                        )))
                    }
                    Some(_) => Ok(()),
                }
            } else {
                ctx.broker.create_partitions(&t.name, t.count)
            };
            match outcome {
                Ok(()) => {
                    if !request.validate_only {
                        let s = access.session();
                        tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, topic = %t.name.0, partitions = t.count, "partitions added");
                    }
                    result.with_error_message(None)
                }
                Err(err) => result
                    .with_error_code(response_error(&err).code())
                    .with_error_message(message(&err)),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
