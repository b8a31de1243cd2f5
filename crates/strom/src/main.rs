//! The `strom` binary: command-line parsing and dispatch to the subcommands.

mod config;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strom",
    version,
    about = "Strom: a durable event log with Kafka and HTTP front ends"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (Kafka protocol and HTTP) on a local data directory.
    Serve(config::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("strom: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
