//! Security settings of `strom serve`: the authorizer (`authorizer_enabled`, `super_users`,
//! `allow_everyone_if_no_acl_found`), the bootstrap super user (`bootstrap_user` /
//! `STROM_BOOTSTRAP_USER=<user>:<password>:<mechanism>`) and the HTTP listener's
//! authentication and CORS (`http_auth`, ...). Defaults live here; `config.rs` reads them.
//! The password is never printed (`Debug` hides it).

use std::time::Duration;

use strom_auth::{AuthorizerConfig, Principal, ScramMechanism};
use strom_http::auth::{AuthMethods, AuthMode, HttpAuthConfig};

use crate::config::ConfigError;

fn invalid(message: String) -> anyhow::Error {
    anyhow::Error::new(ConfigError(message))
}

/// A user created (or whose password is reset) at start, and made a super user.
#[derive(Clone)]
pub struct BootstrapUser {
    pub name: String,
    pub password: String,
    pub mechanism: ScramMechanism,
}

impl std::fmt::Debug for BootstrapUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapUser")
            .field("name", &self.name)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
pub struct SecuritySettings {
    pub authorizer: AuthorizerConfig,
    pub bootstrap_user: Option<BootstrapUser>,
}

/// Parses `<user>:<password>:<mechanism>` (the password may contain `:`).
fn bootstrap_user(text: &str) -> anyhow::Result<BootstrapUser> {
    let bad = || {
        invalid("bootstrap_user must be <user>:<password>:<mechanism>, mechanism SCRAM-SHA-256 or SCRAM-SHA-512".into())
    };
    let (name, rest) = text.split_once(':').ok_or_else(bad)?;
    let (password, mechanism) = rest.rsplit_once(':').ok_or_else(bad)?;
    let mechanism = ScramMechanism::from_name(mechanism).ok_or_else(bad)?;
    if name.is_empty() || password.is_empty() {
        return Err(bad());
    }
    Ok(BootstrapUser {
        name: name.to_string(),
        password: password.to_string(),
        mechanism,
    })
}

pub fn security_settings(
    bootstrap: Option<String>,
    enabled: Option<bool>,
    super_users: Option<&[String]>,
    allow_everyone: Option<bool>,
) -> anyhow::Result<SecuritySettings> {
    let bootstrap_user = bootstrap.as_deref().map(bootstrap_user).transpose()?;
    let mut supers = Vec::new();
    for s in super_users.unwrap_or_default() {
        supers.push(
            Principal::parse(s)
                .ok_or_else(|| invalid(format!("super_users: '{s}' is not Type:name")))?,
        );
    }
    if let Some(b) = &bootstrap_user {
        supers.push(Principal::user(&b.name));
    }
    Ok(SecuritySettings {
        authorizer: AuthorizerConfig {
            enabled: enabled.unwrap_or(false),
            super_users: supers,
            allow_everyone_if_no_acl_found: allow_everyone.unwrap_or(false),
        },
        bootstrap_user,
    })
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

    #[test]
    fn bootstrap_user_parses_and_hides_its_password() {
        let b = bootstrap_user("admin:pa:ss:SCRAM-SHA-256").expect("parses");
        assert_eq!((b.name.as_str(), b.password.as_str()), ("admin", "pa:ss"));
        assert_eq!(b.mechanism, ScramMechanism::Sha256);
        assert!(!format!("{b:?}").contains("pa:ss"));
        assert!(bootstrap_user("admin:pw").is_err());
        assert!(bootstrap_user("admin:pw:MD5").is_err());
        let s = security_settings(Some("root:x:SCRAM-SHA-512".into()), Some(true), None, None)
            .expect("settings");
        assert_eq!(s.authorizer.super_users, vec![Principal::user("root")]);
    }
}
