//! Strict `application/x-www-form-urlencoded` parsing for request bodies and queries.

use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// Decoded parameters, each name at most once (RFC 6749 §3.1: "Request and response
/// parameters MUST NOT be included more than once").
#[derive(Default)]
pub(crate) struct Params(Vec<(String, String)>);

/// A parameter appeared more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repeated(pub String);

impl Params {
    /// Parses a form body or query string; refuses repeated names.
    pub(crate) fn parse(input: &[u8]) -> Result<Self, Repeated> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if out.iter().any(|(n, _)| *n == name) {
                return Err(Repeated(name.chars().take(64).collect()));
            }
            out.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(out))
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Whether the request says its body is a form (parameters such as `charset` allowed).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn repeated_names_are_refused() {
        assert_eq!(
            Params::parse(b"a=1&b=2&a=3").err(),
            Some(Repeated("a".into()))
        );
        assert!(Params::parse(b"a=1&a=").is_err());
    }

    #[test]
    fn empty_values_are_absent_and_plus_is_space() {
        let p = Params::parse(b"a=&b=x+y%2B").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("x y+"));
        assert_eq!(p.get("c"), None);
    }

    #[test]
    fn content_type_check() {
        let mut h = HeaderMap::new();
        assert!(!is_form(&h));
        h.insert(
            CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(is_form(&h));
        h.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_form(&h));
    }
}
