//! Avro schemas through the `apache-avro` crate: parsing with named references, the
//! fingerprint (the schema's full JSON form, so defaults and docs count, as Confluent's
//! canonical string does), and compatibility by Avro's schema resolution rules.

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;

use super::{Parsed, Source};
use crate::error::{SchemaError, SchemaResult};

fn schema_of(source: Source<'_>) -> SchemaResult<Schema> {
    schemata(source).map(|(schema, _)| schema)
}

/// The schema and its referenced schemas, parsed. Errors: `InvalidSchema`.
pub(crate) fn schemata(source: Source<'_>) -> SchemaResult<(Schema, Vec<Schema>)> {
    let parsed = if source.deps.is_empty() {
        Schema::parse_str(source.schema).map(|schema| (schema, Vec::new()))
    } else {
        Schema::parse_str_with_list(source.schema, source.deps.iter().map(|d| &d.schema))
    };
    parsed.map_err(|e| SchemaError::InvalidSchema(format!("Invalid Avro schema: {e}")))
}

/// Parses an Avro schema. Errors: `InvalidSchema`.
pub fn parse(source: Source<'_>) -> SchemaResult<Parsed> {
    let schema = schema_of(source)?;
    let normalized = serde_json::to_string(&schema)
        .map_err(|e| SchemaError::InvalidSchema(format!("Invalid Avro schema: {e}")))?;
    Ok(Parsed {
        fingerprint: normalized.clone(),
        normalized,
    })
}

/// Why `reader` cannot read what `writer` wrote. Errors: `InvalidSchema`.
pub fn incompatibilities(reader: Source<'_>, writer: Source<'_>) -> SchemaResult<Vec<String>> {
    let reader = schema_of(reader)?;
    let writer = schema_of(writer)?;
    Ok(match SchemaCompatibility::can_read(&writer, &reader) {
        Ok(Compatibility::Full) => Vec::new(),
        Ok(Compatibility::Partial) => vec![
            "the reader schema cannot read every value of the writer schema: an enum symbol \
             or a union branch of the writer is missing in the reader"
                .to_string(),
        ],
        Err(e) => vec![with_causes(&e)],
    })
}

/// The error and its causes, one after the other (a field mismatch names the field, its
/// cause says how the types differ).
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
