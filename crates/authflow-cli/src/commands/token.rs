//! `authflow token`: only the access token on stdout, refreshed when needed.

use std::time::SystemTime;

use authflow::session::{FileStore, TokenSet};

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
use crate::{output, paths};

pub(crate) const EXAMPLES: &str = "Examples:
  curl -H \"Authorization: Bearer $(authflow token)\" https://api.example.com/me
  authflow token --profile work --json     token_type, expiry, and dpop_jkt when DPoP-bound

A DPoP-bound token (`authflow login --dpop`) is refused without a fresh proof per request,
made with the key in the token store: use `authflow curl` for those.";

pub(crate) fn run(global: &Global) -> Result<(), CliError> {
    let name = global.profile.clone().unwrap_or_else(|| "default".into());
    // Fast path: a valid cached token needs no config, no runtime and no network.
    let store = FileStore::new(paths::token_file(&name)?);
    let Some(cached) = store.load_blocking()? else {
        return Err(CliError::login_required(&name));
    };
    if !cached.needs_refresh(SystemTime::now(), cached.refresh_skew()) {
        print(global, &cached);
        return Ok(());
    }
    let ctx = Ctx::resolve(global, None)?;
    let source = super::lazy::user_source(&ctx)?;
    let fresh = super::runtime()?.block_on(source.token())?;
    print(global, &fresh);
    Ok(())
}

fn print(global: &Global, t: &TokenSet) {
    if global.json {
        output::json(&serde_json::json!({
            "access_token": t.access_token.secret(),
            "token_type": t.token_type,
            "expires_at": output::unix(t.expires_at),
            "dpop_jkt": output::dpop_jkt(t),
        }));
    } else {
        println!("{}", t.access_token.secret());
    }
}
