//! The operator actions of `strom webhook`: `update` (PATCH a subscription), `dlq` (list
//! dead letters), `redrive`, `skip`, `resend` and `attempts`, over `/v1/webhooks/{name}/…`.

use serde_json::{json, Map, Value};

use super::client::{segment, Api};
use super::{table, ClientArgs};

/// What `strom webhook update` changes; unset flags stay as they are.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// A new endpoint URL.
    #[arg(long)]
    pub url: Option<String>,
    /// `partition`, `key` or `none`.
    #[arg(long)]
    pub ordering: Option<String>,
    /// `dead-letter` or `block`.
    #[arg(long)]
    pub failure_policy: Option<String>,
    /// Delays before each attempt, in ms, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub retry_schedule_ms: Option<Vec<u64>>,
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Requests per second at most; 0 removes the limit.
    #[arg(long)]
    pub rate_limit_per_sec: Option<u32>,
    /// Disable the endpoint after failing continuously this long (ms); 0 never.
    #[arg(long)]
    pub disable_after_ms: Option<u64>,
    /// Deliver only records whose key starts with this.
    #[arg(long)]
    pub key_prefix: Option<String>,
    /// Rotate to a generated secret (printed once); old ones sign for --keep-old-ms.
    #[arg(long)]
    pub rotate_secret: bool,
    #[arg(long)]
    pub keep_old_ms: Option<i64>,
}

/// Which dead letters `strom webhook redrive` sends.
#[derive(clap::Args, Debug)]
pub struct RedriveArgs {
    /// A dead-letter offset (repeat for several); none: all (or --since-ms / --from-offset).
    #[arg(long = "offset")]
    pub offsets: Vec<i64>,
    /// Only dead letters written at or after this time (ms since the epoch).
    #[arg(long)]
    pub since_ms: Option<i64>,
    /// Start at this dead-letter offset.
    #[arg(long)]
    pub from_offset: Option<i64>,
    /// Produce them back to their original topic and partition instead of delivering them.
    #[arg(long)]
    pub to_topic: bool,
}

fn path(name: &str, rest: &str) -> String {
    format!("/v1/webhooks/{}{rest}", segment(name))
}

fn print(client: &ClientArgs, value: &Value) -> anyhow::Result<()> {
    if client.json {
        println!("{value}");
    } else {
        println!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}

/// `strom webhook update`.
pub fn update(name: &str, args: UpdateArgs, client: &ClientArgs) -> anyhow::Result<()> {
    let mut body = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            body.insert(k.to_string(), v);
        }
    };
    put("url", json!(args.url));
    put("ordering", json!(args.ordering));
    put("failure_policy", json!(args.failure_policy));
    put("retry_schedule_ms", json!(args.retry_schedule_ms));
    put("timeout_ms", json!(args.timeout_ms));
    put("concurrency", json!(args.concurrency));
    put("rate_limit_per_sec", json!(args.rate_limit_per_sec));
    put("disable_after_ms", json!(args.disable_after_ms));
    put("keep_old_ms", json!(args.keep_old_ms));
    if let Some(prefix) = args.key_prefix {
        put("filter", json!({"key_prefix": prefix}));
    }
    if args.rotate_secret {
        put("rotate_secret", json!(true));
    }
    let api = Api::new(&client.server)?;
    let changed = api.send(api.patch(&path(name, "")).json(&Value::Object(body)))?;
    if client.json {
        println!("{changed}");
    } else {
        println!("updated webhook {name}");
        if let Some(secret) = changed["secret"].as_str() {
            println!("new signing secret (shown once): {secret}");
        }
    }
    Ok(())
}

/// `strom webhook dlq`: a page of dead letters.
pub fn dlq(name: &str, from: Option<i64>, limit: usize, client: &ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    let mut rest = format!("/dlq?limit={limit}");
    if let Some(from) = from {
        rest.push_str(&format!("&from={from}"));
    }
    let page = api.send(api.get(&path(name, &rest)))?;
    if client.json {
        println!("{page}");
        return Ok(());
    }
    let cell = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = page["dead_letters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let source = format!(
                "{}/{}/{}",
                cell(&l["topic"]),
                cell(&l["partition"]),
                cell(&l["source_offset"])
            );
            let fields = ["reason", "attempts", "status", "error", "last_attempt"];
            let mut row = vec![cell(&l["offset"]), source];
            row.extend(fields.iter().map(|f| cell(&l[*f])));
            row
        })
        .collect();
    let header = [
        "OFFSET",
        "SOURCE",
        "REASON",
        "ATTEMPTS",
        "STATUS",
        "ERROR",
        "LAST ATTEMPT",
    ];
    table::print(&header, &rows);
    if let Some(next) = page["next_offset"].as_i64() {
        println!("more from offset {next} (--from {next})");
    }
    Ok(())
}

/// `strom webhook redrive`.
pub fn redrive(name: &str, args: RedriveArgs, client: &ClientArgs) -> anyhow::Result<()> {
    let mut body = json!({"to": if args.to_topic { "topic" } else { "subscription" }});
    if !args.offsets.is_empty() {
        body["offsets"] = json!(args.offsets);
    }
    if let Some(since) = args.since_ms {
        body["since_ms"] = json!(since);
    }
    if let Some(from) = args.from_offset {
        body["from_offset"] = json!(from);
    }
    let api = Api::new(&client.server)?;
    let done = api.send(api.post(&path(name, "/dlq/redrive")).json(&body))?;
    if client.json {
        println!("{done}");
        return Ok(());
    }
    let count = |k: &str| done[k].as_array().map_or(0, Vec::len);
    println!(
        "delivered {}, produced {}, failed {}, not found {}",
        count("delivered"),
        count("produced"),
        count("failed"),
        count("not_found")
    );
    if let Some(next) = done["next_offset"].as_i64() {
        println!("more may match from offset {next} (--from-offset {next})");
    }
    Ok(())
}

/// `strom webhook skip`: dead-letter the events blocked partitions stop at.
pub fn skip(name: &str, client: &ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    print(client, &api.send(api.post(&path(name, "/skip")))?)
}

/// `strom webhook attempts`: the last attempts, newest first.
pub fn attempts(name: &str, client: &ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    print(client, &api.send(api.get(&path(name, "/attempts")))?)
}

/// `strom webhook resend`: deliver the record at topic/partition/offset once more.
pub fn resend(name: &str, at: (&str, i32, i64), client: &ClientArgs) -> anyhow::Result<()> {
    let (topic, partition, offset) = at;
    let body = json!({"topic": topic, "partition": partition, "offset": offset});
    let api = Api::new(&client.server)?;
    let attempt = api.send(api.post(&path(name, "/resend")).json(&body))?;
    if client.json {
        println!("{attempt}");
        return Ok(());
    }
    println!(
        "{} {}: {} (HTTP {}, {} ms)",
        attempt["event_id"].as_str().unwrap_or_default(),
        offset,
        attempt["result"].as_str().unwrap_or_default(),
        attempt["status"],
        attempt["latency_ms"]
    );
    Ok(())
}
