//! The client subcommands (`strom topic …`, `strom group …`, `strom user …`, `strom produce`,
//! `strom consume`, `strom schema …`, `strom status`), all over the HTTP API of a running server (`--server` /
//! `STROM_SERVER`). Human-readable tables by default, `--json` for scripts. Output goes
//! through [`outln!`], which ends the process quietly when the reader of a pipe has gone
//! (`strom … | head`), as Unix tools do.

/// `println!` that exits quietly (status 0) instead of panicking when stdout is a closed pipe.
macro_rules! outln {
    () => {
        $crate::cli::emit(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::emit(format_args!($($arg)*))
    };
}
pub(crate) use outln;

mod client;
mod consume;
mod dlq;
mod group;
mod groups;
pub mod meta;
mod produce;
mod produce_schema;
mod schema;
mod signals;
mod table;
mod topic;
mod user;
mod webhook;
mod webhook_ops;

pub use consume::ConsumeArgs;
pub use dlq::DlqCommand;
pub use groups::GroupCommand;
pub use produce::ProduceArgs;
pub use schema::SchemaCommand;
pub use topic::TopicCommand;
pub use user::UserCommand;
pub use webhook::WebhookCommand;

/// Where the server is and how to print; shared by every client subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// Base URL of the server's HTTP API.
    #[arg(
        long,
        env = "STROM_SERVER",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub server: String,
    /// Print JSON instead of tables and plain values.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Writes one line to stdout; a closed pipe ends the process quietly, any other failure with
/// status 74 (I/O error).
pub fn emit(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        exit_if_pipe_closed(&e);
        eprintln!("strom: error: cannot write to standard output: {e}");
        std::process::exit(74);
    }
}

/// Ends the process quietly when `err` says the reader of our stdout has gone.
pub fn exit_if_pipe_closed(err: &std::io::Error) {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}

/// Whether an error chain ends in a closed stdout pipe.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A JSON array's items (none for anything else).
pub(crate) fn array(v: &serde_json::Value) -> &[serde_json::Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A JSON scalar as table text.
pub(crate) fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn group(command: GroupCommand) -> anyhow::Result<()> {
    groups::run(command)
}

pub fn topic(command: TopicCommand) -> anyhow::Result<()> {
    topic::run(command)
}

pub fn user(command: UserCommand) -> anyhow::Result<()> {
    user::run(command)
}

pub fn schema(command: SchemaCommand) -> anyhow::Result<()> {
    schema::run(command)
}

pub fn webhook(command: WebhookCommand) -> anyhow::Result<()> {
    webhook::run(command)
}

pub fn dlq(command: DlqCommand) -> anyhow::Result<()> {
    dlq::run(command)
}

pub fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    produce::run(args)
}

pub fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    consume::run(args)
}
