//! Strom webhooks: push a topic's records to HTTP endpoints. Owns subscriptions (stored in
//! the internal topic `__strom_webhooks`), delivery (one worker per partition, a standalone
//! consumer group `webhook.<name>` per subscription on the broker's group coordinator, so
//! positions survive restarts and show in group lists and lag), Standard Webhooks signing,
//! retries, dead letters (`<name>.dlq`), SSRF protection and metrics.
//!
//! Module map: [`model`] (what is stored and shown, validation), [`registry`] (the
//! [`Webhooks`] service the HTTP API drives: create, delete, pause), [`edit`] (PATCH and the
//! state workers change), [`ops`] (secrets, attempts, skip, test, metrics), [`letters`]
//! (dead-letter pages), [`redrive`], [`resend`], [`worker`] (the per-partition loop, ordering
//! `partition`), [`parallel`] (orderings `key` and `none`), [`commit`] (background position
//! commits), [`deliver`] (one event's attempts), [`send`] (one HTTP attempt; [`h1`]: plain-HTTP
//! connections driven by the delivering task), [`payload`]
//! (CloudEvents body and event ids; [`envelope`]: its attributes written straight to JSON or
//! headers), [`reads`] (log reads and bodies shared across
//! subscriptions),
//! [`signing`], [`dlq`] (the one dead-letter builder), [`reports`] (dead letters from REST
//! Proxy consumers and topic reports), [`ssrf`], [`runtime`] (a subscription's live state),
//! [`metrics`], [`events`] (operational events to `__strom_events`), [`partitions`]
//! (partitions added while a subscription runs).

pub mod commit;
pub mod deliver;
pub mod dlq;
pub mod edit;
pub mod envelope;
pub mod error;
pub mod events;
pub mod h1;
pub mod letters;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod parallel;
pub mod partitions;
pub mod payload;
pub mod reads;
pub mod redrive;
pub mod registry;
pub mod reports;
pub mod resend;
pub mod runtime;
pub mod send;
pub mod signing;
pub mod ssrf;
pub mod status;
pub mod worker;

use std::sync::Arc;

use strom_broker::{Broker, GroupCoordinator, StateTopic};

pub use error::WebhookError;
pub use registry::Webhooks;

/// What every worker shares.
pub struct Ctx {
    pub broker: Arc<Broker>,
    pub groups: GroupCoordinator,
    pub store: StateTopic,
    pub policy: Arc<ssrf::TargetPolicy>,
    /// Shows schema-encoded values as JSON (the server's schema registry), if any.
    pub decoder: Option<payload::ValueDecoder>,
    /// Serializes changes of stored subscriptions (see `edit::modify`).
    pub writes: tokio::sync::Mutex<()>,
    /// Log reads and request bodies shared by the subscriptions of a topic.
    pub reads: reads::Reads,
    /// Operational events (`__strom_events`).
    pub events: events::Events,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    strom_log::now_ms()
}
