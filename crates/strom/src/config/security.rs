//! Security settings: the authorizer (defaults: off, no super user, deny without ACLs),
//! SASL, the bootstrap user, bearer tokens and HTTP authentication. The details live in
//! `sasl_config.rs` and `security_config.rs`; this file gathers them from the file and flags.

use super::args::ServeArgs;
use super::file::{FileConfig, SuperUsers};
use super::ConfigError;

/// The resolved security settings.
pub(super) struct SecuritySettings {
    pub(super) authorizer: strom_auth::AuthorizerConfig,
    pub(super) sasl: strom_auth::sasl::SaslConfig,
    pub(super) bootstrap_user: Option<crate::sasl_config::BootstrapUser>,
    pub(super) oauth: strom_auth::TokenConfig,
    pub(super) http_auth: strom_http::auth::HttpAuthConfig,
}

/// Every security setting, checked in this order: authorizer, SASL, bootstrap user,
/// `[oauth]`, HTTP authentication.
pub(super) fn security_settings(
    args: &ServeArgs,
    file: &FileConfig,
) -> anyhow::Result<SecuritySettings> {
    let mut authorizer = authorizer_config(args, file)?;
    let sasl = crate::sasl_config::sasl_config(
        file.sasl_enabled_mechanisms.as_deref(),
        file.sasl_plain_allow_plaintext,
        file.connections_max_reauth_ms,
        file.sasl_authentication_timeout_ms,
        file.max_failed_authentications_per_ip_per_sec,
    )?;
    let bootstrap_user = args
        .bootstrap_user
        .clone()
        .or(file.bootstrap_user.clone())
        .map(|spec| crate::sasl_config::BootstrapUser::parse(&spec))
        .transpose()?;
    // The bootstrap user administers the server: a super user, so enabling the authorizer
    // with it alone is not a lock-out.
    if let Some(user) = &bootstrap_user {
        let principal = strom_auth::Principal::user(user.user.clone());
        if !authorizer.super_users.contains(&principal) {
            authorizer.super_users.push(principal);
        }
    }
    let oauth = file.oauth.clone().unwrap_or_default();
    if let Err(err) = oauth.check() {
        bail!("[oauth]: {err}");
    }
    let http_auth = crate::security_config::http_auth(crate::security_config::HttpAuthFile {
        mode: args.http_auth.clone().or(file.http_auth.clone()),
        methods: file.http_auth_methods.clone(),
        session_ttl_ms: file.http_session_ttl_ms,
        stream_token_ttl_ms: file.http_stream_token_ttl_ms,
        failures_per_minute: file.http_auth_failures_per_minute,
        cors_allowed_origins: file.cors_allowed_origins.clone(),
        metrics_require_auth: file.metrics_require_auth,
        console_read_only: file.console_read_only,
    })?;
    Ok(SecuritySettings {
        authorizer,
        sasl,
        bootstrap_user,
        oauth,
        http_auth,
    })
}

/// The authorizer's settings (defaults: off, no super user, deny without ACLs).
fn authorizer_config(
    args: &ServeArgs,
    file: &FileConfig,
) -> anyhow::Result<strom_auth::AuthorizerConfig> {
    let names: Vec<String> = match (&args.super_users, &file.super_users) {
        (Some(s), _) | (None, Some(SuperUsers::Kafka(s))) => {
            s.split(';').map(|p| p.trim().to_string()).collect()
        }
        (None, Some(SuperUsers::List(list))) => list.clone(),
        (None, None) => Vec::new(),
    };
    let mut super_users = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        match strom_auth::Principal::parse(name) {
            Some(p) => super_users.push(p),
            None => bail!("super_users: '{name}' is not a principal like User:admin"),
        }
    }
    Ok(strom_auth::AuthorizerConfig {
        enabled: args
            .authorizer_enabled
            .or(file.authorizer_enabled)
            .unwrap_or(false),
        super_users,
        allow_everyone_if_no_acl_found: file.allow_everyone_if_no_acl_found.unwrap_or(false),
    })
}
