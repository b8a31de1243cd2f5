//! Connection limits and timeouts of the Kafka and HTTP front ends; defaults are those of
//! the front ends (`strom_kafka::DEFAULT_*`, `strom_http::DEFAULT_*`, `ConnectionLimitsConfig`).

use super::file::FileConfig;
use super::ConfigError;

/// Connection limits and timeouts from the file; defaults are those of the front ends.
pub(super) struct ConnectionSettings {
    pub(super) limits: strom_broker::ConnectionLimitsConfig,
    pub(super) idle_ms: u64,
    pub(super) queued_bytes: usize,
    pub(super) max_frame_bytes: usize,
    pub(super) header_read_timeout_ms: u64,
}

pub(super) fn connection_settings(file: &FileConfig) -> anyhow::Result<ConnectionSettings> {
    let defaults = strom_broker::ConnectionLimitsConfig::default();
    let mut overrides = std::collections::HashMap::new();
    for (address, limit) in file.max_connections_per_ip_overrides.iter().flatten() {
        let Ok(ip) = address.parse::<std::net::IpAddr>() else {
            bail!("max_connections_per_ip_overrides: '{address}' is not an IP address");
        };
        overrides.insert(ip.to_canonical(), *limit);
    }
    let limits = strom_broker::ConnectionLimitsConfig {
        max_connections: file.max_connections.unwrap_or(defaults.max_connections),
        max_connections_per_ip: file
            .max_connections_per_ip
            .unwrap_or(defaults.max_connections_per_ip),
        max_connections_per_ip_overrides: overrides,
    };
    let max_frame_bytes = file
        .max_frame_bytes
        .unwrap_or(strom_kafka::DEFAULT_MAX_FRAME_BYTES);
    let queued_bytes = file
        .queued_max_request_bytes
        .unwrap_or(strom_kafka::DEFAULT_QUEUED_MAX_REQUEST_BYTES);
    if queued_bytes < max_frame_bytes {
        bail!("queued_max_request_bytes ({queued_bytes}) must be at least max_frame_bytes ({max_frame_bytes})");
    }
    let idle_ms = file
        .connections_max_idle_ms
        .unwrap_or(strom_kafka::DEFAULT_CONNECTIONS_MAX_IDLE.as_millis() as u64);
    let header_read_timeout_ms = file
        .http_header_read_timeout_ms
        .unwrap_or(strom_http::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64);
    if limits.max_connections == 0 || limits.max_connections_per_ip == 0 {
        bail!("max_connections and max_connections_per_ip must be at least 1");
    }
    if idle_ms == 0 || header_read_timeout_ms == 0 {
        bail!("connections_max_idle_ms and http_header_read_timeout_ms must be greater than 0");
    }
    Ok(ConnectionSettings {
        limits,
        idle_ms,
        queued_bytes,
        max_frame_bytes,
        header_read_timeout_ms,
    })
}
