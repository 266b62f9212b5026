//! The server-rendered pages: login, consent, errors. Plain HTML forms, no JavaScript,
//! a little inline CSS so they read well on a phone. Every value is HTML-escaped.

use authflow::html::escape;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0 .3rem}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.7rem;font-size:1rem;border:1px solid #bbb;border-radius:.4rem}\
button{font-size:1rem;padding:.7rem 1.2rem;margin:1rem .5rem 0 0;border-radius:.4rem;border:1px solid #345;background:#fff}\
button.primary{background:#2557d6;color:#fff;border-color:#2557d6}\
.error{color:#a40000;background:#fde8e8;padding:.6rem;border-radius:.4rem}ul{padding-left:1.2rem}code{word-break:break-all}";

/// A whole page with the security headers every page carries.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{t}</title><style>{STYLE}</style></head><body><main><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title)
    );
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (
                HeaderName::from_static("content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
            (HeaderName::from_static("x-frame-options"), "DENY"),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// An error shown at the provider; used whenever redirecting would be unsafe.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign-in cannot continue",
        &format!(
            "<p class=\"error\">{}</p><p>Nothing was sent back to the application. \
You can close this tab and start again from the application.</p>",
            escape(message)
        ),
    )
}

/// The login form.
pub(crate) fn login(pending: &str, csrf: &str, client: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<p><strong>{client}</strong> wants you to sign in.</p>{error}\
<form method=\"post\" action=\"/authorize/login\">\
<input type=\"hidden\" name=\"pending\" value=\"{pending}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"username\">User name</label>\
<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" required autofocus>\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button class=\"primary\" type=\"submit\" name=\"action\" value=\"login\">Sign in</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Cancel</button>\
</form>",
        client = escape(client),
        pending = escape(pending),
        csrf = escape(csrf),
    )
}

/// What a scope lets the application do, in words.
fn describe(scope: &str) -> String {
    let text = match scope {
        "openid" => "know who you are",
        "profile" => "see your name",
        "email" => "see your e-mail address",
        "offline_access" => "stay signed in when you are away",
        "api:read" => "read your data",
        "api:write" => "change your data",
        other => return format!("<code>{}</code>", escape(other)),
    };
    format!("{text} (<code>{}</code>)", escape(scope))
}

/// The consent form.
pub(crate) fn consent(
    pending: &str,
    csrf: &str,
    client: &str,
    user: &str,
    scopes: &[&str],
) -> String {
    let items: String = if scopes.is_empty() {
        "<li>no particular permission</li>".to_owned()
    } else {
        scopes
            .iter()
            .map(|s| format!("<li>{}</li>", describe(s)))
            .collect()
    };
    format!(
        "<p>Signed in as <strong>{user}</strong>.</p>\
<p><strong>{client}</strong> asks to:</p><ul>{items}</ul>\
<form method=\"post\" action=\"/authorize/consent\">\
<input type=\"hidden\" name=\"pending\" value=\"{pending}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button class=\"primary\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
</form>",
        user = escape(user),
        client = escape(client),
        pending = escape(pending),
        csrf = escape(csrf),
    )
}

/// The device flow's code entry form (RFC 8628 §3.3), prefilled from
/// `verification_uri_complete`.
pub(crate) fn device_form(csrf: &str, user_code: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<p>Enter the code shown on your device.</p>{error}\
<form method=\"post\" action=\"/device\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"user_code\">Code</label>\
<input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{code}\" placeholder=\"XXXX-XXXX\" \
autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\" required autofocus>\
<button class=\"primary\" type=\"submit\">Continue</button>\
</form>",
        csrf = escape(csrf),
        code = escape(user_code),
    )
}

/// What the user sees once a device flow is decided.
pub(crate) fn device_done(approved: bool) -> String {
    if approved {
        "<p>Your device is now signed in. You can close this page and go back to it.</p>".to_owned()
    } else {
        "<p>Access was denied; your device will not be signed in. You can close this page.</p>"
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        let html = consent("p", "c", "<script>", "u", &["<b>"]);
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        let html = device_form("c", "\"><script>", Some("<i>"));
        assert!(!html.contains("<script>") && !html.contains("<i>"));
    }
}
