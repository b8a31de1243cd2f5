//! One REST Proxy consumer instance: a member of a consumer group on the shared
//! [`GroupCoordinator`], so HTTP and Kafka consumers of one group split its partitions.
//!
//! HTTP clients call at their own pace, so the membership is kept by a background task per
//! instance: it joins (as leader it computes the `range` assignment, like a Kafka client),
//! heartbeats, rejoins when the coordinator asks, and leaves when the instance is deleted or
//! idle. Fetches use the current assignment and the instance's own positions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strom_broker::group::{
    decode_assignment, encode_subscription, leader_range_assignments, GroupProtocol,
    HeartbeatRequest, JoinGroupRequest, LeavingMember, Subscription, SyncGroupRequest,
    TopicPartitions,
};
use strom_broker::{Broker, GroupCoordinator, GroupError};
use tokio::sync::{watch, Notify};

/// Session timeout of HTTP members; the task heartbeats well within it.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(10);
const HEARTBEAT_EVERY: Duration = Duration::from_millis(1000);

/// Embedded format of the instance's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Binary,
    Json,
    /// `avro`, `jsonschema`, `protobuf`: values decoded with the registry.
    Schema(crate::restproxy_schema::SchemaFormat),
}

impl Format {
    /// The media type of this format's records.
    pub fn media_type(self) -> &'static str {
        use crate::restproxy_schema::SchemaFormat;
        match self {
            Format::Binary => "application/vnd.kafka.binary.v2+json",
            Format::Json => "application/vnd.kafka.json.v2+json",
            Format::Schema(SchemaFormat::Avro) => "application/vnd.kafka.avro.v2+json",
            Format::Schema(SchemaFormat::JsonSchema) => "application/vnd.kafka.jsonschema.v2+json",
            Format::Schema(SchemaFormat::Protobuf) => "application/vnd.kafka.protobuf.v2+json",
        }
    }
}

/// `auto.offset.reset`: where a partition without a committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// `none`: no position; fetching fails until the client seeks (Kafka's
    /// `NoOffsetForPartitionException`).
    Fail,
}

/// Position of a partition whose start is undefined (`auto.offset.reset: none`).
pub const UNDEFINED: i64 = -1;

/// Picks the topics a `topic_pattern` subscription covers now (authorized ones only).
pub type TopicResolver = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// Mutable membership and position state.
#[derive(Debug, Default)]
pub struct Member {
    pub member_id: String,
    pub generation: i32,
    pub topics: Vec<String>,
    pub assignment: Vec<(String, i32)>,
    /// Next offset to fetch per assigned partition ([`UNDEFINED`] until sought, under
    /// `auto.offset.reset: none`).
    pub positions: BTreeMap<(String, i32), i64>,
    pub needs_join: bool,
    /// Partitions assigned by the client (`POST …/assignments`), not by the group.
    pub manual: bool,
}

pub struct Instance {
    pub group: String,
    pub name: String,
    /// The principal that created the instance: only it (or a super user) may use it.
    pub owner: strom_auth::Principal,
    pub format: Format,
    pub reset: OffsetReset,
    pub auto_commit: bool,
    pub idle_timeout: Duration,
    pub member: parking_lot::Mutex<Member>,
    /// Set for a `topic_pattern` subscription: re-run every heartbeat, a change rejoins.
    resolver: parking_lot::Mutex<Option<TopicResolver>>,
    last_used: parking_lot::Mutex<Instant>,
    wake: Notify,
    stop: watch::Sender<bool>,
    task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Instance {
    pub fn new(
        group: String,
        name: String,
        owner: strom_auth::Principal,
        format: Format,
        reset: OffsetReset,
        auto_commit: bool,
        idle_timeout: Duration,
    ) -> Arc<Instance> {
        Arc::new(Instance {
            group,
            name,
            owner,
            format,
            reset,
            auto_commit,
            idle_timeout,
            resolver: parking_lot::Mutex::new(None),
            member: parking_lot::Mutex::new(Member::default()),
            last_used: parking_lot::Mutex::new(Instant::now()),
            wake: Notify::new(),
            stop: watch::channel(false).0,
            task: parking_lot::Mutex::new(None),
        })
    }

    pub fn touch(&self) {
        *self.last_used.lock() = Instant::now();
    }

    pub fn is_idle(&self) -> bool {
        self.last_used.lock().elapsed() > self.idle_timeout
    }

    /// Sets the subscription (listed topics, or a pattern's `resolver`) and makes the
    /// membership task (re)join.
    pub fn subscribe(
        self: &Arc<Self>,
        topics: Vec<String>,
        resolver: Option<TopicResolver>,
        broker: Arc<Broker>,
        groups: GroupCoordinator,
    ) {
        *self.resolver.lock() = resolver;
        {
            let mut m = self.member.lock();
            m.topics = topics;
            m.needs_join = true;
        }
        let mut task = self.task.lock();
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            let me = Arc::clone(self);
            *task = Some(tokio::spawn(async move { me.run(broker, groups).await }));
        } else {
            self.wake.notify_one();
        }
    }

    /// Leaves the group and forgets the subscription.
    pub fn unsubscribe(&self, groups: &GroupCoordinator) {
        let member_id = {
            let mut m = self.member.lock();
            m.topics.clear();
            m.assignment.clear();
            m.positions.clear();
            m.needs_join = false;
            m.manual = false;
            std::mem::take(&mut m.member_id)
        };
        *self.resolver.lock() = None;
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
        leave(groups, &self.group, member_id);
    }

    /// Stops the membership task and leaves the group.
    pub fn close(&self, groups: &GroupCoordinator) {
        let _ = self.stop.send(true);
        self.unsubscribe(groups);
    }

    async fn run(self: Arc<Self>, broker: Arc<Broker>, groups: GroupCoordinator) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                return;
            }
            self.refresh_pattern();
            let (needs_join, has_topics) = {
                let m = self.member.lock();
                (m.needs_join, !m.topics.is_empty())
            };
            if needs_join && has_topics {
                if let Err(err) = self.join(&broker, &groups).await {
                    tracing::info!(group = %self.group, instance = %self.name, error = %err, "HTTP consumer join failed; retrying");
                    if matches!(
                        err,
                        GroupError::UnknownMemberId | GroupError::IllegalGeneration
                    ) {
                        self.member.lock().member_id.clear();
                    }
                    // A group of another protocol type, or whose classic members do not
                    // all support `range`, refuses the instance until that changes; no need
                    // to ask five times a second. (A KIP-848 consumer group takes HTTP
                    // instances as classic members.)
                    let pause = if err == GroupError::InconsistentGroupProtocol {
                        Duration::from_secs(1)
                    } else {
                        Duration::from_millis(200)
                    };
                    tokio::time::sleep(pause).await;
                    continue;
                }
            } else if has_topics {
                let request = {
                    let m = self.member.lock();
                    HeartbeatRequest {
                        group_id: self.group.clone(),
                        generation_id: m.generation,
                        member_id: m.member_id.clone(),
                        group_instance_id: None,
                    }
                };
                match groups.heartbeat(request) {
                    Ok(()) => {}
                    Err(GroupError::RebalanceInProgress) => {
                        self.member.lock().needs_join = true;
                        continue;
                    }
                    Err(GroupError::UnknownMemberId) => {
                        let mut m = self.member.lock();
                        m.member_id.clear();
                        m.needs_join = true;
                        continue;
                    }
                    Err(_) => {
                        self.member.lock().needs_join = true;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Manually assigns `partitions` (REST Proxy's `POST …/assignments`): no group membership;
    /// positions start at the committed offsets, else per `auto.offset.reset`.
    pub fn assign(
        &self,
        partitions: Vec<(String, i32)>,
        broker: &Broker,
        groups: &GroupCoordinator,
    ) {
        let mut m = self.member.lock();
        m.manual = true;
        m.positions.clear();
        self.start_positions(&mut m, &partitions, broker, groups);
        m.assignment = partitions;
    }

    /// A pattern subscription's topics now; a change makes the task rejoin.
    fn refresh_pattern(&self) {
        let Some(resolver) = self.resolver.lock().clone() else {
            return;
        };
        let topics = resolver();
        let mut m = self.member.lock();
        if topics != m.topics {
            m.topics = topics;
            m.needs_join = true;
        }
    }

    /// Positions of newly assigned partitions: the group's committed offset, else the reset
    /// policy.
    fn start_positions(
        &self,
        m: &mut Member,
        partitions: &[(String, i32)],
        broker: &Broker,
        groups: &GroupCoordinator,
    ) {
        let mut wanted: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in partitions {
            wanted.entry(t.clone()).or_default().push(*p);
        }
        let wanted: Vec<TopicPartitions> = wanted
            .into_iter()
            .map(|(topic, partitions)| TopicPartitions { topic, partitions })
            .collect();
        let committed = groups.fetch_offsets(&self.group, Some(&wanted));
        for (topic, partition) in partitions {
            let key = (topic.clone(), *partition);
            if m.positions.contains_key(&key) {
                continue;
            }
            let committed = committed
                .iter()
                .find(|c| &c.topic == topic && c.partition == *partition)
                .map(|c| c.offset)
                .filter(|o| *o >= 0);
            let position = committed.unwrap_or_else(|| {
                broker
                    .partition(topic, *partition)
                    .map(|p| match self.reset {
                        OffsetReset::Earliest => p.log_start_offset(),
                        OffsetReset::Latest => p.last_stable_offset(),
                        OffsetReset::Fail => UNDEFINED,
                    })
                    .unwrap_or(0)
            });
            m.positions.insert(key, position);
        }
    }

    async fn join(
        &self,
        broker: &Arc<Broker>,
        groups: &GroupCoordinator,
    ) -> Result<(), GroupError> {
        let (member_id, topics) = {
            let m = self.member.lock();
            (m.member_id.clone(), m.topics.clone())
        };
        let subscription = Subscription {
            topics: topics.clone(),
            ..Subscription::default()
        };
        let mut request = JoinGroupRequest {
            group_id: self.group.clone(),
            member_id,
            group_instance_id: None,
            client_id: format!("strom-http/{}", self.name),
            client_host: "http".into(),
            session_timeout: SESSION_TIMEOUT,
            rebalance_timeout: REBALANCE_TIMEOUT,
            protocol_type: "consumer".into(),
            protocols: vec![GroupProtocol {
                name: "range".into(),
                metadata: encode_subscription(&subscription),
            }],
            require_known_member_id: false,
            supports_skip_assignment: false,
        };
        let joined = match groups.join_group(request.clone()).await {
            Err(GroupError::MemberIdRequired { member_id }) => {
                request.member_id = member_id;
                groups.join_group(request).await?
            }
            other => other?,
        };
        let assignments = if joined.is_leader() {
            leader_range_assignments(&joined, |t| broker.topic(t).map(|t| t.partition_count()))?
        } else {
            Vec::new()
        };
        let synced = groups
            .sync_group(SyncGroupRequest {
                group_id: self.group.clone(),
                generation_id: joined.generation_id,
                member_id: joined.member_id.clone(),
                group_instance_id: None,
                protocol_type: Some("consumer".into()),
                protocol_name: joined.protocol_name.clone(),
                assignments,
            })
            .await?;
        let assignment = if synced.assignment.is_empty() {
            Default::default()
        } else {
            decode_assignment(&synced.assignment)?
        };
        let partitions: Vec<(String, i32)> = assignment
            .partitions
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect();
        let mut m = self.member.lock();
        m.member_id = joined.member_id;
        m.generation = joined.generation_id;
        m.needs_join = false;
        m.positions.retain(|k, _| partitions.contains(k));
        self.start_positions(&mut m, &partitions, broker, groups);
        m.assignment = partitions;
        tracing::info!(group = %self.group, instance = %self.name, generation = m.generation, partitions = m.assignment.len(), "HTTP consumer joined");
        Ok(())
    }
}

fn leave(groups: &GroupCoordinator, group: &str, member_id: String) {
    if member_id.is_empty() {
        return;
    }
    let _ = groups.leave_group(
        group,
        &[LeavingMember {
            member_id,
            group_instance_id: None,
        }],
    );
}
