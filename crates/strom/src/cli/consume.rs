//! `strom consume TOPIC`: prints records of every partition (or one), from the end by
//! default, from the beginning, an offset or a time; `--follow` keeps long-polling.
//! Each partition is read by its own thread with blocking long polls, so an idle partition
//! never delays a busy one.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use base64::Engine;
use serde_json::Value;

use super::client::{segment, Api};
use super::ClientArgs;

#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Start at the first retained record.
    #[arg(long, conflicts_with_all = ["offset", "from_time"])]
    pub from_beginning: bool,
    /// Start at this offset (in every selected partition).
    #[arg(long, conflicts_with = "from_time")]
    pub offset: Option<i64>,
    /// Start at the first record at or after this time (RFC 3339 or epoch milliseconds).
    #[arg(long)]
    pub from_time: Option<String>,
    /// Keep waiting for new records instead of stopping at the end.
    #[arg(long, short)]
    pub follow: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max_messages: Option<usize>,
    /// Print `key<TAB>value`.
    #[arg(long)]
    pub print_key: bool,
    /// How values are printed: `raw` (their bytes) or `json` (one JSON value per line;
    /// schema-encoded values, Avro, Protobuf or JSON Schema, decoded with their schema).
    #[arg(long, default_value = "raw", value_parser = ["raw", "json"], conflicts_with = "group")]
    pub format: String,
    /// Consume as a member of this consumer group (partitions are shared with the group's
    /// other members, HTTP or Kafka; progress is committed to the group).
    #[arg(long, conflicts_with_all = ["partition", "offset", "from_time"])]
    pub group: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    if let Some(group) = args.group.clone() {
        return super::group::consume(&args, &group);
    }
    let api = Arc::new(super::client::Api::new(&args.client.server)?);
    let topic = segment(&args.topic);
    let info = api.send(api.get(&format!("/v1/topics/{topic}")))?;
    let partitions: Vec<(i32, i64)> = info["partitions"]
        .as_array()
        .ok_or_else(|| anyhow!("unexpected topic description"))?
        .iter()
        .filter_map(|p| {
            Some((
                p["partition"].as_i64()? as i32,
                p["high_watermark"].as_i64()?,
            ))
        })
        .filter(|(p, _)| args.partition.is_none_or(|only| only == *p))
        .collect();
    if partitions.is_empty() {
        let count = info["partition_count"].as_i64().unwrap_or(0);
        match args.partition {
            Some(p) => bail!(
                "topic {} has no partition {p}: it has {count} partition(s), numbered 0 to {}",
                args.topic,
                count - 1
            ),
            None => bail!("topic {} has no partitions", args.topic),
        }
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let printed = Arc::new(AtomicUsize::new(0));
    let args = Arc::new(args);
    let handles: Vec<_> = partitions
        .into_iter()
        .map(|(p, hw)| {
            let (api, out, printed, args) = (
                Arc::clone(&api),
                Arc::clone(&out),
                Arc::clone(&printed),
                Arc::clone(&args),
            );
            std::thread::spawn(move || follow(&api, &args, p, hw, &out, &printed))
        })
        .collect();
    let mut first_error = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(anyhow!("a reader thread panicked"));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn follow(
    api: &Api,
    args: &ConsumeArgs,
    partition: i32,
    end_at_start: i64,
    out: &Mutex<std::io::Stdout>,
    printed: &AtomicUsize,
) -> anyhow::Result<()> {
    let base = format!(
        "/v1/topics/{}/partitions/{partition}/records",
        segment(&args.topic)
    );
    let json_values = args.client.json || args.format == "json";
    let format = if json_values { "json" } else { "binary" };
    let mut position = if args.from_beginning {
        format!("{base}?format={format}")
    } else if let Some(o) = args.offset {
        format!("{base}?format={format}&offset={o}")
    } else if let Some(t) = &args.from_time {
        format!("{base}?format={format}&timestamp={}", segment(t))
    } else {
        format!("{base}?format={format}&offset={end_at_start}")
    };
    loop {
        if args
            .max_messages
            .is_some_and(|m| printed.load(Ordering::SeqCst) >= m)
        {
            return Ok(());
        }
        let wait = if args.follow { "&timeout=30000" } else { "" };
        let answer = api.send(api.get(&format!("{position}&limit=500{wait}")))?;
        let records = answer["records"].as_array().cloned().unwrap_or_default();
        {
            let mut out = out.lock().map_err(|_| anyhow!("stdout lock poisoned"))?;
            for r in &records {
                if args
                    .max_messages
                    .is_some_and(|m| printed.fetch_add(1, Ordering::SeqCst) >= m)
                {
                    return Ok(());
                }
                if let Err(e) = print_record(&mut *out, r, args) {
                    exit_on_closed_pipe(&e);
                    return Err(e);
                }
            }
            if let Err(e) = out.flush() {
                super::exit_if_pipe_closed(&e);
                return Err(e.into());
            }
        }
        let next = answer["next_offset"].as_i64().unwrap_or(0);
        let hw = answer["high_watermark"].as_i64().unwrap_or(0);
        if !args.follow && next >= hw {
            return Ok(());
        }
        position = format!("{base}?format={format}&offset={next}");
    }
}

/// Other partitions' readers may be waiting in long polls: a closed pipe ends the process now.
fn exit_on_closed_pipe(err: &anyhow::Error) {
    if super::is_closed_pipe(err) {
        std::process::exit(0);
    }
}

pub fn print_record(out: &mut impl Write, r: &Value, args: &ConsumeArgs) -> anyhow::Result<()> {
    if args.client.json {
        writeln!(out, "{r}")?;
        return Ok(());
    }
    if args.format == "json" {
        return print_json_value(out, r, args.print_key);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    if args.print_key {
        match (&r["key"], &r["key_base64"]) {
            (Value::String(k), _) => out.write_all(k.as_bytes())?,
            (_, Value::String(k)) => out.write_all(&b64.decode(k).unwrap_or_default())?,
            _ => {}
        }
        out.write_all(b"\t")?;
    }
    if let Value::String(v) = &r["value_base64"] {
        out.write_all(&b64.decode(v).unwrap_or_default())?;
    } else if r["value"].is_null() {
        out.write_all(b"(tombstone)")?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

/// `--format json`: the value as one line of JSON (decoded when schema-encoded, base64 text
/// when neither JSON nor schema-encoded), after `key<TAB>` with `--print-key` (a
/// schema-encoded key as its decoded JSON, which holds no raw tab).
fn print_json_value(out: &mut impl Write, r: &Value, print_key: bool) -> anyhow::Result<()> {
    if print_key {
        match (&r["key"], &r["key_base64"]) {
            (key, _) if !r["key_schema_id"].is_null() => write!(out, "{key}")?,
            (Value::String(k), _) | (_, Value::String(k)) => out.write_all(k.as_bytes())?,
            _ => {}
        }
        out.write_all(b"\t")?;
    }
    let value = match (&r["value"], &r["value_base64"]) {
        (Value::Null, Value::String(b64)) => Value::String(b64.clone()),
        (v, _) => v.clone(),
    };
    writeln!(out, "{value}")?;
    Ok(())
}
