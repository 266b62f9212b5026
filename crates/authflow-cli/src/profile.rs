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
//! auth_method = "basic"                    # basic | post | none | private_key_jwt | client_secret_jwt
//! client_secret_env = "WORK_CLIENT_SECRET" # or client_secret_command = "pass show work"
//! redirect_uri = "http://127.0.0.1:8765/callback"
//! resources = ["https://api.example.com/"]
//! extra_params = { audience = "https://api.example.com" }
//!
//! [profiles.fapi]
//! issuer = "https://as.example.com"
//! client_id = "my-service"
//! auth_method = "private_key_jwt"          # or "client_secret_jwt" with a secret source
//! client_key = "/home/me/.config/my-service/key.pem"  # a path; PEM PKCS#8, P-256 or Ed25519
//! client_key_id = "key-1"
//! dpop = true                              # tokens bound to a key made at each login
//! par = true                               # push authorization requests (RFC 9126)
//! request_object = true                    # sign them with the client key (RFC 9101)
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

/// Writes `bytes` to `path` atomically, mode 0600 in a 0700 folder.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
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
        // Nothing new is written for a profile that uses nothing new.
        for key in ["dpop", "par", "request_object", "client_key"] {
            assert!(!text.contains(key), "{key} in {text}");
        }
    }

    #[test]
    fn modern_settings_round_trip() {
        let mut c = Config::default();
        for (name, method) in [
            ("pk", AuthMethod::PrivateKeyJwt),
            ("sj", AuthMethod::ClientSecretJwt),
        ] {
            c.profiles.insert(
                name.into(),
                Profile {
                    issuer: Some("https://as.example".into()),
                    client_id: "svc".into(),
                    auth_method: Some(method),
                    client_key: Some("/keys/svc.pem".into()),
                    client_key_id: Some("key-1".into()),
                    dpop: true,
                    par: true,
                    request_object: true,
                    ..Profile::default()
                },
            );
        }
        let text = toml::to_string_pretty(&c).unwrap();
        for line in [
            "auth_method = \"private_key_jwt\"",
            "auth_method = \"client_secret_jwt\"",
            "client_key = \"/keys/svc.pem\"",
            "client_key_id = \"key-1\"",
            "dpop = true",
            "par = true",
            "request_object = true",
        ] {
            assert!(text.contains(line), "{line} missing in {text}");
        }
        assert_eq!(Config::parse(&text).unwrap(), c);
    }

    #[test]
    fn a_secret_in_the_profile_is_read_into_its_newtype() {
        let c =
            Config::parse("[profiles.a]\nclient_id = \"x\"\nclient_secret = \"s3cr3t-value\"\n")
                .unwrap();
        let p = c.profile("a").unwrap();
        assert_eq!(
            p.client_secret.as_ref().map(|s| s.secret()),
            Some("s3cr3t-value")
        );
        assert!(!format!("{p:?}").contains("s3cr3t"), "Debug never shows it");
        // Written back as it was read (the file is the user's own, mode 0600).
        let text = toml::to_string_pretty(&c).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), c);
        // A value that cannot be a client secret names its line, never the value.
        let e =
            Config::parse("[profiles.a]\nclient_id = \"x\"\nclient_secret = \"bad\\tsecret\"\n")
                .unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(!e.contains("bad"), "{e}");
    }

    #[test]
    fn configs_of_earlier_releases_still_read() {
        let old = "[profiles.default]\nissuer = \"http://127.0.0.1:8080\"\nclient_id = \"cli\"\n\
                   auth_method = \"post\"\nclient_secret_env = \"S\"\n";
        let c = Config::parse(old).unwrap();
        let p = c.profile("default").unwrap();
        assert_eq!(p.auth_method, Some(AuthMethod::Post));
        assert!(!p.dpop && !p.par && !p.request_object);
        assert_eq!(p.client_key, None);
        // The registered names read as the short ones.
        let c = Config::parse(
            "[profiles.a]\nclient_id = \"x\"\nauth_method = \"client_secret_basic\"\n",
        )
        .unwrap();
        assert_eq!(c.profile("a").unwrap().auth_method, Some(AuthMethod::Basic));
        // A misspelt method is an error naming its line.
        let e = Config::parse("[profiles.a]\nclient_id = \"x\"\nauth_method = \"private-key\"\n")
            .unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }
}
