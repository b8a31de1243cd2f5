//! `strom produce TOPIC`: one record per line of standard input, sent in batches.
//! Values are sent as base64 so the stored bytes are exactly the line's bytes; with
//! `--schema`, lines are JSON values encoded with a schema (`produce_schema.rs`).

use std::io::BufRead;

use anyhow::{bail, Context};
use base64::Engine;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::ClientArgs;

/// Lines per request, and the byte budget of one request.
const BATCH_LINES: usize = 1000;
const BATCH_BYTES: usize = 512 * 1024;

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    /// Split each line at the first SEP into key and value (`key<SEP>value`).
    #[arg(long)]
    pub key_separator: Option<String>,
    /// Write every record to this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Encode each line's value (a JSON value) with this schema: a schema file, registered
    /// under the subject `<topic>-value` if new, or a registered schema's id.
    #[arg(long)]
    pub schema: Option<String>,
    /// The schema file's type, avro, json or protobuf [default: from the file's extension].
    #[arg(long, requires = "schema")]
    pub schema_type: Option<String>,
    /// Encode each line's key (JSON, before `--key-separator`) with this schema: a schema
    /// file, registered under `<topic>-key` if new, or a registered schema's id.
    #[arg(long, requires = "key_separator")]
    pub key_schema: Option<String>,
    /// The key schema file's type [default: from the file's extension].
    #[arg(long, requires = "key_schema")]
    pub key_schema_type: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    if args.schema.is_some() || args.key_schema.is_some() {
        return super::produce_schema::run(args);
    }
    let api = Api::new(&args.client.server)?;
    let path = format!("/v1/topics/{}/records", segment(&args.topic));
    let stdin = std::io::stdin();
    let mut batch: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let mut total = 0usize;
    for (n, line) in stdin.lock().split(b'\n').enumerate() {
        let mut line = line.context("cannot read standard input")?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (key, value) = match &args.key_separator {
            None => (None, line.as_slice()),
            Some(sep) => match find(&line, sep.as_bytes()) {
                Some(at) => (Some(&line[..at]), &line[at + sep.len()..]),
                None => bail!("line {} has no key separator '{sep}'", n + 1),
            },
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut record = json!({"value_base64": b64.encode(value)});
        if let Some(key) = key {
            record["key_base64"] = json!(b64.encode(key));
        }
        if let Some(p) = args.partition {
            record["partition"] = json!(p);
        }
        bytes += line.len() + 64;
        batch.push(record);
        if batch.len() >= BATCH_LINES || bytes >= BATCH_BYTES {
            total += send(&api, &path, &mut batch, args.client.json)?;
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        total += send(&api, &path, &mut batch, args.client.json)?;
    }
    if !args.client.json {
        eprintln!("produced {total} record(s) to {}", args.topic);
    }
    Ok(())
}

fn send(api: &Api, path: &str, batch: &mut Vec<Value>, json_out: bool) -> anyhow::Result<usize> {
    let records = std::mem::take(batch);
    let n = records.len();
    let answer = api.send(api.post(path).json(&json!({ "records": records })))?;
    check_offsets(&answer, json_out)?;
    Ok(n)
}

/// Fails when a record of `answer` was not written; prints the offsets with `--json`.
pub(super) fn check_offsets(answer: &Value, json_out: bool) -> anyhow::Result<()> {
    let offsets = answer["offsets"].as_array().cloned().unwrap_or_default();
    if let Some(failed) = offsets.iter().find(|o| !o["error"].is_null()) {
        bail!(
            "the server could not write every record: {}",
            failed["error"]
        );
    }
    if json_out {
        for o in offsets {
            super::outln!("{o}");
        }
    }
    Ok(())
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
