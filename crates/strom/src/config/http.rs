//! HTTP front-end settings (request limits, access log, metrics labels, the console) and the
//! server's log filter and format. Defaults are here or in `strom_broker::telemetry` and
//! `strom_http::export::ConsoleConfig`.

use super::args::ServeArgs;
use super::file::FileConfig;
use super::ConfigError;

/// The resolved HTTP and logging settings.
pub(super) struct HttpSettings {
    pub(super) max_body_bytes: usize,
    pub(super) max_poll_timeout_ms: u64,
    pub(super) access_log: bool,
    pub(super) metrics_max_topic_labels: usize,
    pub(super) console: strom_http::export::ConsoleConfig,
    pub(super) log: String,
    pub(super) log_json: bool,
}

/// The HTTP and logging settings from flags and file, with their defaults.
pub(super) fn http_settings(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<HttpSettings> {
    let log_format = args
        .log_format
        .clone()
        .or(file.log_format.clone())
        .unwrap_or_else(|| "text".to_string());
    let log_json = match log_format.as_str() {
        "text" => false,
        "json" => true,
        other => bail!("invalid log format '{other}': expected text or json"),
    };
    Ok(HttpSettings {
        max_body_bytes: file.http_max_body_bytes.unwrap_or(8 * 1024 * 1024),
        max_poll_timeout_ms: file.http_max_poll_timeout_ms.unwrap_or(60_000),
        access_log: args
            .http_access_log
            .or(file.http_access_log)
            .unwrap_or(false),
        metrics_max_topic_labels: file
            .metrics_max_topic_labels
            .unwrap_or(strom_broker::telemetry::DEFAULT_MAX_TOPIC_LABELS),
        console: file.console.clone().unwrap_or_default(),
        log: args
            .log
            .clone()
            .or(file.log.clone())
            .unwrap_or_else(|| "info".to_string()),
        log_json,
    })
}
