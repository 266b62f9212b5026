//! `authflow userinfo`: the OpenID Connect userinfo claims of the logged-in user.

use authflow::client::OAuthClient;
use authflow::protocol::userinfo::{check_subject, parse_userinfo};
use authflow::session::AuthorizedClient;
use serde_json::{Map, Value};

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::{CliError, Code};
use crate::output;

pub(crate) fn run(global: &Global) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, None)?;
    let source = super::lazy::user_source(&ctx)?;
    let claims = super::runtime()?.block_on(async {
        let tokens = source.token().await?;
        let client = ctx.client().await?;
        // The ID token's `sub`, checked at login, pins the user (OIDC Core §5.3.2).
        let sub = tokens
            .id_token
            .as_ref()
            .and_then(|t| super::status::unverified_claims(t.secret()))
            .and_then(|c| c.get("sub").and_then(|s| s.as_str()).map(str::to_owned));
        if tokens.is_dpop_bound() {
            let api = AuthorizedClient::with_shared_http(source.clone(), ctx.http()?);
            return dpop_userinfo(&client, &api, sub.as_deref()).await;
        }
        Ok::<_, CliError>(
            client
                .userinfo(&tokens.access_token, sub.as_deref())
                .await?,
        )
    })?;
    output::json(&Value::Object(claims));
    Ok(())
}

/// Userinfo with a DPoP-bound token: the library's authorized client sends it with a
/// proof (`OAuthClient::userinfo` only sends bearer tokens), the library parses it.
async fn dpop_userinfo(
    client: &OAuthClient,
    api: &AuthorizedClient,
    expected_sub: Option<&str>,
) -> Result<Map<String, Value>, CliError> {
    let endpoint = client
        .endpoints()
        .userinfo
        .as_ref()
        .ok_or_else(|| CliError::config("the provider announces no userinfo endpoint"))?;
    let req = http::Request::get(endpoint.as_url().as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| CliError::new(Code::Failure, e.to_string()))?;
    let resp = api.send(req).await?;
    let claims = parse_userinfo(&resp)
        .map_err(|e| CliError::new(Code::OAuth, format!("{endpoint}: {e}")))?;
    check_subject(&claims, expected_sub)
        .map_err(|e| CliError::new(Code::OAuth, format!("{endpoint}: {e}")))?;
    Ok(claims)
}
