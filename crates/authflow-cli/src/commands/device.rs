//! `authflow login --device`: the device authorization grant (RFC 8628) in a terminal.

use std::io::IsTerminal as _;

use authflow::client::OAuthClient;
use authflow::flow::open_browser;
use authflow::session::Login;

use super::login::{LoginArgs, spinner};
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn device_login(
    ctx: &Ctx,
    client: &OAuthClient,
    args: &LoginArgs,
) -> Result<Login, CliError> {
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
    // No nonce travels in the device flow; the ID token rules are the code flow's.
    Ok(client.complete_login_response(&resp, &scope, None).await?)
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
