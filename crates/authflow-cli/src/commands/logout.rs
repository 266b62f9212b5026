//! `authflow logout` (alias `revoke`): revoke at the server, then forget locally.

use authflow::client::Error as ClientError;
use authflow::session::TokenStore as _;
use clap::Args;

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

/// Options of `authflow logout`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// Only forget the tokens here; do not contact the server.
    #[arg(long)]
    pub(crate) local: bool,
}

pub(crate) fn run(global: &Global, args: LogoutArgs) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, None)?;
    let store = ctx.store()?;
    let Some(tokens) = store.load_blocking()? else {
        if ctx.profile.registered && !args.local {
            super::runtime()?.block_on(forget_registration(&ctx))?;
            return Ok(());
        }
        eprintln!("Not logged in (profile `{}`); nothing to do.", ctx.name);
        return Ok(());
    };
    if !args.local {
        super::runtime()?.block_on(async {
            let client = ctx.client().await?;
            if client.endpoints().revocation.is_none() {
                eprintln!(
                    "The server has no revocation endpoint: the tokens are forgotten here but stay valid until they expire."
                );
                return Ok(());
            }
            match client
                .revoke(Some(&tokens.access_token), tokens.refresh_token.as_ref())
                .await
            {
                // RFC 7009 §2.2.1: the server does not revoke this kind of token (JWT
                // access tokens, often); keeping it here would not help.
                Err(ClientError::OAuth { error, .. }) if error.error == "unsupported_token_type" => {
                    eprintln!(
                        "The server does not revoke this kind of token: it is forgotten here but stays valid until it expires."
                    );
                    Ok(())
                }
                result => result.map_err(|e| {
                    let mut err = CliError::from(e);
                    err.message = format!(
                        "{}; the tokens are kept. `authflow logout --local` forgets them without revoking",
                        err.message
                    );
                    err
                }),
            }
        })?;
    }
    super::runtime()?.block_on(store.clear())?;
    let unregistered = ctx.profile.registered
        && !args.local
        && super::runtime()?.block_on(forget_registration(&ctx))?;
    if ctx.json {
        output::json(&serde_json::json!({
            "profile": ctx.name,
            "revoked": !args.local,
            "registration_deleted": unregistered,
        }));
    } else {
        eprintln!(
            "{} Logged out (profile `{}`){}.",
            output::green("✓"),
            ctx.name,
            if args.local {
                ", tokens forgotten locally"
            } else {
                ": revoked at the server and forgotten"
            }
        );
    }
    Ok(())
}

/// Deletes the profile's dynamic registration (RFC 7592) and says so.
async fn forget_registration(ctx: &Ctx) -> Result<bool, CliError> {
    let deleted = super::resource_login::forget_registration(ctx).await?;
    if deleted && !ctx.json {
        eprintln!(
            "{} Deleted the client registration at the server and the profile `{}`.",
            output::green("✓"),
            ctx.name
        );
    }
    Ok(deleted)
}
