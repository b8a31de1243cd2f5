//! `strom group list|describe|delete|reset-offsets`: the consumer groups of a running server,
//! over its HTTP API (`/v1/groups`), like every other client subcommand.

use anyhow::bail;
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::{table, text, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum GroupCommand {
    /// List consumer groups with their state.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a group's members with their partitions, and committed offsets with lag.
    Describe {
        /// The group id.
        group: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a group without members, with its committed offsets.
    Delete {
        group: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move a group's committed offsets (a dry run unless --execute; the group must have no
    /// members, as with kafka-consumer-groups).
    ResetOffsets(ResetArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("to").required(true).args(
    ["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])))]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topic", "all_topics"])))]
pub struct ResetArgs {
    group: String,
    /// Reset every partition of this topic; repeatable.
    #[arg(long)]
    topic: Vec<String>,
    /// Reset every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    #[arg(long)]
    to_earliest: bool,
    #[arg(long)]
    to_latest: bool,
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// RFC 3339 time (e.g. 2026-12-01T10:00:00Z) or epoch milliseconds.
    #[arg(long, value_name = "TIME")]
    to_datetime: Option<String>,
    /// Move each committed offset by N (negative: back).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Commit the new offsets (without it: only show them).
    #[arg(long)]
    execute: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { client } => list(&client),
        GroupCommand::Describe { group, client } => describe(&client, &group),
        GroupCommand::Delete { group, client } => {
            let api = Api::new(&client.server)?;
            api.send(api.delete(&format!("/v1/groups/{}", segment(&group))))?;
            if client.json {
                outln!("{}", json!({ "deleted": group }));
            } else {
                outln!("deleted group {group}");
            }
            Ok(())
        }
        GroupCommand::ResetOffsets(args) => reset(&args),
    }
}

fn list(client: &ClientArgs) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    let groups = api.send(api.get("/v1/groups"))?;
    if client.json {
        outln!("{groups}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = super::array(&groups)
        .iter()
        .map(|g| {
            vec![
                text(&g["group"]),
                text(&g["state"]),
                text(&g["protocol_type"]),
            ]
        })
        .collect();
    table::print(&["GROUP", "STATE", "PROTOCOL-TYPE"], &rows);
    Ok(())
}

fn describe(client: &ClientArgs, group: &str) -> anyhow::Result<()> {
    let api = Api::new(&client.server)?;
    let d = api.send(api.get(&format!("/v1/groups/{}", segment(group))))?;
    if client.json {
        outln!("{d}");
        return Ok(());
    }
    outln!(
        "group {group}: state {}, protocol {} {}",
        text(&d["state"]),
        text(&d["protocol_type"]),
        text(&d["protocol"])
    );
    let members = super::array(&d["members"]);
    if !members.is_empty() {
        outln!();
        let rows: Vec<Vec<String>> = members
            .iter()
            .map(|m| {
                let parts: Vec<String> = m["assignment"]
                    .as_object()
                    .map(|a| a.iter().map(|(t, ps)| format!("{t}{ps}")).collect())
                    .unwrap_or_default();
                let parts: Vec<String> = parts.iter().map(|p| p.replace(',', ", ")).collect();
                vec![
                    text(&m["member_id"]),
                    text(&m["client_id"]),
                    text(&m["client_host"]),
                    parts.join(" "),
                ]
            })
            .collect();
        table::print(&["MEMBER", "CLIENT-ID", "HOST", "PARTITIONS"], &rows);
    }
    let offsets = super::array(&d["offsets"]);
    outln!();
    if offsets.is_empty() {
        outln!("no committed offsets");
        return Ok(());
    }
    let dash = |v: &Value| {
        if v.is_null() {
            "-".to_string()
        } else {
            text(v)
        }
    };
    let rows: Vec<Vec<String>> = offsets
        .iter()
        .map(|o| {
            vec![
                text(&o["topic"]),
                text(&o["partition"]),
                text(&o["committed_offset"]),
                dash(&o["log_end_offset"]),
                dash(&o["lag"]),
                dash(&o["member_id"]),
            ]
        })
        .collect();
    table::print(
        &[
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "LOG-END",
            "LAG",
            "MEMBER",
        ],
        &rows,
    );
    Ok(())
}

fn reset(args: &ResetArgs) -> anyhow::Result<()> {
    let to = if args.to_earliest {
        json!("earliest")
    } else if args.to_latest {
        json!("latest")
    } else if let Some(o) = args.to_offset {
        json!({ "offset": o })
    } else if let Some(t) = &args.to_datetime {
        json!({ "datetime": t })
    } else if let Some(n) = args.shift_by {
        json!({ "shift_by": n })
    } else {
        bail!("say where to: --to-earliest, --to-latest, --to-offset, --to-datetime or --shift-by");
    };
    let mut body = json!({ "to": to, "execute": args.execute });
    if !args.all_topics {
        body["topics"] = json!(args.topic);
    }
    let api = Api::new(&args.client.server)?;
    let path = format!("/v1/groups/{}/offsets/reset", segment(&args.group));
    let answer = api.send(api.post(&path).json(&body))?;
    if args.client.json {
        outln!("{answer}");
        return Ok(());
    }
    let dash = |v: &Value| {
        if v.is_null() {
            "-".to_string()
        } else {
            text(v)
        }
    };
    let rows: Vec<Vec<String>> = super::array(&answer["partitions"])
        .iter()
        .map(|p| {
            vec![
                text(&p["topic"]),
                text(&p["partition"]),
                dash(&p["current_offset"]),
                text(&p["new_offset"]),
            ]
        })
        .collect();
    table::print(&["TOPIC", "PARTITION", "CURRENT", "NEW"], &rows);
    if !args.execute {
        eprintln!("dry run: nothing changed; add --execute to commit these offsets");
    }
    Ok(())
}
