//! Persistence of consumer groups in `__consumer_offsets`, as Kafka does it: the group epoch,
//! the subscribed topics' metadata, each member's metadata, the target assignment and each
//! member's current assignment (epochs, owned and revoking partitions), as the records of
//! `codec_consumer.rs`. After every change under the group lock, the records the group's state
//! stands for are compared with the ones last written, and only the differences are queued
//! (values, or tombstones for keys that are gone: a member that left, a deleted group).
//! [`restore`] rebuilds a group from the replayed records at start-up, so members that
//! heartbeat with their epoch after a restart keep their assignment.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::time::Instant;

use super::{ClassicMeta, ConsumerGroup, ConsumerMember, Parts, TopicMeta};
use crate::group::codec::RecordKey;
use crate::group::codec_consumer::{
    encode, ClassicMemberValue, ConsumerKey, ConsumerValue, CurrentValue, MemberValue, TopicParts,
};
use crate::group::coordinator::Shared;
use crate::group::metadata::Group;
use crate::NewRecord;

/// Epoch Kafka stores for a static member that left for now (`-2` in a heartbeat).
const DEPARTED_EPOCH: i32 = -2;

impl ConsumerGroup {
    /// Every record the group's state stands for now, encoded, by key.
    pub(crate) fn records(
        &self,
        topics: &BTreeMap<String, TopicMeta>,
    ) -> BTreeMap<ConsumerKey, Bytes> {
        let ids = |parts: &Parts| -> TopicParts {
            parts
                .iter()
                .filter_map(|(t, ps)| {
                    let id = topics.get(t).or_else(|| self.topics.get(t))?.id;
                    Some((id, ps.iter().copied().collect()))
                })
                .collect()
        };
        let mut out = BTreeMap::new();
        let mut put = |key, value: ConsumerValue| {
            out.insert(key, encode(&value));
        };
        put(ConsumerKey::Metadata, ConsumerValue::Metadata(self.epoch));
        let metas = self
            .topics
            .iter()
            .map(|(t, m)| (m.id, t.clone(), m.partitions));
        put(
            ConsumerKey::PartitionMetadata,
            ConsumerValue::PartitionMetadata(metas.collect()),
        );
        put(
            ConsumerKey::TargetMetadata,
            ConsumerValue::TargetMetadata(self.assignment_epoch),
        );
        for (id, target) in &self.target {
            put(
                ConsumerKey::TargetMember(id.clone()),
                ConsumerValue::TargetMember(ids(target)),
            );
        }
        for m in self.members.values() {
            put(
                ConsumerKey::Member(m.id.clone()),
                ConsumerValue::Member(member_value(m)),
            );
            let state = if !m.revoking.is_empty() {
                2
            } else if self.reconciled(m) {
                1
            } else {
                3
            };
            let (epoch, previous_epoch) = if m.departed {
                (DEPARTED_EPOCH, m.epoch)
            } else {
                (m.epoch, m.previous_epoch)
            };
            let current = CurrentValue {
                epoch,
                previous_epoch,
                state,
                assigned: ids(&m.assigned),
                revoking: ids(&m.revoking),
            };
            put(
                ConsumerKey::CurrentAssignment(m.id.clone()),
                ConsumerValue::CurrentAssignment(current),
            );
        }
        out
    }
}

fn member_value(m: &ConsumerMember) -> MemberValue {
    MemberValue {
        instance_id: m.instance_id.clone(),
        rack_id: m.rack_id.clone(),
        client_id: m.client_id.clone(),
        client_host: m.client_host.clone(),
        topic_names: m.topic_names.clone(),
        regex: m.regex.as_ref().map(|(source, _)| source.clone()),
        rebalance_timeout_ms: i32::try_from(m.rebalance_timeout.as_millis()).unwrap_or(i32::MAX),
        server_assignor: m.server_assignor.clone(),
        classic: m.classic.as_ref().map(|c| ClassicMemberValue {
            session_timeout_ms: i32::try_from(c.session_timeout.as_millis()).unwrap_or(i32::MAX),
            protocols: c
                .protocols
                .iter()
                .map(|p| (p.name.clone(), p.metadata.clone()))
                .collect(),
        }),
    }
}

impl Shared {
    /// Queues the records (and tombstones) that bring `__consumer_offsets` up to the group's
    /// state; a classic group (or one no longer a consumer group) gets tombstones for every
    /// KIP-848 record still live.
    pub(crate) fn persist_consumer(&self, g: &mut Group, topics: &BTreeMap<String, TopicMeta>) {
        let wanted = match g.consumer.as_deref() {
            Some(cg) if !g.removed => cg.records(topics),
            _ => BTreeMap::new(),
        };
        let records = self.consumer_diff(g, wanted);
        if !records.is_empty() {
            self.writer
                .write_detached(self.partition_for(&g.id), records);
        }
    }

    /// The records that turn what was last written for `g` into `wanted`; remembers `wanted`.
    pub(crate) fn consumer_diff(
        &self,
        g: &mut Group,
        wanted: BTreeMap<ConsumerKey, Bytes>,
    ) -> Vec<NewRecord> {
        let record = |key: &ConsumerKey, value: Option<&Bytes>| NewRecord {
            key: Some(crate::group::codec::encode_key(&RecordKey::Consumer {
                group: g.id.clone(),
                key: key.clone(),
            })),
            value: value.cloned(),
            ..NewRecord::default()
        };
        let mut records: Vec<NewRecord> = g
            .consumer_written
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .map(|k| record(k, None))
            .collect();
        records.extend(
            wanted
                .iter()
                .filter(|(k, v)| g.consumer_written.get(*k) != Some(*v))
                .map(|(k, v)| record(k, Some(v))),
        );
        g.consumer_written = wanted;
        records
    }
}

/// Rebuilds a consumer group from its replayed records (`None` without a group epoch record);
/// topics are named through the stored partition metadata and today's `topics`.
pub(crate) fn restore(
    records: &BTreeMap<ConsumerKey, ConsumerValue>,
    topics: &BTreeMap<String, TopicMeta>,
    session: std::time::Duration,
) -> Option<ConsumerGroup> {
    let Some(ConsumerValue::Metadata(epoch)) = records.get(&ConsumerKey::Metadata) else {
        return None;
    };
    let mut cg = ConsumerGroup {
        epoch: *epoch,
        ..ConsumerGroup::default()
    };
    if let Some(ConsumerValue::PartitionMetadata(stored)) =
        records.get(&ConsumerKey::PartitionMetadata)
    {
        for (id, name, partitions) in stored {
            let meta = TopicMeta {
                id: *id,
                partitions: *partitions,
            };
            cg.topics.insert(name.clone(), meta);
        }
    }
    let mut names: BTreeMap<[u8; 16], String> =
        cg.topics.iter().map(|(t, m)| (m.id, t.clone())).collect();
    names.extend(topics.iter().map(|(t, m)| (m.id, t.clone())));
    let by_name = |parts: &TopicParts| -> Parts {
        parts
            .iter()
            .filter_map(|(id, ps)| Some((names.get(id)?.clone(), ps.iter().copied().collect())))
            .collect()
    };
    for (key, value) in records {
        match (key, value) {
            (ConsumerKey::TargetMetadata, ConsumerValue::TargetMetadata(e)) => {
                cg.assignment_epoch = *e;
            }
            (ConsumerKey::TargetMember(id), ConsumerValue::TargetMember(parts)) => {
                cg.target.insert(id.clone(), by_name(parts));
            }
            (ConsumerKey::Member(id), ConsumerValue::Member(m)) => {
                cg.members
                    .insert(id.clone(), restored_member(id, m, topics, session));
            }
            _ => {}
        }
    }
    for (key, value) in records {
        if let (ConsumerKey::CurrentAssignment(id), ConsumerValue::CurrentAssignment(c)) =
            (key, value)
        {
            if let Some(m) = cg.members.get_mut(id) {
                m.departed = c.epoch == DEPARTED_EPOCH;
                m.epoch = if m.departed {
                    c.previous_epoch
                } else {
                    c.epoch
                };
                m.previous_epoch = c.previous_epoch;
                m.assigned = by_name(&c.assigned);
                m.revoking = by_name(&c.revoking);
                if !m.revoking.is_empty() {
                    m.revoke_deadline = Some(Instant::now() + m.rebalance_timeout);
                }
            }
        }
    }
    cg.target.retain(|id, _| cg.members.contains_key(id));
    Some(cg)
}

fn restored_member(
    id: &str,
    m: &MemberValue,
    topics: &BTreeMap<String, TopicMeta>,
    session: std::time::Duration,
) -> ConsumerMember {
    let regex = m
        .regex
        .as_ref()
        .and_then(|source| Some((source.clone(), super::heartbeat::compile(source).ok()?)));
    let classic = m.classic.as_ref().map(|c| ClassicMeta {
        session_timeout: std::time::Duration::from_millis(
            u64::try_from(c.session_timeout_ms).unwrap_or(0),
        ),
        protocols: c
            .protocols
            .iter()
            .map(|(name, metadata)| crate::group::GroupProtocol {
                name: name.clone(),
                metadata: metadata.clone(),
            })
            .collect(),
    });
    // A classic member gets its own session timeout after a restart.
    let session = classic.as_ref().map_or(session, |c| c.session_timeout);
    let mut member = ConsumerMember {
        id: id.to_string(),
        instance_id: m.instance_id.clone(),
        rack_id: m.rack_id.clone(),
        client_id: m.client_id.clone(),
        client_host: m.client_host.clone(),
        epoch: 0,
        previous_epoch: 0,
        rebalance_timeout: std::time::Duration::from_millis(
            u64::try_from(m.rebalance_timeout_ms).unwrap_or(0),
        ),
        topic_names: m.topic_names.clone(),
        regex,
        server_assignor: m.server_assignor.clone(),
        subscribed: BTreeSet::new(),
        assigned: Parts::new(),
        revoking: Parts::new(),
        session_deadline: Instant::now() + session,
        revoke_deadline: None,
        departed: false,
        classic,
    };
    // Until its next heartbeat re-resolves it with the member's permissions.
    member.subscribed = super::heartbeat::resolve(&member, topics, &|_| true);
    member
}
