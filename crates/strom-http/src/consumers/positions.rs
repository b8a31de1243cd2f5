//! REST Proxy v2 positions: seek assigned partitions to offsets, to the beginning or the end.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use strom_auth::Session;

use super::handlers::{instance, parse_body, OffsetsBody, PartitionsBody};
use super::instance::Instance;
use crate::body::RawBody;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::RestError;
use crate::state::Shared;

fn assigned(inst: &Instance, topic: &str, partition: i32) -> ApiResult<()> {
    if inst
        .member
        .lock()
        .positions
        .contains_key(&(topic.to_string(), partition))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-assigned",
            format!("partition {partition} of '{topic}' is not assigned to this consumer"),
        )
        .code(40903)
        .rest())
    }
}

/// REST Proxy v2: seek assigned partitions to offsets.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((OffsetsBody = "application/vnd.kafka.v2+json"), (OffsetsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError),
              (status = 409, body = RestError), (status = 422, body = RestError)))]
pub async fn seek(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let req: OffsetsBody = parse_body(&body)?;
    for o in &req.offsets {
        assigned(&inst, &o.topic, o.partition)?;
        if o.offset < 0 {
            return Err(
                ApiError::unprocessable(format!("offset {} is negative", o.offset))
                    .code(42204)
                    .rest(),
            );
        }
    }
    let mut m = inst.member.lock();
    for o in req.offsets {
        m.positions.insert((o.topic, o.partition), o.offset);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn seek_edge(
    state: Shared,
    session: Session,
    group: String,
    name: String,
    body: &[u8],
    beginning: bool,
) -> ApiResult<StatusCode> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let req: PartitionsBody = parse_body(body)?;
    let mut moves = Vec::new();
    for tp in &req.partitions {
        assigned(&inst, &tp.topic, tp.partition)?;
        let p = state
            .broker
            .partition(&tp.topic, tp.partition)
            .map_err(|e| ApiError::from(e).rest())?;
        moves.push((
            (tp.topic.clone(), tp.partition),
            if beginning {
                p.log_start_offset()
            } else {
                p.last_stable_offset()
            },
        ));
    }
    let mut m = inst.member.lock();
    for (k, o) in moves {
        m.positions.insert(k, o);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// REST Proxy v2: seek partitions to their first retained offset.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/beginning", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((PartitionsBody = "application/vnd.kafka.v2+json"), (PartitionsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError), (status = 409, body = RestError)))]
pub async fn seek_beginning(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    seek_edge(state, session, group, name, &body, true).await
}

/// REST Proxy v2: seek partitions to their end.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/end", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((PartitionsBody = "application/vnd.kafka.v2+json"), (PartitionsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError), (status = 409, body = RestError)))]
pub async fn seek_end(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    seek_edge(state, session, group, name, &body, false).await
}
