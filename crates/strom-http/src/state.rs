//! [`AppState`]: what every handler shares — the broker, the limits, the shutdown signal
//! that ends long-lived streams, and the round-robin counter for unkeyed records.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strom_broker::{Broker, Topic};
use tokio::sync::watch;

use crate::error::{ApiError, ApiResult};
use crate::HttpConfig;

pub struct AppState {
    pub broker: Arc<Broker>,
    pub config: HttpConfig,
    pub shutdown: watch::Receiver<bool>,
    /// The OpenAPI document as JSON, set once the router is built.
    pub openapi: std::sync::OnceLock<String>,
    /// REST Proxy consumer instances; `None` when no group coordinator was given.
    pub consumers: Option<Arc<crate::consumers::Consumers>>,
    /// Reads shared between live followers of the same position.
    pub feed_cache: crate::feed_cache::FeedCache,
    /// One follower per live topic, shared by its SSE and WebSocket subscribers.
    pub fanout: crate::fanout::Hub,
    /// Login sessions, the stream-token key and the failed-authentication counts.
    pub auth: crate::auth::AuthState,
    /// The console charts' in-memory metrics history.
    pub history: crate::history::History,
    round_robin: AtomicU32,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(
        broker: Arc<Broker>,
        config: HttpConfig,
        shutdown: watch::Receiver<bool>,
        groups: Option<strom_broker::GroupCoordinator>,
    ) -> Shared {
        let consumers = groups.map(crate::consumers::Consumers::new);
        if let Some(c) = &consumers {
            c.spawn_reaper(shutdown.clone());
        }
        let auth = crate::auth::AuthState::new(&config.auth);
        let feed_cache = crate::feed_cache::FeedCache::new(config.schemas.clone());
        let history = crate::history::History::new(
            config.console.history_interval_ms,
            config.console.history_points,
        );
        let state = Arc::new(AppState {
            history,
            auth,
            broker,
            config,
            shutdown,
            openapi: std::sync::OnceLock::new(),
            consumers,
            feed_cache,
            fanout: Default::default(),
            round_robin: AtomicU32::new(0),
        });
        crate::history::spawn(&state);
        state
    }

    /// The topic, or 404 (REST Proxy code 40401).
    pub fn topic(&self, name: &str) -> ApiResult<Arc<Topic>> {
        self.broker.topic(name).ok_or_else(|| {
            ApiError::not_found("unknown-topic", format!("topic '{name}' not found")).code(40401)
        })
    }

    /// The topic for a write or a live subscription. When it does not exist and the broker
    /// auto-creates topics, it is created as for a Kafka client's Metadata request: the
    /// caller needs Create on the cluster or on the topic (403 otherwise). Otherwise 404.
    pub fn topic_or_create(
        &self,
        session: &strom_auth::Session,
        name: &str,
    ) -> ApiResult<Arc<Topic>> {
        if let Some(t) = self.broker.topic(name) {
            return Ok(t);
        }
        if !self.broker.config().auto_create_topics {
            return self.topic(name);
        }
        crate::authz::check_create_topic(self, session, name)?;
        let topic = self.broker.topic_or_create(name)?;
        tracing::info!(topic = %name, partitions = topic.partition_count(), "topic auto-created on first use over HTTP");
        Ok(topic)
    }

    /// Next partition for an unkeyed record: round-robin, as the REST Proxy documents.
    pub fn next_round_robin(&self, partitions: i32) -> i32 {
        let n = self.round_robin.fetch_add(1, Ordering::Relaxed);
        (n % partitions.max(1) as u32) as i32
    }

    /// A client's long-poll timeout clamped to the configured maximum.
    pub fn poll_timeout(&self, requested_ms: Option<u64>) -> Duration {
        Duration::from_millis(
            requested_ms
                .unwrap_or(0)
                .min(self.config.max_poll_timeout_ms),
        )
    }
}
