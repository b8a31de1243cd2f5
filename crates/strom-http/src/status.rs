//! `GET /v1/status`: what `strom status` shows an operator: the server's version, its
//! listeners with their connections, the data directory's disk and counts of topics and
//! groups, and its uptime. Describe on the cluster (route rule). No server paths in the answer.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use strom_broker::DiskState;
use utoipa::ToSchema;

use crate::state::Shared;

#[derive(Debug, Serialize, ToSchema)]
pub struct ListenerStatus {
    /// `kafka` or `http`.
    pub frontend: String,
    pub listener: String,
    pub open_connections: u64,
    pub max_connections: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiskStatus {
    /// `writable`, `low-space` (writes refused) or `read-only`.
    pub state: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// Writes are refused below this.
    pub min_free_bytes: u64,
    pub poisoned_partitions: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerStatus {
    pub version: String,
    pub node_id: i32,
    pub auto_create_topics: bool,
    pub listeners: Vec<ListenerStatus>,
    pub disk: DiskStatus,
    pub topics: usize,
    pub groups: usize,
    /// Seconds since the server process started (`null` where `/proc` is not available).
    pub uptime_seconds: Option<u64>,
}

/// The server's version, listeners, disk and counts.
#[utoipa::path(get, path = "/v1/status", tag = "meta",
    responses((status = 200, body = ServerStatus)))]
pub async fn status(State(state): State<Shared>) -> Json<ServerStatus> {
    let storage = state.broker.storage_status();
    let listeners = state
        .broker
        .listeners()
        .snapshot()
        .into_iter()
        .map(|l| ListenerStatus {
            frontend: l.frontend.to_string(),
            listener: l.listener,
            open_connections: l.open_connections,
            max_connections: l.max_connections,
        })
        .collect();
    let groups = state
        .consumers
        .as_ref()
        .map_or(0, |c| c.groups.list_groups(&[], &[]).len());
    Json(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        node_id: state.broker.config().node_id,
        auto_create_topics: state.broker.config().auto_create_topics,
        listeners,
        disk: DiskStatus {
            state: match storage.state {
                DiskState::Writable => "writable",
                DiskState::LowSpace => "low-space",
                DiskState::ReadOnly => "read-only",
            }
            .to_string(),
            free_bytes: storage.free_bytes,
            total_bytes: storage.total_bytes,
            min_free_bytes: storage.min_free_bytes,
            poisoned_partitions: storage.poisoned_partitions,
        },
        topics: state
            .broker
            .topics()
            .iter()
            .filter(|t| !strom_broker::is_internal_topic(t.name()))
            .count(),
        groups,
        uptime_seconds: uptime_seconds(),
    })
}

fn uptime_seconds() -> Option<u64> {
    let (_, start) = crate::metrics_process::cpu_and_start()?;
    let now = crate::timefmt::now_ms() as f64 / 1000.0;
    Some((now - start).max(0.0) as u64)
}
