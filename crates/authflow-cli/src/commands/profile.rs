//! `authflow profile add|list|show|remove`.

use clap::{Args, Subcommand};

use crate::cli::{ClientArgs, Global};
use crate::context::overlay;
use crate::exit::CliError;
use crate::output;
use crate::profile::{Config, Profile};

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Add or update a profile.
    ///
    /// Example: authflow profile add work --issuer https://login.example.com
    ///   --client-id my-app --client-secret-env WORK_SECRET --scope 'openid offline_access'
    ///
    /// Example: authflow profile add fapi --issuer https://as.example --client-id app
    ///   --auth-method private_key_jwt --client-key app.pem --dpop --par --request-object
    Add(Box<AddArgs>),
    /// List the profiles.
    List,
    /// Show one profile (secrets are not shown).
    Show {
        /// The profile [default: default].
        name: Option<String>,
    },
    /// Remove a profile (its tokens stay until `authflow logout`).
    Remove {
        /// The profile.
        name: String,
    },
}

/// Options of `authflow profile add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The profile's name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Environment variable holding the client secret.
    #[arg(long, conflicts_with = "client_secret_command")]
    pub(crate) client_secret_env: Option<String>,
    /// Command printing the client secret (e.g. `pass show my-app`).
    #[arg(long)]
    pub(crate) client_secret_command: Option<String>,
    /// Revocation endpoint, for servers without discovery.
    #[arg(long)]
    pub(crate) revocation_endpoint: Option<String>,
}

/// What `profile show` prints for a secret kept in the profile.
const REDACTED: &str = "‹redacted›";

pub(crate) fn run(global: &Global, cmd: ProfileCommand) -> Result<(), CliError> {
    let mut config = Config::load()?;
    match cmd {
        ProfileCommand::Add(a) => {
            let a = *a;
            if a.client.client_secret.is_some() {
                return Err(CliError::usage(
                    "profiles do not store a secret given on the command line; use --client-secret-env or --client-secret-command",
                ));
            }
            let mut p = config.profile(&a.name).cloned().unwrap_or_default();
            overlay(&mut p, &a.client)?;
            // A key that cannot be used fails now rather than at the next login.
            if let Some(path) = &p.client_key {
                crate::context::load_client_key(std::path::Path::new(path))?;
            }
            if a.client_secret_env.is_some() {
                p.client_secret_env = a.client_secret_env;
                p.client_secret_command = None;
            }
            if a.client_secret_command.is_some() {
                p.client_secret_command = a.client_secret_command;
                p.client_secret_env = None;
            }
            if a.revocation_endpoint.is_some() {
                p.revocation_endpoint = a.revocation_endpoint;
            }
            if p.client_id.is_empty() || (p.issuer.is_none() && p.token_endpoint.is_none()) {
                return Err(CliError::usage(
                    "a profile needs --client-id and --issuer (or --token-endpoint)",
                ));
            }
            config.profiles.insert(a.name.clone(), p);
            config.save()?;
            eprintln!("{} Saved profile `{}`.", output::green("✓"), a.name);
        }
        ProfileCommand::List => {
            if global.json {
                let names: Vec<&String> = config.profiles.keys().collect();
                output::json(&serde_json::json!(names));
            } else if config.profiles.is_empty() {
                eprintln!(
                    "No profiles yet: `authflow login --issuer ... --client-id ...` creates `default`."
                );
            } else {
                for (name, p) in &config.profiles {
                    let at = p
                        .issuer
                        .as_deref()
                        .or(p.token_endpoint.as_deref())
                        .unwrap_or("-");
                    println!("{name:<16} {:<24} {at}", p.client_id);
                }
            }
        }
        ProfileCommand::Show { name } => {
            let name = name
                .or_else(|| global.profile.clone())
                .unwrap_or_else(|| "default".into());
            let p = config
                .profile(&name)
                .ok_or_else(|| CliError::config(format!("unknown profile `{name}`")))?;
            // Shown without the secret, then marked as there.
            let shown = Profile {
                client_secret: None,
                ..p.clone()
            };
            let has_secret = p.client_secret.is_some();
            if global.json {
                let mut v = serde_json::to_value(&shown).unwrap_or_default();
                if let (Some(map), true) = (v.as_object_mut(), has_secret) {
                    map.insert("client_secret".into(), REDACTED.into());
                }
                output::json(&v);
            } else {
                let text = toml::to_string_pretty(&shown).unwrap_or_default();
                // First: keys after the `[extra_params]` table would belong to it.
                let secret = if has_secret {
                    format!("client_secret = \"{REDACTED}\"\n")
                } else {
                    String::new()
                };
                println!("[profiles.{name}]\n{secret}{text}");
            }
        }
        ProfileCommand::Remove { name } => {
            if config.profiles.remove(&name).is_none() {
                return Err(CliError::config(format!("unknown profile `{name}`")));
            }
            config.save()?;
            eprintln!("{} Removed profile `{name}`.", output::green("✓"));
        }
    }
    Ok(())
}
