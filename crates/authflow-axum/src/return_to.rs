//! The return URL after sign-in: only ever a path on this application's own origin, so
//! `/login?return_to=...` can never be turned into an open redirector.

use url::Url;

/// The longest return URL kept; longer ones fall back to the home page.
const MAX_LEN: usize = 2048;

/// Checks that `raw` names a page on `origin` and returns its path and query.
///
/// Accepted: a path (`/orders?page=2`) or an absolute URL with exactly the same scheme,
/// host and port. Refused (`None`): other origins, scheme-relative URLs (`//evil`),
/// backslashes (browsers read `/\evil` as `//evil`), control characters, and anything
/// longer than 2 KiB. Fragments are dropped.
///
/// ```
/// use authflow_axum::return_to::same_origin_path;
/// let app = url::Url::parse("https://app.example").unwrap();
/// assert_eq!(same_origin_path("/orders?page=2", &app).as_deref(), Some("/orders?page=2"));
/// assert_eq!(same_origin_path("https://app.example/a", &app).as_deref(), Some("/a"));
/// assert_eq!(same_origin_path("//evil.example/", &app), None);
/// assert_eq!(same_origin_path("https://evil.example/", &app), None);
/// ```
pub fn same_origin_path(raw: &str, origin: &Url) -> Option<String> {
    if raw.is_empty()
        || raw.len() > MAX_LEN
        || raw.contains('\\')
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    let resolved = if raw.starts_with('/') {
        if raw.starts_with("//") {
            return None;
        }
        origin.join(raw).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    if resolved.origin() != origin.origin() || resolved.cannot_be_a_base() {
        return None;
    }
    let mut out = resolved.path().to_owned();
    if !out.starts_with('/') || out.starts_with("//") {
        return None;
    }
    if let Some(q) = resolved.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Url {
        Url::parse("http://127.0.0.1:3000/").unwrap()
    }

    #[test]
    fn keeps_paths_and_queries_on_this_origin() {
        for (raw, want) in [
            ("/", "/"),
            ("/me", "/me"),
            ("/a/b?x=1&y=%2F", "/a/b?x=1&y=%2F"),
            ("/a#frag", "/a"),
            ("http://127.0.0.1:3000/me?q", "/me?q"),
            ("/../../etc", "/etc"),
        ] {
            assert_eq!(
                same_origin_path(raw, &app()).as_deref(),
                Some(want),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_every_way_off_site() {
        for raw in [
            "",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "http://127.0.0.1:3001/",
            "https://127.0.0.1:3000/",
            "http://127.0.0.1:3000@evil.example/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "evil.example",
            "/\tevil",
            "/\n/evil.example",
            " //evil.example",
            "http:evil.example",
            "https:/evil.example",
        ] {
            assert_eq!(same_origin_path(raw, &app()), None, "{raw:?}");
        }
        assert_eq!(
            same_origin_path(&format!("/{}", "a".repeat(3000)), &app()),
            None
        );
    }
}
