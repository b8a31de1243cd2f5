//! `strom schema list|get|register|check|delete` over the server's Schema Registry API
//! (Confluent's `/subjects`, `/schemas`, `/compatibility`). The registry's own checks and
//! authorization apply; its error messages are shown as they come (`message`, HTTP status).
//! `check` exits with status 1 when the schema is incompatible, for scripts and CI.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::client::{segment, Api};
use super::{array, table, text, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum SchemaCommand {
    /// List subjects with their latest version (every version with `--all-versions`).
    List {
        /// Only subjects starting with this.
        #[arg(long)]
        prefix: Option<String>,
        /// Every version, not only the latest.
        #[arg(long)]
        all_versions: bool,
        /// Include soft-deleted versions.
        #[arg(long)]
        deleted: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a version of a subject (the latest by default), or a schema by `--id`.
    Get {
        /// The subject (not with `--id`).
        #[arg(required_unless_present = "id")]
        subject: Option<String>,
        /// A version number or `latest`.
        #[arg(long, default_value = "latest")]
        version: String,
        /// A global schema id instead of a subject.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Register the schema in a file under a subject; prints its global id.
    Register {
        subject: String,
        /// The schema file (`.avsc`, `.json`, `.proto`).
        #[arg(long)]
        file: PathBuf,
        /// AVRO, JSON or PROTOBUF [default: from the file's extension, else AVRO].
        #[arg(long = "type")]
        schema_type: Option<String>,
        /// Store the schema in its normalized form.
        #[arg(long)]
        normalize: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check the schema in a file against a subject (its compatibility level, or one
    /// `--version`); exits with status 1 when incompatible.
    Check {
        subject: String,
        #[arg(long)]
        file: PathBuf,
        /// AVRO, JSON or PROTOBUF [default: from the file's extension, else AVRO].
        #[arg(long = "type")]
        schema_type: Option<String>,
        /// Compare with this version only (a number or `latest`).
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a subject or one version: soft first, then with `--permanent` for good.
    Delete {
        subject: String,
        /// One version (a number or `latest`) instead of the whole subject.
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        permanent: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// The schema type for `file`: the one given, else from the extension.
pub(crate) fn schema_type(given: Option<String>, file: &Path) -> String {
    if let Some(t) = given {
        return t.to_ascii_uppercase();
    }
    match file.extension().and_then(|e| e.to_str()) {
        Some("proto") => "PROTOBUF",
        Some("json") => "JSON",
        _ => "AVRO",
    }
    .to_string()
}

/// The registration body for the schema in `file`.
pub(crate) fn body(file: &Path, given: Option<String>) -> anyhow::Result<Value> {
    let schema = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the schema file {}", file.display()))?;
    Ok(json!({ "schema": schema, "schemaType": schema_type(given, file) }))
}

fn list(
    api: &Api,
    client: &ClientArgs,
    prefix: Option<String>,
    all: bool,
    deleted: bool,
) -> anyhow::Result<()> {
    let mut query = vec![
        ("latestOnly", (!all).to_string()),
        ("deleted", deleted.to_string()),
    ];
    if let Some(p) = prefix {
        query.push(("subjectPrefix", p));
    }
    let found = api.send(api.get("/schemas").query(&query))?;
    if client.json {
        outln!("{found}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = array(&found)
        .iter()
        .map(|v| {
            let kind = v["schemaType"].as_str().unwrap_or("AVRO").to_string();
            let state = if v["deleted"] == Value::Bool(true) {
                "deleted"
            } else {
                ""
            };
            vec![
                text(&v["subject"]),
                text(&v["version"]),
                text(&v["id"]),
                kind,
                state.to_string(),
            ]
        })
        .collect();
    table::print(&["SUBJECT", "VERSION", "ID", "TYPE", "STATE"], &rows);
    Ok(())
}

fn get(
    api: &Api,
    client: &ClientArgs,
    subject: Option<String>,
    version: &str,
    id: Option<i32>,
) -> anyhow::Result<()> {
    let found = match (id, subject) {
        (Some(id), _) => api.send(api.get(&format!("/schemas/ids/{id}")))?,
        (None, Some(s)) => api.send(api.get(&format!(
            "/subjects/{}/versions/{}",
            segment(&s),
            segment(version)
        )))?,
        (None, None) => bail!("give a subject or --id"),
    };
    if client.json {
        outln!("{found}");
        return Ok(());
    }
    for key in ["subject", "version", "id", "schemaType"] {
        if !found[key].is_null() {
            outln!("{key}: {}", text(&found[key]));
        }
    }
    let schema = found["schema"].as_str().unwrap_or_default();
    // Avro and JSON Schema texts are JSON: show them indented.
    match serde_json::from_str::<Value>(schema) {
        Ok(parsed) => outln!("{}", serde_json::to_string_pretty(&parsed)?),
        Err(_) => outln!("{schema}"),
    }
    Ok(())
}

fn check(
    api: &Api,
    client: &ClientArgs,
    subject: &str,
    body: &Value,
    version: Option<String>,
) -> anyhow::Result<()> {
    let path = match version {
        Some(v) => format!(
            "/compatibility/subjects/{}/versions/{}",
            segment(subject),
            segment(&v)
        ),
        None => format!("/compatibility/subjects/{}/versions", segment(subject)),
    };
    let verdict = api.send(api.post(&path).query(&[("verbose", "true")]).json(body))?;
    let compatible = verdict["is_compatible"] == Value::Bool(true);
    if client.json {
        outln!("{verdict}");
    } else if compatible {
        outln!("compatible with subject {subject}");
    } else {
        outln!("incompatible with subject {subject}:");
        for m in array(&verdict["messages"]) {
            outln!("  {}", text(m));
        }
    }
    if !compatible {
        std::process::exit(1);
    }
    Ok(())
}

pub fn run(command: SchemaCommand) -> anyhow::Result<()> {
    match command {
        SchemaCommand::List {
            prefix,
            all_versions,
            deleted,
            client,
        } => list(
            &Api::new(&client.server)?,
            &client,
            prefix,
            all_versions,
            deleted,
        ),
        SchemaCommand::Get {
            subject,
            version,
            id,
            client,
        } => get(&Api::new(&client.server)?, &client, subject, &version, id),
        SchemaCommand::Register {
            subject,
            file,
            schema_type,
            normalize,
            client,
        } => {
            let api = Api::new(&client.server)?;
            let path = format!("/subjects/{}/versions", segment(&subject));
            let request = api
                .post(&path)
                .query(&[("normalize", normalize.to_string())])
                .json(&body(&file, schema_type)?);
            let registered = api.send(request)?;
            match client.json {
                true => outln!("{registered}"),
                false => outln!("registered under {subject}: id {}", text(&registered["id"])),
            }
            Ok(())
        }
        SchemaCommand::Check {
            subject,
            file,
            schema_type,
            version,
            client,
        } => {
            let api = Api::new(&client.server)?;
            check(&api, &client, &subject, &body(&file, schema_type)?, version)
        }
        SchemaCommand::Delete {
            subject,
            version,
            permanent,
            client,
        } => {
            let api = Api::new(&client.server)?;
            let path = match &version {
                Some(v) => format!("/subjects/{}/versions/{}", segment(&subject), segment(v)),
                None => format!("/subjects/{}", segment(&subject)),
            };
            let request = api
                .delete(&path)
                .query(&[("permanent", permanent.to_string())]);
            let deleted = api.send(request)?;
            let how = if permanent { "permanently" } else { "soft" };
            match client.json {
                true => outln!("{deleted}"),
                false => outln!("{how} deleted {subject} version(s) {deleted}"),
            }
            Ok(())
        }
    }
}
