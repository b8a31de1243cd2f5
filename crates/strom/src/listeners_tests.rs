//! Listener settings: named listeners from TOML, the loopback default, the
//! `allow_unauthenticated_network` rule and the predicate behind it, TLS errors naming the
//! setting.

use std::io::Write;

use super::*;
use crate::config::{ServeArgs, Settings};

fn resolve(toml: &str, args: ServeArgs) -> anyhow::Result<Settings> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    Settings::resolve(ServeArgs {
        config: Some(file.path().to_path_buf()),
        ..args
    })
}

fn ssl(client_auth: ClientAuth) -> SslSettings {
    SslSettings {
        setting: "t".to_string(),
        cert_file: "c".into(),
        key_file: "k".into(),
        ca_file: None,
        client_auth,
        mapper: SslPrincipalMapper::default(),
    }
}

#[test]
fn defaults_bind_loopback_only() {
    let settings = resolve("", ServeArgs::default()).unwrap();
    assert_eq!(settings.http_listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.kafka_listeners.len(), 1);
    assert_eq!(
        settings.kafka_listeners[0].listen.to_string(),
        "127.0.0.1:9092"
    );
    assert_eq!(settings.kafka_listeners[0].name, "PLAINTEXT");
    assert!(settings.unauthenticated_exposed.is_empty());
}

#[test]
fn authentication_means_sasl_or_required_client_certificates() {
    use SecurityProtocol::*;
    assert!(!authenticates(Plaintext, None));
    assert!(authenticates(SaslPlaintext, None));
    assert!(authenticates(SaslSsl, Some(&ssl(ClientAuth::None))));
    assert!(!authenticates(Ssl, Some(&ssl(ClientAuth::None))));
    assert!(!authenticates(Ssl, Some(&ssl(ClientAuth::Requested))));
    assert!(authenticates(Ssl, Some(&ssl(ClientAuth::Required))));
}

#[test]
fn http_authentication_means_required_http_auth_or_required_client_certificates() {
    assert!(!http_authenticates(None, false));
    assert!(http_authenticates(None, true));
    assert!(!http_authenticates(Some(&ssl(ClientAuth::None)), false));
    assert!(!http_authenticates(
        Some(&ssl(ClientAuth::Requested)),
        false
    ));
    assert!(http_authenticates(Some(&ssl(ClientAuth::Required)), false));
    assert!(http_authenticates(Some(&ssl(ClientAuth::None)), true));
}

#[test]
fn the_http_listener_may_bind_the_network_when_it_requires_authentication() {
    let open = "http_listen = \"0.0.0.0:8080\"\n";
    for mode in ["none", "optional"] {
        let err = resolve(
            &format!("{open}http_auth = \"{mode}\"\n"),
            ServeArgs::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("HTTP listener"), "{mode}: {err}");
    }
    let settings = resolve(
        &format!("{open}http_auth = \"required\"\n"),
        ServeArgs::default(),
    )
    .unwrap();
    assert!(settings.unauthenticated_exposed.is_empty());
    // Per listener: HTTP authentication does not make an open Kafka listener safe.
    let both = format!("{open}http_auth = \"required\"\nkafka_listen = \"0.0.0.0:9092\"\n");
    let err = resolve(&both, ServeArgs::default()).unwrap_err();
    assert!(err.to_string().contains("Kafka listener"), "{err}");
}

#[test]
fn unauthenticated_network_binding_needs_the_explicit_setting() {
    let err = resolve("kafka_listen = \"0.0.0.0:9092\"", ServeArgs::default()).unwrap_err();
    assert!(err.to_string().contains(ALLOW_SETTING), "{err}");
    let err = resolve("http_listen = \"0.0.0.0:8080\"", ServeArgs::default()).unwrap_err();
    assert!(err.to_string().contains("HTTP listener"), "{err}");
    let allowed = resolve(
        "kafka_listen = \"0.0.0.0:9092\"\nallow_unauthenticated_network = true",
        ServeArgs::default(),
    )
    .unwrap();
    assert_eq!(allowed.unauthenticated_exposed.len(), 1);
    // A SASL listener authenticates, so it may bind the network without the setting.
    let sasl = "[[kafka_listeners]]\nname = \"EXTERNAL\"\nprotocol = \"SASL_PLAINTEXT\"\n\
                listen = \"0.0.0.0:9093\"\nadvertised = \"kafka.example:19093\"\n";
    let settings = resolve(sasl, ServeArgs::default()).unwrap();
    assert_eq!(
        settings.kafka_listeners.len(),
        1,
        "kafka_listen not set: only EXTERNAL"
    );
    let external = &settings.kafka_listeners[0];
    assert_eq!(
        (external.advertised_host.as_str(), external.advertised_port),
        ("kafka.example", Some(19093))
    );
}

#[test]
fn named_listeners_are_validated() {
    let entry = |name: &str, protocol: &str, extra: &str| {
        format!(
            "kafka_listen = \"127.0.0.1:9092\"\n[[kafka_listeners]]\nname = \"{name}\"\n\
             protocol = \"{protocol}\"\nlisten = \"127.0.0.1:9093\"\n{extra}"
        )
    };
    let cases = [
        (entry("PLAINTEXT", "PLAINTEXT", ""), "used twice"),
        (entry("A", "TLS", ""), "is not PLAINTEXT"),
        (entry("A", "SSL", ""), "needs ssl"),
        (entry("a b", "PLAINTEXT", ""), "must be letters"),
        (entry("A", "PLAINTEXT", "advertised = \"nohost\""), "not host:port"),
        (
            entry("A", "SSL", "ssl = { cert_file = \"c\", key_file = \"k\", client_auth = \"required\" }"),
            "ca_file is needed",
        ),
        (
            entry("A", "SSL", "ssl = { cert_file = \"c\", key_file = \"k\", client_auth = \"maybe\" }"),
            "client_auth",
        ),
        (
            entry("A", "SSL", "ssl = { cert_file = \"c\", key_file = \"k\", principal_mapping_rules = \"RULE:x\" }"),
            "kafka_listeners.A.ssl.principal_mapping_rules",
        ),
    ];
    for (toml, expected) in cases {
        let err = resolve(&toml, ServeArgs::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{toml}\n=> {err}");
    }
    let ok = resolve(
        &entry(
            "SECURE",
            "ssl",
            "ssl = { cert_file = \"c\", key_file = \"k\" }",
        ),
        ServeArgs::default(),
    )
    .unwrap();
    let names: Vec<_> = ok.kafka_listeners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["PLAINTEXT", "SECURE"]);
}

#[test]
fn unreadable_or_wrong_tls_files_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let mut settings = ssl(ClientAuth::None);
    settings.setting = "http_ssl".to_string();
    settings.cert_file = cert.clone();
    settings.key_file = dir.path().join("missing.key");
    let err = tls_server(&settings, &[]).unwrap_err().to_string();
    assert!(err.starts_with("http_ssl.key_file: cannot read"), "{err}");
    settings.key_file = cert;
    let err = tls_server(&settings, &[]).unwrap_err().to_string();
    assert!(err.starts_with("http_ssl.cert_file:"), "{err}");
}
