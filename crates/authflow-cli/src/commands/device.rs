//! `authflow login --device`: the device authorization grant (RFC 8628) in a terminal.

use std::io::IsTerminal as _;
use std::time::SystemTime;

use authflow::client::OAuthClient;
use authflow::flow::open_browser;
use authflow::session::TokenSet;

use super::login::{LoggedIn, LoginArgs, spinner};
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn device_login(
    ctx: &Ctx,
    client: &OAuthClient,
    args: &LoginArgs,
) -> Result<LoggedIn, CliError> {
    let scope = ctx.scope()?;
    let asked = (!scope.is_empty()).then_some(&scope);
    let device = client.device_authorization(asked).await?;
    let target = device
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| device.verification_uri.clone());
    output::note(&format!(
        "To log in, open {} and enter the code {}",
        output::bold(&device.verification_uri),
        output::bold(&device.user_code)
    ));
    if std::io::stderr().is_terminal()
        && let Some(qr) = qr(&target)
    {
        output::note(&qr);
    }
    // Only an https (or loopback) page is opened for the user.
    let safe = url::Url::parse(&target)
        .ok()
        .filter(|u| authflow::client::ensure_secure_url(u).is_ok());
    if let Some(u) = safe.filter(|_| !args.no_browser)
        && open_browser(&u).is_ok()
    {
        output::note("(opened your browser there)");
    }
    let bar = spinner("Waiting for approval …");
    let result = client.poll_device_token(&device).await;
    bar.finish_and_clear();
    let resp = result?;
    let tokens =
        TokenSet::from_response(&resp, &scope, SystemTime::now()).with_dpop(client.dpop().cloned());
    let claims = match &resp.id_token {
        Some(id) if client.issuer().is_some() && client.endpoints().jwks.is_some() => Some(
            client
                .verify_id_token(id, None, Some(&resp.access_token))
                .await?,
        ),
        _ => None,
    };
    Ok(LoggedIn { tokens, claims })
}

/// A QR code of `text` in half-block characters, for phones.
fn qr(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build(),
    )
}
