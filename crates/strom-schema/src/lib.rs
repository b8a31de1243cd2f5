//! Strom's schema registry: subjects, versions, global schema ids, compatibility levels
//! and modes, for Avro, JSON Schema and Protobuf, kept in the internal topic
//! `__strom_schemas` in records shaped like Confluent's `_schemas`. The HTTP API (Confluent's
//! Schema Registry API) lives in strom-http; validation on produce uses [`wire`] and
//! [`payload`], which also decodes schema-encoded values to JSON for HTTP readers.

mod delete;
pub mod error;
pub mod formats;
mod listing;
pub mod model;
mod ops;
pub mod payload;
pub mod registry;
pub mod store;
pub mod validate;
pub mod wire;

pub use error::{SchemaError, SchemaResult};
pub use model::{
    Level, Mode, NewSchema, Reference, SchemaType, StoredSchema, SubjectVersion, VersionRef,
};
pub use ops::{Against, MAX_SCHEMA_BYTES};
pub use registry::Registry;
pub use store::{Backend, MemoryBackend};

/// The internal topic's name under `__strom_`.
pub const STATE_TOPIC: &str = "schemas";

/// Opens the registry on the broker's `__strom_schemas` topic. Blocking.
/// Errors: `Store` when the topic cannot be opened or read.
pub fn open_on_broker(
    broker: std::sync::Arc<strom_broker::Broker>,
    default_level: Level,
) -> SchemaResult<Registry> {
    let topic = strom_broker::StateTopic::open(broker, STATE_TOPIC)
        .map_err(|e| SchemaError::Store(e.to_string()))?;
    Registry::open(Box::new(topic), default_level)
}
