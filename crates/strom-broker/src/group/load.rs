//! Start-up replay of `__consumer_offsets`: the newest record per key wins, a tombstone
//! deletes; the result becomes the coordinator's groups and committed offsets. Groups whose
//! metadata lists members come back Stable with fresh session timers, so consumers that
//! outlive a broker restart keep their assignment if they heartbeat in time; consumer
//! (KIP-848) groups come back from their records the same way (`consumer/persist.rs`). Values still in
//! Strom's legacy layout are noted for `migrate.rs`, which rewrites them before install.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::codec::{decode_group, decode_key, decode_offset, Format, GroupValue, RecordKey};
use super::codec_consumer::{ConsumerKey, ConsumerValue};
use super::coordinator::Shared;
use super::metadata::{CommittedOffset, Group, Member};
use super::{GroupError, GroupProtocol, GroupState, GroupStorage};
use crate::StoredRecord;

#[derive(Default)]
pub(crate) struct LoadedGroup {
    pub(super) meta: Option<GroupValue>,
    pub(super) offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// The `__consumer_offsets` partition the group's records were read from.
    pub(super) partition: i32,
    /// Live values still in the legacy layout: the metadata, and offsets by topic-partition.
    pub(super) legacy_meta: bool,
    pub(super) legacy_offsets: BTreeSet<(String, i32)>,
    /// Live KIP-848 records, decoded and as stored.
    pub(super) consumer: BTreeMap<ConsumerKey, (ConsumerValue, Bytes)>,
}

/// Reads every partition of `__consumer_offsets` (blocking). A record that does not decode is
/// skipped with a warning rather than keeping the broker down. Errors: `Storage` on read.
pub(crate) fn replay(
    storage: &dyn GroupStorage,
) -> Result<BTreeMap<String, LoadedGroup>, GroupError> {
    let mut groups: BTreeMap<String, LoadedGroup> = BTreeMap::new();
    for partition in 0..storage.partitions() {
        for record in storage.read_all(partition)? {
            let Some(key) = record.key.as_ref() else {
                continue;
            };
            let key = match decode_key(key) {
                Ok(key) => key,
                Err(err) => {
                    tracing::warn!(partition, offset = record.offset, error = %err, "skipping record");
                    continue;
                }
            };
            let entry = groups.entry(key.group().to_string()).or_default();
            entry.partition = partition;
            if let Err(err) = apply(entry, key, &record) {
                tracing::warn!(partition, offset = record.offset, error = %err, "skipping record");
            }
        }
    }
    groups.retain(|_, g| g.meta.is_some() || !g.offsets.is_empty() || !g.consumer.is_empty());
    super::migrate::rewrite_legacy(storage, &mut groups);
    Ok(groups)
}

/// Applies one record (value or tombstone) to its group. Errors: `Storage` if the value
/// does not decode; the group is then unchanged.
fn apply(entry: &mut LoadedGroup, key: RecordKey, record: &StoredRecord) -> Result<(), GroupError> {
    match (key, record.value.as_ref()) {
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            None,
        ) => {
            let tp = (topic, partition);
            entry.offsets.remove(&tp);
            entry.legacy_offsets.remove(&tp);
        }
        (
            RecordKey::Offset {
                topic, partition, ..
            },
            Some(value),
        ) => {
            let (v, format) = decode_offset(value)?;
            let tp = (topic, partition);
            if format == Format::Legacy {
                entry.legacy_offsets.insert(tp.clone());
            } else {
                entry.legacy_offsets.remove(&tp);
            }
            let committed = CommittedOffset {
                offset: v.offset,
                leader_epoch: v.leader_epoch,
                metadata: v.metadata,
                commit_timestamp_ms: v.commit_timestamp_ms,
                position: record.offset,
            };
            entry.offsets.insert(tp, committed);
        }
        (RecordKey::Consumer { key, .. }, None) => {
            entry.consumer.remove(&key);
        }
        (RecordKey::Consumer { key, .. }, Some(value)) => {
            let decoded = super::codec_consumer::decode(&key, value)?;
            entry.consumer.insert(key, (decoded, value.clone()));
        }
        (RecordKey::Group { .. }, None) => {
            entry.meta = None;
            entry.legacy_meta = false;
        }
        (RecordKey::Group { .. }, Some(value)) => {
            let (v, format) = decode_group(value, record.timestamp)?;
            entry.meta = Some(v);
            entry.legacy_meta = format == Format::Legacy;
        }
    }
    Ok(())
}

/// Turns replayed state into live groups (inside the runtime: arms session timers).
pub(crate) fn install(shared: &Shared, loaded: BTreeMap<String, LoadedGroup>) {
    let mut map = shared.groups.lock();
    for (id, loaded) in loaded {
        let mut g = Group::new(id.clone(), super::coordinator::now_ms());
        g.offsets = loaded.offsets;
        if let Some(meta) = loaded.meta {
            g.protocol_type = Some(meta.protocol_type).filter(|t| !t.is_empty());
            g.generation = meta.generation;
            g.state_timestamp_ms = meta.state_timestamp_ms;
            if !meta.members.is_empty() {
                g.state = GroupState::Stable;
                g.protocol = meta.protocol.clone();
                g.leader = meta.leader;
                let protocol = meta.protocol.unwrap_or_default();
                for m in meta.members {
                    let session_timeout = ms(m.session_timeout_ms);
                    let member = Member {
                        id: m.member_id,
                        instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        session_timeout,
                        rebalance_timeout: ms(m.rebalance_timeout_ms),
                        protocols: vec![GroupProtocol {
                            name: protocol.clone(),
                            metadata: m.subscription,
                        }],
                        assignment: m.assignment,
                        join_waiter: None,
                        sync_waiter: None,
                        session_deadline: Instant::now() + session_timeout,
                    };
                    shared.add_member(&mut g, member);
                }
            }
        }
        restore_consumer(shared, &mut g, loaded.consumer);
        tracing::debug!(group = %id, state = %g.state, offsets = g.offsets.len(), "group restored");
        map.insert(id, Arc::new(Mutex::new(g)));
    }
}

/// Makes `g` the consumer group its KIP-848 records describe (members get a fresh session).
fn restore_consumer(
    shared: &Shared,
    g: &mut Group,
    records: BTreeMap<super::codec_consumer::ConsumerKey, (ConsumerValue, Bytes)>,
) {
    if records.is_empty() {
        return;
    }
    let topics = shared.storage.topic_metadata();
    let decoded = records
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    g.consumer_written = records.into_iter().map(|(k, (_, raw))| (k, raw)).collect();
    let session = shared.config.consumer_session_timeout;
    let Some(mut cg) = super::consumer::restore(&decoded, &topics, session) else {
        return;
    };
    if !cg.members.is_empty() {
        cg.assignor = shared.choose_assignor(&cg);
    }
    g.protocol_type = Some("consumer".to_string());
    g.state = if cg.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    for member in cg.members.values() {
        shared.spawn_consumer_timer(&g.id, &member.id, member.session_deadline);
    }
    tracing::info!(group = %g.id, epoch = cg.epoch, members = cg.members.len(), "consumer group restored");
    g.consumer = Some(Box::new(cg));
}

fn ms(value: i32) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(value).unwrap_or(0))
}
