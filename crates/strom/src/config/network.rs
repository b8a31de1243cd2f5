//! Listener addresses: Kafka (`kafka_listen`, `kafka_listeners`, `kafka_sasl_listen`), HTTP
//! (and HTTPS), the schema registry listener, and the safe-default check of each listener
//! (defaults: 127.0.0.1:9092 and 127.0.0.1:8080). Listener details live in `listeners.rs`.

use std::net::SocketAddr;

use super::args::ServeArgs;
use super::file::FileConfig;
use super::ConfigError;

/// Every listener resolved from the file and flags.
pub(super) struct NetworkSettings {
    pub(super) kafka: Vec<crate::listeners::KafkaListener>,
    pub(super) http_listen: SocketAddr,
    pub(super) http_ssl: Option<crate::listeners::SslSettings>,
    pub(super) schema_registry_listen: Option<SocketAddr>,
    pub(super) schema_incompatible_error_code: u32,
    pub(super) exposed: Vec<String>,
}

/// The listeners; `http_auth_required` lets the HTTP listeners bind the network.
pub(super) fn network_settings(
    args: &ServeArgs,
    file: &FileConfig,
    http_auth_required: bool,
) -> anyhow::Result<NetworkSettings> {
    let explicit_kafka_listen = args.kafka_listen.or(file.kafka_listen);
    let kafka_listen =
        explicit_kafka_listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092)));
    let kafka_advertised_host = args
        .kafka_advertised_host
        .clone()
        .or(file.kafka_advertised_host.clone())
        .unwrap_or_else(|| crate::listeners::default_advertised_host(kafka_listen));
    let http_listen = args
        .http_listen
        .or(file.http_listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let mut listeners = listener_settings(
        file,
        args.allow_unauthenticated_network,
        crate::listeners::KafkaListener {
            name: "PLAINTEXT".to_string(),
            protocol: strom_auth::SecurityProtocol::Plaintext,
            listen: kafka_listen,
            advertised_host: kafka_advertised_host,
            advertised_port: None,
            ssl: None,
        },
        explicit_kafka_listen.is_some(),
        http_listen,
        http_auth_required,
    )?;
    let schema_registry_listen = args.schema_registry_listen.or(file.schema_registry_listen);
    let schema_incompatible_error_code =
        schema_registry(args, file, schema_registry_listen, &mut listeners)?;
    sasl_listener(
        args.kafka_sasl_listen.or(file.kafka_sasl_listen),
        &mut listeners,
    )?;
    Ok(NetworkSettings {
        kafka: listeners.kafka,
        http_listen,
        http_ssl: listeners.http_ssl,
        schema_registry_listen,
        schema_incompatible_error_code,
        exposed: listeners.exposed,
    })
}

/// The schema registry's error code for incompatible schemas (409 or 40901), and the
/// safe-default check of its listener (the HTTP listener's TLS and authentication).
fn schema_registry(
    args: &ServeArgs,
    file: &FileConfig,
    schema_registry_listen: Option<SocketAddr>,
    listeners: &mut ListenerSettings,
) -> anyhow::Result<u32> {
    let schema_incompatible_error_code = file
        .schema_incompatible_error_code
        .unwrap_or(strom_schema::registry::INCOMPATIBLE_CODES[0]);
    if !strom_schema::registry::INCOMPATIBLE_CODES.contains(&schema_incompatible_error_code) {
        bail!("schema_incompatible_error_code must be 409 or 40901, not {schema_incompatible_error_code}");
    }
    if let Some(listen) = schema_registry_listen {
        let allow = args
            .allow_unauthenticated_network
            .or(file.allow_unauthenticated_network)
            .unwrap_or(false);
        let protocol = match listeners.http_ssl {
            Some(_) => strom_auth::SecurityProtocol::Ssl,
            None => strom_auth::SecurityProtocol::Plaintext,
        };
        let auth = crate::listeners::authenticates(protocol, listeners.http_ssl.as_ref());
        let what = "the schema registry listener";
        if crate::listeners::check_exposure(what, listen, auth, allow)? {
            listeners.exposed.push(format!("{what} on {listen}"));
        }
    }
    Ok(schema_incompatible_error_code)
}

/// `kafka_sasl_listen`: shorthand for one SASL_PLAINTEXT listener beside the others.
fn sasl_listener(
    kafka_sasl_listen: Option<SocketAddr>,
    listeners: &mut ListenerSettings,
) -> anyhow::Result<()> {
    if let Some(listen) = kafka_sasl_listen {
        if listeners.kafka.iter().any(|l| l.name == "SASL_PLAINTEXT") {
            bail!("kafka_sasl_listen: a listener named 'SASL_PLAINTEXT' is configured already");
        }
        listeners.kafka.push(crate::listeners::KafkaListener {
            name: "SASL_PLAINTEXT".to_string(),
            protocol: strom_auth::SecurityProtocol::SaslPlaintext,
            listen,
            advertised_host: crate::listeners::default_advertised_host(listen),
            advertised_port: None,
            ssl: None,
        });
    }
    Ok(())
}

/// Listener settings resolved from the file and flags.
struct ListenerSettings {
    kafka: Vec<crate::listeners::KafkaListener>,
    http_ssl: Option<crate::listeners::SslSettings>,
    exposed: Vec<String>,
}

/// The Kafka listeners (`plaintext`, from `kafka_listen`, first unless only
/// `kafka_listeners` are configured), HTTPS, and the safe-default check of each listener.
fn listener_settings(
    file: &FileConfig,
    allow_flag: Option<bool>,
    plaintext: crate::listeners::KafkaListener,
    kafka_listen_set: bool,
    http_listen: SocketAddr,
    http_auth_required: bool,
) -> anyhow::Result<ListenerSettings> {
    use crate::listeners::http_authenticates;
    use crate::listeners::{authenticates, check_exposure, kafka_listener, ssl_settings};
    let allow = allow_flag
        .or(file.allow_unauthenticated_network)
        .unwrap_or(false);
    let configured = file.kafka_listeners.as_deref().unwrap_or_default();
    let mut kafka = Vec::new();
    if kafka_listen_set || configured.is_empty() {
        kafka.push(plaintext);
    }
    for entry in configured {
        let listener = kafka_listener(entry)?;
        if kafka.iter().any(|l| l.name == listener.name) {
            bail!(
                "kafka_listeners: the name '{}' is used twice (kafka_listen is 'PLAINTEXT')",
                listener.name
            );
        }
        kafka.push(listener);
    }
    let http_ssl = file
        .http_ssl
        .as_ref()
        .map(|ssl| ssl_settings("http_ssl", ssl))
        .transpose()?;
    let mut exposed = Vec::new();
    for l in &kafka {
        let what = format!("Kafka listener {} ({})", l.name, l.protocol);
        if check_exposure(
            &what,
            l.listen,
            authenticates(l.protocol, l.ssl.as_ref()),
            allow,
        )? {
            exposed.push(format!("{what} on {}", l.listen));
        }
    }
    let http_auth = http_authenticates(http_ssl.as_ref(), http_auth_required);
    if check_exposure("the HTTP listener", http_listen, http_auth, allow)? {
        exposed.push(format!("the HTTP listener on {http_listen}"));
    }
    Ok(ListenerSettings {
        kafka,
        http_ssl,
        exposed,
    })
}
