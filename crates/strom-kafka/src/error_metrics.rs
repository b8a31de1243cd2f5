//! `strom_kafka_request_errors_total{api, error}`: the Kafka error codes Strom answers, one
//! count per result that carries one (a partition of a Produce, a topic of a CreateTopics, a
//! group call...). `error` is the code's Kafka name (`NOT_LEADER_OR_FOLLOWER`), `UNKNOWN`
//! for a code outside Kafka's list: a fixed, bounded set, like `api`. Covers the APIs whose
//! errors an operator watches (produce, fetch, metadata, offsets, groups, topic admin,
//! transactions); the others are counted by `strom_kafka_requests_total` only.

use kafka_protocol::messages::ResponseKind;
use kafka_protocol::ResponseError;

/// Counts the error codes in `response`, an answer of `api`.
pub fn count(api: &str, response: &ResponseKind) {
    for code in error_codes(response).into_iter().filter(|c| *c != 0) {
        metrics::counter!("strom_kafka_request_errors_total", "api" => api.to_string(),
            "error" => error_name(code))
        .increment(1);
    }
}

/// Kafka's name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`); `UNKNOWN` for a code
/// Kafka does not define.
pub fn error_name(code: i16) -> String {
    let Some(err) = ResponseError::try_from_code(code) else {
        return "UNKNOWN".to_string();
    };
    let camel = format!("{err:?}");
    // Codes outside Kafka's list come back as `Unknown(code)`: one label value for them all.
    if !camel.chars().all(|c| c.is_ascii_alphanumeric()) {
        return "UNKNOWN".to_string();
    }
    let mut name = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// Every error code `response` carries (zeros included).
fn error_codes(response: &ResponseKind) -> Vec<i16> {
    match response {
        ResponseKind::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::Fetch(r) => std::iter::once(r.error_code)
            .chain(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            )
            .collect(),
        ResponseKind::Metadata(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                std::iter::once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code))
            })
            .collect(),
        ResponseKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseKind::OffsetFetch(r) => offset_fetch_codes(r),
        ResponseKind::JoinGroup(r) => vec![r.error_code],
        ResponseKind::SyncGroup(r) => vec![r.error_code],
        ResponseKind::Heartbeat(r) => vec![r.error_code],
        ResponseKind::LeaveGroup(r) => std::iter::once(r.error_code)
            .chain(r.members.iter().map(|m| m.error_code))
            .collect(),
        ResponseKind::FindCoordinator(r) => std::iter::once(r.error_code)
            .chain(r.coordinators.iter().map(|c| c.error_code))
            .collect(),
        ResponseKind::CreateTopics(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseKind::DeleteTopics(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseKind::InitProducerId(r) => vec![r.error_code],
        ResponseKind::EndTxn(r) => vec![r.error_code],
        _ => Vec::new(),
    }
}

fn offset_fetch_codes(r: &kafka_protocol::messages::OffsetFetchResponse) -> Vec<i16> {
    let legacy = r
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code));
    let groups = r.groups.iter().flat_map(|g| {
        std::iter::once(g.error_code).chain(
            g.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        )
    });
    std::iter::once(r.error_code)
        .chain(legacy)
        .chain(groups)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::ProduceResponse;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(29), "TOPIC_AUTHORIZATION_FAILED");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_name(31_000), "UNKNOWN");
    }

    #[test]
    fn produce_codes_are_per_partition() {
        let part = |code| PartitionProduceResponse::default().with_error_code(code);
        let topic =
            TopicProduceResponse::default().with_partition_responses(vec![part(0), part(6)]);
        let response =
            ResponseKind::Produce(ProduceResponse::default().with_responses(vec![topic]));
        assert_eq!(error_codes(&response), vec![0, 6]);
    }
}
