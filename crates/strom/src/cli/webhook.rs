//! `strom webhook create|list|describe|pause|resume|delete|test|update|dlq|redrive|skip|resend|
//! attempts` over `/v1/webhooks`; the operator actions are in `webhook_ops`. The signing
//! secret is printed once, by `create` (and `update --rotate-secret`).

use serde_json::{json, Value};

use super::client::{segment, Api};
use super::webhook_ops::{self, RedriveArgs, UpdateArgs};
use super::{table, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum WebhookCommand {
    /// Create a subscription: deliver the records of topics to a URL.
    Create {
        name: String,
        /// The endpoint (http or https).
        #[arg(long)]
        url: String,
        /// A topic to deliver (repeat for several).
        #[arg(long = "topic", required = true)]
        topics: Vec<String>,
        /// Start at the earliest record instead of new ones.
        #[arg(long)]
        from_beginning: bool,
        /// Stop a partition at an event that keeps failing instead of dead-lettering it.
        #[arg(long)]
        block: bool,
        /// `structured` (CloudEvents JSON) or `binary` (raw value, `ce-*` headers).
        #[arg(long, default_value = "structured")]
        payload: String,
        /// Delays before each attempt, in ms, comma separated [default: 0,5s,5m,30m,2h,5h,10h,10h].
        #[arg(long, value_delimiter = ',')]
        retry_schedule_ms: Option<Vec<u64>>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List subscriptions.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one subscription (no secret).
    Describe {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop delivering; positions are kept.
    Pause {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deliver again (also after a 410 disabled the endpoint).
    Resume {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a subscription (its dead-letter topic stays).
    Delete {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send a test event now.
    Test {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a subscription (URL, ordering, retries, limits, secret rotation); delivery
    /// goes on from where it was.
    Update {
        name: String,
        #[command(flatten)]
        args: UpdateArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List dead letters with why they failed.
    Dlq {
        name: String,
        /// First dead-letter offset.
        #[arg(long)]
        from: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deliver dead letters again (or produce them back to their topic with --to-topic).
    Redrive {
        name: String,
        #[command(flatten)]
        args: RedriveArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Skip the events blocked partitions stop at (they are dead-lettered).
    Skip {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deliver one retained record again with its original webhook-id (one attempt; the
    /// committed position does not move).
    Resend {
        name: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 0)]
        partition: i32,
        #[arg(long)]
        offset: i64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The last delivery attempts, newest first.
    Attempts {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn path(name: &str, rest: &str) -> String {
    format!("/v1/webhooks/{}{rest}", segment(name))
}

fn show(client: &ClientArgs, value: &Value) {
    if client.json {
        println!("{value}");
        return;
    }
    let rows: Vec<Vec<String>> = value
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![value.clone()])
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            let topics: Vec<&str> = s["topics"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            vec![
                text("name"),
                text("state"),
                text("url"),
                topics.join(","),
                text("dead_letter_topic"),
            ]
        })
        .collect();
    table::print(&["NAME", "STATE", "URL", "TOPICS", "DEAD LETTERS"], &rows);
}

pub fn run(command: WebhookCommand) -> anyhow::Result<()> {
    match command {
        WebhookCommand::Create {
            name,
            url,
            topics,
            from_beginning,
            block,
            payload,
            retry_schedule_ms,
            client,
        } => {
            let api = Api::new(&client.server)?;
            let mut body = json!({
                "name": name, "url": url, "topics": topics, "payload": payload,
                "start": if from_beginning { "earliest" } else { "latest" },
                "failure_policy": if block { "block" } else { "dead-letter" },
            });
            if let Some(s) = retry_schedule_ms {
                body["retry_schedule_ms"] = json!(s);
            }
            let created = api.send(api.post("/v1/webhooks").json(&body))?;
            if client.json {
                println!("{created}");
            } else {
                println!(
                    "created webhook {name} (group {})",
                    created["group"].as_str().unwrap_or_default()
                );
                println!(
                    "signing secret (shown once): {}",
                    created["secret"].as_str().unwrap_or_default()
                );
            }
        }
        WebhookCommand::List { client } => {
            let api = Api::new(&client.server)?;
            show(&client, &api.send(api.get("/v1/webhooks"))?);
        }
        WebhookCommand::Describe { name, client } => {
            let api = Api::new(&client.server)?;
            let sub = api.send(api.get(&path(&name, "")))?;
            if client.json {
                println!("{sub}");
            } else {
                println!("{}", serde_json::to_string_pretty(&sub)?);
            }
        }
        WebhookCommand::Pause { name, client } => {
            let api = Api::new(&client.server)?;
            show(&client, &api.send(api.post(&path(&name, "/pause")))?);
        }
        WebhookCommand::Resume { name, client } => {
            let api = Api::new(&client.server)?;
            show(&client, &api.send(api.post(&path(&name, "/resume")))?);
        }
        WebhookCommand::Delete { name, client } => {
            let api = Api::new(&client.server)?;
            api.send(api.delete(&path(&name, "")))?;
            if client.json {
                println!("{}", json!({"deleted": name}));
            } else {
                println!("deleted webhook {name}");
            }
        }
        WebhookCommand::Test { name, client } => {
            let api = Api::new(&client.server)?;
            let result = api.send(api.post(&path(&name, "/test")))?;
            if client.json {
                println!("{result}");
            } else {
                let status = result["status"]
                    .as_u64()
                    .map_or("-".to_string(), |s| s.to_string());
                println!(
                    "{} (HTTP {status}, {} ms)",
                    result["result"].as_str().unwrap_or_default(),
                    result["latency_ms"]
                );
            }
        }
        WebhookCommand::Update { name, args, client } => webhook_ops::update(&name, args, &client)?,
        WebhookCommand::Dlq {
            name,
            from,
            limit,
            client,
        } => webhook_ops::dlq(&name, from, limit, &client)?,
        WebhookCommand::Redrive { name, args, client } => {
            webhook_ops::redrive(&name, args, &client)?
        }
        WebhookCommand::Skip { name, client } => webhook_ops::skip(&name, &client)?,
        WebhookCommand::Resend {
            name,
            topic,
            partition,
            offset,
            client,
        } => webhook_ops::resend(&name, (&topic, partition, offset), &client)?,
        WebhookCommand::Attempts { name, client } => webhook_ops::attempts(&name, &client)?,
    }
    Ok(())
}
