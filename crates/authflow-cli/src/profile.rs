//! Profiles: named client configurations in `config.toml`.
//!
//! ```toml
//! [profiles.default]
//! issuer = "http://127.0.0.1:8080"
//! client_id = "authflow-cli"
//! scope = "openid profile api:read offline_access"
//!
//! [profiles.work]
//! issuer = "https://login.example.com"
//! client_id = "my-app"
//! auth_method = "basic"                    # basic | post | none
//! client_secret_env = "WORK_CLIENT_SECRET" # or client_secret_command = "pass show work"
//! redirect_uri = "http://127.0.0.1:8765/callback"
//! resources = ["https://api.example.com/"]
//! extra_params = { audience = "https://api.example.com" }
//! ```

use std::io::Write as _;
use std::path::Path;

pub(crate) use crate::config_format::{AuthMethod, Config, Profile};
use crate::exit::CliError;
use crate::paths;

impl Config {
    /// Reads the config file; a missing file is an empty config.
    pub(crate) fn load() -> Result<Self, CliError> {
        Self::load_from(&paths::config_file()?)
    }

    pub(crate) fn load_from(path: &Path) -> Result<Self, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(CliError::config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Self::parse(&text).map_err(|e| CliError::config(format!("{}:{e}", path.display())))
    }

    /// Writes the config file atomically with mode 0600 (it may hold a secret).
    pub(crate) fn save(&self) -> Result<(), CliError> {
        let path = paths::config_file()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| CliError::config(format!("cannot encode the config: {e}")))?;
        write_private(&path, text.as_bytes())
            .map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let tmp = dir.join(format!(".config.toml.tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("authflow-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.toml");
        std::fs::write(&p, "[profiles.a]\nclient_id = \"x\"\nbogus = 1\n").unwrap();
        let e = Config::load_from(&p).unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
        std::fs::write(&p, "[profiles.a]\nclient_id = \"x\"\nscope = \n").unwrap();
        let e = Config::load_from(&p).unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn round_trip() {
        let mut c = Config::default();
        c.profiles.insert(
            "default".into(),
            Profile {
                issuer: Some("http://127.0.0.1:8080".into()),
                client_id: "cli".into(),
                auth_method: Some(AuthMethod::None),
                ..Profile::default()
            },
        );
        let text = toml::to_string_pretty(&c).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        assert!(text.contains("auth_method = \"none\""), "{text}");
    }
}
