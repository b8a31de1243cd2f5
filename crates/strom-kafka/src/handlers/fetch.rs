//! Fetch: reads whole stored batches (bytes as produced, never re-encoded) from several
//! topics/partitions, honouring `max_bytes`, `partition_max_bytes`, `min_bytes` and
//! `max_wait_ms`; the read pass itself is `fetch_read.rs`.
//!
//! Topics are resolved and authorized (Read on the topic) once per request, not per
//! partition. Long polling is event-driven: the handler subscribes to each requested
//! topic's change watcher (one per topic, whatever its partition count) *before* reading,
//! and waits for any of them to change (or the deadline, or shutdown) before reading again.
//! It never sleeps in a loop.
//!
//! Fetch sessions (KIP-227, `crate::fetch_sessions`): epoch 0 answers in full and opens a
//! session (its id in the answer), a later epoch names only the partitions whose position
//! changed and those to forget, and is answered with only the partitions that have records,
//! an error or changed offsets. Partitions are re-authorized on every fetch. A throttled
//! answer carries no data and opens or updates no session, as in Kafka.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader, TopicName};
use kafka_protocol::ResponseError;
use strom_auth::Operation;
use strom_broker::tiering::RemoteRead;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::auth::Access;
use super::common::topic_by_id;
use super::fetch_read::{read_all, remote_reads, PartitionTarget, TopicTarget};
use super::{blocking, throttle, Context};
use crate::fetch_sessions::{Begin, Cached, PartitionKey, Sent};

/// The request's limits.
struct Limits {
    min_bytes: usize,
    max_bytes: usize,
    deadline: Instant,
    committed: bool,
}

/// Answers a Fetch, charged to the client's quota: the response and how long the connection
/// must stay muted. Errors: a blocking read panicked.
pub async fn handle(
    ctx: &Arc<Context>,
    access: &Access,
    header: &RequestHeader,
    mut request: FetchRequest,
) -> anyhow::Result<(FetchResponse, Duration)> {
    let version = header.request_api_version;
    let begin = match begin_session(ctx, access, version, &request) {
        Ok(begin) => begin,
        Err(code) => {
            let response = FetchResponse::default().with_error_code(code.code());
            return Ok((response, Duration::ZERO));
        }
    };
    let topics = match &begin {
        Begin::Incremental { partitions, .. } => session_topics(partitions),
        Begin::Sessionless | Begin::New => std::mem::take(&mut request.topics),
    };
    let limits = Limits {
        min_bytes: usize::try_from(request.min_bytes).unwrap_or(0),
        max_bytes: usize::try_from(request.max_bytes).unwrap_or(0),
        deadline: Instant::now()
            + Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)),
        committed: request.isolation_level == 1,
    };
    let targets = Arc::new(resolve(ctx, access, version, topics));
    let topics = read_until_ready(ctx, version, &targets, &limits).await?;
    Ok(finish(ctx, access, header, begin, &targets, topics))
}

/// Fetch v7+ names a session; older versions always fetch in full.
fn begin_session(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: &FetchRequest,
) -> Result<Begin, ResponseError> {
    if version < 7 {
        return Ok(Begin::Sessionless);
    }
    let uses_ids = version >= 13;
    let updates = request.topics.iter().flat_map(|t| {
        t.partitions.iter().map(move |p| {
            let key = key(uses_ids, &t.topic, t.topic_id, p.partition);
            (key, p.fetch_offset, p.partition_max_bytes)
        })
    });
    let forgotten = request.forgotten_topics_data.iter().flat_map(|t| {
        t.partitions
            .iter()
            .map(move |p| key(uses_ids, &t.topic, t.topic_id, *p))
    });
    ctx.config.fetch_sessions.begin(
        &access.session().principal,
        uses_ids,
        (request.session_id, request.session_epoch),
        updates,
        forgotten,
        std::time::Instant::now(),
    )
}

/// A session's partition key: the topic id from v13 on, else the name.
fn key(uses_ids: bool, name: &TopicName, id: Uuid, partition: i32) -> PartitionKey {
    if uses_ids {
        (id, TopicName::default(), partition)
    } else {
        (Uuid::nil(), name.clone(), partition)
    }
}

/// The session's partitions as a request's topics (consecutive partitions of one topic
/// together), in the session's order.
fn session_topics(partitions: &[(PartitionKey, Cached)]) -> Vec<FetchTopic> {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for ((id, name, index), cached) in partitions {
        let partition = FetchPartition::default()
            .with_partition(*index)
            .with_fetch_offset(cached.fetch_offset)
            .with_partition_max_bytes(cached.max_bytes);
        match topics.last_mut() {
            Some(t) if t.topic_id == *id && t.topic == *name => t.partitions.push(partition),
            _ => topics.push(
                FetchTopic::default()
                    .with_topic(name.clone())
                    .with_topic_id(*id)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    topics
}

/// Reads until the answer holds `min_bytes`, a partition failed or is pending in the remote
/// tier, the deadline passed, or shutdown began.
async fn read_until_ready(
    ctx: &Arc<Context>,
    version: i16,
    targets: &Arc<Vec<TopicTarget>>,
    limits: &Limits,
) -> anyhow::Result<Vec<FetchableTopicResponse>> {
    // Subscribed before the first read, so an append between a read and the wait below
    // still wakes us.
    let mut watchers: Vec<watch::Receiver<u64>> = targets
        .iter()
        .filter_map(|t| t.topic.as_ref().map(|topic| topic.subscribe()))
        .collect();
    let mut shutdown = ctx.shutdown.clone();
    let (max_bytes, committed) = (limits.max_bytes, limits.committed);
    loop {
        for w in &mut watchers {
            w.borrow_and_update();
        }
        let remote = remote_reads(targets, max_bytes).await;
        // A remote read still running after remote.fetch.max.wait.ms answers the fetch now.
        let pending = remote.iter().any(|(_, r)| matches!(r, RemoteRead::Pending));
        let read_targets = Arc::clone(targets);
        let (topics, total, failed) = blocking(ctx, move |_| {
            read_all(version, &read_targets, max_bytes, committed, remote)
        })
        .await?;
        let done = total >= limits.min_bytes
            || failed
            || pending
            || watchers.is_empty()
            || Instant::now() >= limits.deadline
            || *shutdown.borrow();
        if done {
            return Ok(topics);
        }
        wait_any(&watchers, limits.deadline, &mut shutdown).await;
    }
}

fn resolve(
    ctx: &Context,
    access: &Access,
    version: i16,
    topics: Vec<FetchTopic>,
) -> Vec<TopicTarget> {
    topics
        .into_iter()
        .map(|t| {
            let (topic, missing) = if version >= 13 {
                (
                    topic_by_id(&ctx.broker, t.topic_id),
                    ResponseError::UnknownTopicId,
                )
            } else {
                (
                    ctx.broker.topic(&t.topic),
                    ResponseError::UnknownTopicOrPartition,
                )
            };
            // Read on the topic, checked before its existence so a denied client cannot
            // tell whether it exists (by id: only an existing topic has a name to check).
            let name = topic
                .as_ref()
                .map_or(t.topic.0.as_str(), |topic| topic.name());
            let denied = (topic.is_some() || version < 13) && !access.topic(Operation::Read, name);
            // The topic's partitions taken once, not looked up one by one.
            let all = topic.as_ref().map(|t| t.partitions()).unwrap_or_default();
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| PartitionTarget {
                    index: p.partition,
                    partition: match &topic {
                        _ if denied => Err(ResponseError::TopicAuthorizationFailed),
                        None => Err(missing),
                        Some(_) => usize::try_from(p.partition)
                            .ok()
                            .and_then(|i| all.get(i).cloned())
                            .ok_or(ResponseError::UnknownTopicOrPartition),
                    },
                    offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                })
                .collect();
            TopicTarget {
                name: t.topic,
                id: t.topic_id,
                topic: topic.filter(|_| !denied),
                partitions,
            }
        })
        .collect()
}

/// Charges the answer to the quota, then opens or updates the session unless throttled.
fn finish(
    ctx: &Context,
    access: &Access,
    header: &RequestHeader,
    begin: Begin,
    targets: &[TopicTarget],
    topics: Vec<FetchableTopicResponse>,
) -> (FetchResponse, Duration) {
    let session = access.session();
    let sessions = &ctx.config.fetch_sessions;
    let uses_ids = header.request_api_version >= 13;
    let kind = match &begin {
        Begin::Sessionless => "none",
        Begin::New => "new",
        Begin::Incremental { .. } => "incremental",
    };
    metrics::counter!("strom_kafka_fetches_total", "session" => kind).increment(1);
    match begin {
        Begin::Sessionless => {
            let response = FetchResponse::default().with_responses(topics);
            throttle::fetch(ctx, session, header, response)
        }
        Begin::New => {
            let response = FetchResponse::default().with_responses(topics);
            let (mut response, delay) = throttle::fetch(ctx, session, header, response);
            if delay.is_zero() {
                let sent = sent_partitions(uses_ids, targets, &response.responses);
                let now = std::time::Instant::now();
                response.session_id = sessions.create(&session.principal, uses_ids, sent, now);
            }
            (response, delay)
        }
        Begin::Incremental {
            id,
            epoch,
            partitions,
        } => {
            let (topics, sent) = changed_only(topics, &partitions);
            let response = FetchResponse::default()
                .with_responses(topics)
                .with_session_id(id);
            let (response, delay) = throttle::fetch(ctx, session, header, response);
            if delay.is_zero() {
                sessions.commit(id, epoch, &sent);
            }
            (response, delay)
        }
    }
}

/// What a full answer sent, as a new session's partitions.
fn sent_partitions(
    uses_ids: bool,
    targets: &[TopicTarget],
    topics: &[FetchableTopicResponse],
) -> IndexMap<PartitionKey, Cached> {
    let mut out = IndexMap::new();
    for (t, answer) in targets.iter().zip(topics) {
        for (p, data) in t.partitions.iter().zip(&answer.partitions) {
            let max_bytes = i32::try_from(p.max_bytes).unwrap_or(i32::MAX);
            let mut cached = Cached::unsent(p.offset, max_bytes);
            if data.error_code == 0 {
                cached.high_watermark = data.high_watermark;
                cached.last_stable_offset = data.last_stable_offset;
                cached.log_start_offset = data.log_start_offset;
            }
            out.insert(key(uses_ids, &t.name, t.id, p.index), cached);
        }
    }
    out
}

/// An incremental answer: only the partitions with records, an error, or offsets that
/// differ from what the session last sent. `read` is in the session's order.
fn changed_only(
    read: Vec<FetchableTopicResponse>,
    session: &[(PartitionKey, Cached)],
) -> (Vec<FetchableTopicResponse>, Vec<Sent>) {
    let mut session = session.iter();
    let mut sent = Vec::new();
    let mut topics = Vec::new();
    for mut topic in read {
        topic.partitions.retain(|data| {
            let Some((key, cached)) = session.next() else {
                return false;
            };
            let records = data.records.as_ref().is_some_and(|r| !r.is_empty());
            let error = data.error_code != 0;
            let changed = data.high_watermark != cached.high_watermark
                || data.last_stable_offset != cached.last_stable_offset
                || data.log_start_offset != cached.log_start_offset;
            if records || error || changed {
                sent.push(Sent {
                    key: key.clone(),
                    high_watermark: data.high_watermark,
                    last_stable_offset: data.last_stable_offset,
                    log_start_offset: data.log_start_offset,
                    error,
                    records,
                });
            }
            records || error || changed
        });
        if !topic.partitions.is_empty() {
            topics.push(topic);
        }
    }
    (topics, sent)
}

/// Waits until any watched topic changes, the deadline passes or shutdown starts.
async fn wait_any(
    watchers: &[watch::Receiver<u64>],
    deadline: Instant,
    shutdown: &mut watch::Receiver<bool>,
) {
    // Clones share the "seen" version of the originals, which the caller marked before its
    // read, so a change since then completes `changed()` at once. Dropping the set aborts the
    // remaining waiters.
    let mut changed = JoinSet::new();
    for w in watchers {
        let mut w = w.clone();
        changed.spawn(async move {
            if w.changed().await.is_err() {
                // The topic went away (deleted): nothing more will come; park.
                std::future::pending::<()>().await;
            }
        });
    }
    tokio::select! {
        _ = changed.join_next() => {}
        _ = tokio::time::sleep_until(deadline) => {}
        _ = async {
            if shutdown.changed().await.is_err() {
                // The server dropped its shutdown sender: only the deadline can end the wait.
                std::future::pending::<()>().await;
            }
        } => {}
    }
}
