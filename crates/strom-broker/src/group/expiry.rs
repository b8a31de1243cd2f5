//! Offset retention (`offsets.retention.minutes`, KIP-211): offsets of a group without members
//! expire a retention period after the group became empty (or after the commit, whichever is
//! later); offsets of standalone committers (no protocol type) a retention period after their
//! commit. Expired offsets get tombstones; a group left with nothing is deleted.

use super::coordinator::{now_ms, Shared};
use super::GroupState;

/// Spawns the periodic sweep; it stops when the coordinator is dropped.
pub(crate) fn spawn_expiry(shared: &Shared) {
    let weak = shared.me.clone();
    let every = shared.config.offsets_retention_check_interval;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(shared) = weak.upgrade() else {
                return;
            };
            let expired = shared.expire_offsets(now_ms());
            if expired > 0 {
                tracing::info!(expired, "expired committed offsets");
            }
        }
    });
}

impl Shared {
    /// Expires offsets as of `now_ms`; returns how many were removed.
    pub(crate) fn expire_offsets(&self, now_ms: i64) -> usize {
        let retention =
            i64::try_from(self.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        let groups: Vec<_> = self.groups.lock().values().cloned().collect();
        let mut expired = 0;
        for group in groups {
            let mut g = group.lock();
            if g.removed || !g.members.is_empty() || g.state != GroupState::Empty {
                continue;
            }
            let standalone = g.protocol_type.is_none();
            let empty_since = g.state_timestamp_ms;
            let keys: Vec<(String, i32)> = g
                .offsets
                .iter()
                .filter(|(_, o)| {
                    let base = if standalone {
                        o.commit_timestamp_ms
                    } else {
                        o.commit_timestamp_ms.max(empty_since)
                    };
                    now_ms.saturating_sub(base) >= retention
                })
                .map(|(k, _)| k.clone())
                .collect();
            let records = keys
                .iter()
                .map(|(topic, partition)| {
                    g.offsets.remove(&(topic.clone(), *partition));
                    self.offset_record(&g.id, topic, *partition, None)
                })
                .collect();
            expired += keys.len();
            self.writer
                .write_detached(self.partition_for(&g.id), records);
            if g.offsets.is_empty() && g.pending_members.is_empty() {
                let id = g.id.clone();
                drop(g);
                self.delete_if_unchanged(&id, &group);
            }
        }
        expired
    }
}
