//! `authflow userinfo`: the OpenID Connect userinfo claims of the logged-in user.

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
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
        Ok::<_, CliError>(
            client
                .userinfo(&tokens.access_token, sub.as_deref())
                .await?,
        )
    })?;
    output::json(&serde_json::Value::Object(claims));
    Ok(())
}
