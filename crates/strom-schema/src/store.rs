//! How the registry is stored: records shaped like Confluent Schema Registry's `_schemas`
//! topic (JSON keys `{"keytype":"SCHEMA","subject":..,"version":..,"magic":1}` and
//! `{"keytype":"CONFIG"|"MODE","subject":..,"magic":0}`, JSON values), plus one key of
//! Strom's own that keeps the next schema id, so that ids stay unique after a hard delete.
//! [`Backend`] is where they go: the internal topic `__strom_schemas` in the server
//! ([`StateTopic`]), memory in tests.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use strom_broker::StateTopic;

use crate::error::{SchemaError, SchemaResult};
use crate::model::{Level, Mode, Reference, SchemaType};

/// Durable key-value storage for registry records.
pub trait Backend: Send + Sync {
    /// Writes all entries (a `None` value deletes) or none. Errors: `Store`.
    fn put_many(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> SchemaResult<()>;
    /// The newest value of every key. Errors: `Store`.
    fn load(&self) -> SchemaResult<Vec<(Vec<u8>, Vec<u8>)>>;
}

impl Backend for StateTopic {
    fn put_many(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> SchemaResult<()> {
        let borrowed: Vec<(&[u8], Option<&[u8]>)> = entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        StateTopic::put_many(self, &borrowed).map_err(|e| SchemaError::Store(e.to_string()))
    }

    fn load(&self) -> SchemaResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let state = StateTopic::load(self).map_err(|e| SchemaError::Store(e.to_string()))?;
        Ok(state
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect())
    }
}

/// Records in memory (tests, or a registry without a broker).
#[derive(Default)]
pub struct MemoryBackend {
    records: Mutex<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Backend for MemoryBackend {
    fn put_many(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> SchemaResult<()> {
        let mut records = self.records.lock();
        for (k, v) in entries {
            match v {
                Some(v) => records.insert(k.clone(), v.clone()),
                None => records.remove(k),
            };
        }
        Ok(())
    }

    fn load(&self) -> SchemaResult<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .records
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// A record key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Key {
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    Config {
        subject: Option<String>,
        magic: i32,
    },
    Mode {
        subject: Option<String>,
        magic: i32,
    },
    /// Strom's own: the next schema id to hand out.
    StromNextId {
        magic: i32,
    },
}

impl Key {
    pub fn schema(subject: &str, version: i32) -> Key {
        Key::Schema {
            subject: subject.to_string(),
            version,
            magic: 1,
        }
    }
    pub fn config(subject: Option<&str>) -> Key {
        Key::Config {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
    pub fn mode(subject: Option<&str>) -> Key {
        Key::Mode {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The value of a `SCHEMA` key, as Confluent writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(rename = "schemaType", default, skip_serializing_if = "is_avro")]
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_avro(t: &SchemaType) -> bool {
    *t == SchemaType::Avro
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: Level,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: Mode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NextIdValue {
    pub next_id: i32,
}

/// Serialises a record value.
pub fn value_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}
