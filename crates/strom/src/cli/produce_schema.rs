//! `strom produce TOPIC --schema FILE|ID`: each line of standard input is a JSON value,
//! encoded by the server with the schema (Avro binary, validated JSON, Protobuf) and framed
//! in the serializers' wire format, through the REST Proxy's `avro`, `jsonschema` and
//! `protobuf` embedded formats: a schema file is registered under `<topic>-value` if new
//! (Write on the topic), an id must name a registered schema. Lines are sent in batches; a
//! line that does not convert fails its batch with the server's reason.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::produce::{check_offsets, ProduceArgs};

/// Lines per request.
const BATCH_LINES: usize = 500;

/// The REST Proxy content type of a schema type (AVRO, JSON, PROTOBUF, any case).
fn content_type(schema_type: &str) -> anyhow::Result<&'static str> {
    Ok(match schema_type.to_ascii_uppercase().as_str() {
        "AVRO" => "application/vnd.kafka.avro.v2+json",
        "JSON" | "JSONSCHEMA" => "application/vnd.kafka.jsonschema.v2+json",
        "PROTOBUF" => "application/vnd.kafka.protobuf.v2+json",
        other => bail!("unknown schema type '{other}': use avro, json or protobuf"),
    })
}

/// The request fields naming the schema, and the content type to send with.
fn schema_fields(
    api: &Api,
    schema: &str,
    given: Option<String>,
) -> anyhow::Result<(Value, &'static str)> {
    if let Ok(id) = schema.parse::<i32>() {
        let schema_type = match given {
            Some(t) => t,
            None => {
                let found = api.send(api.get(&format!("/schemas/ids/{id}")))?;
                found["schemaType"].as_str().unwrap_or("AVRO").to_string()
            }
        };
        return Ok((
            json!({ "value_schema_id": id }),
            content_type(&schema_type)?,
        ));
    }
    let file = Path::new(schema);
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the schema file {}", file.display()))?;
    let schema_type = super::schema::schema_type(given, file);
    Ok((json!({ "value_schema": text }), content_type(&schema_type)?))
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.client.server)?;
    let schema = args.schema.clone().unwrap_or_default();
    let (mut fields, ct) = schema_fields(&api, &schema, args.schema_type.clone())?;
    let path = format!("/topics/{}", segment(&args.topic));
    let mut batch: Vec<Value> = Vec::new();
    let mut total = 0usize;
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).with_context(|| format!("line {} is not JSON", n + 1))?;
        let mut record = json!({ "value": value });
        if let Some(p) = args.partition {
            record["partition"] = json!(p);
        }
        batch.push(record);
        if batch.len() >= BATCH_LINES {
            total += send(&api, &path, ct, &mut fields, &mut batch, args.client.json)?;
        }
    }
    if !batch.is_empty() {
        total += send(&api, &path, ct, &mut fields, &mut batch, args.client.json)?;
    }
    if !args.client.json {
        eprintln!("produced {total} record(s) to {}", args.topic);
    }
    Ok(())
}

/// Sends one batch; after the first, the schema goes by the id the server answered.
fn send(
    api: &Api,
    path: &str,
    ct: &str,
    fields: &mut Value,
    batch: &mut Vec<Value>,
    json_out: bool,
) -> anyhow::Result<usize> {
    let records = std::mem::take(batch);
    let n = records.len();
    let mut body = fields.clone();
    body["records"] = json!(records);
    let request = api
        .post(path)
        .header("content-type", ct)
        .body(body.to_string());
    let answer = api.send(request)?;
    check_offsets(&answer, json_out)?;
    if let Some(id) = answer["value_schema_id"].as_i64() {
        *fields = json!({ "value_schema_id": id });
    }
    Ok(n)
}
