//! `strom consume TOPIC --group G`: a member of a consumer group through the REST Proxy v2
//! consumer API. Each batch is printed, then committed. The instance is deleted (the group
//! left) on every way out: the end, an error, a closed output pipe, Ctrl-C, SIGTERM or
//! SIGHUP (the loop checks a flag the signal sets); only SIGKILL leaves it to the server's
//! idle timeout.

use std::io::Write;

use anyhow::Context;
use base64::Engine;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::consume::{print_record, ConsumeArgs};

const V2: &str = "application/vnd.kafka.v2+json";

pub fn consume(args: &ConsumeArgs, group: &str) -> anyhow::Result<()> {
    super::signals::install();
    let api = Api::new(&args.client.server)?;
    let reset = if args.from_beginning {
        "earliest"
    } else {
        "latest"
    };
    let created = api.send(
        api.post(&format!("/consumers/{}", segment(group)))
            .header("content-type", V2)
            .json(&json!({"format": "binary", "auto.offset.reset": reset, "consumer.instance.timeout.ms": 60000})),
    )?;
    let name = created["instance_id"]
        .as_str()
        .context("the server did not name the consumer instance")?
        .to_string();
    let base = format!("/consumers/{}/instances/{}", segment(group), segment(&name));
    let result = run(&api, args, &base);
    // Leave the group promptly so the partitions move to the remaining members.
    let _ = api.send(api.delete(&base));
    result
}

fn run(api: &Api, args: &ConsumeArgs, base: &str) -> anyhow::Result<()> {
    api.send(
        api.post(&format!("{base}/subscription"))
            .header("content-type", V2)
            .json(&json!({"topics": [args.topic]})),
    )?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut printed = 0usize;
    let mut idle_rounds = 0;
    loop {
        if super::signals::stopping() {
            return Ok(());
        }
        let records = api.send(
            api.get(&format!("{base}/records?timeout=2000"))
                .header("accept", "application/vnd.kafka.binary.v2+json"),
        )?;
        let records = records.as_array().cloned().unwrap_or_default();
        if super::signals::stopping() {
            // Not printed, so not committed: the group hands them to another member.
            return Ok(());
        }
        if records.is_empty() {
            idle_rounds += 1;
            // Without --follow, stop once the group has been quiet for a while (joining
            // and the first assignment take a moment).
            if !args.follow && idle_rounds >= 3 {
                return Ok(());
            }
            continue;
        }
        idle_rounds = 0;
        let mut out = std::io::stdout().lock();
        let mut done: std::collections::BTreeMap<(String, i64), i64> = Default::default();
        for r in &records {
            if args.max_messages.is_some_and(|m| printed >= m) {
                break;
            }
            // The consumer API carries base64; print_record expects the records endpoint shape.
            let shaped = json!({
                "topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
                "timestamp": r["timestamp"],
                "key_base64": r["key"], "value_base64": r["value"],
                "value": if r["value"].is_null() { Value::Null } else { json!(0) },
                "key": Value::Null,
            });
            let shaped = if args.client.json {
                let text = |v: &Value| {
                    v.as_str()
                        .and_then(|s| b64.decode(s).ok())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                };
                json!({"topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
                       "timestamp": r["timestamp"], "key": text(&r["key"]), "value": text(&r["value"])})
            } else {
                shaped
            };
            print_record(&mut out, &shaped, args)?;
            printed += 1;
            if let (Some(t), Some(p), Some(o)) = (
                r["topic"].as_str(),
                r["partition"].as_i64(),
                r["offset"].as_i64(),
            ) {
                done.insert((t.to_string(), p), o);
            }
        }
        out.flush()?;
        drop(out);
        // Commit exactly what was printed (REST Proxy convention: the last record processed).
        let offsets: Vec<Value> = done
            .into_iter()
            .map(|((t, p), o)| json!({"topic": t, "partition": p, "offset": o}))
            .collect();
        api.send(
            api.post(&format!("{base}/offsets"))
                .header("content-type", V2)
                .json(&json!({ "offsets": offsets })),
        )?;
        if args.max_messages.is_some_and(|m| printed >= m) {
            return Ok(());
        }
    }
}
