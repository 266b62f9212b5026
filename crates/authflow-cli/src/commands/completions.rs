//! `authflow completions SHELL`.

use clap::{Args, CommandFactory as _};

use crate::cli::Cli;
use crate::exit::CliError;

/// Options of `authflow completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub(crate) shell: clap_complete::Shell,
}

pub(crate) fn run(args: CompletionsArgs) -> Result<(), CliError> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "authflow",
        &mut std::io::stdout(),
    );
    Ok(())
}
