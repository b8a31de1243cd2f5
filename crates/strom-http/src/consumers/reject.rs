//! REST Proxy v2 dead letters: `POST /consumers/{group}/instances/{instance}/records/reject`
//! sends records the instance fetched to the group's dead-letter topic `<group>.dlq` (the
//! webhooks' format, `strom-dlq-source: consumer-group`) and, with `"commit": true`, commits
//! past them so the group moves on. Needs Read on the group (route rule) and on each topic,
//! and Write on `<group>.dlq`; the instance must own each record's partition.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use strom_auth::{Operation, ResourceType};
use strom_webhooks::reports::{dead_letter_topic, Report};
use utoipa::ToSchema;

use super::handlers::{instance, parse_body, PartitionOffset};
use super::offsets::commit_positions;
use crate::authz::check;
use crate::body::RawBody;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::restproxy::v2_json;
use crate::schemas::RestError;
use crate::state::Shared;
use crate::webhooks::service;

/// One record to reject.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Why (1 to 1024 bytes): the `strom-dlq-reason` header.
    pub reason: String,
}

/// Body of `…/records/reject`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RejectBody {
    #[serde(default)]
    pub records: Vec<RejectRecord>,
    /// Also commit each partition past its highest rejected offset [default: false].
    #[serde(default)]
    pub commit: bool,
}

fn rest(err: strom_webhooks::WebhookError) -> ApiError {
    ApiError::from(err).rest()
}

/// REST Proxy v2 (Strom extension): reject records to the group's dead-letter topic
/// `<group>.dlq` (created on first use: one partition, `cleanup.policy=delete`) with their
/// original key, value, timestamp and headers plus `strom-dlq-*` headers (`source`
/// `consumer-group`, `topic`, `partition`, `offset`, `group`, `instance`, `reason`,
/// `principal`, `time`). The instance must own each partition (409); an offset outside the
/// log is 422. `"commit": true` commits past the highest rejected offset of each partition.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/records/reject", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((RejectBody = "application/vnd.kafka.v2+json"), (RejectBody = "application/json"))),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"),
              (status = 400, body = RestError), (status = 403, body = RestError),
              (status = 404, body = RestError), (status = 409, body = RestError),
              (status = 422, body = RestError)))]
pub async fn reject(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    let req: RejectBody = parse_body(&body)?;
    let dlq = dead_letter_topic(&group);
    for r in &req.records {
        check(
            &state,
            &session,
            Operation::Read,
            ResourceType::Topic,
            &r.topic,
        )
        .map_err(ApiError::rest)?;
    }
    check(
        &state,
        &session,
        Operation::Write,
        ResourceType::Topic,
        &dlq,
    )
    .map_err(ApiError::rest)?;
    {
        let member = inst.member.lock();
        let foreign = req.records.iter().find(|r| {
            !member
                .assignment
                .iter()
                .any(|(t, p)| *t == r.topic && *p == r.partition)
        });
        if let Some(r) = foreign {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not-assigned",
                format!(
                    "partition {}/{} is not assigned to this instance",
                    r.topic, r.partition
                ),
            )
            .code(40904)
            .rest());
        }
    }
    let svc = service(&state).map_err(ApiError::rest)?;
    let reports: Vec<Report> = req
        .records
        .iter()
        .map(|r| Report {
            topic: r.topic.clone(),
            partition: r.partition,
            offset: r.offset,
            reason: r.reason.clone(),
        })
        .collect();
    let principal = session.principal.to_string();
    let filed = svc
        .reject(&group, &name, &principal, reports)
        .await
        .map_err(rest)?;
    if req.commit {
        let mut past: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for f in &filed {
            let at = past
                .entry((f.topic.clone(), f.partition))
                .or_insert(f.offset);
            *at = (*at).max(f.offset);
        }
        advance_positions(&inst, &past);
        let explicit = past
            .into_iter()
            .map(|((topic, partition), offset)| PartitionOffset {
                topic,
                partition,
                offset,
            })
            .collect();
        commit_positions(&all, &inst, Some(explicit)).await?;
    }
    Ok(v2_json(json!({"dead_letter_topic": dlq, "records": filed})))
}

/// Moves the instance's fetch positions past the rejected offsets (never back).
fn advance_positions(inst: &super::instance::Instance, past: &BTreeMap<(String, i32), i64>) {
    let mut member = inst.member.lock();
    for (key, offset) in past {
        if let Some(pos) = member.positions.get_mut(key) {
            *pos = (*pos).max(offset + 1);
        }
    }
}
