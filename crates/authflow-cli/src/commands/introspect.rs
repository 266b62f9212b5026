//! `authflow introspect`: RFC 7662, for the current token or one given.

use authflow::protocol::TokenTypeHint;
use authflow::protocol::introspection::IntrospectionResponse;
use clap::Args;

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

/// Options of `authflow introspect`.
#[derive(Debug, Args)]
pub(crate) struct IntrospectArgs {
    /// The token to ask about [default: the profile's access token]. Prefer standard input
    /// (`-`): arguments show in `ps`.
    pub(crate) token: Option<String>,
    /// Ask about the stored refresh token instead.
    #[arg(long, conflicts_with = "token")]
    pub(crate) refresh_token: bool,
}

pub(crate) fn run(global: &Global, args: IntrospectArgs) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, None)?;
    let (token, hint) = match (&args.token, args.refresh_token) {
        (Some(t), _) if t == "-" => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            (s.trim().to_owned(), None)
        }
        (Some(t), _) => (t.clone(), None),
        (None, refresh) => {
            let stored = ctx
                .store()?
                .load_blocking()?
                .ok_or_else(|| CliError::login_required(&ctx.name))?;
            if refresh {
                let rt = stored
                    .refresh_token
                    .as_ref()
                    .ok_or_else(|| CliError::usage("the stored session has no refresh token"))?;
                (rt.secret().to_owned(), Some(TokenTypeHint::RefreshToken))
            } else {
                (
                    stored.access_token.secret().to_owned(),
                    Some(TokenTypeHint::AccessToken),
                )
            }
        }
    };
    let resp = super::runtime()?.block_on(async {
        let client = ctx.client().await?;
        client.introspect(&token, hint).await
    })?;
    print(&resp, ctx.json);
    Ok(())
}

fn print(r: &IntrospectionResponse, json: bool) {
    let v = serde_json::json!({
        "active": r.active,
        "scope": r.scope.as_ref().map(ToString::to_string),
        "client_id": r.client_id,
        "username": r.username,
        "token_type": r.token_type,
        "sub": r.sub,
        "aud": r.aud,
        "iss": r.iss,
        "exp": output::unix(r.exp),
        "iat": output::unix(r.iat),
    });
    if json {
        output::json(&v);
        return;
    }
    if !r.active {
        println!("active    false (expired, revoked, or not from this server)");
        return;
    }
    println!("active    true");
    if let Some(obj) = v.as_object() {
        for (k, val) in obj.iter().filter(|(k, _)| *k != "active") {
            if !val.is_null() {
                println!(
                    "{k:<9} {}",
                    val.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| val.to_string())
                );
            }
        }
    }
}
