//! The coordinator's timers, one tokio task each: a member's session, a pending member's
//! rejoin window, and the join and sync phases of a rebalance. A timer holds only a weak
//! reference and the ids it is about; when it fires it re-checks the group under its lock
//! and does nothing if the world moved on (member gone, deadline pushed out, newer epoch).
//! A session timer sleeps until the member's current deadline, so a heartbeating member costs
//! one wake-up per session timeout, not one per heartbeat.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::coordinator::Shared;
use super::GroupState;

impl Shared {
    pub(crate) fn spawn_session_timer(&self, group_id: &str, member_id: &str, deadline: Instant) {
        let shared = self.me.clone();
        let (group_id, member_id) = (group_id.to_string(), member_id.to_string());
        tokio::spawn(async move {
            let mut deadline = deadline;
            loop {
                sleep_until(deadline).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let Some(group) = shared.lookup(&group_id) else {
                    return;
                };
                let mut g = group.lock();
                if g.removed {
                    return;
                }
                let Some(member) = g.members.get_mut(&member_id) else {
                    return;
                };
                // A member parked in JoinGroup or SyncGroup cannot heartbeat; it is alive
                // as long as its request is (Kafka's `hasSatisfiedHeartbeat`).
                if member.has_joined()
                    || member.sync_waiter.as_ref().is_some_and(|w| !w.is_closed())
                {
                    member.touch();
                }
                if member.session_deadline > Instant::now() {
                    deadline = member.session_deadline;
                    continue;
                }
                shared.remove_member(&mut g, &member_id, "session timeout");
                return;
            }
        });
    }

    /// A member id handed out with MEMBER_ID_REQUIRED is forgotten if not used in time.
    pub(crate) fn spawn_pending_timer(&self, group_id: &str, member_id: &str, timeout: Duration) {
        let shared = self.me.clone();
        let (group_id, member_id) = (group_id.to_string(), member_id.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let Some(group) = shared.lookup(&group_id) else {
                return;
            };
            let mut g = group.lock();
            if !g.removed && g.pending_members.remove(&member_id) {
                shared.maybe_complete_join(&mut g);
            }
        });
    }

    /// Ends the join phase at the join deadline (which the initial delay may push out).
    pub(crate) fn spawn_join_timer(&self, group_id: &str, epoch: u64) {
        let shared = self.me.clone();
        let group_id = group_id.to_string();
        tokio::spawn(async move {
            loop {
                let deadline = {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    let Some(group) = shared.lookup(&group_id) else {
                        return;
                    };
                    let g = group.lock();
                    if g.removed
                        || g.rebalance_epoch != epoch
                        || g.state != GroupState::PreparingRebalance
                    {
                        return;
                    }
                    g.join_deadline
                };
                sleep_until(deadline).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let Some(group) = shared.lookup(&group_id) else {
                    return;
                };
                let mut g = group.lock();
                if g.removed
                    || g.rebalance_epoch != epoch
                    || g.state != GroupState::PreparingRebalance
                {
                    return;
                }
                if g.join_deadline > Instant::now() {
                    continue;
                }
                if g.initial_delay {
                    // The delay is over: from now on behave like any rebalance.
                    g.initial_delay = false;
                    g.join_deadline = g.join_deadline_max;
                    shared.maybe_complete_join(&mut g);
                    if g.state == GroupState::PreparingRebalance && g.join_deadline > Instant::now()
                    {
                        continue;
                    }
                    if g.state != GroupState::PreparingRebalance {
                        return;
                    }
                }
                shared.complete_join(&mut g);
                return;
            }
        });
    }

    /// Members that have not sent SyncGroup by the deadline are removed, and the rest rebalance
    /// (a leader that never sends the assignment must not stall the group forever).
    pub(crate) fn spawn_sync_timer(&self, group_id: &str, epoch: u64, deadline: Instant) {
        let shared = self.me.clone();
        let group_id = group_id.to_string();
        tokio::spawn(async move {
            sleep_until(deadline).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let Some(group) = shared.lookup(&group_id) else {
                return;
            };
            let mut g = group.lock();
            if g.removed || g.rebalance_epoch != epoch {
                return;
            }
            let late: Vec<String> = g.pending_sync.iter().cloned().collect();
            for member_id in late {
                shared.remove_member(
                    &mut g,
                    &member_id,
                    "no SyncGroup within the rebalance timeout",
                );
            }
        });
    }
}
