//! [`GroupCoordinator`]: the public face of the group coordinator, and the membership half of
//! it — JoinGroup, SyncGroup, Heartbeat and LeaveGroup. Requests that must wait for a
//! rebalance (join, sync) park a oneshot sender in the group and await it unlocked, so a
//! front end simply `.await`s the call.
//!
//! Locking: the group map lock is never taken while a group lock is held.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::{Broker, NewRecord};

use super::codec::GroupValue;
use super::metadata::{Group, Member};
use super::writer::Writer;
use super::{
    BrokerStorage, GroupConfig, GroupError, GroupState, GroupStorage, JoinGroupRequest,
    JoinGroupResponse,
};

/// Longest client or instance id kept at the start of a generated member id.
const MAX_MEMBER_ID_PREFIX: usize = 200;
/// Longest group id accepted. Kafka sets no limit, but ids are stored length-prefixed in
/// `__consumer_offsets` and anything this long is a mistake or an attack.
pub(crate) const MAX_GROUP_ID_BYTES: usize = 1024;

/// Errors: `InvalidGroupId` for an empty or overlong group id.
pub(crate) fn check_group_id(group_id: &str) -> Result<(), GroupError> {
    if group_id.is_empty() || group_id.len() > MAX_GROUP_ID_BYTES {
        return Err(GroupError::InvalidGroupId);
    }
    Ok(())
}

pub(crate) use strom_log::now_ms;

/// The coordinator's state shared with its timer and expiry tasks.
pub(crate) struct Shared {
    pub config: GroupConfig,
    pub storage: Arc<dyn GroupStorage>,
    pub writer: Writer,
    pub groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
    /// Handed to timer tasks so they never keep a dropped coordinator alive.
    pub me: Weak<Shared>,
    id_seed: u64,
    id_counter: AtomicU64,
}

impl Shared {
    pub(crate) fn lookup(&self, group_id: &str) -> Option<Arc<Mutex<Group>>> {
        self.groups.lock().get(group_id).cloned()
    }

    /// The group, created (Empty) if missing; the flag says whether it was created now.
    pub(crate) fn lookup_or_create(&self, group_id: &str) -> (Arc<Mutex<Group>>, bool) {
        let mut map = self.groups.lock();
        if let Some(group) = map.get(group_id) {
            return (Arc::clone(group), false);
        }
        let group = Arc::new(Mutex::new(Group::new(group_id.to_string(), now_ms())));
        map.insert(group_id.to_string(), Arc::clone(&group));
        (group, true)
    }

    /// Forgets a group created by a request that then failed, so bad requests do not leave
    /// empty groups behind. Nothing was persisted for it, so no tombstone is needed.
    pub(crate) fn forget_if_untouched(&self, group_id: &str, handle: &Arc<Mutex<Group>>) {
        let mut map = self.groups.lock();
        if !map.get(group_id).is_some_and(|g| Arc::ptr_eq(g, handle)) {
            return;
        }
        let mut g = handle.lock();
        let untouched = g.state == GroupState::Empty
            && g.generation == 0
            && g.members.is_empty()
            && g.pending_members.is_empty()
            && g.offsets.is_empty();
        if untouched {
            g.removed = true;
            map.remove(group_id);
        }
    }

    /// The `__consumer_offsets` partition holding a group's records; all of them go to one
    /// partition so their order is the order of the log. FNV-1a: stable across restarts.
    pub(crate) fn partition_for(&self, group_id: &str) -> i32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in group_id.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        (hash % self.storage.partitions().max(1) as u32) as i32
    }

    pub(crate) fn group_record(&self, group_id: &str, value: Option<GroupValue>) -> NewRecord {
        super::codec::group_record(group_id, value.as_ref())
    }

    /// Queues a group metadata record (or tombstone) without waiting for it.
    pub(crate) fn write_group_record(&self, group_id: &str, value: Option<GroupValue>) {
        let record = self.group_record(group_id, value);
        self.writer
            .write_detached(self.partition_for(group_id), vec![record]);
    }

    /// A new member id, `<prefix>-<uuid-like random>` as Kafka makes them (prefix: the client
    /// id, or the instance id of a static member).
    pub(crate) fn new_member_id(&self, prefix: &str) -> String {
        // Client ids are free-form and may be long; the id only needs to be recognisable.
        let mut end = prefix.len().min(MAX_MEMBER_ID_PREFIX);
        while !prefix.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &prefix[..end];
        let n = self.id_counter.fetch_add(1, Ordering::Relaxed);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(self.id_seed ^ n);
        let high = hasher.finish();
        hasher.write_u64(n);
        let low = hasher.finish();
        format!(
            "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xffff,
            low >> 48,
            low & 0xffff_ffff_ffff
        )
    }
}

/// The coordinators started by [`GroupCoordinator::start`], by broker.
static RUNNING: tokio::sync::Mutex<Vec<(Weak<Broker>, Weak<Shared>)>> =
    tokio::sync::Mutex::const_new(Vec::new());

/// The group coordinator of this broker (which is the coordinator of every group). Cheap to
/// clone; background tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCoordinator {
    pub(crate) shared: Arc<Shared>,
}

/// What a join does next: answer now, or wait for the rebalance.
enum Joined {
    Now(JoinGroupResponse),
    Wait(oneshot::Receiver<Result<JoinGroupResponse, GroupError>>),
}

impl GroupCoordinator {
    /// Opens the coordinator over `broker`: creates `__consumer_offsets` if needed, replays
    /// it (committed offsets and groups survive restarts), and starts offset expiry. Must be
    /// called inside a tokio runtime. While a coordinator of `broker` is alive, this returns
    /// that one (and ignores `config`): two coordinators over one `__consumer_offsets` would
    /// split every group in two. Errors: `Storage` if the topic cannot be created or read.
    pub async fn start(
        broker: Arc<Broker>,
        config: GroupConfig,
    ) -> Result<GroupCoordinator, GroupError> {
        // Held across the start-up, so concurrent starts cannot both miss.
        let mut running = RUNNING.lock().await;
        running.retain(|(b, s)| b.strong_count() > 0 && s.strong_count() > 0);
        let existing = running
            .iter()
            .find(|(b, _)| std::ptr::eq(b.as_ptr(), Arc::as_ptr(&broker)))
            .and_then(|(_, s)| s.upgrade());
        if let Some(shared) = existing {
            tracing::debug!("group coordinator already running for this broker; sharing it");
            return Ok(GroupCoordinator { shared });
        }
        let weak_broker = Arc::downgrade(&broker);
        let partitions = config.offsets_topic_partitions;
        let storage = tokio::task::spawn_blocking(move || BrokerStorage::open(broker, partitions))
            .await
            .map_err(|e| GroupError::Storage(format!("opening {}: {e}", super::OFFSETS_TOPIC)))??;
        let coordinator = Self::with_storage(Arc::new(storage), config).await?;
        running.push((weak_broker, Arc::downgrade(&coordinator.shared)));
        Ok(coordinator)
    }

    /// Opens the coordinator over any [`GroupStorage`]. Errors: `Storage` if replay fails.
    pub async fn with_storage(
        storage: Arc<dyn GroupStorage>,
        config: GroupConfig,
    ) -> Result<GroupCoordinator, GroupError> {
        let replay_storage = Arc::clone(&storage);
        let loaded = tokio::task::spawn_blocking(move || super::load::replay(&*replay_storage))
            .await
            .map_err(|e| {
                GroupError::Storage(format!("replaying {}: {e}", super::OFFSETS_TOPIC))
            })??;
        let writer = Writer::spawn(Arc::clone(&storage));
        let shared = Arc::new_cyclic(|me| Shared {
            config,
            storage,
            writer,
            groups: Mutex::new(HashMap::new()),
            me: me.clone(),
            id_seed: RandomState::new().hash_one(now_ms()),
            id_counter: AtomicU64::new(0),
        });
        super::load::install(&shared, loaded);
        super::expiry::spawn_expiry(&shared);
        Ok(GroupCoordinator { shared })
    }

    pub fn config(&self) -> &GroupConfig {
        &self.shared.config
    }

    /// JoinGroup: completes when the rebalance this join takes part in completes.
    ///
    /// Errors: `InvalidGroupId`, `InvalidSessionTimeout`, `InconsistentGroupProtocol`,
    /// `MemberIdRequired` (first join of a v4+ dynamic member), `UnknownMemberId`,
    /// `FencedInstanceId`, `GroupMaxSizeReached`, `CoordinatorNotAvailable` (group deleted
    /// meanwhile), and whatever ended the wait (`UnknownMemberId` if removed while waiting,
    /// `FencedInstanceId` if replaced by a newer static instance).
    pub async fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse, GroupError> {
        check_group_id(&req.group_id)?;
        let config = &self.shared.config;
        if req.session_timeout < config.min_session_timeout
            || req.session_timeout > config.max_session_timeout
        {
            return Err(GroupError::InvalidSessionTimeout(
                super::rebalance::duration_ms(req.session_timeout),
            ));
        }
        let (group, created) = if req.member_id.is_empty() {
            self.shared.lookup_or_create(&req.group_id)
        } else {
            let group = self.shared.lookup(&req.group_id);
            (group.ok_or(GroupError::UnknownMemberId)?, false)
        };
        let group_id = req.group_id.clone();
        let joined = {
            let mut g = group.lock();
            if g.removed {
                return Err(GroupError::CoordinatorNotAvailable);
            }
            self.join_locked(&mut g, req)
        };
        let joined = match joined {
            Ok(joined) => joined,
            Err(err) => {
                if created {
                    self.shared.forget_if_untouched(&group_id, &group);
                }
                return Err(err);
            }
        };
        match joined {
            Joined::Now(response) => Ok(response),
            // The sender is dropped only if the group vanished under the member.
            Joined::Wait(rx) => rx.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable)),
        }
    }

    fn join_locked(&self, g: &mut Group, req: JoinGroupRequest) -> Result<Joined, GroupError> {
        let shared = &*self.shared;
        if g.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if g.consumer
            .as_deref()
            .is_some_and(|cg| !cg.members.is_empty())
        {
            // A classic member of a consumer group: the consumer group serves it.
            let result = shared.classic_join_consumer(g, req);
            shared.persist_consumer(g, &shared.storage.topic_metadata());
            return result.map(Joined::Now);
        }
        super::consumer::empty_to_classic(shared, g);
        if !g.supports(&req.protocol_type, &req.protocols) {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        if req.member_id.is_empty() {
            if let Some(instance) = req.group_instance_id.clone() {
                if let Some(old_id) = g.static_members.get(&instance).cloned() {
                    return Ok(self.replace_static_member(g, &old_id, req));
                }
                self.check_capacity(g)?;
                let id = shared.new_member_id(&instance);
                return Ok(self.add_and_join(g, id, req));
            }
            self.check_capacity(g)?;
            let id = shared.new_member_id(&req.client_id);
            if req.require_known_member_id {
                // KIP-394: the member must come back with this id, so a client that retries
                // a timed-out join does not leave a ghost member behind.
                g.pending_members.insert(id.clone());
                shared.spawn_pending_timer(&g.id, &id, req.session_timeout);
                return Err(GroupError::MemberIdRequired { member_id: id });
            }
            return Ok(self.add_and_join(g, id, req));
        }

        g.check_fenced(&req.member_id, req.group_instance_id.as_deref())?;
        if g.pending_members.remove(&req.member_id) {
            let id = req.member_id.clone();
            return Ok(self.add_and_join(g, id, req));
        }
        let Some(member) = g.members.get_mut(&req.member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let unchanged = member.protocols == req.protocols;
        member.touch();
        match g.state {
            GroupState::PreparingRebalance => {
                let rx = Self::update_and_wait(g, req);
                shared.maybe_complete_join(g);
                Ok(Joined::Wait(rx))
            }
            // The member lost its JoinGroup answer: repeat it, unless it changed its mind.
            GroupState::CompletingRebalance if unchanged => {
                Ok(Joined::Now(g.join_response(&req.member_id)))
            }
            // A follower rejoining with the same subscription changes nothing (Kafka answers
            // with the current generation); the leader rejoining asks for a new assignment.
            GroupState::Stable if unchanged && !g.is_leader(&req.member_id) => {
                Ok(Joined::Now(g.join_response(&req.member_id)))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let rx = Self::update_and_wait(g, req);
                shared.prepare_rebalance(g);
                shared.maybe_complete_join(g);
                Ok(Joined::Wait(rx))
            }
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
        }
    }

    fn check_capacity(&self, g: &Group) -> Result<(), GroupError> {
        if g.members.len() + g.pending_members.len() >= self.shared.config.max_group_size {
            return Err(GroupError::GroupMaxSizeReached);
        }
        Ok(())
    }

    /// Records a known member's (possibly new) protocols and timeouts and parks its join.
    fn update_and_wait(
        g: &mut Group,
        req: JoinGroupRequest,
    ) -> oneshot::Receiver<Result<JoinGroupResponse, GroupError>> {
        let (tx, rx) = oneshot::channel();
        if let Some(member) = g.members.get_mut(&req.member_id) {
            member.protocols = req.protocols;
            member.session_timeout = req.session_timeout;
            member.rebalance_timeout = req.rebalance_timeout;
            member.client_id = req.client_id;
            member.client_host = req.client_host;
            member.touch();
            if let Some(old) = member.join_waiter.replace(tx) {
                let _ = old.send(Err(GroupError::RebalanceInProgress));
            }
        }
        rx
    }

    /// Adds a new member with a parked join and starts (or joins) a rebalance.
    fn add_and_join(&self, g: &mut Group, member_id: String, req: JoinGroupRequest) -> Joined {
        let shared = &*self.shared;
        let (tx, rx) = oneshot::channel();
        if g.members.is_empty() {
            g.protocol_type = Some(req.protocol_type.clone());
        }
        let member = Member {
            id: member_id,
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: req.protocols,
            assignment: bytes::Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            session_deadline: Instant::now() + req.session_timeout,
        };
        shared.add_member(g, member);
        if g.state == GroupState::PreparingRebalance {
            shared.extend_initial_delay(g);
        } else {
            shared.prepare_rebalance(g);
        }
        shared.maybe_complete_join(g);
        Joined::Wait(rx)
    }

    /// A static member rejoining without its member id (a restarted instance) takes over the
    /// old member's place under a new id; the old id is fenced (KIP-345).
    fn replace_static_member(&self, g: &mut Group, old_id: &str, req: JoinGroupRequest) -> Joined {
        let shared = &*self.shared;
        let Some(mut member) = g.members.remove(old_id) else {
            // The registry and the member map disagree: treat it as a new static member.
            let id = shared.new_member_id(req.group_instance_id.as_deref().unwrap_or_default());
            return self.add_and_join(g, id, req);
        };
        if let Some(waiter) = member.join_waiter.take() {
            let _ = waiter.send(Err(GroupError::FencedInstanceId));
        }
        if let Some(waiter) = member.sync_waiter.take() {
            let _ = waiter.send(Err(GroupError::FencedInstanceId));
        }
        let new_id = shared.new_member_id(req.group_instance_id.as_deref().unwrap_or_default());
        let unchanged = member.protocols == req.protocols;
        let was_leader = g.is_leader(old_id);
        member.id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        if let Some(instance) = &member.instance_id {
            g.static_members.insert(instance.clone(), new_id.clone());
        }
        if was_leader {
            g.leader = Some(new_id.clone());
        }
        if g.pending_sync.remove(old_id) {
            g.pending_sync.insert(new_id.clone());
        }
        member.touch();
        shared.spawn_session_timer(&g.id, &new_id, member.session_deadline);
        g.members.insert(new_id.clone(), member);
        tracing::info!(group = %g.id, old = %old_id, new = %new_id, "static member replaced");
        if g.state == GroupState::Stable
            && unchanged
            && (!was_leader || req.supports_skip_assignment)
        {
            // Nothing to rebalance: the instance gets its assignment back in SyncGroup. A
            // leader is told not to compute a new one; older clients would, so for them the
            // group rebalances instead (KIP-814).
            shared.persist_group(g);
            let mut response = g.join_response(&new_id);
            response.skip_assignment = was_leader;
            return Joined::Now(response);
        }
        let rx = Self::update_and_wait(
            g,
            JoinGroupRequest {
                member_id: new_id,
                ..req
            },
        );
        if g.state == GroupState::PreparingRebalance {
            shared.maybe_complete_join(g);
        } else {
            shared.prepare_rebalance(g);
            shared.maybe_complete_join(g);
        }
        Joined::Wait(rx)
    }
}
