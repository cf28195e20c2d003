//! The `chatgate` binary: one server for real-time chat and customer messaging.
//!
//! # Layout
//! - `cli`: the commands and flags (clap).
//! - `config`: defaults, the TOML file, variables and flags, merged into settings.
//! - `secret`: the token-signing secret (configured, or generated and kept).
//! - `files_settings`: where uploaded files are kept and how downloads are signed.
//! - `serve`: assembles store, bus, core and doors, and runs until a signal.
//! - `commands`: `migrate`, `token`, `user add`.

mod cli;
mod commands;
mod config;
mod files_settings;
mod secret;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, UserCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let settings = config::ServeSettings::resolve(args)?;
                init_logging(&settings.log, settings.json_logs)?;
                serve::run(settings).await
            }
            Command::Migrate(args) => {
                init_logging("warn", false)?;
                commands::migrate(args).await
            }
            Command::Token(args) => commands::token(args),
            Command::User(UserCommand::Add(args)) => {
                init_logging("warn", false)?;
                commands::add_user(args).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str, json: bool) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter `{filter}` is not valid: {e}"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    result.map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}
