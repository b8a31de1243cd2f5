//! Authorization end to end inside one process: a real broker and `strom_kafka::run` with
//! the authorizer on, and clients connecting from different loopback addresses. Every client
//! is `User:ANONYMOUS` on a PLAINTEXT listener, so "allowed" and "denied" are told apart by
//! ACL host: [`ALLOWED_IP`] has ALL on every resource, [`PARTIAL_IP`] only some, and
//! [`DENIED_IP`] none (ACLs exist for every resource, so nothing falls back to
//! `allow_everyone_if_no_acl_found`). [`grants`] takes the principal too, so the same
//! matrix runs with authenticated principals once SASL listeners exist.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strom_auth::{
    AclBinding, AuthorizerConfig, Operation, PatternType, Permission, Principal, ResourceType,
    Security, SecurityConfig,
};
use strom_broker::{Broker, BrokerConfig};
use strom_kafka::KafkaConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

#[path = "authz/acl_api.rs"]
mod acl_api;
#[path = "authz/matrix.rs"]
mod matrix;

const ALLOWED_IP: &str = "127.0.0.1";
const PARTIAL_IP: &str = "127.0.0.3";
const DENIED_IP: &str = "127.0.0.2";
const ANONYMOUS: &str = "User:ANONYMOUS";

pub struct Server {
    port: u16,
    broker: Arc<Broker>,
    security: Arc<Security>,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

fn acl(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    (principal, host): (&str, &str),
    operation: Operation,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: host.into(),
        operation,
        permission: Permission::Allow,
    }
}

/// ALL on every resource for `who` (principal, host).
fn grants(who: (&str, &str)) -> Vec<AclBinding> {
    use ResourceType::*;
    [
        (Topic, "*"),
        (Group, "*"),
        (Cluster, "kafka-cluster"),
        (TransactionalId, "*"),
    ]
    .into_iter()
    .map(|(t, name)| acl(t, name, PatternType::Literal, who, Operation::All))
    .collect()
}

/// Groups (Read, Describe, Delete), and Create/Describe on topics prefixed `p-` only.
fn partial_grants(who: (&str, &str)) -> Vec<AclBinding> {
    use ResourceType::*;
    let mut acls: Vec<AclBinding> = [Operation::Read, Operation::Describe, Operation::Delete]
        .into_iter()
        .map(|op| acl(Group, "*", PatternType::Literal, who, op))
        .collect();
    acls.push(acl(
        Topic,
        "p-",
        PatternType::Prefixed,
        who,
        Operation::Create,
    ));
    acls.push(acl(
        Topic,
        "p-",
        PatternType::Prefixed,
        who,
        Operation::Describe,
    ));
    acls
}

/// A server with the authorizer on, the matrix's ACLs and topic `t` (one partition).
pub async fn start(enabled: bool) -> Server {
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
    let security_config = SecurityConfig {
        authorizer: AuthorizerConfig {
            enabled,
            super_users: vec![Principal::user("admin")],
            allow_everyone_if_no_acl_found: false,
        },
        ..SecurityConfig::default()
    };
    let (broker, security) = tokio::task::spawn_blocking(move || {
        let broker = Broker::open(config).expect("broker opens");
        broker
            .create_topic("t", 1, &BTreeMap::new())
            .expect("topic");
        let security = Security::open(Arc::clone(&broker), security_config).expect("security");
        let mut acls = grants((ANONYMOUS, ALLOWED_IP));
        acls.extend(partial_grants((ANONYMOUS, PARTIAL_IP)));
        let stored = security.authorizer.create_acls(&acls);
        assert!(stored.iter().all(Result::is_ok), "{stored:?}");
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
        max_frame_bytes: 1 << 20,
        security: Arc::clone(&security),
        ..KafkaConfig::default()
    };
    tokio::spawn(strom_kafka::run(
        listener,
        Arc::clone(&broker),
        kafka,
        shutdown,
    ));
    Server {
        port,
        broker,
        security,
        _dir: dir,
        _stop: stop,
    }
}

pub struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    /// Connects from `ip` (a loopback address) to the server.
    pub async fn connect_from(port: u16, ip: &str) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        let local: SocketAddr = format!("{ip}:0").parse().expect("ip");
        socket.bind(local).expect("bind source address");
        let stream = socket
            .connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("connect");
        Client {
            stream,
            correlation: 0,
        }
    }

    pub async fn call(&mut self, api: ApiKey, version: i16, request: RequestKind) -> ResponseKind {
        self.correlation += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("authz")))
            .encode(&mut buf, api.request_header_version(version))
            .expect("header encodes");
        request.encode(&mut buf, version).expect("request encodes");
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.expect("send");
        let len = self.stream.read_i32().await.unwrap_or_else(|e| {
            panic!("{api:?} v{version}: connection closed instead of a response ({e})")
        });
        let mut frame = vec![0u8; len as usize];
        self.stream.read_exact(&mut frame).await.expect("frame");
        let mut frame = Bytes::from(frame);
        let header_version = if api == ApiKey::ApiVersions {
            0
        } else {
            api.response_header_version(version)
        };
        let header = ResponseHeader::decode(&mut frame, header_version).expect("response header");
        assert_eq!(header.correlation_id, self.correlation);
        let response = ResponseKind::decode(api, &mut frame, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response decodes: {e}"));
        assert_eq!(frame.remaining(), 0, "{api:?} v{version}: trailing bytes");
        response
    }
}

pub fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

pub fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

pub fn group(name: &str) -> GroupId {
    GroupId(s(name))
}
