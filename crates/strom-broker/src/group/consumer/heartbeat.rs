//! ConsumerGroupHeartbeat: joining (epoch 0), heartbeating, leaving (-1, or -2 for a static
//! member that will come back), the group epoch bumps that call for a new target assignment,
//! and the session and revocation timers that remove silent members.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::{sleep_until, Instant};

use super::{
    ConsumerGroup, ConsumerHeartbeatRequest, ConsumerHeartbeatResponse, ConsumerMember, Parts,
    TopicMeta,
};
use crate::group::coordinator::{check_group_id, now_ms, Shared};
use crate::group::metadata::Group;
use crate::group::{GroupCoordinator, GroupError, GroupState};
use crate::internal::is_internal_topic;

/// Longest regex accepted (its source), and the compiled size limit.
const MAX_REGEX_BYTES: usize = 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a subscription regex as a whole-name match (Kafka's `Pattern.matches`).
/// Errors: `InvalidRegularExpression`.
pub(crate) fn compile(source: &str) -> Result<regex::Regex, GroupError> {
    if source.len() > MAX_REGEX_BYTES {
        return Err(GroupError::InvalidRegularExpression);
    }
    regex::RegexBuilder::new(&format!("^(?:{source})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|_| GroupError::InvalidRegularExpression)
}

impl GroupCoordinator {
    /// ConsumerGroupHeartbeat. `can_describe` says which topics a regex may match (the
    /// caller's Describe permission).
    ///
    /// Errors: `InvalidGroupId`, `GroupIdNotFound` (a classic group with members that may not upgrade),
    /// `UnknownMemberId`, `FencedMemberEpoch`, `UnreleasedInstanceId`, `UnsupportedAssignor`,
    /// `InvalidRegularExpression`, `GroupMaxSizeReached`, `CoordinatorNotAvailable`.
    pub fn consumer_heartbeat(
        &self,
        req: ConsumerHeartbeatRequest,
        can_describe: &dyn Fn(&str) -> bool,
    ) -> Result<ConsumerHeartbeatResponse, GroupError> {
        check_group_id(&req.group_id)?;
        let shared = &*self.shared;
        if let Some(a) = &req.server_assignor {
            if !a.is_empty() && !shared.config.consumer_assignors.iter().any(|x| x == a) {
                return Err(GroupError::UnsupportedAssignor);
            }
        }
        let regex = match req.subscribed_topic_regex.as_deref() {
            Some(source) if !source.is_empty() => Some((source.to_string(), compile(source)?)),
            _ => None,
        };
        let topics = shared.storage.topic_metadata();
        let group_id = req.group_id.clone();
        let (group, created) = shared.lookup_or_create(&group_id);
        let result = {
            let mut g = group.lock();
            let result = shared.heartbeat_locked(&mut g, req, regex, &topics, can_describe);
            shared.persist_consumer(&mut g, &topics);
            result
        };
        if result.is_err() && created {
            shared.forget_if_untouched(&group_id, &group);
        }
        result
    }
}

impl Shared {
    fn heartbeat_locked(
        &self,
        g: &mut Group,
        req: ConsumerHeartbeatRequest,
        regex: Option<(String, regex::Regex)>,
        topics: &BTreeMap<String, TopicMeta>,
        can_describe: &dyn Fn(&str) -> bool,
    ) -> Result<ConsumerHeartbeatResponse, GroupError> {
        if g.removed || g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if g.consumer.is_none() {
            if req.member_epoch != 0 {
                return Err(GroupError::UnknownMemberId);
            }
            // A classic group becomes a consumer group: an empty one always, one with members
            // if the migration policy allows (`convert.rs`).
            self.upgrade(g, topics)?;
        }
        if req.member_epoch < 0 {
            return self.consumer_leave(g, &req);
        }
        let id = self.consumer_member(g, &req)?;
        let interval = self.config.consumer_heartbeat_interval.as_millis() as i32;
        let session = self.config.consumer_session_timeout;
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let Some(m) = cg.members.get_mut(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let before = (m.epoch, m.assigned.clone());
        let subscribed = if update_member(m, &req, regex) {
            // A new or changed regex resolves on a later heartbeat, as Kafka resolves regexes
            // asynchronously: clients expect its topics after the literal names.
            m.topic_names.iter().cloned().collect()
        } else {
            resolve(m, topics, can_describe)
        };
        m.session_deadline = Instant::now() + session;
        if subscribed != m.subscribed {
            m.subscribed = subscribed;
            cg.epoch += 1;
        }
        self.refresh_target(cg, topics);
        cg.reconcile(&id, req.owned.as_ref());
        let Some(m) = cg.members.get(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let full = req.owned.is_some()
            && req.rebalance_timeout_ms >= 0
            && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some());
        let changed = before != (m.epoch, m.assigned.clone());
        let assignment =
            (req.member_epoch == 0 || full || changed).then(|| by_id(&m.assigned, topics));
        let response = ConsumerHeartbeatResponse {
            member_id: id,
            member_epoch: m.epoch,
            heartbeat_interval_ms: interval,
            assignment,
        };
        g.state = GroupState::Stable;
        Ok(response)
    }

    /// The id of the member this (non-leave) heartbeat is for, creating or taking over a
    /// member on a join. Errors: `UnknownMemberId`, `FencedMemberEpoch`,
    /// `UnreleasedInstanceId`, `GroupMaxSizeReached`.
    fn consumer_member(
        &self,
        g: &mut Group,
        req: &ConsumerHeartbeatRequest,
    ) -> Result<String, GroupError> {
        let max = self.config.max_group_size;
        let group_id = g.id.clone();
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        if req.member_epoch > 0 {
            let m = cg
                .members
                .get(&req.member_id)
                .filter(|m| !m.departed)
                .ok_or(GroupError::UnknownMemberId)?;
            check_epoch(m, req)?;
            return Ok(m.id.clone());
        }
        let id = if req.member_id.is_empty() {
            self.new_member_id(req.instance_id.as_deref().unwrap_or(&req.client_id))
        } else {
            req.member_id.clone()
        };
        if let Some(instance) = &req.instance_id {
            if let Some(old) = cg.by_instance(instance) {
                if old.id != id && !old.departed {
                    return Err(GroupError::UnreleasedInstanceId);
                }
                let old_id = old.id.clone();
                if old_id != id {
                    take_over(cg, &old_id, &id);
                    let deadline = Instant::now() + self.config.consumer_session_timeout;
                    self.spawn_consumer_timer(&group_id, &id, deadline);
                }
                return Ok(id);
            }
        }
        if cg.members.contains_key(&id) {
            return Ok(id);
        }
        if cg.members.len() >= max {
            return Err(GroupError::GroupMaxSizeReached);
        }
        cg.members
            .insert(id.clone(), new_member(&id, req.instance_id.clone()));
        cg.epoch += 1;
        let deadline = Instant::now() + self.config.consumer_session_timeout;
        self.spawn_consumer_timer(&group_id, &id, deadline);
        tracing::info!(group = %group_id, member = %id, "consumer group member joined");
        Ok(id)
    }

    /// Epoch -1 (leave) or -2 (a static member leaves for now, keeping its assignment for a
    /// session timeout). Errors: `UnknownMemberId`.
    fn consumer_leave(
        &self,
        g: &mut Group,
        req: &ConsumerHeartbeatRequest,
    ) -> Result<ConsumerHeartbeatResponse, GroupError> {
        let Some(cg) = g.consumer.as_deref_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let id = match (&req.instance_id, req.member_id.is_empty()) {
            (Some(instance), true) => cg.by_instance(instance).map(|m| m.id.clone()),
            _ => Some(req.member_id.clone()),
        }
        .filter(|id| cg.members.contains_key(id))
        .ok_or(GroupError::UnknownMemberId)?;
        let temporary = req.member_epoch == -2;
        match cg.members.get_mut(&id) {
            Some(m) if temporary && m.instance_id.is_some() => m.departed = true,
            _ => self.remove_consumer_member(g, &id, "left the group"),
        }
        Ok(ConsumerHeartbeatResponse {
            member_id: id,
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    /// Removes a member (left, fenced, or timed out): its partitions are free at once.
    pub(crate) fn remove_consumer_member(&self, g: &mut Group, id: &str, reason: &str) {
        let Some(cg) = g.consumer.as_deref_mut() else {
            return;
        };
        let Some(removed) = cg.members.remove(id) else {
            return;
        };
        cg.target.remove(id);
        cg.epoch += 1;
        tracing::info!(group = %g.id, member = %id, reason, "consumer group member removed");
        if cg.members.is_empty() {
            g.state = GroupState::Empty;
            g.state_timestamp_ms = now_ms();
        } else {
            let topics = self.storage.topic_metadata();
            self.refresh_target(cg, &topics);
            if removed.classic.is_none() {
                self.maybe_downgrade(g);
            }
        }
    }

    /// Removes the member once its session, or its time to revoke (or, for a classic member,
    /// to rejoin), runs out; first looks at `deadline`, the member's session deadline.
    pub(crate) fn spawn_consumer_timer(&self, group_id: &str, member_id: &str, deadline: Instant) {
        let shared = self.me.clone();
        let (group_id, member_id) = (group_id.to_string(), member_id.to_string());
        let mut deadline = deadline;
        tokio::spawn(async move {
            loop {
                sleep_until(deadline).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let Some(group) = shared.lookup(&group_id) else {
                    return;
                };
                let mut g = group.lock();
                let Some(m) = g.consumer.as_ref().and_then(|c| c.members.get(&member_id)) else {
                    return;
                };
                let next = m
                    .revoke_deadline
                    .map_or(m.session_deadline, |r| r.min(m.session_deadline));
                if next > Instant::now() {
                    deadline = next;
                    continue;
                }
                let reason = if m.session_deadline <= Instant::now() {
                    "session timeout"
                } else if m.classic.is_some() {
                    "did not rejoin in its rebalance timeout"
                } else {
                    "did not revoke in its rebalance timeout"
                };
                shared.remove_consumer_member(&mut g, &member_id, reason);
                shared.persist_consumer(&mut g, &shared.storage.topic_metadata());
                return;
            }
        });
    }
}

/// Kafka's epoch check: the current epoch, or the previous one when the member reports
/// owning only what it may own (it lost a response). Errors: `FencedMemberEpoch`.
fn check_epoch(m: &ConsumerMember, req: &ConsumerHeartbeatRequest) -> Result<(), GroupError> {
    if req.member_epoch == m.epoch {
        return Ok(());
    }
    let subset = req.owned.as_ref().is_some_and(|owned| {
        owned
            .iter()
            .all(|(t, ps)| ps.iter().all(|p| super::holds(&m.assigned, t, *p)))
    });
    if req.member_epoch == m.previous_epoch && subset {
        return Ok(());
    }
    Err(GroupError::FencedMemberEpoch)
}

pub(super) fn new_member(id: &str, instance_id: Option<String>) -> ConsumerMember {
    ConsumerMember {
        id: id.to_string(),
        instance_id,
        rack_id: None,
        client_id: String::new(),
        client_host: String::new(),
        epoch: 0,
        previous_epoch: 0,
        rebalance_timeout: std::time::Duration::ZERO,
        topic_names: Vec::new(),
        regex: None,
        server_assignor: None,
        subscribed: BTreeSet::new(),
        assigned: Parts::new(),
        revoking: Parts::new(),
        session_deadline: Instant::now(),
        revoke_deadline: None,
        departed: false,
        classic: None,
    }
}

/// A static member's new incarnation takes over the departed one's place and assignment.
pub(super) fn take_over(cg: &mut ConsumerGroup, old_id: &str, new_id: &str) {
    if let Some(mut m) = cg.members.remove(old_id) {
        m.id = new_id.to_string();
        m.departed = false;
        cg.members.insert(new_id.to_string(), m);
    }
    if let Some(target) = cg.target.remove(old_id) {
        cg.target.insert(new_id.to_string(), target);
    }
}

/// Applies the fields a heartbeat sets (absent ones are unchanged); true when it set a new or
/// changed regex.
fn update_member(
    m: &mut ConsumerMember,
    req: &ConsumerHeartbeatRequest,
    regex: Option<(String, regex::Regex)>,
) -> bool {
    let source = |r: &Option<(String, regex::Regex)>| r.as_ref().map(|(s, _)| s.clone());
    let new_regex = req.subscribed_topic_regex.is_some()
        && regex.is_some()
        && source(&regex) != source(&m.regex);
    if req.rebalance_timeout_ms >= 0 {
        m.rebalance_timeout = std::time::Duration::from_millis(req.rebalance_timeout_ms as u64);
    }
    if let Some(names) = &req.subscribed_topic_names {
        m.topic_names = names.clone();
    }
    if req.subscribed_topic_regex.is_some() {
        m.regex = regex;
    }
    if let Some(a) = &req.server_assignor {
        m.server_assignor = Some(a.clone()).filter(|a| !a.is_empty());
    }
    if req.rack_id.is_some() {
        m.rack_id = req.rack_id.clone();
    }
    m.client_id = req.client_id.clone();
    m.client_host = req.client_host.clone();
    new_regex
}

/// The topics a member's names and regex stand for now.
pub(crate) fn resolve(
    m: &ConsumerMember,
    topics: &BTreeMap<String, TopicMeta>,
    can_describe: &dyn Fn(&str) -> bool,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = m.topic_names.iter().cloned().collect();
    if let Some((_, re)) = &m.regex {
        out.extend(
            topics
                .keys()
                .filter(|t| !is_internal_topic(t) && re.is_match(t) && can_describe(t))
                .cloned(),
        );
    }
    out
}

/// An assignment by topic id, as the wire wants it; topics unknown now are left out.
pub(crate) fn by_id(
    parts: &Parts,
    topics: &BTreeMap<String, TopicMeta>,
) -> Vec<([u8; 16], Vec<i32>)> {
    parts
        .iter()
        .filter_map(|(t, ps)| {
            topics
                .get(t)
                .map(|meta| (meta.id, ps.iter().copied().collect()))
        })
        .collect()
}
