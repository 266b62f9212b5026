//! `authflow client-credentials`: a service token (RFC 6749 §4.4), cached until it expires.

use authflow::session::{FileStore, TokenSource};
use clap::Args;

use crate::cli::{ClientArgs, Global};
use crate::context::Ctx;
use crate::exit::CliError;
use crate::{output, paths};

pub(crate) const EXAMPLES: &str = "Examples:
  AUTHFLOW_CLIENT_SECRET=... authflow client-credentials --issuer https://as.example --client-id svc
  authflow client-credentials --client-id svc --auth-method private_key_jwt --client-key svc.pem
  authflow client-credentials --profile svc --dpop --json      token_type DPoP and dpop_jkt

A DPoP-bound token needs a proof per request, made with the key kept in the token store:
call APIs with `authflow curl`, which makes them.";

/// Options of `authflow client-credentials`.
#[derive(Debug, Args)]
pub(crate) struct ClientCredentialsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

pub(crate) fn run(global: &Global, args: ClientCredentialsArgs) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, Some(&args.client))?;
    let store = FileStore::new(paths::client_credentials_file(&ctx.name)?);
    let source = TokenSource::builder()
        .store(store)
        .provider(super::lazy::LazyClientCredentials(ctx.clone()))
        .build();
    let t = super::runtime()?.block_on(source.token())?;
    if ctx.json {
        output::json(&serde_json::json!({
            "access_token": t.access_token.secret(),
            "token_type": t.token_type,
            "expires_at": output::unix(t.expires_at),
            "scope": t.scope.as_ref().map(ToString::to_string),
            "dpop_jkt": output::dpop_jkt(&t),
        }));
    } else {
        println!("{}", t.access_token.secret());
    }
    Ok(())
}
