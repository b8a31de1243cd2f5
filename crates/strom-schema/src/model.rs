//! The registry's value types: schema types, compatibility levels, modes, references, and
//! a registered schema as the API shows it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{SchemaError, SchemaResult};

/// A schema language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    #[default]
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Parses `AVRO`, `JSON` or `PROTOBUF` (any case). Errors: `InvalidSchema`.
    pub fn parse(name: &str) -> SchemaResult<SchemaType> {
        match name.to_ascii_uppercase().as_str() {
            "AVRO" => Ok(SchemaType::Avro),
            "JSON" => Ok(SchemaType::Json),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            _ => Err(SchemaError::InvalidSchema(format!(
                "unknown schema type '{name}'"
            ))),
        }
    }
}

/// A compatibility level (Confluent's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    /// Parses a level name, any case. Errors: `InvalidCompatibilityLevel`.
    pub fn parse(name: &str) -> SchemaResult<Level> {
        serde_json::from_value(Value::String(name.to_ascii_uppercase()))
            .map_err(|_| SchemaError::InvalidCompatibilityLevel)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether every earlier version is checked, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }

    /// Whether the new schema must read data written with the old one.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    /// Whether the old schema must read data written with the new one.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }
}

/// A registry mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    #[default]
    Readwrite,
    Readonly,
    ReadonlyOverride,
    Import,
}

impl Mode {
    /// Parses a mode name, any case. Errors: `InvalidMode`.
    pub fn parse(name: &str) -> SchemaResult<Mode> {
        serde_json::from_value(Value::String(name.to_ascii_uppercase()))
            .map_err(|_| SchemaError::InvalidMode)
    }

    /// Whether registering and deleting are refused.
    pub fn read_only(self) -> bool {
        matches!(self, Mode::Readonly | Mode::ReadonlyOverride)
    }
}

/// A reference from a schema to a version of another subject, under the name the schema
/// uses for it (an Avro full name, a `.proto` import path, a JSON Schema `$ref` URL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A schema to register or check, as the API receives it. Fields the registry does not
/// interpret (`metadata`, `ruleSet`, ...) are kept in `extra` and stored with the schema.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewSchema {
    pub schema: String,
    #[serde(rename = "schemaType", default)]
    pub schema_type: SchemaType,
    #[serde(default)]
    pub references: Vec<Reference>,
    /// An explicit id (honoured in IMPORT mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A schema stored under a global id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSchema {
    pub id: i32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    /// `metadata`, `ruleSet` and any other field given at registration.
    pub extra: Map<String, Value>,
}

/// One version of a subject, as `GET /subjects/{s}/versions/{v}` shows it.
#[derive(Debug, Clone)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub deleted: bool,
    pub schema: std::sync::Arc<StoredSchema>,
}

/// A version selector: a number or `latest` (also `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    Latest,
    Number(i32),
}

impl VersionRef {
    /// Parses `latest`, `-1` or 1..2^31-1. Errors: `InvalidVersion`.
    pub fn parse(text: &str) -> SchemaResult<VersionRef> {
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(VersionRef::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionRef::Number(n)),
            _ => Err(SchemaError::InvalidVersion(text.to_string())),
        }
    }
}
