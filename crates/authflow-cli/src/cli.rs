//! The command line: global options, client options, subcommands.

use authflow::types::ClientSecret;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::commands;
use crate::exit::EXIT_CODES_HELP;
use crate::profile::AuthMethod;

/// OAuth 2.0 from the terminal: log in, get tokens, call APIs, run a local provider.
#[derive(Debug, Parser)]
#[command(name = "authflow", version, about, after_help = EXIT_CODES_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub(crate) struct Global {
    /// Profile to use [default: default].
    #[arg(long, short = 'p', global = true, env = "AUTHFLOW_PROFILE")]
    pub(crate) profile: Option<String>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Show HTTP exchanges on stderr with secrets masked (-vv: debug logs too).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// Options that describe the client; they override the profile's values, and work
/// without any profile.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ClientArgs {
    /// Issuer URL (endpoints come from its discovery document).
    #[arg(long)]
    pub(crate) issuer: Option<String>,
    /// Client id.
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    /// Client secret (prefer AUTHFLOW_CLIENT_SECRET or a prompt: arguments show in `ps`).
    #[arg(
        long,
        env = "AUTHFLOW_CLIENT_SECRET",
        hide_env_values = true,
        value_parser = SecretParser
    )]
    pub(crate) client_secret: Option<ClientSecret>,
    /// How the client authenticates [default: basic with a secret, else private_key_jwt
    /// with --client-key, else none].
    #[arg(long, value_enum)]
    pub(crate) auth_method: Option<AuthMethod>,
    /// The client's private key, a PEM PKCS#8 file (P-256 or Ed25519): signs
    /// private_key_jwt assertions and request objects. Profiles keep the path, not the key.
    #[arg(long, value_name = "FILE")]
    pub(crate) client_key: Option<std::path::PathBuf>,
    /// The `kid` of the client key, as registered at the server.
    #[arg(long, value_name = "KID")]
    pub(crate) client_key_id: Option<String>,
    /// Bind the tokens to a new DPoP key (RFC 9449), made for this login and kept with
    /// the tokens: a stolen token is useless without it. --dpop=false turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) dpop: Option<bool>,
    /// Push the authorization request to the server first (PAR, RFC 9126); used anyway
    /// when the server requires it. --par=false turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) par: Option<bool>,
    /// Send the authorization request as a request object (JAR, RFC 9101) signed with
    /// --client-key. --request-object=false turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) request_object: Option<bool>,
    /// Scopes to ask for, space-separated.
    #[arg(long)]
    pub(crate) scope: Option<String>,
    /// Redirect URI for the loopback listener [default: http://127.0.0.1/callback, any port].
    #[arg(long)]
    pub(crate) redirect_uri: Option<String>,
    /// Resource indicator (RFC 8707); repeatable.
    #[arg(long = "resource")]
    pub(crate) resources: Vec<String>,
    /// Extra authorization/token parameter, NAME=VALUE; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Token endpoint, for servers without discovery.
    #[arg(long)]
    pub(crate) token_endpoint: Option<String>,
    /// Authorization endpoint, for servers without discovery.
    #[arg(long)]
    pub(crate) authorization_endpoint: Option<String>,
}

impl ClientArgs {
    /// Whether any option here was given.
    pub(crate) fn any(&self) -> bool {
        self.issuer.is_some()
            || self.client_id.is_some()
            || self.auth_method.is_some()
            || self.client_key.is_some()
            || self.client_key_id.is_some()
            || self.dpop.is_some()
            || self.par.is_some()
            || self.request_object.is_some()
            || self.scope.is_some()
            || self.redirect_uri.is_some()
            || !self.resources.is_empty()
            || !self.params.is_empty()
            || self.token_endpoint.is_some()
            || self.authorization_endpoint.is_some()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Log in through the browser (authorization code + PKCE) and store the tokens.
    #[command(after_help = commands::login::EXAMPLES)]
    Login(commands::login::LoginArgs),
    /// Print a valid access token (refreshed when needed), nothing else.
    #[command(after_help = commands::token::EXAMPLES)]
    Token,
    /// Call an API with the access token: curl-like options, bearer header (or DPoP
    /// header and proof) added.
    #[command(after_help = commands::curl::EXAMPLES)]
    Curl(commands::curl::CurlArgs),
    /// Show who is logged in, scopes, expiry and where tokens are kept.
    Status,
    /// Refresh the tokens now.
    Refresh,
    /// Revoke the tokens at the server, then forget them here.
    #[command(visible_alias = "revoke")]
    Logout(commands::logout::LogoutArgs),
    /// Ask the server about a token (RFC 7662).
    Introspect(commands::introspect::IntrospectArgs),
    /// Show the OpenID Connect userinfo claims.
    Userinfo,
    /// Get a token with the client credentials grant and print it.
    #[command(after_help = commands::client_credentials::EXAMPLES)]
    ClientCredentials(commands::client_credentials::ClientCredentialsArgs),
    /// Fetch and show an issuer's metadata.
    Discover(commands::discover::DiscoverArgs),
    /// Examine a provider's metadata and probe it against RFC 9700, without credentials.
    Doctor(commands::doctor::DoctorArgs),
    /// Manage profiles.
    #[command(subcommand)]
    Profile(commands::profile::ProfileCommand),
    /// Run the development authorization server and protected resource.
    #[command(after_help = commands::serve::EXAMPLES)]
    Serve(commands::serve::ServeArgs),
    /// Run the whole flow against an embedded provider and narrate every step.
    Demo(commands::demo::DemoArgs),
    /// Print shell completions.
    Completions(commands::completions::CompletionsArgs),
}

/// Reads `--client-secret` straight into a [`ClientSecret`]. clap's own errors quote the
/// value they refuse; this one names the rule only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SecretParser;

impl TypedValueParser for SecretParser {
    type Value = ClientSecret;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ClientSecret, clap::Error> {
        let refuse = |reason: &str| {
            let name = arg.map_or_else(|| "--client-secret".to_owned(), ToString::to_string);
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value for '{name}': the client secret {reason}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| refuse("is not valid UTF-8"))?;
        ClientSecret::new(text).map_err(|e| refuse(&e.reason))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn the_client_secret_is_parsed_into_its_newtype_and_never_echoed() {
        let cli = Cli::try_parse_from([
            "authflow",
            "client-credentials",
            "--client-secret",
            "s3cr3t-value",
        ])
        .unwrap();
        let Command::ClientCredentials(a) = cli.command else {
            panic!("parsed another command");
        };
        assert!(!format!("{:?}", a.client).contains("s3cr3t"));
        let secret = a.client.client_secret.unwrap();
        assert_eq!(secret.secret(), "s3cr3t-value");

        let e = Cli::try_parse_from(["authflow", "login", "--client-secret", "s3cr3t\u{1}value"])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert_eq!(e.exit_code(), 2);
        let shown = e.to_string();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("--client-secret"), "{shown}");
    }
}
