//! One module per subcommand.

pub(crate) mod client_credentials;
pub(crate) mod completions;
pub(crate) mod curl;
pub(crate) mod demo;
pub(crate) mod device;
pub(crate) mod discover;
pub(crate) mod doctor;
pub(crate) mod introspect;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod profile;
pub(crate) mod refresh;
pub(crate) mod resource_login;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod token;
pub(crate) mod userinfo;

mod lazy;

use crate::exit::CliError;

/// An error to print as one line; the command failed.
pub(crate) type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// A runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::from)
}
