//! The HTTP listener's authentication and CORS settings (`http_auth`, `http_auth_methods`,
//! `cors_allowed_origins`, ...). Defaults live in `strom_http::auth::HttpAuthConfig`; the
//! authorizer's and SASL's settings are in `config.rs` and `sasl_config.rs`.

use std::time::Duration;

use strom_http::auth::{AuthMethods, AuthMode, HttpAuthConfig};

use crate::config::ConfigError;

fn invalid(message: String) -> anyhow::Error {
    anyhow::Error::new(ConfigError(message))
}

/// The HTTP authentication keys of the file (and `http_auth` from flags).
pub struct HttpAuthFile {
    pub mode: Option<String>,
    pub methods: Option<Vec<String>>,
    pub session_ttl_ms: Option<u64>,
    pub stream_token_ttl_ms: Option<u64>,
    pub failures_per_minute: Option<u32>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub metrics_require_auth: Option<bool>,
    pub console_read_only: Option<bool>,
}

pub fn http_auth(file: HttpAuthFile) -> anyhow::Result<HttpAuthConfig> {
    let defaults = HttpAuthConfig::default();
    let mode = match file.mode.as_deref() {
        None => defaults.mode,
        Some(m) => AuthMode::parse(m).ok_or_else(|| {
            invalid(format!(
                "invalid http_auth '{m}': expected none, optional or required"
            ))
        })?,
    };
    let methods = match &file.methods {
        None => defaults.methods,
        Some(names) => AuthMethods::from_names(names.iter().map(String::as_str)).map_err(|m| {
            invalid(format!(
                "http_auth_methods: unknown method '{m}' (known: {})",
                AuthMethods::NAMES.join(", ")
            ))
        })?,
    };
    let ms = Duration::from_millis;
    let config = HttpAuthConfig {
        mode,
        methods,
        session_ttl: file.session_ttl_ms.map_or(defaults.session_ttl, ms),
        stream_token_ttl: file
            .stream_token_ttl_ms
            .map_or(defaults.stream_token_ttl, ms),
        failures_per_minute: file
            .failures_per_minute
            .unwrap_or(defaults.failures_per_minute),
        cors_allowed_origins: file.cors_allowed_origins.unwrap_or_default(),
        metrics_require_auth: file.metrics_require_auth.unwrap_or(false),
        console_read_only: file.console_read_only.unwrap_or(defaults.console_read_only),
        ..defaults
    };
    if config.session_ttl.is_zero() || config.stream_token_ttl.is_zero() {
        return Err(invalid(
            "http_session_ttl_ms and http_stream_token_ttl_ms must be greater than 0".into(),
        ));
    }
    if config.failures_per_minute == 0 {
        return Err(invalid(
            "http_auth_failures_per_minute must be at least 1".into(),
        ));
    }
    for origin in &config.cors_allowed_origins {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin
                .trim_end_matches('/')
                .contains(|c: char| c == '*' || c.is_whitespace());
        if !ok {
            return Err(invalid(format!(
                "cors_allowed_origins: '{origin}' is not an origin like https://app.example.com"
            )));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> HttpAuthFile {
        HttpAuthFile {
            mode: None,
            methods: None,
            session_ttl_ms: None,
            stream_token_ttl_ms: None,
            failures_per_minute: None,
            cors_allowed_origins: None,
            metrics_require_auth: None,
            console_read_only: None,
        }
    }

    #[test]
    fn bad_modes_origins_and_ttls_are_refused() {
        assert!(http_auth(file()).is_ok());
        let bad_mode = HttpAuthFile {
            mode: Some("maybe".into()),
            ..file()
        };
        assert!(http_auth(bad_mode).is_err());
        let wildcard = HttpAuthFile {
            cors_allowed_origins: Some(vec!["*".into()]),
            ..file()
        };
        assert!(http_auth(wildcard).is_err());
        let zero = HttpAuthFile {
            session_ttl_ms: Some(0),
            ..file()
        };
        assert!(http_auth(zero).is_err());
    }
}
