//! OffsetFetch (v1–v9): committed offsets of named partitions, or (v2+, topics null) of all
//! partitions the group committed; v8+ asks for several groups at once; v9 names the member
//! and its epoch, which a consumer (KIP-848) group checks (UNKNOWN_MEMBER_ID,
//! STALE_MEMBER_EPOCH). Needs Describe on
//! the group (GROUP_AUTHORIZATION_FAILED), then Describe on each topic: a named topic's
//! partitions answer TOPIC_AUTHORIZATION_FAILED, and "all partitions" leaves it out.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};
use strom_broker::group::{FetchedOffset, TopicPartitions};

use super::auth::Access;
use super::common::{str_bytes, topic_name};
use super::Context;
use kafka_protocol::ResponseError;
use strom_auth::Operation;

/// One topic's offsets and the error that answers its partitions (0 for none).
type TopicOffsets = (String, i16, Vec<FetchedOffset>);

/// Offsets grouped by topic, in request order for named partitions.
fn by_topic(fetched: Vec<FetchedOffset>) -> Vec<(String, Vec<FetchedOffset>)> {
    let mut topics: Vec<(String, Vec<FetchedOffset>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for offset in fetched {
        let i = *index.entry(offset.topic.clone()).or_insert_with(|| {
            topics.push((offset.topic.clone(), Vec::new()));
            topics.len() - 1
        });
        topics[i].1.push(offset);
    }
    topics
}

/// The group's offsets for `topics` (all when `None`). Errors: the group error code.
fn fetch(
    (ctx, access): (&Context, &Access),
    group_id: &GroupId,
    topics: Option<Vec<TopicPartitions>>,
) -> Result<Vec<TopicOffsets>, i16> {
    if !access.group(Operation::Describe, group_id) {
        return Err(ResponseError::GroupAuthorizationFailed.code());
    }
    let named = topics.is_some();
    let fetched = by_topic(ctx.groups.fetch_offsets(group_id, topics.as_deref()));
    Ok(fetched
        .into_iter()
        .filter_map(|(topic, mut offsets)| {
            if !named && !access.sees_topic(&topic) {
                return None;
            }
            if named && !access.topic(Operation::Describe, &topic) {
                for f in &mut offsets {
                    (f.offset, f.leader_epoch, f.metadata) = (-1, -1, String::new());
                }
                return Some((
                    topic,
                    ResponseError::TopicAuthorizationFailed.code(),
                    offsets,
                ));
            }
            Some((topic, 0, offsets))
        })
        .collect())
}

fn metadata(f: &FetchedOffset) -> Option<kafka_protocol::protocol::StrBytes> {
    Some(str_bytes(&f.metadata))
}

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let epoch = |f: &FetchedOffset| if version >= 5 { f.leader_epoch } else { -1 };
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|g| {
                let wanted = g.topics.as_ref().map(|topics| {
                    topics
                        .iter()
                        .map(|t| TopicPartitions {
                            topic: t.name.to_string(),
                            partitions: t.partition_indexes.clone(),
                        })
                        .collect()
                });
                let group = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                // v9: a consumer group's member must name its current epoch (Kafka's
                // validateOffsetFetch), checked once the caller may describe the group.
                if access.group(Operation::Describe, &g.group_id) {
                    let member = g.member_id.as_deref();
                    let checked =
                        ctx.groups
                            .check_fetch_member(&g.group_id, member, g.member_epoch);
                    if let Err(err) = checked {
                        return group.with_error_code(crate::errors::group_error_code(&err));
                    }
                }
                let fetched = match fetch((ctx, access), &g.group_id, wanted) {
                    Ok(fetched) => fetched,
                    Err(code) => return group.with_error_code(code),
                };
                let topics = fetched
                    .into_iter()
                    .map(|(topic, error, offsets)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(topic_name(&topic))
                            .with_partitions(
                                offsets
                                    .iter()
                                    .map(|f| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(f.partition)
                                            .with_committed_offset(f.offset)
                                            .with_committed_leader_epoch(epoch(f))
                                            .with_metadata(metadata(f))
                                            .with_error_code(error)
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                group.with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| TopicPartitions {
                topic: t.name.to_string(),
                partitions: t.partition_indexes.clone(),
            })
            .collect()
    });
    // v1 has no "all partitions" form: a null topic list there is just empty.
    let wanted = if version < 2 {
        Some(wanted.unwrap_or_default())
    } else {
        wanted
    };
    let fetched = match fetch((ctx, access), &request.group_id, wanted.clone()) {
        Ok(fetched) => fetched,
        Err(code) if version >= 2 => return OffsetFetchResponse::default().with_error_code(code),
        // v1 has no request-level error: every requested partition carries it.
        Err(code) => denied_v1(wanted.unwrap_or_default(), code),
    };
    let topics = fetched
        .into_iter()
        .map(|(topic, error, offsets)| {
            OffsetFetchResponseTopic::default()
                .with_name(topic_name(&topic))
                .with_partitions(
                    offsets
                        .iter()
                        .map(|f| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(f.partition)
                                .with_committed_offset(f.offset)
                                .with_committed_leader_epoch(epoch(f))
                                .with_metadata(metadata(f))
                                .with_error_code(error)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// Every requested partition, unset, answered with `code`.
fn denied_v1(wanted: Vec<TopicPartitions>, code: i16) -> Vec<TopicOffsets> {
    wanted
        .into_iter()
        .map(|t| {
            let offsets = t
                .partitions
                .iter()
                .map(|&partition| FetchedOffset {
                    topic: t.topic.clone(),
                    partition,
                    offset: -1,
                    leader_epoch: -1,
                    metadata: String::new(),
                    commit_timestamp_ms: -1,
                })
                .collect();
            (t.topic, code, offsets)
        })
        .collect()
}
