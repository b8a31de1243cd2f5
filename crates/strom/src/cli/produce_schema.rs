//! `strom produce TOPIC --schema FILE|ID [--key-schema FILE|ID]`: each line of standard
//! input is a JSON value (with `--key-separator`, `KEY<SEP>VALUE`), encoded by the server
//! with the schema (Avro binary, validated JSON, Protobuf) and framed in the serializers'
//! wire format, through Strom's produce API (`value_schema_id` / `key_schema_id`). A schema
//! file is first registered under `<topic>-value` / `<topic>-key` (the registry answers the
//! existing id when it is there; Write on the topic), an id must name a registered schema.
//! A side without a schema is sent as the line's bytes. Lines are sent in batches; a line
//! that does not convert fails its batch with the server's reason, nothing of it written.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::produce::{check_offsets, find, ProduceArgs};

/// Lines per request.
const BATCH_LINES: usize = 500;

/// The id of the schema `schema` names: a registered id, or a file registered under
/// `subject` (its type `given`, else from the extension).
fn schema_id(api: &Api, subject: &str, schema: &str, given: Option<String>) -> anyhow::Result<i64> {
    if let Ok(id) = schema.parse::<i64>() {
        return Ok(id);
    }
    let body = super::schema::body(Path::new(schema), given)?;
    let path = format!("/subjects/{}/versions", segment(subject));
    let registered = api.send(api.post(&path).json(&body))?;
    registered["id"]
        .as_i64()
        .with_context(|| format!("unexpected registration answer: {registered}"))
}

/// One side of a line: JSON to encode when the side has a schema, else its bytes.
fn side(text: &[u8], schema: bool, what: &str, line: usize) -> anyhow::Result<(String, Value)> {
    if schema {
        let json: Value = serde_json::from_slice(text)
            .with_context(|| format!("line {line}: the {what} is not JSON"))?;
        return Ok((what.to_string(), json));
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    Ok((format!("{what}_base64"), json!(b64)))
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client.server)?;
    let mut fields = json!({});
    if let Some(schema) = &args.schema {
        let subject = format!("{}-value", args.topic);
        fields["value_schema_id"] =
            json!(schema_id(&api, &subject, schema, args.schema_type.clone())?);
    }
    if let Some(schema) = &args.key_schema {
        let subject = format!("{}-key", args.topic);
        let given = args.key_schema_type.clone();
        fields["key_schema_id"] = json!(schema_id(&api, &subject, schema, given)?);
    }
    let path = format!("/v1/topics/{}/records", segment(&args.topic));
    let mut batch: Vec<Value> = Vec::new();
    let mut total = 0usize;
    for (n, line) in std::io::stdin().lock().split(b'\n').enumerate() {
        let mut line = line.context("cannot read standard input")?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (key, value) = match &args.key_separator {
            None => (None, line.as_slice()),
            Some(sep) => match find(&line, sep.as_bytes()) {
                Some(at) => (Some(&line[..at]), &line[at + sep.len()..]),
                None => bail!("line {} has no key separator '{sep}'", n + 1),
            },
        };
        let mut record = json!({});
        let (name, v) = side(value, args.schema.is_some(), "value", n + 1)?;
        record[name] = v;
        if let Some(key) = key {
            let (name, k) = side(key, args.key_schema.is_some(), "key", n + 1)?;
            record[name] = k;
        }
        if let Some(p) = args.partition {
            record["partition"] = json!(p);
        }
        batch.push(record);
        if batch.len() >= BATCH_LINES {
            total += send(&api, &path, &fields, &mut batch, args.client.json)?;
        }
    }
    if !batch.is_empty() {
        total += send(&api, &path, &fields, &mut batch, args.client.json)?;
    }
    if !args.client.json {
        eprintln!("produced {total} record(s) to {}", args.topic);
    }
    Ok(())
}

/// Sends one batch with the schema ids.
fn send(
    api: &Api,
    path: &str,
    fields: &Value,
    batch: &mut Vec<Value>,
    json_out: bool,
) -> anyhow::Result<usize> {
    let records = std::mem::take(batch);
    let n = records.len();
    let mut body = fields.clone();
    body["records"] = json!(records);
    let answer = api.send(api.post(path).json(&body))?;
    check_offsets(&answer, json_out)?;
    Ok(n)
}
