//! The three schema languages behind one interface: [`parse`] checks a schema (with its
//! resolved references) and gives its fingerprint, the form two registrations of the same
//! schema share; [`incompatibilities`] says why a reader schema cannot read what a writer
//! schema wrote (empty: it can), following each format's own resolution rules.

pub mod avro;
pub mod json;
pub mod protobuf;
pub mod protobuf_canon;

use crate::error::SchemaResult;
use crate::model::SchemaType;

/// A referenced schema, resolved: the name the referring schema uses and its text.
/// Lists of dependencies are in dependency order (a schema after what it references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub schema: String,
}

/// A schema and its dependencies.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub schema: &'a str,
    pub deps: &'a [Dep],
}

/// A parsed schema: the fingerprint identifies it (same schema, same id) and `normalized`
/// is the text stored when the client asks to `normalize`.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub fingerprint: String,
    pub normalized: String,
}

/// Parses `source` as `kind`. Errors: `InvalidSchema` with the parser's reason.
pub fn parse(kind: SchemaType, source: Source<'_>) -> SchemaResult<Parsed> {
    match kind {
        SchemaType::Avro => avro::parse(source),
        SchemaType::Json => json::parse(source),
        SchemaType::Protobuf => protobuf::parse(source),
    }
}

/// Why `reader` cannot read data written with `writer` (empty when it can).
/// Errors: `InvalidSchema` when either does not parse.
pub fn incompatibilities(
    kind: SchemaType,
    reader: Source<'_>,
    writer: Source<'_>,
) -> SchemaResult<Vec<String>> {
    match kind {
        SchemaType::Avro => avro::incompatibilities(reader, writer),
        SchemaType::Json => json::incompatibilities(reader, writer),
        SchemaType::Protobuf => protobuf::incompatibilities(reader, writer),
    }
}
