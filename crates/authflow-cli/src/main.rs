//! `authflow`: OAuth 2.0 from the terminal. For now one command, `serve`, which runs the
//! development provider.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// OAuth 2.0 from the terminal.
#[derive(Debug, Parser)]
#[command(name = "authflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the development authorization server and protected resource.
    #[command(after_help = commands::serve::EXAMPLES)]
    Serve(commands::serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUTHFLOW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authflow: error: {e}");
            ExitCode::FAILURE
        }
    }
}
