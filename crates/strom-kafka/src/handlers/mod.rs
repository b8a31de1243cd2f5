//! Request dispatch: one module per Kafka API, each turning a decoded request into broker
//! calls and a response. Handlers never see bytes or sockets, and never choose an error code
//! for a broker error themselves (that is `crate::errors`).
//!
//! ## Adding an API (as the group APIs were added)
//! 1. Write `handlers/<api>.rs` with a `handle` function taking the [`Context`], the request
//!    version and the decoded request, returning the response struct. Blocking broker calls
//!    (anything that may touch disk) run through [`blocking`]; pure async ones are awaited.
//!    Only set response fields that exist in the version being answered: the codec refuses
//!    to encode a field the version cannot carry.
//! 2. Add one match arm to [`dispatch`].
//! 3. Add one `(ApiKey::X, min, max)` entry to `SUPPORTED_APIS` in `versions.rs`; that both
//!    advertises the API in ApiVersions and lets the decoder accept it. (The body decoder in
//!    `count_guard.rs` already knows the group and transaction APIs; any other new API is
//!    one more line in its `decode_kind` list.)
//!
//! `tests/server.rs` then calls the new API at every advertised version automatically once
//! it has a sample request there, and `tests/decode_robustness.rs` fuzzes its decoding.
//!
//! Requests on one connection are handled strictly one after another (see `connection.rs`),
//! so a handler may assume no other request of the same connection runs concurrently.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use strom_auth::Session;
use strom_broker::{Broker, GroupCoordinator};
use tokio::sync::watch;
use tracing::Instrument;

use crate::codec::{api_versions_fallback, encode_response, DecodedRequest, RequestBody};
use crate::KafkaConfig;

mod acls;
mod api_versions;
mod auth;
mod client_quotas;
mod common;
mod configs;
mod consumer_group_describe;
mod consumer_group_heartbeat;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_groups;
mod fetch;
mod fetch_read;
mod find_coordinator;
mod group_common;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod scram_credentials;
mod single_node;
mod sync_group;
mod throttle;
mod txn;
mod txn_admin;

/// What every handler may use.
pub struct Context {
    pub broker: Arc<Broker>,
    /// The group coordinator, shared with the other front ends.
    pub groups: GroupCoordinator,
    pub config: KafkaConfig,
    /// Becomes true on server shutdown; long polls return early on it.
    pub shutdown: watch::Receiver<bool>,
}

/// Handles one decoded request; returns the complete response frame, or `None` when the
/// protocol wants no answer (Produce with acks=0).
/// Errors: a handler failed unexpectedly (panicked, or built an unencodable response); the
/// connection is closed. `session` is who sent it (its address is what group members
/// report as their host). `mute` is set to how long the connection must stop reading after
/// sending the response, when the client is over a quota (KIP-219).
pub async fn respond(
    ctx: &Arc<Context>,
    request: DecodedRequest,
    session: &Session,
    mute: &mut Duration,
) -> anyhow::Result<Option<BytesMut>> {
    let started = std::time::Instant::now();
    let (api, header) = (request.api_key, request.header.clone());
    // Audit lines written while handling name the API (the span's field).
    let span = tracing::info_span!("kafka", api = ?api);
    let response = respond_inner(ctx, request, session, mute)
        .instrument(span)
        .await;
    let name = format!("{api:?}");
    let outcome = if response.is_ok() { "ok" } else { "failed" };
    metrics::counter!("strom_kafka_requests_total", "api" => name.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("strom_kafka_request_duration_seconds", "api" => name)
        .record(started.elapsed().as_secs_f64());
    // Fetch time is mostly its long-poll wait, which uses no handler.
    if api != ApiKey::Fetch {
        let busy = throttle::request_time(ctx, session, &header, started.elapsed());
        *mute = (*mute).max(busy);
    }
    response
}

async fn respond_inner(
    ctx: &Arc<Context>,
    request: DecodedRequest,
    session: &Session,
    mute: &mut Duration,
) -> anyhow::Result<Option<BytesMut>> {
    let correlation_id = request.header.correlation_id;
    let version = request.header.request_api_version;
    match request.body {
        RequestBody::ApiVersionsTooNew => Ok(Some(api_versions_fallback(
            correlation_id,
            ctx.config.protocol.is_sasl(),
        )?)),
        RequestBody::Request(kind) => {
            match dispatch(ctx, &request.header, *kind, session, mute).await? {
                Some(response) => {
                    crate::error_metrics::count(&format!("{:?}", request.api_key), &response);
                    Ok(Some(encode_response(
                        request.api_key,
                        version,
                        correlation_id,
                        &response,
                    )?))
                }
                None => Ok(None),
            }
        }
    }
}

/// One arm per served API.
async fn dispatch(
    ctx: &Arc<Context>,
    header: &RequestHeader,
    request: RequestKind,
    session: &Session,
    mute: &mut Duration,
) -> anyhow::Result<Option<ResponseKind>> {
    let v = header.request_api_version;
    let peer = session.peer;
    let access = auth::Access::new(&ctx.config.security, session);
    let a = access.clone();
    let response = match request {
        RequestKind::ApiVersions(req) => {
            let sasl = ctx.config.protocol.is_sasl();
            ResponseKind::ApiVersions(api_versions::handle(v, req, sasl))
        }
        RequestKind::Metadata(req) => {
            ResponseKind::Metadata(blocking(ctx, move |c| metadata::handle(c, &a, v, req)).await?)
        }
        RequestKind::Produce(req) => {
            let bytes = throttle::produce_bytes(&req);
            let mut response = produce::handle(ctx, &access, v, req).await?;
            *mute = throttle::produce(ctx, session, header, bytes, response.as_mut());
            return Ok(response.map(ResponseKind::Produce));
        }
        RequestKind::Fetch(mut req) => {
            throttle::cap_fetch(ctx, session, header, &mut req);
            let (response, delay) = fetch::handle(ctx, &access, header, req).await?;
            *mute = delay;
            ResponseKind::Fetch(response)
        }
        RequestKind::ListOffsets(req) => ResponseKind::ListOffsets(
            blocking(ctx, move |c| list_offsets::handle(c, &a, v, req)).await?,
        ),
        RequestKind::CreateTopics(req) => ResponseKind::CreateTopics(
            blocking(ctx, move |c| create_topics::handle(c, &a, v, req)).await?,
        ),
        RequestKind::DeleteTopics(req) => ResponseKind::DeleteTopics(
            blocking(ctx, move |c| delete_topics::handle(c, &a, v, req)).await?,
        ),
        RequestKind::CreatePartitions(req) => ResponseKind::CreatePartitions(
            blocking(ctx, move |c| create_partitions::handle(c, &a, v, req)).await?,
        ),
        RequestKind::DeleteRecords(req) => ResponseKind::DeleteRecords(
            blocking(ctx, move |c| delete_records::handle(c, &a, v, req)).await?,
        ),
        RequestKind::DescribeConfigs(req) => ResponseKind::DescribeConfigs(
            blocking(ctx, move |c| configs::describe(c, &a, v, req)).await?,
        ),
        RequestKind::AlterConfigs(req) => {
            ResponseKind::AlterConfigs(blocking(ctx, move |c| configs::alter(c, &a, v, req)).await?)
        }
        RequestKind::IncrementalAlterConfigs(req) => ResponseKind::IncrementalAlterConfigs(
            blocking(ctx, move |c| configs::incremental_alter(c, &a, v, req)).await?,
        ),
        RequestKind::OffsetForLeaderEpoch(req) => ResponseKind::OffsetForLeaderEpoch(
            offset_for_leader_epoch::handle(ctx, &access, v, req),
        ),
        RequestKind::DescribeLogDirs(req) => ResponseKind::DescribeLogDirs(
            blocking(ctx, move |c| single_node::describe_log_dirs(c, &a, v, req)).await?,
        ),
        RequestKind::ElectLeaders(req) => {
            ResponseKind::ElectLeaders(single_node::elect_leaders(ctx, &access, v, req))
        }
        RequestKind::AlterPartitionReassignments(req) => ResponseKind::AlterPartitionReassignments(
            single_node::alter_reassignments(ctx, &access, v, req),
        ),
        RequestKind::ListPartitionReassignments(req) => ResponseKind::ListPartitionReassignments(
            single_node::list_reassignments(ctx, &access, v, req),
        ),
        RequestKind::DescribeCluster(req) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(ctx, &access, v, req))
        }
        RequestKind::InitProducerId(req) => ResponseKind::InitProducerId(
            blocking(ctx, move |c| init_producer_id::handle(c, &a, v, req)).await?,
        ),
        RequestKind::FindCoordinator(req) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(ctx, &access, v, req))
        }
        RequestKind::JoinGroup(req) => {
            let client_id = header.client_id.as_deref().unwrap_or_default();
            ResponseKind::JoinGroup(join_group::handle(ctx, &access, v, client_id, peer, req).await)
        }
        RequestKind::SyncGroup(req) => {
            ResponseKind::SyncGroup(sync_group::handle(ctx, &access, v, req).await)
        }
        RequestKind::Heartbeat(req) => {
            ResponseKind::Heartbeat(heartbeat::handle(ctx, &access, v, req))
        }
        RequestKind::LeaveGroup(req) => {
            ResponseKind::LeaveGroup(leave_group::handle(ctx, &access, v, req))
        }
        RequestKind::ConsumerGroupHeartbeat(req) => {
            let client_id = header.client_id.as_deref().unwrap_or_default();
            ResponseKind::ConsumerGroupHeartbeat(consumer_group_heartbeat::handle(
                ctx, &access, client_id, peer, req,
            ))
        }
        RequestKind::ConsumerGroupDescribe(req) => ResponseKind::ConsumerGroupDescribe(
            consumer_group_describe::handle(ctx, &access, v, req),
        ),
        RequestKind::OffsetCommit(req) => {
            ResponseKind::OffsetCommit(offset_commit::handle(ctx, &access, v, req).await)
        }
        RequestKind::OffsetFetch(req) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(ctx, &access, v, req))
        }
        RequestKind::OffsetDelete(req) => {
            ResponseKind::OffsetDelete(offset_delete::handle(ctx, &access, v, req).await)
        }
        RequestKind::ListGroups(req) => {
            ResponseKind::ListGroups(list_groups::handle(ctx, &access, v, req))
        }
        RequestKind::DescribeGroups(req) => {
            ResponseKind::DescribeGroups(describe_groups::handle(ctx, &access, v, req))
        }
        RequestKind::DeleteGroups(req) => {
            ResponseKind::DeleteGroups(delete_groups::handle(ctx, &access, v, req).await)
        }
        RequestKind::DescribeAcls(req) => {
            ResponseKind::DescribeAcls(acls::describe(&access, v, req))
        }
        RequestKind::CreateAcls(req) => {
            ResponseKind::CreateAcls(blocking(ctx, move |_| acls::create(&a, v, req)).await?)
        }
        RequestKind::DeleteAcls(req) => {
            ResponseKind::DeleteAcls(blocking(ctx, move |_| acls::delete(&a, v, req)).await?)
        }
        RequestKind::DescribeClientQuotas(req) => {
            ResponseKind::DescribeClientQuotas(client_quotas::describe(ctx, session, req))
        }
        RequestKind::AlterClientQuotas(req) => {
            let session = session.clone();
            ResponseKind::AlterClientQuotas(
                blocking(ctx, move |c| client_quotas::alter(c, &session, req)).await?,
            )
        }
        RequestKind::DescribeUserScramCredentials(req) => {
            let session = session.clone();
            ResponseKind::DescribeUserScramCredentials(
                blocking(ctx, move |c| scram_credentials::describe(c, &session, req)).await?,
            )
        }
        RequestKind::AlterUserScramCredentials(req) => {
            let session = session.clone();
            ResponseKind::AlterUserScramCredentials(
                blocking(ctx, move |c| scram_credentials::alter(c, &session, req)).await?,
            )
        }
        RequestKind::AddPartitionsToTxn(req) => ResponseKind::AddPartitionsToTxn(
            blocking(ctx, move |c| txn::add_partitions(c, &a, v, req)).await?,
        ),
        RequestKind::AddOffsetsToTxn(req) => ResponseKind::AddOffsetsToTxn(
            blocking(ctx, move |c| txn::add_offsets(c, &a, v, req)).await?,
        ),
        RequestKind::TxnOffsetCommit(req) => ResponseKind::TxnOffsetCommit(
            blocking(ctx, move |c| txn::offset_commit(c, &a, v, req)).await?,
        ),
        RequestKind::EndTxn(req) => {
            ResponseKind::EndTxn(blocking(ctx, move |c| txn::end(c, &a, v, req)).await?)
        }
        RequestKind::DescribeTransactions(req) => ResponseKind::DescribeTransactions(
            txn_admin::describe_transactions(ctx, &access, v, req),
        ),
        RequestKind::ListTransactions(req) => {
            ResponseKind::ListTransactions(txn_admin::list_transactions(ctx, &access, v, req))
        }
        RequestKind::DescribeProducers(req) => {
            ResponseKind::DescribeProducers(txn_admin::describe_producers(ctx, &access, v, req))
        }
        // The decoder only lets through APIs listed in `SUPPORTED_APIS`; reaching this arm
        // means an entry was added there without its match arm here.
        other => anyhow::bail!("no handler for {other:?}"),
    };
    Ok(Some(response))
}

/// Runs a handler that makes blocking broker calls (disk I/O, fsync) off the async workers.
/// Errors: the handler panicked.
pub async fn blocking<T, F>(ctx: &Arc<Context>, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Context) -> T + Send + 'static,
{
    let ctx = Arc::clone(ctx);
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || span.in_scope(|| f(&ctx))).await?)
}
