//! What every command needs: the resolved profile, credentials, the client, the store.

use std::io::IsTerminal as _;
use std::sync::Arc;

use authflow::client::{
    Endpoints, Error as ClientError, HttpClient, HttpError, OAuthClient, ReqwestClient,
};
use authflow::jose::{JwsAlgorithm, KeyError, SigningKey};
use authflow::protocol::{ClientAuthentication, Credentials};
use authflow::session::FileStore;
use authflow::types::{
    ClientId, ClientSecret, EndpointUrl, InvalidValue, IssuerUrl, RedirectUri, ResourceIndicator,
    Scope,
};

use crate::cli::{ClientArgs, Global};
use crate::exit::{CliError, profile_flag};
use crate::paths;
use crate::profile::{AuthMethod, Config, Profile};
use crate::verbose::Verbose;

/// The default loopback redirect: any free port on 127.0.0.1.
pub(crate) const DEFAULT_REDIRECT: &str = "http://127.0.0.1/callback";

/// A resolved profile and the global options.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) name: String,
    pub(crate) profile: Profile,
    /// Whether the profile exists in the config file (or was built from flags only).
    pub(crate) saved: bool,
    /// `--client-secret` or `AUTHFLOW_CLIENT_SECRET`, as clap read it.
    pub(crate) secret_from_flag: Option<ClientSecret>,
    pub(crate) verbose: u8,
    pub(crate) json: bool,
}

impl Ctx {
    /// The profile named by `--profile` (or `default`), with `args` laid over it.
    pub(crate) fn resolve(global: &Global, args: Option<&ClientArgs>) -> Result<Self, CliError> {
        let config = Config::load()?;
        let name = global.profile.clone().unwrap_or_else(|| "default".into());
        let flags = args.is_some_and(ClientArgs::any);
        let (mut profile, saved) = match config.profile(&name) {
            Some(p) => (p.clone(), true),
            None if flags => (Profile::default(), false),
            None if global.profile.is_some() => {
                let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
                return Err(CliError::config(format!(
                    "unknown profile `{name}` (known: {}); add it with `authflow profile add {name} --issuer ... --client-id ...`",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            None => return Err(CliError::login_required(&name)),
        };
        let mut secret_from_flag = None;
        if let Some(a) = args {
            overlay(&mut profile, a)?;
            secret_from_flag = a.client_secret.clone();
        }
        if profile.client_id.is_empty() {
            return Err(CliError::config(format!(
                "profile `{name}` has no client id; pass --client-id or run `authflow profile add {name}`"
            )));
        }
        if profile.issuer.is_none() && profile.token_endpoint.is_none() {
            return Err(CliError::config(format!(
                "profile `{name}` has neither an issuer nor a token endpoint; pass --issuer"
            )));
        }
        Ok(Self {
            name,
            profile,
            saved,
            secret_from_flag,
            verbose: global.verbose,
            json: global.json,
        })
    }

    /// A profile made on the spot (a login from a resource URL), not read from the file.
    pub(crate) fn for_profile(
        global: &Global,
        name: String,
        profile: Profile,
        secret_from_flag: Option<ClientSecret>,
    ) -> Self {
        Self {
            name,
            profile,
            saved: false,
            secret_from_flag,
            verbose: global.verbose,
            json: global.json,
        }
    }

    /// The saved profile `name`, as it is in the file.
    pub(crate) fn saved_profile(global: &Global, name: &str, profile: &Profile) -> Self {
        Self {
            saved: true,
            ..Self::for_profile(global, name.to_owned(), profile.clone(), None)
        }
    }

    pub(crate) fn store(&self) -> Result<FileStore, CliError> {
        Ok(FileStore::new(paths::token_file(&self.name)?))
    }

    pub(crate) fn scope(&self) -> Result<Scope, CliError> {
        Ok(Scope::parse(self.profile.scope.as_deref().unwrap_or(""))?)
    }

    pub(crate) fn redirect_uri(&self) -> Result<RedirectUri, CliError> {
        Ok(RedirectUri::new(
            self.profile
                .redirect_uri
                .as_deref()
                .unwrap_or(DEFAULT_REDIRECT),
        )?)
    }

    pub(crate) fn resources(&self) -> Result<Vec<ResourceIndicator>, CliError> {
        self.profile
            .resources
            .iter()
            .map(|r| ResourceIndicator::new(r).map_err(CliError::from))
            .collect()
    }

    pub(crate) fn issuer(&self) -> Result<Option<IssuerUrl>, CliError> {
        self.profile
            .issuer
            .as_deref()
            .map(IssuerUrl::new)
            .transpose()
            .map_err(CliError::from)
    }

    /// The credentials, resolving the secret: flag or `AUTHFLOW_CLIENT_SECRET`, then the
    /// profile's command, environment variable or value, then a prompt on a terminal.
    /// `key` is the client key, loaded by [`client_key`](Self::client_key).
    fn credentials(&self, key: Option<&SigningKey>) -> Result<Credentials, CliError> {
        let id = ClientId::new(self.profile.client_id.as_str())?;
        let secret = self.secret()?;
        let method = self.profile.auth_method.unwrap_or(match (&secret, key) {
            (Some(_), _) => AuthMethod::Basic,
            (None, Some(_)) => AuthMethod::PrivateKeyJwt,
            (None, None) => AuthMethod::None,
        });
        let need =
            |secret: Option<ClientSecret>| secret.map(Ok).unwrap_or_else(|| self.prompt_secret());
        Ok(match method {
            AuthMethod::None => Credentials::public(id),
            AuthMethod::Basic => {
                Credentials::new(id, ClientAuthentication::SecretBasic(need(secret)?))
            }
            AuthMethod::Post => {
                Credentials::new(id, ClientAuthentication::SecretPost(need(secret)?))
            }
            AuthMethod::ClientSecretJwt => Credentials::secret_jwt(id, need(secret)?),
            AuthMethod::PrivateKeyJwt => {
                let key = key.ok_or_else(|| {
                    CliError::config(format!(
                        "profile `{}` uses private_key_jwt but has no client key; pass --client-key FILE",
                        self.name
                    ))
                })?;
                Credentials::private_key_jwt(id, Arc::new(key.clone()))
            }
        })
    }

    /// The client key named by the profile, read from its file; the error names the file,
    /// never its content.
    pub(crate) fn client_key(&self) -> Result<Option<SigningKey>, CliError> {
        let Some(path) = &self.profile.client_key else {
            return Ok(None);
        };
        let key = load_client_key(std::path::Path::new(path))?;
        Ok(Some(match &self.profile.client_key_id {
            Some(kid) => key.with_key_id(kid.as_str()),
            None => key,
        }))
    }

    fn secret(&self) -> Result<Option<ClientSecret>, CliError> {
        let invalid = |e| CliError::config(format!("client secret: {e}"));
        if let Some(s) = &self.secret_from_flag {
            return Ok(Some(s.clone()));
        }
        // Commands without client options (token, refresh, curl, logout, introspect, ...)
        // read the variable too: clap only fills `secret_from_flag` for login and
        // client-credentials, and a confidential client refreshes and revokes with its secret.
        if let Some(s) = std::env::var_os("AUTHFLOW_CLIENT_SECRET").filter(|s| !s.is_empty()) {
            let s = s
                .into_string()
                .map_err(|_| CliError::config("AUTHFLOW_CLIENT_SECRET is not valid UTF-8"))?;
            return ClientSecret::new(s).map(Some).map_err(invalid);
        }
        if let Some(cmd) = &self.profile.client_secret_command {
            let out = std::process::Command::new("sh")
                .args(["-c", cmd])
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| {
                    CliError::config(format!("client_secret_command failed to start: {e}"))
                })?;
            if !out.status.success() {
                return Err(CliError::config(format!(
                    "client_secret_command exited with {}",
                    out.status
                )));
            }
            let mut text = String::from_utf8(out.stdout)
                .map_err(|_| CliError::config("client_secret_command printed non-UTF-8"))?;
            let trimmed = text.trim_end_matches(['\n', '\r']).to_owned();
            zeroize::Zeroize::zeroize(&mut text);
            return ClientSecret::new(trimmed).map(Some).map_err(invalid);
        }
        if let Some(var) = &self.profile.client_secret_env {
            let value = std::env::var(var).map_err(|_| {
                CliError::config(format!(
                    "profile `{}` reads its client secret from ${var}, which is not set",
                    self.name
                ))
            })?;
            return ClientSecret::new(value).map(Some).map_err(invalid);
        }
        if self.profile.registered
            && let Some(r) = crate::commands::resource_login::load_registration(&self.name)?
            && r.client_secret.is_some()
        {
            return Ok(r.client_secret);
        }
        Ok(self.profile.client_secret.clone())
    }

    fn prompt_secret(&self) -> Result<ClientSecret, CliError> {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::config(format!(
                "profile `{}` needs a client secret: set AUTHFLOW_CLIENT_SECRET or client_secret_env in the profile",
                self.name
            )));
        }
        let s = rpassword::prompt_password(format!(
            "Client secret for `{}`: ",
            self.profile.client_id
        ))?;
        ClientSecret::new(s).map_err(|e| CliError::config(format!("client secret: {e}")))
    }

    /// The HTTP client: reqwest with rustls, wrapped to show exchanges with `-v`.
    pub(crate) fn http(&self) -> Result<Arc<dyn HttpClient>, CliError> {
        Self::http_for(self.verbose)
    }

    pub(crate) fn http_for(verbose: u8) -> Result<Arc<dyn HttpClient>, CliError> {
        Ok(Self::http_client(verbose)?)
    }

    fn http_client(verbose: u8) -> Result<Arc<dyn HttpClient>, HttpError> {
        let base: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new()?);
        Ok(if verbose > 0 {
            Arc::new(Verbose::new(base))
        } else {
            base
        })
    }

    /// The OAuth client, by discovery when the profile has an issuer, for requests about
    /// existing tokens (refresh, revoke, introspect, userinfo): a DPoP-bound set brings
    /// its own key.
    pub(crate) async fn client(&self) -> Result<OAuthClient, ClientError> {
        self.build_client(false).await
    }

    /// The OAuth client for a new grant (login, client credentials): with `dpop` in the
    /// profile it holds a DPoP key made just now, which the new tokens are bound to and
    /// kept with (the client never signs with a key it did not create).
    pub(crate) async fn client_for_grant(&self) -> Result<OAuthClient, ClientError> {
        self.build_client(true).await
    }

    /// Typed client errors, so that a token source that builds the client lazily reports
    /// the same exit code as a command that builds it at once.
    async fn build_client(&self, new_grant: bool) -> Result<OAuthClient, ClientError> {
        // The secret and the key are read here, when a request needs them (a prompt, a
        // command, a file): what goes wrong is about the client's credentials.
        let unavailable = |e: CliError| ClientError::Credentials { reason: e.message };
        let key = self.client_key().map_err(unavailable)?;
        let mut builder =
            OAuthClient::builder(self.credentials(key.as_ref()).map_err(unavailable)?)
                .http_client(Self::http_client(self.verbose)?)
                .endpoints(self.explicit_endpoints()?)
                .pushed_authorization(self.profile.par);
        if self.profile.request_object {
            let key = key.ok_or_else(|| ClientError::Credentials {
                reason: "--request-object signs with the client key; pass --client-key FILE".into(),
            })?;
            builder = builder.request_object_signer(Arc::new(key));
        }
        if new_grant && self.profile.dpop {
            let key = SigningKey::generate(JwsAlgorithm::ES256).map_err(|e| {
                ClientError::Credentials {
                    reason: format!("no DPoP key: {e}"),
                }
            })?;
            builder = builder.dpop(key);
        }
        let issuer = self
            .profile
            .issuer
            .as_deref()
            .map(IssuerUrl::new)
            .transpose()?;
        match issuer {
            Some(issuer) => builder.discover(&issuer).await,
            None => builder.build(),
        }
    }

    fn explicit_endpoints(&self) -> Result<Endpoints, InvalidValue> {
        let parse = |s: &Option<String>| -> Result<Option<EndpointUrl>, InvalidValue> {
            s.as_deref().map(EndpointUrl::new).transpose()
        };
        let mut e = Endpoints::default();
        e.authorization = parse(&self.profile.authorization_endpoint)?;
        e.token = parse(&self.profile.token_endpoint)?;
        e.revocation = parse(&self.profile.revocation_endpoint)?;
        e.introspection = parse(&self.profile.introspection_endpoint)?;
        e.userinfo = parse(&self.profile.userinfo_endpoint)?;
        Ok(e)
    }

    /// Extra parameters as pairs.
    pub(crate) fn extra_params(&self) -> Vec<(String, String)> {
        self.profile
            .extra_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn login_hint(&self) -> String {
        format!("run `authflow login{}`", profile_flag(&self.name))
    }
}

/// Reads a client key file (`--client-key`): a configuration error naming the file, never
/// showing its content.
pub(crate) fn load_client_key(path: &std::path::Path) -> Result<SigningKey, CliError> {
    SigningKey::load_pem_file(path).map_err(|e| {
        let shown = path.display();
        CliError::config(match e {
            KeyError::Read { source, .. } => format!("cannot read client key {shown}: {source}"),
            other => format!("client key {shown}: {other}"),
        })
    })
}

/// Lays command-line options over a profile.
pub(crate) fn overlay(p: &mut Profile, a: &ClientArgs) -> Result<(), CliError> {
    if let Some(v) = &a.issuer {
        p.issuer = Some(v.clone());
    }
    if let Some(v) = &a.client_id {
        p.client_id = v.clone();
    }
    if let Some(v) = a.auth_method {
        p.auth_method = Some(v);
    }
    if let Some(v) = &a.client_key {
        // Absolute, so that the saved profile works from any directory.
        let abs = std::path::absolute(v)
            .map_err(|e| CliError::config(format!("--client-key {}: {e}", v.display())))?;
        let text = abs.into_os_string().into_string().map_err(|_| {
            CliError::config(format!(
                "--client-key {}: the path is not UTF-8",
                v.display()
            ))
        })?;
        p.client_key = Some(text);
    }
    if let Some(v) = &a.client_key_id {
        p.client_key_id = Some(v.clone());
    }
    if let Some(v) = a.dpop {
        p.dpop = v;
    }
    if let Some(v) = a.par {
        p.par = v;
    }
    if let Some(v) = a.request_object {
        p.request_object = v;
    }
    if let Some(v) = &a.scope {
        p.scope = Some(v.clone());
    }
    if let Some(v) = &a.redirect_uri {
        p.redirect_uri = Some(v.clone());
    }
    if !a.resources.is_empty() {
        p.resources = a.resources.clone();
    }
    for kv in &a.params {
        if let Some((k, v)) = kv.split_once('=') {
            p.extra_params.insert(k.to_owned(), v.to_owned());
        }
    }
    if let Some(v) = &a.token_endpoint {
        p.token_endpoint = Some(v.clone());
    }
    if let Some(v) = &a.authorization_endpoint {
        p.authorization_endpoint = Some(v.clone());
    }
    Ok(())
}
