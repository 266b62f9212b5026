//! `authflow`: OAuth 2.0 from the terminal.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod commands;
mod config_format;
mod context;
mod exit;
mod output;
mod paths;
mod profile;
mod verbose;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let global = cli.global.clone();
    let result = match cli.command {
        Command::Login(a) => commands::login::run(&global, a),
        Command::Token => commands::token::run(&global),
        Command::Curl(a) => commands::curl::run(&global, a),
        Command::Status => commands::status::run(&global),
        Command::Refresh => commands::refresh::run(&global),
        Command::Logout(a) => commands::logout::run(&global, a),
        Command::Introspect(a) => commands::introspect::run(&global, a),
        Command::Userinfo => commands::userinfo::run(&global),
        Command::ClientCredentials(a) => commands::client_credentials::run(&global, a),
        Command::Discover(a) => commands::discover::run(&global, a),
        Command::Doctor(a) => commands::doctor::run(&global, a),
        Command::Profile(c) => commands::profile::run(&global, c),
        Command::Serve(a) => commands::serve::run(a)
            .map_err(|e| exit::CliError::new(exit::Code::Failure, e.to_string())),
        Command::Demo(a) => commands::demo::run(&global, a),
        Command::Completions(a) => commands::completions::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authflow: {e}");
            e.exit_code()
        }
    }
}

/// Logs go to stderr: `AUTHFLOW_LOG` when set, else `info` for `serve`, `debug` with
/// `-vv`, and warnings only otherwise.
fn init_logging(cli: &Cli) {
    let default = match (&cli.command, cli.global.verbose) {
        (Command::Serve(_), _) => "info",
        (_, v) if v >= 2 => "debug",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUTHFLOW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
}
