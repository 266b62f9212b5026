//! `authflow status`: who, scopes, expiry, store. No network.

use std::time::SystemTime;

use base64::Engine as _;
use serde_json::Value;

use crate::cli::Global;
use crate::exit::CliError;
use crate::profile::{AuthMethod, Config, Profile};
use crate::{output, paths};

pub(crate) fn run(global: &Global) -> Result<(), CliError> {
    let name = global.profile.clone().unwrap_or_else(|| "default".into());
    let config = Config::load()?;
    let profile = config.profile(&name);
    let path = paths::token_file(&name)?;
    let tokens = authflow::session::FileStore::new(&path).load_blocking()?;
    let now = SystemTime::now();
    // Shown from the stored ID token, checked at login; not re-verified here.
    let claims = tokens
        .as_ref()
        .and_then(|t| t.id_token.as_ref())
        .and_then(|t| unverified_claims(t.secret()));
    let user = claims.as_ref().and_then(|c| {
        ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| c.get(*k).and_then(Value::as_str).map(str::to_owned))
    });
    if global.json {
        output::json(&serde_json::json!({
            "profile": name,
            "issuer": profile.and_then(|p| p.issuer.clone()),
            "client_id": profile.map(|p| p.client_id.clone()),
            "store": path,
            "logged_in": tokens.is_some(),
            "user": user,
            "scope": tokens.as_ref().and_then(|t| t.scope.as_ref()).map(ToString::to_string),
            "expires_at": output::unix(tokens.as_ref().and_then(|t| t.expires_at)),
            "expired": tokens.as_ref().is_some_and(|t| t.is_expired(now)),
            "refresh_token": tokens.as_ref().is_some_and(|t| t.refresh_token.is_some()),
            "token_type": tokens.as_ref().map(|t| t.token_type.clone()),
            "dpop_jkt": tokens.as_ref().and_then(output::dpop_jkt),
            "auth_method": profile.and_then(|p| p.auth_method).map(auth_method_name),
            "dpop": profile.is_some_and(|p| p.dpop),
            "par": profile.is_some_and(|p| p.par),
            "request_object": profile.is_some_and(|p| p.request_object),
        }));
        return Ok(());
    }
    println!(
        "profile   {name}{}",
        if profile.is_none() {
            " (not in the config file)"
        } else {
            ""
        }
    );
    if let Some(p) = profile {
        if let Some(i) = &p.issuer {
            println!("issuer    {i}");
        }
        println!("client    {}", p.client_id);
        if let Some(setup) = client_setup(p) {
            println!("setup     {setup}");
        }
    }
    println!("store     {}", path.display());
    match tokens {
        None => {
            println!("status    not logged in");
            return Err(CliError::login_required(&name));
        }
        Some(t) => {
            println!(
                "status    logged in{}",
                user.map(|u| format!(" as {u}")).unwrap_or_default()
            );
            println!(
                "scopes    {}",
                t.scope
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "(unknown)".into())
            );
            println!("access    {}", output::expiry(t.expires_at, now));
            match output::dpop_jkt(&t) {
                Some(jkt) => println!("binding   DPoP-bound (jkt {jkt})"),
                None => println!("binding   {} (not sender-constrained)", t.token_type),
            }
            println!(
                "refresh   {}",
                if t.refresh_token.is_some() {
                    "yes"
                } else {
                    "no"
                }
            );
        }
    }
    Ok(())
}

/// How the profile's client authenticates and what it asks for, when it says more than
/// the defaults (a secret or none; bearer tokens).
fn client_setup(p: &Profile) -> Option<String> {
    let mut parts = Vec::new();
    match (p.auth_method, &p.client_key) {
        (Some(m), _) => parts.push(auth_method_name(m).to_owned()),
        (None, Some(_)) => parts.push("private_key_jwt".to_owned()),
        (None, None) => {}
    }
    if let Some(k) = &p.client_key {
        let kid = p
            .client_key_id
            .as_ref()
            .map(|kid| format!(" (kid {kid})"))
            .unwrap_or_default();
        parts.push(format!("client key {k}{kid}"));
    }
    for (on, what) in [
        (p.dpop, "DPoP"),
        (p.par, "PAR"),
        (p.request_object, "request objects"),
    ] {
        if on {
            parts.push(what.to_owned());
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn auth_method_name(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::Basic => "client_secret_basic",
        AuthMethod::Post => "client_secret_post",
        AuthMethod::None => "none",
        AuthMethod::PrivateKeyJwt => "private_key_jwt",
        AuthMethod::ClientSecretJwt => "client_secret_jwt",
    }
}

/// The payload of a compact JWT, without checking anything (display only).
pub(crate) fn unverified_claims(jwt: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
