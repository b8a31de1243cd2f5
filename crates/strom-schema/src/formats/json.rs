//! JSON Schema (drafts 4 to 2020-12): parsing, the fingerprint (the document with sorted
//! keys, whitespace removed), and Confluent's documented compatibility rules: a reader
//! accepts what a writer produced when every type the writer allows is one the reader
//! allows, no enum or range is narrowed, no property becomes required, and properties
//! follow the content model: a property added to the reader is incompatible when the
//! writer's model is open (`additionalProperties` not `false`: old data may hold anything
//! under that name) and a property removed from the reader is incompatible when the
//! reader's model is closed (old data holding it would be refused). Combinators (`allOf`,
//! `anyOf`, `oneOf`, `not`) are compared conservatively: added or changed is incompatible
//! unless identical (an `anyOf` may gain branches), dropped is compatible.

use serde_json::{Map, Value};

use super::{Parsed, Source};
use crate::error::{SchemaError, SchemaResult};

/// Deepest nesting followed when comparing (deeper parts are not compared).
const MAX_DEPTH: usize = 64;
const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

fn value_of(text: &str) -> SchemaResult<Value> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| SchemaError::InvalidSchema(format!("Invalid JSON schema: {e}")))?;
    match &value {
        Value::Bool(_) => Ok(value),
        Value::Object(map) => {
            check_types(map)?;
            Ok(value)
        }
        _ => Err(SchemaError::InvalidSchema(
            "Invalid JSON schema: a schema is an object or a boolean".to_string(),
        )),
    }
}

fn check_types(map: &Map<String, Value>) -> SchemaResult<()> {
    let bad =
        |t: &str| SchemaError::InvalidSchema(format!("Invalid JSON schema: unknown type '{t}'"));
    match map.get("type") {
        None => Ok(()),
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => Ok(()),
        Some(Value::String(t)) => Err(bad(t)),
        Some(Value::Array(list)) => list.iter().try_for_each(|t| match t.as_str() {
            Some(name) if TYPES.contains(&name) => Ok(()),
            _ => Err(bad(&t.to_string())),
        }),
        Some(other) => Err(bad(&other.to_string())),
    }
}

/// Parses a JSON Schema document. Errors: `InvalidSchema`.
pub fn parse(source: Source<'_>) -> SchemaResult<Parsed> {
    let value = value_of(source.schema)?;
    for dep in source.deps {
        value_of(&dep.schema)?;
    }
    let normalized = value.to_string();
    Ok(Parsed {
        fingerprint: normalized.clone(),
        normalized,
    })
}

/// Why `reader` cannot read what `writer` wrote. Errors: `InvalidSchema`.
pub fn incompatibilities(reader: Source<'_>, writer: Source<'_>) -> SchemaResult<Vec<String>> {
    let reader_root = value_of(reader.schema)?;
    let writer_root = value_of(writer.schema)?;
    let mut out = Vec::new();
    let roots = Roots {
        reader: &reader_root,
        writer: &writer_root,
    };
    compare(roots, &reader_root, &writer_root, "#", 0, &mut out);
    Ok(out)
}

#[derive(Clone, Copy)]
struct Roots<'a> {
    reader: &'a Value,
    writer: &'a Value,
}

/// Follows a local `$ref` (`#/definitions/x`, `#/$defs/x`) inside `root`.
fn deref<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                Some(target) => current = target,
                None => return current,
            },
            _ => return current,
        }
    }
    current
}

fn types_of(schema: &Value) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(list) => Some(list.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn compare(
    roots: Roots<'_>,
    reader: &Value,
    writer: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let reader = deref(roots.reader, reader);
    let writer = deref(roots.writer, writer);
    match (reader, writer) {
        (Value::Bool(true), _) | (_, Value::Bool(false)) => return,
        (Value::Bool(false), _) => {
            out.push(format!("{path}: the reader accepts nothing (false schema)"));
            return;
        }
        _ => {}
    }
    compare_types(reader, writer, path, out);
    compare_combinators(reader, writer, path, out);
    compare_enum(reader, writer, path, out);
    compare_ranges(reader, writer, path, out);
    compare_object(roots, reader, writer, path, depth, out);
    if let (Some(r), Some(w)) = (reader.get("items"), writer.get("items")) {
        if r.is_object() || r.is_boolean() {
            compare(roots, r, w, &format!("{path}/items"), depth + 1, out);
        }
    }
}

fn compare_types(reader: &Value, writer: &Value, path: &str, out: &mut Vec<String>) {
    let Some(reader_types) = types_of(reader) else {
        return;
    };
    let writer_types = types_of(writer).unwrap_or_else(|| TYPES.to_vec());
    for t in writer_types {
        let accepted =
            reader_types.contains(&t) || (t == "integer" && reader_types.contains(&"number"));
        if !accepted {
            out.push(format!(
                "{path}: TYPE_NARROWED: the writer allows type '{t}' but the reader allows only {reader_types:?}"
            ));
        }
    }
}

/// `allOf`, `anyOf`, `oneOf`, `not`, conservatively: a combinator the reader adds or
/// changes is incompatible unless identical, except an `anyOf` whose branches include all
/// the writer's (it only widens); one the reader drops only widens it.
fn compare_combinators(reader: &Value, writer: &Value, path: &str, out: &mut Vec<String>) {
    for key in ["allOf", "anyOf", "oneOf", "not"] {
        let Some(r) = reader.get(key) else {
            continue;
        };
        match writer.get(key) {
            Some(w) if w == r => {}
            Some(Value::Array(w)) if key == "anyOf" => {
                let branches = r.as_array().map(Vec::as_slice).unwrap_or_default();
                for b in w.iter().filter(|b| !branches.contains(b)) {
                    out.push(format!(
                        "{path}/anyOf: SUM_TYPE_NARROWED: the reader's anyOf lacks the writer's branch {b}"
                    ));
                }
            }
            Some(_) => out.push(format!(
                "{path}/{key}: COMBINED_TYPE_CHANGED: the {key} differs between reader and writer (a combinator must stay identical)"
            )),
            None => out.push(format!(
                "{path}/{key}: COMBINED_TYPE_ADDED: the reader adds a {key} the writer did not have"
            )),
        }
    }
}

fn compare_enum(reader: &Value, writer: &Value, path: &str, out: &mut Vec<String>) {
    let Some(reader_enum) = reader.get("enum").and_then(Value::as_array) else {
        return;
    };
    match writer.get("enum").and_then(Value::as_array) {
        Some(writer_enum) => {
            for v in writer_enum.iter().filter(|v| !reader_enum.contains(v)) {
                out.push(format!(
                    "{path}: ENUM_ARRAY_NARROWED: the reader's enum lacks {v}"
                ));
            }
        }
        None => out.push(format!(
            "{path}: ENUM_ARRAY_NARROWED: the reader adds an enum restriction"
        )),
    }
}

fn compare_ranges(reader: &Value, writer: &Value, path: &str, out: &mut Vec<String>) {
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
    for key in [
        "maxLength",
        "maximum",
        "maxItems",
        "maxProperties",
        "exclusiveMaximum",
    ] {
        if let Some(r) = num(reader, key) {
            if num(writer, key).is_none_or(|w| w > r) {
                out.push(format!(
                    "{path}: {key} narrowed: the reader allows at most {r}"
                ));
            }
        }
    }
    for key in [
        "minLength",
        "minimum",
        "minItems",
        "minProperties",
        "exclusiveMinimum",
    ] {
        if let Some(r) = num(reader, key) {
            if num(writer, key).is_none_or(|w| w < r) {
                out.push(format!(
                    "{path}: {key} narrowed: the reader needs at least {r}"
                ));
            }
        }
    }
}

fn is_open(schema: &Value) -> bool {
    !matches!(schema.get("additionalProperties"), Some(Value::Bool(false)))
        && !matches!(
            schema.get("unevaluatedProperties"),
            Some(Value::Bool(false))
        )
}

fn names(schema: &Value, key: &str) -> Vec<String> {
    match schema.get(key) {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn compare_object(
    roots: Roots<'_>,
    reader: &Value,
    writer: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    let empty = Map::new();
    let reader_props = reader
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let writer_props = writer
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, r) in reader_props {
        let at = format!("{path}/properties/{name}");
        match writer_props.get(name) {
            Some(w) => compare(roots, r, w, &at, depth + 1, out),
            None if is_open(writer) && r != &Value::Bool(true) && r != &Value::Object(Map::new()) => out.push(format!(
                "{at}: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: property '{name}' is new in the reader, and the writer's open content model may have written anything under that name"
            )),
            None => {}
        }
    }
    if !is_open(reader) {
        for name in writer_props
            .keys()
            .filter(|n| !reader_props.contains_key(*n))
        {
            out.push(format!(
                "{path}/properties/{name}: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL: property '{name}' is gone from the reader, whose closed content model refuses it"
            ));
        }
        if is_open(writer) {
            out.push(format!(
                "{path}: ADDITIONAL_PROPERTIES_REMOVED: the reader's content model is closed, the writer's open"
            ));
        }
    }
    let writer_required = names(writer, "required");
    for name in names(reader, "required") {
        if !writer_required.contains(&name) {
            let has_default = reader_props
                .get(&name)
                .and_then(|p| p.get("default"))
                .is_some();
            if !has_default {
                out.push(format!(
                    "{path}/required/{name}: REQUIRED_PROPERTY_ADDED: property '{name}' is required by the reader but not by the writer"
                ));
            }
        }
    }
}
