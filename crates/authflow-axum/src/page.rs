//! The few pages this crate shows itself: errors during sign-in and sign-out.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderName};

/// Escapes text for HTML element content and attribute values; the library's one escaper,
/// re-exported here for pages built around this crate's routes.
///
/// ```
/// assert_eq!(authflow_axum::page::escape("<a href=\"x\">"), "&lt;a href=&quot;x&quot;&gt;");
/// ```
pub use authflow::html::escape;

/// A small error page: the message, and a link to start again.
pub(crate) fn error_page(status: StatusCode, message: &str, login_path: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Sign-in problem</title></head><body><main><h1>Sign-in problem</h1>\
<p class=\"error\">{}</p><p><a href=\"{}\">Sign in again</a> or <a href=\"/\">go home</a>.</p>\
</main></body></html>",
        escape(message),
        escape(login_path)
    );
    (
        status,
        [
            (CACHE_CONTROL, "no-store"),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}
