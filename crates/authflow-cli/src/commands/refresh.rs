//! `authflow refresh`: refresh now, whatever the expiry says.

use std::time::SystemTime;

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) fn run(global: &Global) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, None)?;
    let source = super::lazy::user_source(&ctx)?;
    let fresh = super::runtime()?.block_on(async {
        // Load what is stored, then replace it.
        source.token().await?;
        source.force_refresh().await
    })?;
    let now = SystemTime::now();
    if ctx.json {
        output::json(&serde_json::json!({
            "profile": ctx.name,
            "expires_at": output::unix(fresh.expires_at),
            "refresh_token": fresh.refresh_token.is_some(),
        }));
    } else {
        eprintln!(
            "{} Refreshed (profile `{}`): access token {}.",
            output::green("✓"),
            ctx.name,
            output::expiry(fresh.expires_at, now)
        );
    }
    Ok(())
}
