//! `strom user add|list|delete` over `/v1/users`. The password is read from
//! `STROM_USER_PASSWORD`, else from standard input (one line; typed at a terminal it is not
//! echoed), never from the command line, where other local users could see it.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use serde_json::json;

use super::client::{segment, Api};
use super::{table, ClientArgs};

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user, or set a user's password, for one SCRAM mechanism.
    Add {
        name: String,
        /// SCRAM-SHA-256 or SCRAM-SHA-512.
        #[arg(long, short, default_value = "SCRAM-SHA-512")]
        mechanism: String,
        /// PBKDF2 iterations (4096 to 16384) [default: 4096].
        #[arg(long)]
        iterations: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List users with their mechanisms and iterations.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a user's credentials (every mechanism unless one is given).
    Delete {
        name: String,
        #[arg(long, short)]
        mechanism: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            mechanism,
            iterations,
            client,
        } => {
            let password = read_password(&name)?;
            let mut body = json!({"mechanism": mechanism, "password": password});
            if let Some(i) = iterations {
                body["iterations"] = json!(i);
            }
            let api = Api::new(&client.server)?;
            let path = format!("/v1/users/{}", segment(&name));
            api.send(api.put(&path).json(&body))?;
            if client.json {
                super::outln!("{}", json!({"user": name, "mechanism": mechanism}));
            } else {
                super::outln!("set {mechanism} credential of user {name}");
            }
        }
        UserCommand::List { client } => {
            let api = Api::new(&client.server)?;
            let users = api.send(api.get("/v1/users"))?;
            if client.json {
                super::outln!("{users}");
                return Ok(());
            }
            let mut rows = Vec::new();
            for u in users.as_array().map(Vec::as_slice).unwrap_or_default() {
                for c in u["credentials"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    rows.push(vec![
                        u["name"].as_str().unwrap_or_default().to_string(),
                        c["mechanism"].as_str().unwrap_or_default().to_string(),
                        c["iterations"].to_string(),
                    ]);
                }
            }
            table::print(&["USER", "MECHANISM", "ITERATIONS"], &rows);
        }
        UserCommand::Delete {
            name,
            mechanism,
            client,
        } => {
            let api = Api::new(&client.server)?;
            let mut request = api.delete(&format!("/v1/users/{}", segment(&name)));
            if let Some(m) = &mechanism {
                request = request.query(&[("mechanism", m)]);
            }
            api.send(request)?;
            if client.json {
                super::outln!("{}", json!({"deleted": name}));
            } else {
                super::outln!("deleted user {name}");
            }
        }
    }
    Ok(())
}

/// `STROM_USER_PASSWORD`, else one line of standard input (prompted, without echo, at a
/// terminal). Errors: no password given.
fn read_password(user: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("STROM_USER_PASSWORD") {
        if !password.is_empty() {
            return Ok(password);
        }
    }
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("password for {user}: "))
            .context("cannot read the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        bail!("no password: set STROM_USER_PASSWORD or type it on standard input");
    }
    Ok(password)
}
