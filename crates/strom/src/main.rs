//! The `strom` binary: command-line parsing and dispatch to the subcommands.

mod banner;
mod bench;
mod cli;
mod config;
mod listeners;
mod sasl_config;
mod security_config;
mod serve;
mod tiered_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strom",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("STROM_GIT_COMMIT"), ", built ", env!("STROM_BUILD_DATE"), ")"),
    about = "Strom: a durable event log with Kafka and HTTP front ends"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// `Serve` carries every server flag; the command is parsed once at start.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server (Kafka protocol and HTTP) on a local data directory.
    Serve(config::ServeArgs),
    /// Benchmarks that print ratios against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Manage topics on a running server (over its HTTP API).
    #[command(subcommand)]
    Topic(cli::TopicCommand),
    /// Produce lines of standard input as records (over HTTP).
    Produce(cli::ProduceArgs),
    /// Print records of a topic (over HTTP).
    Consume(cli::ConsumeArgs),
    /// Consumer groups of a running server: list, describe with lag, delete, reset offsets
    /// (over HTTP).
    #[command(subcommand)]
    Group(cli::GroupCommand),
    /// Users (SCRAM credentials) of a running server (over its HTTP API).
    #[command(subcommand)]
    User(cli::UserCommand),
    /// Webhook subscriptions of a running server (over its HTTP API).
    #[command(subcommand)]
    Webhook(cli::WebhookCommand),
    /// A topic's dead letters (`<topic>.dlq`): report a record, list them (over HTTP).
    #[command(subcommand)]
    Dlq(cli::DlqCommand),
    /// Schemas in the built-in schema registry: list, get, register, check, delete (over
    /// the Schema Registry API).
    #[command(subcommand)]
    Schema(cli::SchemaCommand),

    /// Is the server up: its version, listeners, disk and contents (over HTTP).
    Status {
        #[command(flatten)]
        client: cli::ClientArgs,
    },
    /// This binary's version, git commit and build date.
    Version {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g. `strom completions bash > /etc/bash_completion.d/strom`.
    Completions { shell: clap_complete::Shell },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Bench(command) => bench::run(command),
        Command::Topic(command) => cli::topic(command),
        Command::Produce(args) => cli::produce(args),
        Command::Consume(args) => cli::consume(args),
        Command::Group(command) => cli::group(command),
        Command::User(command) => cli::user(command),
        Command::Webhook(command) => cli::webhook(command),
        Command::Dlq(command) => cli::dlq(command),
        Command::Schema(command) => cli::schema(command),

        Command::Status { client } => cli::meta::status(&client),
        Command::Version { json } => cli::meta::version(json),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "strom", &mut script);
            cli::outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output has gone (`strom … | head`): end quietly, as Unix tools do.
        Err(err) if cli::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("strom: error: {}", describe(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The error chain on one line, leaving out causes that the message above already quotes.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

/// Exit codes from BSD `sysexits.h`, so scripts can tell a bad configuration from a storage
/// problem: 78 configuration, 74 I/O (data directory, disk), 69 unavailable (port in use), 1 other.
fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<config::ConfigError>()) {
        return 78;
    }
    if err
        .chain()
        .any(|e| e.is::<strom_broker::BrokerError>() || e.is::<strom_log::LogError>())
    {
        return 74;
    }
    if err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    }) {
        return 69;
    }
    1
}
