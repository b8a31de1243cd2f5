//! `DELETE /v1/topics/{topic}/partitions/{partition}/records?before=N`: deletes a
//! partition's records before an offset by moving its log start there, as Kafka's
//! DeleteRecords (`kafka-delete-records`) does; `before=-1` deletes up to the high
//! watermark. Needs Delete on the topic (route rule), as Kafka's DeleteRecords. Internal
//! topics refuse it (`strom-broker/src/internal.rs`).

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteRecordsParams {
    /// Delete every record before this offset (`-1`: up to the high watermark).
    pub before: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteRecordsResponse {
    pub partition: i32,
    /// The partition's log start offset after the deletion.
    pub low_watermark: i64,
}

/// Delete a partition's records before an offset.
#[utoipa::path(delete, path = "/v1/topics/{topic}/partitions/{partition}/records", tag = "records",
    params(("topic" = String, Path), ("partition" = i32, Path), DeleteRecordsParams),
    responses((status = 200, body = DeleteRecordsResponse),
              (status = 400, description = "Offset out of range", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Unknown topic or partition", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    Path((topic, partition)): Path<(String, i32)>,
    Query(params): Query<DeleteRecordsParams>,
) -> ApiResult<Json<DeleteRecordsResponse>> {
    let p = state.broker.partition(&topic, partition)?;
    let high_watermark = p.high_watermark();
    let before = if params.before == -1 {
        high_watermark
    } else {
        params.before
    };
    if before < 0 || before > high_watermark {
        return Err(ApiError::bad_request(format!(
            "before must be -1 or between 0 and the high watermark {high_watermark}"
        )));
    }
    let low_watermark = p.delete_records_before(before)?;
    tracing::info!(topic = %topic, partition, low_watermark, "records deleted over HTTP");
    Ok(Json(DeleteRecordsResponse {
        partition,
        low_watermark,
    }))
}
