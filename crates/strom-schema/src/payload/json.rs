//! JSON Schema payloads: the payload is parsed as JSON (`serde_json`, whose recursion limit
//! bounds nesting) and validated with the `jsonschema` crate. Referenced schemas are given
//! to the validator as resources under their reference name (and under
//! `json-schema:///<name>`, the URI a relative `$ref` resolves to); nothing is fetched from
//! the network.

use jsonschema::Validator;
use serde_json::Value;

use crate::error::{SchemaError, SchemaResult};
use crate::formats::Source;

/// A compiled JSON Schema.
pub struct JsonPayload {
    validator: Validator,
}

fn invalid(e: impl std::fmt::Display) -> SchemaError {
    SchemaError::InvalidSchema(format!("Invalid JSON schema: {e}"))
}

impl JsonPayload {
    /// Compiles `source`. Errors: `InvalidSchema`.
    pub fn new(source: Source<'_>) -> SchemaResult<JsonPayload> {
        let root: Value = serde_json::from_str(source.schema).map_err(invalid)?;
        let mut resources = jsonschema::Registry::new();
        for dep in source.deps {
            let contents: Value = serde_json::from_str(&dep.schema).map_err(invalid)?;
            if !dep.name.contains("://") {
                let uri = format!("json-schema:///{}", dep.name.trim_start_matches('/'));
                resources = resources.add(uri, contents.clone()).map_err(invalid)?;
            }
            resources = resources.add(&dep.name, contents).map_err(invalid)?;
        }
        let resources = resources.prepare().map_err(invalid)?;
        let validator = jsonschema::options()
            .with_registry(&resources)
            .build(&root)
            .map_err(invalid)?;
        Ok(JsonPayload { validator })
    }

    /// Checks that `payload` is JSON valid against the schema. Errors: why not.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        self.validate(&parse(payload)?)
    }

    /// `value` validated against the schema, as JSON text. Errors: why it is not valid.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        self.validate(value)?;
        serde_json::to_vec(value).map_err(|e| e.to_string())
    }

    fn validate(&self, value: &Value) -> Result<(), String> {
        self.validator.validate(value).map_err(|e| {
            let at = e.instance_path().to_string();
            match at.is_empty() {
                true => e.to_string(),
                false => format!("at '{at}': {e}"),
            }
        })
    }
}

/// The payload as JSON (not validated: rendering shows what was written). Errors: why it
/// is not JSON.
pub fn parse(payload: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))
}
