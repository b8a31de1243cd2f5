//! SASL on a SASL_PLAINTEXT listener, in one process with raw frames: what is served before
//! authentication, SCRAM over SaslAuthenticate (v1 handshake), PLAIN as raw tokens (v0
//! handshake), failures (33, 58, then a closed connection), KIP-368 session expiry and the
//! authentication timeout, and the KIP-554 APIs on an authenticated connection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strom_auth::sasl::SaslConfig;
use strom_auth::{ScramMechanism, Security, SecurityConfig, SecurityProtocol};
use strom_broker::{Broker, BrokerConfig};
use strom_kafka::KafkaConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct Server {
    port: u16,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

async fn start(sasl: SaslConfig) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        node_id: 1,
        auto_create_topics: true,
        default_partitions: 1,
        durability: strom_log::Durability::Never,
        log_defaults: strom_log::LogConfig::default(),
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 1 << 20,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    };
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
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, shutdown) = watch::channel(false);
    let kafka = KafkaConfig {
        advertised_host: "127.0.0.1".into(),
        advertised_port: port,
        listener_name: Arc::from("SASL_PLAINTEXT"),
        protocol: SecurityProtocol::SaslPlaintext,
        security,
        ..KafkaConfig::default()
    };
    tokio::spawn(strom_kafka::run(listener, broker, kafka, shutdown));
    Server {
        port,
        _dir: dir,
        _stop: stop,
    }
}

struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        Client {
            stream,
            correlation: 0,
        }
    }

    async fn send(&mut self, api: ApiKey, version: i16, request: RequestKind) {
        self.correlation += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("it")))
            .encode(&mut buf, api.request_header_version(version))
            .expect("header encodes");
        request.encode(&mut buf, version).expect("request encodes");
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.expect("send");
    }

    /// The next frame, or `None` when the server closed the connection.
    async fn frame(&mut self) -> Option<Bytes> {
        let read = async {
            let len = self.stream.read_i32().await.ok()?;
            let mut frame = vec![0u8; len as usize];
            self.stream.read_exact(&mut frame).await.ok()?;
            Some(Bytes::from(frame))
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the server answers or closes, it does not hang")
    }

    async fn call(&mut self, api: ApiKey, version: i16, request: RequestKind) -> ResponseKind {
        self.try_call(api, version, request)
            .await
            .unwrap_or_else(|| panic!("{api:?}: connection closed instead of a response"))
    }

    async fn try_call(
        &mut self,
        api: ApiKey,
        version: i16,
        request: RequestKind,
    ) -> Option<ResponseKind> {
        self.send(api, version, request).await;
        let mut frame = self.frame().await?;
        let header_version = if api == ApiKey::ApiVersions {
            0
        } else {
            api.response_header_version(version)
        };
        ResponseHeader::decode(&mut frame, header_version).expect("response header");
        Some(ResponseKind::decode(api, &mut frame, version).expect("response decodes"))
    }

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

fn client_final(m: ScramMechanism, bare: &str, server_first: &str, password: &str) -> String {
    let mut fields = server_first.split(',');
    let nonce = &fields.next().expect("r")[2..];
    let salt = B64.decode(&fields.next().expect("s")[2..]).expect("salt");
    let iterations: u32 = fields.next().expect("i")[2..].parse().expect("i");
    let salted = m.salted_password(password.as_bytes(), &salt, iterations);
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{bare},{server_first},{without_proof}");
    let client_key = m.hmac(&salted, b"Client Key");
    let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    format!("{without_proof},p={}", B64.encode(proof))
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
