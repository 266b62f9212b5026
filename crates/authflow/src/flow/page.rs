//! The small page the browser shows when the redirect lands.

use std::fmt::Write as _;

use crate::html::escape;

/// What the page says.
pub(crate) enum Page<'a> {
    Success,
    Failure(&'a str),
    Unrelated,
    AlreadyDone,
    NotFound,
    MethodNotAllowed,
    BadHost,
}

impl Page<'_> {
    pub(crate) fn status(&self) -> u16 {
        match self {
            Page::Success => 200,
            Page::Failure(_) | Page::Unrelated | Page::BadHost => 400,
            Page::AlreadyDone => 409,
            Page::NotFound => 404,
            Page::MethodNotAllowed => 405,
        }
    }

    pub(crate) fn render(&self) -> String {
        let (title, body, tone) = match self {
            Page::Success => (
                "Signed in",
                "authflow received the authorization. You can close this tab and return to the terminal.".to_owned(),
                "#1a7f37",
            ),
            Page::Failure(why) => (
                "Sign-in failed",
                format!("{}. Return to the terminal for details.", escape(why)),
                "#cf222e",
            ),
            Page::Unrelated => (
                "Not this sign-in",
                "This link does not belong to the sign-in in progress (its state does not match), so it was ignored. The terminal is still waiting.".to_owned(),
                "#9a6700",
            ),
            Page::AlreadyDone => (
                "Already finished",
                "This sign-in is already complete. You can close this tab.".to_owned(),
                "#57606a",
            ),
            Page::NotFound => ("Not found", "Nothing here.".to_owned(), "#57606a"),
            Page::BadHost => (
                "Wrong address",
                "This listener answers only on its loopback address.".to_owned(),
                "#57606a",
            ),
            Page::MethodNotAllowed => ("Not allowed", "Only GET is served here.".to_owned(), "#57606a"),
        };
        let mut html = String::with_capacity(1024);
        let _ = write!(
            html,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title} · authflow</title><style>\
body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2328}}\
h1{{color:{tone};font-size:1.5rem}}p{{line-height:1.5}}</style></head>\
<body><h1>{title}</h1><p>{body}</p></body></html>"
        );
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_escaped() {
        let html = Page::Failure("<script>alert(1)</script>").render();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
