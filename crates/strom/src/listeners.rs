//! Listener settings: the named Kafka listeners (`[[kafka_listeners]]`, plus the one
//! PLAINTEXT listener of `kafka_listen`), TLS files of each listener and of HTTP
//! (`http_ssl`), and the safe-default rule: a listener that does not authenticate its
//! clients binds loopback only unless `allow_unauthenticated_network = true`.
//! [`tls_server`] reads the PEM files and builds a listener's TLS at start; its errors name
//! the setting that is wrong and never contain key material.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use strom_auth::{SecurityProtocol, SslPrincipalMapper};
use strom_tls::{ClientAuth, TlsConfigError, TlsPem, TlsServer};

use crate::config::ConfigError;

/// The setting that lets a listener without authentication bind a non-loopback address.
pub const ALLOW_SETTING: &str = "allow_unauthenticated_network";

/// One `[[kafka_listeners]]` entry as written in the file.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    pub name: String,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: String,
    pub listen: SocketAddr,
    /// `host:port` announced to clients; default: the listen host (localhost for a wildcard)
    /// and the bound port.
    pub advertised: Option<String>,
    pub ssl: Option<SslFile>,
}

/// A listener's TLS files and client-certificate settings (`ssl = { ... }`, `[http_ssl]`).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SslFile {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    /// `none` (default), `requested` or `required`.
    pub client_auth: Option<String>,
    /// Kafka's `ssl.principal.mapping.rules` syntax; default `DEFAULT` (the subject DN).
    pub principal_mapping_rules: Option<String>,
}

/// TLS settings after validation; the files are read by [`tls_server`].
#[derive(Debug, Clone)]
pub struct SslSettings {
    /// Where these settings came from (`kafka_listeners.NAME.ssl`, `http_ssl`), for errors.
    pub setting: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub mapper: SslPrincipalMapper,
}

/// A resolved Kafka listener.
#[derive(Debug, Clone)]
pub struct KafkaListener {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub listen: SocketAddr,
    pub advertised_host: String,
    /// `None`: the port actually bound.
    pub advertised_port: Option<u16>,
    pub ssl: Option<SslSettings>,
}

/// Whether a Kafka listener authenticates every client: SASL, or TLS that requires a client
/// certificate. The predicate of the safe-default rule for Kafka listeners.
pub fn authenticates(protocol: SecurityProtocol, ssl: Option<&SslSettings>) -> bool {
    protocol.is_sasl()
        || (protocol.is_tls() && ssl.is_some_and(|s| s.client_auth == ClientAuth::Required))
}

/// The same predicate for the HTTP listener: `http_auth = "required"` (every route but the
/// open ones needs credentials), or TLS that requires a client certificate (mTLS).
pub fn http_authenticates(ssl: Option<&SslSettings>, http_auth_required: bool) -> bool {
    let protocol = match ssl {
        Some(_) => SecurityProtocol::Ssl,
        None => SecurityProtocol::Plaintext,
    };
    http_auth_required || authenticates(protocol, ssl)
}

/// Checks the safe-default rule for one listener. Returns whether it is exposed without
/// authentication (allowed, but warned about at every start).
/// Errors: non-loopback and unauthenticated while `allow` is false.
pub fn check_exposure(
    what: &str,
    listen: SocketAddr,
    auth: bool,
    allow: bool,
) -> anyhow::Result<bool> {
    if auth || listen.ip().is_loopback() {
        return Ok(false);
    }
    if !allow {
        return Err(ConfigError(format!(
            "{what} on {listen} would accept clients from the network without authentication; \
             bind a loopback address, require authentication (a SASL_* listener, TLS with \
             client_auth = \"required\", or http_auth = \"required\" for HTTP), or set {ALLOW_SETTING} = true"
        ))
        .into());
    }
    Ok(true)
}

/// Validates TLS settings; `setting` names them in errors.
pub fn ssl_settings(setting: &str, file: &SslFile) -> anyhow::Result<SslSettings> {
    let client_auth = match &file.client_auth {
        None => ClientAuth::None,
        Some(value) => ClientAuth::parse(value).ok_or_else(|| {
            ConfigError(format!(
                "{setting}.client_auth: '{value}' is not none, requested or required"
            ))
        })?,
    };
    if client_auth != ClientAuth::None && file.ca_file.is_none() {
        return Err(ConfigError(format!(
            "{setting}.ca_file is needed to verify client certificates (client_auth = {value})",
            value = file.client_auth.as_deref().unwrap_or_default()
        ))
        .into());
    }
    let mapper = SslPrincipalMapper::parse(file.principal_mapping_rules.as_deref().unwrap_or(""))
        .map_err(|e| ConfigError(format!("{setting}.principal_mapping_rules: {e}")))?;
    Ok(SslSettings {
        setting: setting.to_string(),
        cert_file: file.cert_file.clone(),
        key_file: file.key_file.clone(),
        ca_file: file.ca_file.clone(),
        client_auth,
        mapper,
    })
}

/// Resolves one `[[kafka_listeners]]` entry.
pub fn kafka_listener(file: &ListenerFile) -> anyhow::Result<KafkaListener> {
    let name = &file.name;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(ConfigError(format!(
            "kafka_listeners: name '{name}' must be letters, digits, '_' or '-'"
        ))
        .into());
    }
    let protocol = SecurityProtocol::parse(&file.protocol).ok_or_else(|| {
        ConfigError(format!(
            "kafka_listeners.{name}.protocol: '{}' is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            file.protocol
        ))
    })?;
    let ssl = match (&file.ssl, protocol.is_tls()) {
        (Some(ssl), true) => Some(ssl_settings(&format!("kafka_listeners.{name}.ssl"), ssl)?),
        (None, true) => {
            return Err(ConfigError(format!(
                "kafka_listeners.{name}: protocol {protocol} needs ssl = {{ cert_file, key_file }}"
            ))
            .into())
        }
        (Some(_), false) => {
            return Err(ConfigError(format!(
                "kafka_listeners.{name}: ssl is set but protocol {protocol} does not use TLS"
            ))
            .into())
        }
        (None, false) => None,
    };
    let (advertised_host, advertised_port) = match &file.advertised {
        None => (default_advertised_host(file.listen), None),
        Some(advertised) => {
            let parsed = advertised
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                .filter(|(host, _)| !host.is_empty());
            let Some((host, port)) = parsed else {
                return Err(ConfigError(format!(
                    "kafka_listeners.{name}.advertised: '{advertised}' is not host:port"
                ))
                .into());
            };
            (host.trim_matches(['[', ']']).to_string(), Some(port))
        }
    };
    Ok(KafkaListener {
        name: name.clone(),
        protocol,
        listen: file.listen,
        advertised_host,
        advertised_port,
        ssl,
    })
}

/// The host announced for a listener bound to `listen` when none is configured.
pub fn default_advertised_host(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        listen.ip().to_string()
    }
}

/// Reads a listener's PEM files and builds its TLS. Errors name the setting (and the file
/// path for the operator), never the file's contents.
pub fn tls_server(ssl: &SslSettings, alpn: &[&[u8]]) -> anyhow::Result<TlsServer> {
    let setting = &ssl.setting;
    let read = |key: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| {
            ConfigError(format!(
                "{setting}.{key}: cannot read {}: {e}",
                path.display()
            ))
        })
    };
    let pem = TlsPem {
        cert_chain: read("cert_file", &ssl.cert_file)?,
        key: read("key_file", &ssl.key_file)?,
        ca: ssl
            .ca_file
            .as_ref()
            .map(|p| read("ca_file", p))
            .transpose()?,
        client_auth: ssl.client_auth,
    };
    TlsServer::new(&pem, ssl.mapper.clone(), alpn).map_err(|e| {
        let key = match e {
            TlsConfigError::CertChain(_) => "cert_file",
            TlsConfigError::PrivateKey(_) => "key_file",
            TlsConfigError::Ca(_) | TlsConfigError::CaMissing(_) => "ca_file",
            TlsConfigError::Rustls(_) => "cert_file",
        };
        ConfigError(format!("{setting}.{key}: {e}")).into()
    })
}

#[cfg(test)]
#[path = "listeners_tests.rs"]
mod tests;
