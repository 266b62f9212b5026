//! Logging in from a resource URL alone (`login --resource`, `curl` on a `401`): the
//! resource's metadata names the authorization server (RFC 9728), the client identity is
//! preregistered, a client ID metadata document, or registered on the spot (RFC 7591),
//! and the tokens are asked for that resource (RFC 8707). The profile is keyed by the
//! resource, so later commands find it from the URL.

use std::io::{BufRead as _, IsTerminal as _};

use authflow::client::{
    BoxFuture, ResourceAuthorization, ResourceDiscoveryError, ResourceDiscoveryOptions,
    delete_client_registration, discover_for_resource, register_client,
};
use authflow::protocol::MAX_RESPONSE_BYTES;
use authflow::protocol::client_id_metadata::ClientIdUrl;
use authflow::protocol::registration::{ClientMetadata, RegisteredClient, RegistrationRequest};
use authflow::protocol::resource_metadata::scope_to_request;
use authflow::session::{SessionError, StepUp, TokenSet, TokenStore as _};
use authflow::types::{IssuerUrl, RedirectUri, Scope};
use clap::Args;
use http::HeaderMap;
use url::Url;

use super::login::LoginArgs;
use crate::cli::Global;
use crate::context::{Ctx, DEFAULT_REDIRECT};
use crate::exit::{CliError, Code};
use crate::paths;
use crate::profile::{AuthMethod, Config, Profile, write_private};

/// Options only a login from a resource URL takes.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ResourceFlags {
    /// With --resource: the client's ID metadata document URL, used as client id when
    /// the server supports them (no registration needed).
    #[arg(long, value_name = "URL", conflicts_with = "client_id")]
    pub(crate) client_id_url: Option<String>,
    /// With --resource: follow this `resource_metadata` URL although it is on another
    /// origin than the resource (it names who may issue tokens for it); repeatable.
    #[arg(long = "allow-metadata-url", value_name = "URL")]
    pub(crate) allow_metadata_urls: Vec<String>,
}

/// What the user chose for a login to a resource.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceLogin {
    pub(crate) issuer: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_id_url: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) allow_metadata_urls: Vec<String>,
}

/// Discovers what `resource` needs, picks a client identity, runs the browser login with
/// `resource=` and stores the tokens and the profile. `challenge` is the headers of the
/// resource's `401` when the caller has them; else an unauthenticated `GET` gets them.
pub(crate) async fn discover_and_login(
    global: &Global,
    choice: &ResourceLogin,
    resource: &Url,
    challenge: Option<HeaderMap>,
    login: &LoginArgs,
) -> Result<Ctx, CliError> {
    let http = Ctx::http_for(global.verbose)?;
    let challenge = match challenge {
        Some(h) => Some(h),
        None => {
            let req = http::Request::get(resource.as_str())
                .body(Vec::new())
                .map_err(|e| CliError::usage(format!("invalid resource URL: {e}")))?;
            let resp = http.send(req, MAX_RESPONSE_BYTES).await?;
            (resp.status() == http::StatusCode::UNAUTHORIZED).then(|| resp.headers().clone())
        }
    };
    let issuer = choice.issuer.as_deref().map(IssuerUrl::new).transpose()?;
    let mut options = ResourceDiscoveryOptions::new();
    for u in &choice.allow_metadata_urls {
        let url =
            Url::parse(u).map_err(|e| CliError::usage(format!("--allow-metadata-url {u}: {e}")))?;
        options = options.allow_metadata_url(url);
    }
    let found = match discover_for_resource(
        http.as_ref(),
        resource,
        challenge.as_ref(),
        issuer.as_ref(),
        &options,
    )
    .await
    {
        Ok(f) => f,
        Err(e) => match e.cross_origin_metadata_url().map(str::to_owned) {
            Some(url) if confirm_metadata_url(&url)? => {
                let parsed = Url::parse(&url).map_err(|e| CliError::usage(e.to_string()))?;
                options = options.allow_metadata_url(parsed);
                discover_for_resource(
                    http.as_ref(),
                    resource,
                    challenge.as_ref(),
                    issuer.as_ref(),
                    &options,
                )
                .await?
            }
            Some(url) => {
                let mut err = CliError::from(e);
                err.message = format!(
                    "{}: pass --allow-metadata-url {url} if you trust it",
                    err.message
                );
                return Err(err);
            }
            None => return Err(e.into()),
        },
    };
    if let Some(ignored) = &found.resource.ignored_metadata_url {
        crate::output::note(&format!(
            "note: the resource pointed to metadata at {ignored} on another origin; used its own instead"
        ));
    }

    let name = global
        .profile
        .clone()
        .unwrap_or_else(|| profile_name(&found.resource.metadata.resource));
    let scope = match &choice.scope {
        Some(s) => Some(s.clone()),
        None => {
            scope_to_request(challenge.as_ref(), &found.resource.metadata).map(|s| s.to_string())
        }
    };
    let mut profile = Profile {
        issuer: Some(found.issuer.as_issuer_str().to_owned()),
        scope,
        resources: vec![found.resource_indicator()?.as_str().to_owned()],
        protected_resource: Some(found.resource.metadata.resource.clone()),
        ..Profile::default()
    };
    choose_identity(&name, choice, &found, &mut profile, http.as_ref()).await?;
    crate::output::note(&format!(
        "Logging in to {} at {} (profile `{name}`).",
        found.resource.metadata.resource,
        found.issuer.as_issuer_str()
    ));
    let ctx = Ctx::for_profile(global, name, profile, login.client.client_secret.clone());
    if ctx.profile.registered {
        // Kept before the browser part: a failed login must not orphan the registration.
        save_profile(&ctx)?;
    }
    let client = ctx.client_for_grant().await?;
    let done = if login.device {
        super::device::device_login(&ctx, &client, login).await?
    } else {
        super::login::interactive_login(&ctx, &client, login).await?
    };
    ctx.store()?.save(&done.tokens).await?;
    save_profile(&ctx)?;
    super::login::print_result(&ctx, &done);
    Ok(ctx)
}

/// Preregistered `--client-id`, else `--client-id-url` when the server takes client ID
/// metadata documents, else dynamic registration.
async fn choose_identity(
    name: &str,
    choice: &ResourceLogin,
    found: &ResourceAuthorization,
    profile: &mut Profile,
    http: &dyn authflow::client::HttpClient,
) -> Result<(), CliError> {
    if let Some(id) = &choice.client_id {
        profile.client_id = id.clone();
        return Ok(());
    }
    if let Some(url) = &choice.client_id_url {
        if !found.supports_client_id_metadata_documents() {
            return Err(CliError::config(format!(
                "{} does not announce client_id_metadata_document_supported, so --client-id-url cannot be used there; pass --client-id of a client registered there",
                found.issuer.as_issuer_str()
            )));
        }
        let id = ClientIdUrl::new(url)
            .map_err(|e| CliError::usage(format!("--client-id-url {url}: {e}")))?;
        profile.client_id = id.as_str().to_owned();
        profile.auth_method = Some(AuthMethod::None);
        return Ok(());
    }
    let endpoint = match found.registration_endpoint() {
        Ok(e) => e,
        Err(ResourceDiscoveryError::NoRegistrationEndpoint { issuer }) => {
            let cimd = if found.supports_client_id_metadata_documents() {
                " or --client-id-url URL (it supports client ID metadata documents)"
            } else {
                ""
            };
            return Err(CliError::config(format!(
                "{issuer} offers no dynamic client registration; pass --client-id ID (a client registered there by hand){cimd}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let redirect = RedirectUri::new(DEFAULT_REDIRECT)?;
    // `application_type` (OpenID Connect Dynamic Registration): servers that read it
    // allow loopback redirects on any port only to native apps (RFC 8252 §7.3).
    let mut metadata = ClientMetadata::native_app([redirect])
        .client_name("authflow CLI")
        .with_extra("application_type", serde_json::Value::from("native"))?;
    if let Some(s) = &profile.scope {
        metadata = metadata.scope(&Scope::parse(s)?);
    }
    let registered = register_client(http, endpoint, &RegistrationRequest::new(metadata)).await?;
    profile.client_id = registered.client_id.as_str().to_owned();
    profile.auth_method = Some(auth_method_of(&registered)?);
    profile.registered = true;
    save_registration(name, &registered)?;
    crate::output::note(&format!(
        "Registered client {} at {}.",
        registered.client_id.as_str(),
        found.issuer.as_issuer_str()
    ));
    Ok(())
}

/// The profile's method for the registered `token_endpoint_auth_method`.
fn auth_method_of(r: &RegisteredClient) -> Result<AuthMethod, CliError> {
    match (
        r.metadata.token_endpoint_auth_method.as_deref(),
        r.client_secret.is_some(),
    ) {
        (Some("none"), _) | (None, false) => Ok(AuthMethod::None),
        (Some("client_secret_basic") | None, true) => Ok(AuthMethod::Basic),
        (Some("client_secret_post"), true) => Ok(AuthMethod::Post),
        (Some("client_secret_jwt"), true) => Ok(AuthMethod::ClientSecretJwt),
        (method, _) => Err(CliError::new(
            Code::Failure,
            format!(
                "the server registered the client with token_endpoint_auth_method {}, which authflow cannot use without a key; pass --client-id of a client registered by hand",
                method.unwrap_or("(none)")
            ),
        )),
    }
}

/// Asks on a terminal whether to follow a cross-origin metadata URL; `false` without one.
fn confirm_metadata_url(url: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!(
        "The resource's metadata is at {url}, on another origin: that server would name who may issue tokens for it.\nFollow it? [y/N] "
    );
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn save_profile(ctx: &Ctx) -> Result<(), CliError> {
    let mut config = Config::load()?;
    config
        .profiles
        .insert(ctx.name.clone(), ctx.profile.clone());
    config.save()
}

/// A profile name from the resource's origin and path: `127.0.0.1-8080-mcp`.
pub(crate) fn profile_name(resource: &str) -> String {
    let Ok(url) = Url::parse(resource) else {
        return "resource".into();
    };
    let mut raw = url.host_str().unwrap_or("resource").to_owned();
    if let Some(port) = url.port() {
        raw.push_str(&format!("-{port}"));
    }
    raw.push('-');
    raw.push_str(url.path());
    let mut out = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_owned()
}

/// The profile made for the resource `url` belongs to: the same origin, and the longest
/// `protected_resource` path that is a prefix of the URL's at a segment boundary.
pub(crate) fn profile_for_url<'a>(config: &'a Config, url: &Url) -> Option<(&'a str, &'a Profile)> {
    config
        .profiles
        .iter()
        .filter_map(|(name, p)| {
            let r = Url::parse(p.protected_resource.as_deref()?).ok()?;
            if r.origin() != url.origin() {
                return None;
            }
            let base = r.path().trim_end_matches('/');
            let path = url.path();
            let inside = path == base
                || path
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'));
            inside.then_some((name.as_str(), p, base.len()))
        })
        .max_by_key(|(_, _, len)| *len)
        .map(|(n, p, _)| (n, p))
}

fn save_registration(profile: &str, r: &RegisteredClient) -> Result<(), CliError> {
    let path = paths::registration_file(profile)?;
    let json = serde_json::to_vec_pretty(r).map_err(|e| {
        CliError::new(
            Code::Failure,
            format!("cannot encode the registration: {e}"),
        )
    })?;
    write_private(&path, &json)
        .map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))
}

/// The kept registration of a profile, when there is one.
pub(crate) fn load_registration(profile: &str) -> Result<Option<RegisteredClient>, CliError> {
    let path = paths::registration_file(profile)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::config(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    // serde_json's message names a position, never the value.
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CliError::config(format!("{}: {e}", path.display())))
}

/// Deletes a profile's dynamic registration at the server (RFC 7592) when the server
/// allows it, then the local copy and the profile. Returns whether the server deleted it.
pub(crate) async fn forget_registration(ctx: &Ctx) -> Result<bool, CliError> {
    let Some(registration) = load_registration(&ctx.name)? else {
        return Ok(false);
    };
    if registration.management().is_none() {
        crate::output::note(&format!(
            "The server gave no registration_client_uri: client {} stays registered there.",
            registration.client_id.as_str()
        ));
        return Ok(false);
    }
    delete_client_registration(ctx.http()?.as_ref(), &registration).await?;
    let path = paths::registration_file(&ctx.name)?;
    std::fs::remove_file(&path)
        .map_err(|e| CliError::config(format!("cannot remove {}: {e}", path.display())))?;
    // The profile names a client that no longer exists.
    let mut config = Config::load()?;
    config.profiles.remove(&ctx.name);
    config.save()?;
    Ok(true)
}

/// Step-up for a resource profile: the browser login again with the wider scope, which
/// the profile then keeps.
pub(crate) struct BrowserStepUp(pub(crate) Ctx);

impl StepUp for BrowserStepUp {
    fn step_up<'a>(
        &'a self,
        _current: Option<&'a TokenSet>,
        scope: &'a Scope,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
        Box::pin(async move {
            let failed = |e: CliError| SessionError::Internal(e.message);
            let mut ctx = self.0.clone();
            ctx.profile.scope = Some(scope.to_string());
            crate::output::note(&format!(
                "The resource needs scope `{scope}`: logging in again to grant it."
            ));
            let client = ctx.client_for_grant().await?;
            let login = LoginArgs::browser_default().map_err(failed)?;
            let done = super::login::interactive_login(&ctx, &client, &login)
                .await
                .map_err(failed)?;
            if ctx.saved {
                save_profile(&ctx).map_err(failed)?;
            }
            Ok(done.tokens)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_come_from_origin_and_path() {
        assert_eq!(profile_name("http://127.0.0.1:8080"), "127.0.0.1-8080");
        assert_eq!(profile_name("http://127.0.0.1:8080/"), "127.0.0.1-8080");
        assert_eq!(
            profile_name("https://mcp.example.com/v1/mcp"),
            "mcp.example.com-v1-mcp"
        );
        assert_eq!(profile_name("https://a.example/x%20y"), "a.example-x-20y");
    }

    #[test]
    fn urls_find_the_profile_of_their_resource() {
        let mut c = Config::default();
        for (name, r) in [
            ("root", "http://127.0.0.1:8080"),
            ("mcp", "http://127.0.0.1:8080/mcp"),
            ("other", "http://127.0.0.1:9090/"),
        ] {
            c.profiles.insert(
                name.into(),
                Profile {
                    protected_resource: Some(r.into()),
                    ..Profile::default()
                },
            );
        }
        c.profiles.insert("plain".into(), Profile::default());
        let find = |u: &str| profile_for_url(&c, &Url::parse(u).unwrap()).map(|(n, _)| n);
        assert_eq!(find("http://127.0.0.1:8080/api/me"), Some("root"));
        assert_eq!(find("http://127.0.0.1:8080/mcp/tools"), Some("mcp"));
        assert_eq!(find("http://127.0.0.1:8080/mcpx"), Some("root"));
        assert_eq!(find("http://127.0.0.1:9090/x"), Some("other"));
        assert_eq!(find("http://localhost:8080/api/me"), None);
    }

    #[test]
    fn registered_methods_map_to_profile_methods() {
        let json =
            |v: serde_json::Value| -> RegisteredClient { serde_json::from_value(v).unwrap() };
        let public =
            json(serde_json::json!({"client_id": "c1", "token_endpoint_auth_method": "none"}));
        assert_eq!(auth_method_of(&public).unwrap(), AuthMethod::None);
        let basic = json(serde_json::json!({"client_id": "c2", "client_secret": "s3cr3t"}));
        assert_eq!(auth_method_of(&basic).unwrap(), AuthMethod::Basic);
        let keyed = json(
            serde_json::json!({"client_id": "c3", "token_endpoint_auth_method": "private_key_jwt"}),
        );
        assert!(
            auth_method_of(&keyed)
                .unwrap_err()
                .message
                .contains("private_key_jwt")
        );
    }
}
