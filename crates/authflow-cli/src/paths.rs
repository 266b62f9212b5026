//! Where authflow keeps its files: XDG directories, or one folder named by `AUTHFLOW_HOME`.

use std::path::PathBuf;

use crate::exit::CliError;

/// The config file (`config.toml`).
pub(crate) fn config_file() -> Result<PathBuf, CliError> {
    Ok(config_dir()?.join("config.toml"))
}

/// The token file of a profile.
pub(crate) fn token_file(profile: &str) -> Result<PathBuf, CliError> {
    Ok(data_dir()?.join("tokens").join(format!("{profile}.json")))
}

/// The dynamic client registration of a profile (RFC 7591), kept like its tokens.
pub(crate) fn registration_file(profile: &str) -> Result<PathBuf, CliError> {
    Ok(data_dir()?
        .join("tokens")
        .join(format!("{profile}.registration.json")))
}

/// The cached client-credentials token of a profile.
pub(crate) fn client_credentials_file(profile: &str) -> Result<PathBuf, CliError> {
    Ok(data_dir()?
        .join("tokens")
        .join(format!("{profile}.client-credentials.json")))
}

fn config_dir() -> Result<PathBuf, CliError> {
    if let Some(home) = env_path("AUTHFLOW_HOME") {
        return Ok(home);
    }
    if let Some(x) = env_path("XDG_CONFIG_HOME") {
        return Ok(x.join("authflow"));
    }
    Ok(home()?.join(".config").join("authflow"))
}

fn data_dir() -> Result<PathBuf, CliError> {
    if let Some(home) = env_path("AUTHFLOW_HOME") {
        return Ok(home);
    }
    if let Some(x) = env_path("XDG_DATA_HOME") {
        return Ok(x.join("authflow"));
    }
    Ok(home()?.join(".local").join("share").join("authflow"))
}

/// An absolute path from the environment (XDG says relative ones are to be ignored).
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn home() -> Result<PathBuf, CliError> {
    std::env::home_dir()
        .filter(|p| p.is_absolute())
        .ok_or_else(|| CliError::config("cannot find the home directory; set AUTHFLOW_HOME"))
}
