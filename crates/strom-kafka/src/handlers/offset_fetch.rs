//! OffsetFetch (v1–v9): committed offsets of named partitions, or (v2+, topics null) of all
//! partitions the group committed; v8+ asks for several groups at once.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};
use strom_broker::group::{FetchedOffset, TopicPartitions};

use super::common::{str_bytes, topic_name};
use super::Context;

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

fn fetch(
    ctx: &Context,
    group_id: &GroupId,
    topics: Option<Vec<TopicPartitions>>,
) -> Vec<(String, Vec<FetchedOffset>)> {
    by_topic(ctx.groups.fetch_offsets(group_id, topics.as_deref()))
}

fn metadata(f: &FetchedOffset) -> Option<kafka_protocol::protocol::StrBytes> {
    Some(str_bytes(&f.metadata))
}

pub fn handle(ctx: &Context, version: i16, request: OffsetFetchRequest) -> OffsetFetchResponse {
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
                let topics = fetch(ctx, &g.group_id, wanted)
                    .into_iter()
                    .map(|(topic, offsets)| {
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
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_topics(topics)
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
    let topics = fetch(ctx, &request.group_id, wanted)
        .into_iter()
        .map(|(topic, offsets)| {
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
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
