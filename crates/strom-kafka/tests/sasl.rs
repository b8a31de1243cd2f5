//! SASL on a SASL_PLAINTEXT listener, in one process with raw frames: what is served before
//! authentication, SCRAM over SaslAuthenticate (v1 handshake), PLAIN as raw tokens (v0
//! handshake), failures (33, 58, then a closed connection), KIP-368 session expiry and the
//! authentication timeout, and the KIP-554 APIs on an authenticated connection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use strom_auth::sasl::SaslConfig;
use strom_auth::{ScramMechanism, Security, SecurityConfig, SecurityProtocol};
use strom_broker::Broker;
use strom_kafka::KafkaConfig;
use tokio::io::AsyncWriteExt;

use crate::common;
use common::Client;

#[path = "../../strom-auth/src/sasl/scram_client.rs"]
mod scram_client;
use scram_client::client_final;

struct Server {
    port: u16,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start(sasl: SaslConfig) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = common::broker_config(dir.path());
    let (broker, security) = tokio::task::spawn_blocking(move || {
        let broker = Broker::open(config).expect("broker opens");
        let security = Security::open(
            Arc::clone(&broker),
            SecurityConfig {
                sasl,
                ..SecurityConfig::default()
            },
        )
        .expect("security opens");
        for m in ScramMechanism::ALL {
            security
                .users
                .set_password("alice", m, "s3cret", 4096)
                .expect("user");
        }
        (broker, security)
    })
    .await
    .expect("open task");
    let (port, stop) = common::serve(broker, None, move |port| KafkaConfig {
        listener_name: Arc::from("SASL_PLAINTEXT"),
        protocol: SecurityProtocol::SaslPlaintext,
        security,
        ..common::kafka_config(port)
    })
    .await;
    Server {
        port,
        _dir: dir,
        _stop: stop,
    }
}

/// The SASL steps of a client, on the harness's raw-frame client.
trait SaslClient {
    async fn handshake(&mut self, version: i16, mechanism: &'static str) -> SaslHandshakeResponse;
    async fn authenticate(&mut self, version: i16, token: Vec<u8>) -> SaslAuthenticateResponse;
    async fn metadata(&mut self) -> Option<ResponseKind>;
    async fn scram(&mut self, m: ScramMechanism, password: &str) -> SaslAuthenticateResponse;
}

impl SaslClient for Client {
    async fn handshake(&mut self, version: i16, mechanism: &'static str) -> SaslHandshakeResponse {
        let request =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        match self
            .call(
                ApiKey::SaslHandshake,
                version,
                RequestKind::SaslHandshake(request),
            )
            .await
        {
            ResponseKind::SaslHandshake(r) => r,
            other => panic!("{other:?}"),
        }
    }

    async fn authenticate(&mut self, version: i16, token: Vec<u8>) -> SaslAuthenticateResponse {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
        match self
            .call(
                ApiKey::SaslAuthenticate,
                version,
                RequestKind::SaslAuthenticate(request),
            )
            .await
        {
            ResponseKind::SaslAuthenticate(r) => r,
            other => panic!("{other:?}"),
        }
    }

    async fn metadata(&mut self) -> Option<ResponseKind> {
        self.try_call(
            ApiKey::Metadata,
            9,
            RequestKind::Metadata(MetadataRequest::default()),
        )
        .await
    }

    /// A full SCRAM exchange over SaslAuthenticate v2; returns the final response.
    async fn scram(&mut self, m: ScramMechanism, password: &str) -> SaslAuthenticateResponse {
        assert_eq!(self.handshake(1, m.name()).await.error_code, 0);
        let bare = "n=alice,r=rustclientnonce";
        let first = self
            .authenticate(2, format!("n,,{bare}").into_bytes())
            .await;
        assert_eq!(first.error_code, 0);
        let server_first = String::from_utf8(first.auth_bytes.to_vec()).expect("utf8");
        let fin = client_final(m, bare, &server_first, password);
        self.authenticate(2, fin.into_bytes()).await
    }
}

#[tokio::test]
async fn only_api_versions_and_sasl_are_served_before_authentication() {
    let server = start(SaslConfig::default()).await;
    let mut client = Client::connect(server.port).await;
    let versions = client
        .call(
            ApiKey::ApiVersions,
            3,
            RequestKind::ApiVersions(Default::default()),
        )
        .await;
    let ResponseKind::ApiVersions(versions) = versions else {
        panic!("api versions");
    };
    let keys: Vec<i16> = versions.api_keys.iter().map(|k| k.api_key).collect();
    assert!(keys.contains(&(ApiKey::SaslHandshake as i16)));
    assert!(keys.contains(&(ApiKey::SaslAuthenticate as i16)));
    assert!(
        client.metadata().await.is_none(),
        "Metadata before SASL closes the connection"
    );

    // An unknown (or, without TLS, PLAIN) mechanism: 33 with the enabled list, then closed.
    let mut client = Client::connect(server.port).await;
    let refused = client.handshake(1, "PLAIN").await;
    assert_eq!(refused.error_code, 33);
    let names: Vec<&str> = refused.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]);
    assert!(client.metadata().await.is_none());
}

#[tokio::test]
async fn scram_authenticates_and_a_wrong_password_fails_with_58_then_closes() {
    let server = start(SaslConfig::default()).await;
    for m in ScramMechanism::ALL {
        let mut client = Client::connect(server.port).await;
        let done = client.scram(m, "s3cret").await;
        assert_eq!(done.error_code, 0, "{:?}", done.error_message);
        assert!(done.auth_bytes.starts_with(b"v="));
        assert_eq!(
            done.session_lifetime_ms, 0,
            "no re-authentication by default"
        );
        assert!(matches!(
            client.metadata().await,
            Some(ResponseKind::Metadata(_))
        ));

        let mut client = Client::connect(server.port).await;
        let failed = client.scram(m, "wrong").await;
        assert_eq!(failed.error_code, 58);
        assert_eq!(
            failed.error_message.as_ref().map(|m| m.as_str()),
            Some("Authentication failed: Invalid user credentials")
        );
        assert!(client.metadata().await.is_none(), "closed after a failure");
    }
}

#[tokio::test]
async fn plain_v0_raw_tokens_when_allowed_without_tls() {
    let server = start(SaslConfig {
        plain_allow_plaintext: true,
        ..SaslConfig::default()
    })
    .await;
    let mut client = Client::connect(server.port).await;
    assert_eq!(client.handshake(0, "PLAIN").await.error_code, 0);
    // The token goes as a bare length-prefixed frame; success is an empty frame.
    let token = b"\0alice\0s3cret";
    let mut raw = BytesMut::new();
    raw.put_i32(token.len() as i32);
    raw.put_slice(token);
    client.stream.write_all(&raw).await.expect("send");
    assert_eq!(client.frame().await.map(|f| f.len()), Some(0));
    assert!(matches!(
        client.metadata().await,
        Some(ResponseKind::Metadata(_))
    ));

    let mut client = Client::connect(server.port).await;
    assert_eq!(client.handshake(0, "PLAIN").await.error_code, 0);
    let token = b"\0alice\0nope";
    let mut raw = BytesMut::new();
    raw.put_i32(token.len() as i32);
    raw.put_slice(token);
    client.stream.write_all(&raw).await.expect("send");
    assert!(
        client.frame().await.is_none(),
        "a v0 failure closes the connection"
    );
}

#[tokio::test]
async fn an_expired_session_is_closed_unless_it_reauthenticates_as_the_same_principal() {
    let server = start(SaslConfig {
        max_reauth_ms: Some(300),
        ..SaslConfig::default()
    })
    .await;
    let m = ScramMechanism::Sha256;
    let mut client = Client::connect(server.port).await;
    let done = client.scram(m, "s3cret").await;
    assert_eq!(done.session_lifetime_ms, 300);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Re-authenticating on the same connection renews the session.
    let again = client.scram(m, "s3cret").await;
    assert_eq!((again.error_code, again.session_lifetime_ms), (0, 300));
    assert!(matches!(
        client.metadata().await,
        Some(ResponseKind::Metadata(_))
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(client.metadata().await.is_none(), "expired session: closed");
}

#[tokio::test]
async fn a_client_that_does_not_authenticate_in_time_is_closed() {
    let server = start(SaslConfig {
        authentication_timeout: Duration::from_millis(200),
        ..SaslConfig::default()
    })
    .await;
    let mut client = Client::connect(server.port).await;
    assert!(client.frame().await.is_none());
}

#[tokio::test]
async fn scram_credentials_are_described_without_secrets_and_altered() {
    let server = start(SaslConfig::default()).await;
    let mut client = Client::connect(server.port).await;
    assert_eq!(
        client
            .scram(ScramMechanism::Sha512, "s3cret")
            .await
            .error_code,
        0
    );
    use alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
    let salt = b"0123456789abcdef".to_vec();
    let salted = ScramMechanism::Sha256.salted_password(b"pw2", &salt, 8192);
    let upsert = |name: &'static str, iterations: i32| {
        ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_static_str(name))
            .with_mechanism(1)
            .with_iterations(iterations)
            .with_salt(salt.clone().into())
            .with_salted_password(salted.clone().into())
    };
    let request = AlterUserScramCredentialsRequest::default()
        .with_upsertions(vec![upsert("bob", 8192), upsert("carol", 100)])
        .with_deletions(vec![ScramCredentialDeletion::default()
            .with_name(StrBytes::from_static_str("dave"))
            .with_mechanism(2)]);
    let ResponseKind::AlterUserScramCredentials(altered) = client
        .call(
            ApiKey::AlterUserScramCredentials,
            0,
            RequestKind::AlterUserScramCredentials(request),
        )
        .await
    else {
        panic!("alter");
    };
    let codes: BTreeMap<String, i16> = altered
        .results
        .iter()
        .map(|r| (r.user.to_string(), r.error_code))
        .collect();
    let expected: BTreeMap<String, i16> = [("bob", 0), ("carol", 93), ("dave", 91)]
        .map(|(u, c)| (u.to_string(), c))
        .into();
    assert_eq!(codes, expected);
    let ResponseKind::DescribeUserScramCredentials(described) = client
        .call(
            ApiKey::DescribeUserScramCredentials,
            0,
            RequestKind::DescribeUserScramCredentials(Default::default()),
        )
        .await
    else {
        panic!("describe");
    };
    let bob = described
        .results
        .iter()
        .find(|r| r.user.as_str() == "bob")
        .expect("bob described");
    assert_eq!(
        bob.credential_infos
            .iter()
            .map(|c| (c.mechanism, c.iterations))
            .collect::<Vec<_>>(),
        [(1, 8192)]
    );
    // bob logs in with the password the client salted.
    let mut bob_client = Client::connect(server.port).await;
    assert_eq!(bob_client.handshake(1, "SCRAM-SHA-256").await.error_code, 0);
    let bare = "n=bob,r=bobnonce";
    let first = bob_client
        .authenticate(1, format!("n,,{bare}").into_bytes())
        .await;
    let sf = String::from_utf8(first.auth_bytes.to_vec()).expect("utf8");
    let done = bob_client
        .authenticate(
            1,
            client_final(ScramMechanism::Sha256, bare, &sf, "pw2").into_bytes(),
        )
        .await;
    assert_eq!(done.error_code, 0);
}

#[tokio::test]
async fn failures_beyond_the_per_ip_rate_refuse_even_the_right_password() {
    let server = start(SaslConfig {
        max_failures_per_ip_per_sec: 1,
        ..SaslConfig::default()
    })
    .await;
    let m = ScramMechanism::Sha256;
    let mut messages = Vec::new();
    for password in ["wrong", "wrong"] {
        let mut client = Client::connect(server.port).await;
        let r = client.scram(m, password).await;
        assert_eq!(r.error_code, 58, "{password}");
        messages.push(r.error_message.map(|m| m.to_string()).unwrap_or_default());
    }
    assert!(
        messages[0].contains("Invalid user credentials"),
        "{messages:?}"
    );
    // Now blocked: the right password's first message is refused before any check.
    let mut client = Client::connect(server.port).await;
    assert_eq!(client.handshake(1, m.name()).await.error_code, 0);
    let r = client.authenticate(2, b"n,,n=alice,r=abc".to_vec()).await;
    assert_eq!(r.error_code, 58);
    let message = r.error_message.map(|m| m.to_string()).unwrap_or_default();
    assert!(
        message.contains("too many failed authentications"),
        "{message}"
    );
}
