//! Start-up migration of `__consumer_offsets` values from Strom's legacy layout to Kafka's:
//! after replay, every live record that was still in the legacy layout is appended again in
//! Kafka's format to the partition it came from, so the newest record per key is Kafka's and
//! compaction removes the old one. Runs once per upgrade: rewritten records are Kafka's.

use std::collections::BTreeMap;

use super::codec::{group_record, offset_record, OffsetValue};
use super::load::LoadedGroup;
use super::GroupStorage;
use crate::NewRecord;

/// Rewrites the legacy values of `groups` (blocking). A failed append is logged and the
/// group keeps its state: the legacy records still load next time.
pub(super) fn rewrite_legacy(
    storage: &dyn GroupStorage,
    groups: &mut BTreeMap<String, LoadedGroup>,
) {
    let mut rewritten = 0usize;
    for (id, group) in groups.iter_mut() {
        let live: Vec<_> = group
            .legacy_offsets
            .iter()
            .filter_map(|tp| group.offsets.get(tp).map(|c| (tp.clone(), c)))
            .collect();
        let mut records: Vec<NewRecord> = live
            .iter()
            .map(|((topic, partition), c)| {
                let value = OffsetValue {
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                    metadata: c.metadata.clone(),
                    commit_timestamp_ms: c.commit_timestamp_ms,
                };
                offset_record(id, topic, *partition, Some(&value))
            })
            .collect();
        let tps: Vec<(String, i32)> = live.into_iter().map(|(tp, _)| tp).collect();
        if group.legacy_meta {
            records.push(group_record(id, group.meta.as_ref()));
        }
        if records.is_empty() {
            continue;
        }
        match storage.append(group.partition, &records) {
            Ok(base) => {
                for (i, tp) in tps.iter().enumerate() {
                    if let Some(c) = group.offsets.get_mut(tp) {
                        c.position = base + i as i64;
                    }
                }
                group.legacy_offsets.clear();
                group.legacy_meta = false;
                rewritten += records.len();
            }
            Err(err) => {
                tracing::warn!(group = %id, error = %err, "cannot rewrite legacy records; kept as they are");
            }
        }
    }
    if rewritten > 0 {
        tracing::info!(
            records = rewritten,
            "rewrote legacy __consumer_offsets records in Kafka's format"
        );
    }
}
