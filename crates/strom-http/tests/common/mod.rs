//! A real HTTP server on an ephemeral port over a broker in a temporary directory.

#![allow(dead_code)]

use std::sync::Arc;

use strom_broker::{Broker, BrokerConfig};
use strom_http::HttpConfig;
use tokio::sync::watch;

pub struct Server {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub broker: Arc<Broker>,
    pub client: reqwest::Client,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub fn config() -> HttpConfig {
    HttpConfig {
        max_body_bytes: 64 * 1024,
        max_poll_timeout_ms: 30_000,
        ..HttpConfig::default()
    }
}

pub async fn start() -> Server {
    start_with(config()).await
}

pub async fn start_with(http: HttpConfig) -> Server {
    start_over(move |_| http).await
}

/// A server whose config is made from its broker (to open `Security` over it).
pub async fn start_over(http: impl FnOnce(&Arc<Broker>) -> HttpConfig) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker_config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: strom_log::Durability::Never,
        log_defaults: strom_log::LogConfig {
            durability: strom_log::Durability::Never,
            ..Default::default()
        },
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 100 << 20,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    };
    let broker = Broker::open(broker_config).expect("broker opens");
    let http = http(&broker);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(strom_http::run(listener, Arc::clone(&broker), http, rx));
    Server {
        base: format!("http://{addr}"),
        addr,
        broker,
        client: reqwest::Client::new(),
        shutdown: tx,
        task: Some(task),
        _dir: dir,
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.broker
            .create_topic(name, partitions, &Default::default())
            .expect("topic created");
    }

    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = self.broker.shutdown();
    }
}
