//! The in-process Kafka harness the integration tests share: a broker's settings for a
//! temporary directory, `strom_kafka` serving on an ephemeral loopback port, and a raw-frame
//! client whose requests are encoded with `kafka-protocol`'s client side. Each test binary
//! uses its own part of it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strom_broker::{Broker, BrokerConfig, GroupCoordinator};
use strom_kafka::KafkaConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// A broker in `dir`: auto-created topics of one partition, no fsync.
pub fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: true,
        default_partitions: 1,
        durability: strom_log::Durability::Never,
        log_defaults: strom_log::LogConfig::default(),
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 1 << 20,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    }
}

/// Serves Kafka for `broker` on an ephemeral port with the settings `configure` makes for
/// that port, through `groups` when given (else a coordinator of its own). Returns the port
/// and the sender whose drop stops the listener.
pub async fn serve(
    broker: Arc<Broker>,
    groups: Option<GroupCoordinator>,
    configure: impl FnOnce(u16) -> KafkaConfig,
) -> (u16, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, shutdown) = watch::channel(false);
    let kafka = configure(port);
    match groups {
        Some(groups) => {
            tokio::spawn(strom_kafka::run_with_groups(
                listener, broker, groups, kafka, shutdown,
            ));
        }
        None => {
            tokio::spawn(strom_kafka::run(listener, broker, kafka, shutdown));
        }
    }
    (port, stop)
}

/// A broker in a temporary directory, served on a loopback port; dropping it stops the
/// listener and removes the directory.
pub struct Server {
    pub port: u16,
    pub broker: Arc<Broker>,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

/// Opens a broker in a fresh temporary directory and serves it with the listener settings
/// `configure` makes for the chosen port.
pub async fn start_server(configure: impl FnOnce(u16) -> KafkaConfig) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = broker_config(dir.path());
    let broker = tokio::task::spawn_blocking(move || Broker::open(config))
        .await
        .expect("open task")
        .expect("broker opens");
    let (port, stop) = serve(Arc::clone(&broker), None, configure).await;
    Server {
        port,
        broker,
        _dir: dir,
        _stop: stop,
    }
}

/// The settings every harness listener starts from: advertised as `127.0.0.1:port`.
pub fn kafka_config(port: u16) -> KafkaConfig {
    KafkaConfig {
        advertised_host: "127.0.0.1".into(),
        advertised_port: port,
        max_frame_bytes: 1 << 20,
        ..KafkaConfig::default()
    }
}

pub struct Client {
    pub stream: TcpStream,
    correlation: i32,
}

impl Client {
    pub async fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        Client {
            stream,
            correlation: 0,
        }
    }

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

    pub async fn send(&mut self, api: ApiKey, version: i16, request: RequestKind) {
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
    pub async fn frame(&mut self) -> Option<Bytes> {
        let read = async {
            let len = self.stream.read_i32().await.ok()?;
            let mut frame = vec![0u8; usize::try_from(len).ok()?];
            self.stream.read_exact(&mut frame).await.ok()?;
            Some(Bytes::from(frame))
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the server answers or closes, it does not hang")
    }

    /// The response to `request`, or `None` when the server closed the connection instead.
    pub async fn try_call(
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
        let header = ResponseHeader::decode(&mut frame, header_version).expect("response header");
        assert_eq!(header.correlation_id, self.correlation);
        let response = ResponseKind::decode(api, &mut frame, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response decodes: {e}"));
        assert_eq!(frame.remaining(), 0, "{api:?} v{version}: trailing bytes");
        Some(response)
    }

    pub async fn call(&mut self, api: ApiKey, version: i16, request: RequestKind) -> ResponseKind {
        self.try_call(api, version, request)
            .await
            .unwrap_or_else(|| {
                panic!("{api:?} v{version}: connection closed instead of a response")
            })
    }
}
