//! One module per subcommand.

pub(crate) mod serve;

/// An error to print as one line; the command failed.
pub(crate) type CommandError = Box<dyn std::error::Error + Send + Sync>;
