//! `strom topic create|list|describe|delete`.

use anyhow::bail;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::{array, table, text, ClientArgs};

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
    /// Set or remove topic config overrides (Kafka names), validated as a whole.
    Alter {
        name: String,
        /// Set KEY=VALUE; repeatable.
        #[arg(long = "config", short = 'c')]
        configs: Vec<String>,
        /// Remove the override of KEY (back to the default); repeatable.
        #[arg(long = "delete-config")]
        deletes: Vec<String>,
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
                outln!("{info}");
            } else {
                outln!(
                    "created topic {} with {} partition(s)",
                    name,
                    info["partition_count"]
                );
            }
        }
        TopicCommand::List { client } => {
            let api = Api::new(&client.server)?;
            let list = api.send(api.get("/v1/topics"))?;
            if client.json {
                outln!("{list}");
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
                outln!("{info}");
                return Ok(());
            }
            outln!("topic {}  partitions {}", name, info["partition_count"]);
            outln!();
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
            outln!();
            print_tiers(&info);
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
        TopicCommand::Alter {
            name,
            configs,
            deletes,
            client,
        } => alter(&name, &configs, &deletes, &client)?,
        TopicCommand::Delete { name, client } => {
            let api = Api::new(&client.server)?;
            api.send(api.delete(&format!("/v1/topics/{}", segment(&name))))?;
            if client.json {
                outln!("{}", json!({"deleted": name}));
            } else {
                outln!("deleted topic {name}");
            }
        }
    }
    Ok(())
}

/// The tiers of a tiered topic's partitions (nothing for a topic that is not tiered).
fn print_tiers(info: &Value) {
    let tiered: Vec<&Value> = array(&info["partitions"])
        .iter()
        .filter(|p| p["tiers"].is_object())
        .collect();
    if tiered.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = tiered
        .iter()
        .map(|p| {
            let t = &p["tiers"];
            let range = |a: &str, b: &str| format!("{}-{}", text(&t[a]), text(&t[b]));
            vec![
                text(&p["partition"]),
                range("local_start_offset", "local_end_offset"),
                text(&t["local_bytes"]),
                text(&t["local_segments"]),
                range("remote_start_offset", "remote_end_offset"),
                text(&t["remote_bytes"]),
                text(&t["remote_segments"]),
                format!(
                    "{} ({} seg)",
                    text(&t["upload_lag_bytes"]),
                    text(&t["upload_lag_segments"])
                ),
            ]
        })
        .collect();
    table::print(
        &[
            "PARTITION",
            "LOCAL",
            "LOCAL BYTES",
            "LOCAL SEGS",
            "REMOTE",
            "REMOTE BYTES",
            "REMOTE SEGS",
            "UPLOAD LAG",
        ],
        &rows,
    );
    outln!();
}

fn alter(
    name: &str,
    configs: &[String],
    deletes: &[String],
    client: &ClientArgs,
) -> anyhow::Result<()> {
    if configs.is_empty() && deletes.is_empty() {
        bail!("nothing to change: give --config KEY=VALUE or --delete-config KEY");
    }
    let mut map = serde_json::Map::new();
    for c in configs {
        let Some((k, v)) = c.split_once('=') else {
            bail!("--config '{c}' is not KEY=VALUE");
        };
        map.insert(k.to_string(), json!(v));
    }
    for k in deletes {
        map.insert(k.clone(), Value::Null);
    }
    let api = Api::new(&client.server)?;
    let path = format!("/v1/topics/{}/configs", segment(name));
    let info = api.send(api.patch(&path).json(&json!({ "configs": map })))?;
    if client.json {
        outln!("{info}");
    } else {
        outln!("altered topic {name}: {} change(s)", map.len());
    }
    Ok(())
}
