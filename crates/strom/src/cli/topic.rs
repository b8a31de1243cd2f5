//! `strom topic create|list|describe|delete`.

use anyhow::bail;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::{table, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Partition count [default: the server's default].
        #[arg(long, short)]
        partitions: Option<i32>,
        /// Topic config as KEY=VALUE (Kafka names, e.g. cleanup.policy=compact); repeatable.
        #[arg(long = "config", short = 'c')]
        configs: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List topics.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a topic's partitions (offsets, sizes) and configs.
    Describe {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a topic and its data.
    Delete {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            configs,
            client,
        } => {
            let mut map = serde_json::Map::new();
            for c in configs {
                let Some((k, v)) = c.split_once('=') else {
                    bail!("--config '{c}' is not KEY=VALUE");
                };
                map.insert(k.to_string(), json!(v));
            }
            let mut body = json!({"name": name, "configs": map});
            if let Some(p) = partitions {
                body["partitions"] = json!(p);
            }
            let api = Api::new(&client.server)?;
            let info = api.send(api.post("/v1/topics").json(&body))?;
            if client.json {
                println!("{info}");
            } else {
                println!(
                    "created topic {} with {} partition(s)",
                    name, info["partition_count"]
                );
            }
        }
        TopicCommand::List { client } => {
            let api = Api::new(&client.server)?;
            let list = api.send(api.get("/v1/topics"))?;
            if client.json {
                println!("{list}");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    vec![
                        text(&t["name"]),
                        text(&t["partition_count"]),
                        text(&t["records"]),
                        text(&t["size_bytes"]),
                    ]
                })
                .collect();
            table::print(&["TOPIC", "PARTITIONS", "RECORDS", "BYTES"], &rows);
        }
        TopicCommand::Describe { name, client } => {
            let api = Api::new(&client.server)?;
            let info = api.send(api.get(&format!("/v1/topics/{}", segment(&name))))?;
            if client.json {
                println!("{info}");
                return Ok(());
            }
            println!("topic {}  partitions {}", name, info["partition_count"]);
            println!();
            let rows: Vec<Vec<String>> = array(&info["partitions"])
                .iter()
                .map(|p| {
                    vec![
                        text(&p["partition"]),
                        text(&p["log_start_offset"]),
                        text(&p["high_watermark"]),
                        text(&p["size_bytes"]),
                    ]
                })
                .collect();
            table::print(&["PARTITION", "START", "END", "BYTES"], &rows);
            println!();
            let rows: Vec<Vec<String>> = array(&info["configs"])
                .iter()
                .map(|c| {
                    let source = if c["default"].as_bool().unwrap_or(true) {
                        "default"
                    } else {
                        "override"
                    };
                    vec![text(&c["name"]), text(&c["value"]), source.to_string()]
                })
                .collect();
            table::print(&["CONFIG", "VALUE", "SOURCE"], &rows);
        }
        TopicCommand::Delete { name, client } => {
            let api = Api::new(&client.server)?;
            api.send(api.delete(&format!("/v1/topics/{}", segment(&name))))?;
            if client.json {
                println!("{}", json!({"deleted": name}));
            } else {
                println!("deleted topic {name}");
            }
        }
    }
    Ok(())
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A JSON scalar as table text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
