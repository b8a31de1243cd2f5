//! The client subcommands (`strom topic …`, `strom user …`, `strom produce`, `strom consume`), all over
//! the HTTP API of a running server. Human-readable tables by default, `--json` for scripts.

mod client;
mod consume;
mod group;
mod produce;
mod table;
mod topic;
mod user;
mod webhook;

pub use consume::ConsumeArgs;
pub use produce::ProduceArgs;
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

pub fn topic(command: TopicCommand) -> anyhow::Result<()> {
    topic::run(command)
}

pub fn user(command: UserCommand) -> anyhow::Result<()> {
    user::run(command)
}

pub fn webhook(command: WebhookCommand) -> anyhow::Result<()> {
    webhook::run(command)
}

pub fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    produce::run(args)
}

pub fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    consume::run(args)
}
