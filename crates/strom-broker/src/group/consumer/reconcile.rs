//! The member side of KIP-848: each heartbeat moves a member one step towards its target.
//!
//! ```text
//! assigned ⊄ target ──▶ revoking: the member keeps assigned ∩ target at its epoch and must
//!                        confirm (owned partitions in a heartbeat) it gave the rest up
//! assigned ⊆ target ──▶ the member moves to the assignment epoch and gets every target
//!                        partition no other member still holds (assigned or revoking);
//!                        the rest come on a later heartbeat, once released
//! ```
//!
//! A partition is never assigned to two members at once, and a partition changes owner only
//! after the previous owner confirmed revoking it (or was removed from the group).

use tokio::time::Instant;

use super::{holds, ConsumerGroup, Parts};

impl ConsumerGroup {
    /// Every partition a member other than `id` holds or has not yet released.
    pub(super) fn held_by_others(&self, id: &str) -> Parts {
        let mut held = Parts::new();
        for m in self.members.values().filter(|m| m.id != id) {
            for parts in [&m.assigned, &m.revoking] {
                for (topic, partitions) in parts {
                    held.entry(topic.clone())
                        .or_default()
                        .extend(partitions.iter().copied());
                }
            }
        }
        held
    }

    /// One reconciliation step of member `id`; `owned` is what it reported owning (`None`:
    /// unchanged since its last heartbeat).
    pub(crate) fn reconcile(&mut self, id: &str, owned: Option<&Parts>) {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let held = self.held_by_others(id);
        let assignment_epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        if !m.revoking.is_empty() {
            let released = owned.is_some_and(|owned| {
                m.revoking
                    .iter()
                    .all(|(t, ps)| ps.iter().all(|p| !holds(owned, t, *p)))
            });
            if !released {
                return;
            }
            m.revoking.clear();
            m.revoke_deadline = None;
        }
        let (mut keep, mut revoke) = (Parts::new(), Parts::new());
        for (topic, partitions) in &m.assigned {
            for &p in partitions {
                let side = if holds(&target, topic, p) {
                    &mut keep
                } else {
                    &mut revoke
                };
                side.entry(topic.clone()).or_default().insert(p);
            }
        }
        if !revoke.is_empty() {
            m.assigned = keep;
            m.revoking = revoke;
            m.revoke_deadline = Some(Instant::now() + m.rebalance_timeout);
            return;
        }
        let mut next = Parts::new();
        for (topic, partitions) in &target {
            for &p in partitions {
                if holds(&m.assigned, topic, p) || !holds(&held, topic, p) {
                    next.entry(topic.clone()).or_default().insert(p);
                }
            }
        }
        m.assigned = next;
        if m.epoch != assignment_epoch {
            m.previous_epoch = m.epoch;
            m.epoch = assignment_epoch;
        }
    }
}
