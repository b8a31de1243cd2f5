//! `strom dlq post|list`: a topic's dead letters (`<topic>.dlq`) over
//! `/v1/topics/{topic}/dead-letters`, for readers without a consumer group (feeds, scripts).

use serde_json::{json, Value};

use super::client::{segment, Api};
use super::{table, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum DlqCommand {
    /// Report a record of a topic as a dead letter (idempotent on partition, offset and
    /// consumer).
    Post {
        topic: String,
        #[arg(long, default_value_t = 0)]
        partition: i32,
        #[arg(long)]
        offset: i64,
        /// Why the record cannot be processed.
        #[arg(long)]
        reason: String,
        /// Who gives up on it (part of the idempotency key).
        #[arg(long)]
        consumer: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List a topic's dead letters, oldest first.
    List {
        topic: String,
        /// First dead-letter offset.
        #[arg(long)]
        from: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(topic: &str) -> String {
    format!("/v1/topics/{}/dead-letters", segment(topic))
}

pub fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::Post {
            topic,
            partition,
            offset,
            reason,
            consumer,
            client,
        } => {
            let api = Api::new(&client.server)?;
            let body = json!({"partition": partition, "offset": offset, "reason": reason,
                "consumer": consumer});
            let filed = api.send(api.post(&path(&topic)).json(&body))?;
            if client.json {
                outln!("{filed}");
            } else {
                let verb = if filed["duplicate"] == Value::Bool(true) {
                    "already reported at"
                } else {
                    "dead-lettered to"
                };
                outln!(
                    "{topic}/{partition}/{offset} {verb} {} offset {}",
                    super::text(&filed["dead_letter_topic"]),
                    super::text(&filed["dead_letter_offset"])
                );
            }
            Ok(())
        }
        DlqCommand::List {
            topic,
            from,
            limit,
            client,
        } => list(&topic, from, limit, &client),
    }
}

fn list(topic: &str, from: Option<i64>, limit: usize, client: &ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    let mut url = format!("{}?limit={limit}", path(topic));
    if let Some(from) = from {
        url.push_str(&format!("&from={from}"));
    }
    let page = api.send(api.get(&url))?;
    if client.json {
        outln!("{page}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = super::array(&page["dead_letters"])
        .iter()
        .map(|l| {
            let at = format!(
                "{}/{}",
                super::text(&l["partition"]),
                super::text(&l["source_offset"])
            );
            let mut row = vec![super::text(&l["offset"]), at];
            for f in ["consumer", "reason", "principal", "time"] {
                row.push(super::text(&l[f]));
            }
            row
        })
        .collect();
    let header = [
        "OFFSET",
        "RECORD",
        "CONSUMER",
        "REASON",
        "PRINCIPAL",
        "TIME",
    ];
    table::print(&header, &rows);
    if let Some(next) = page["next_offset"].as_i64() {
        outln!("more from offset {next} (--from {next})");
    }
    Ok(())
}
