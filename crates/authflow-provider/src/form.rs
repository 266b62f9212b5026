//! Strict `application/x-www-form-urlencoded` parsing for request bodies and queries.
//!
//! Stricter than `url::form_urlencoded`: a name may appear once (checked with a hash
//! set, so a body full of distinct names costs linear time), at most
//! [`MAX_PARAMS`] parameters are accepted, and a name or value whose percent-decoding
//! is not UTF-8 is refused instead of being decoded lossily (a `state` must come back
//! byte for byte).

use std::collections::HashSet;

use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// The most parameters a body or query may carry; every request the provider
/// understands needs fewer than a dozen.
pub(crate) const MAX_PARAMS: usize = 64;

/// Decoded parameters, each name at most once (RFC 6749 §3.1: "Request and response
/// parameters MUST NOT be included more than once").
#[derive(Default)]
pub(crate) struct Params(Vec<(String, String)>);

/// Why a form or query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormError {
    /// A parameter appeared more than once (its name, shortened).
    Repeated(String),
    /// More than [`MAX_PARAMS`] parameters.
    TooMany,
    /// A name or value is not UTF-8 once percent-decoded.
    NotUtf8,
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::Repeated(name) => write!(f, "parameter `{name}` is repeated"),
            FormError::TooMany => write!(f, "more than {MAX_PARAMS} parameters"),
            FormError::NotUtf8 => f.write_str("a parameter is not valid UTF-8"),
        }
    }
}

/// Percent-decodes one name or value (`+` is a space); `None` when not UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|&b| hex(b)),
                raw.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                // Like the WHATWG parser: a `%` not followed by two hex digits stays.
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl Params {
    /// Parses a form body or query string; refuses repeated names, too many parameters
    /// and anything that does not decode to UTF-8.
    pub(crate) fn parse(input: &[u8]) -> Result<Self, FormError> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if out.len() == MAX_PARAMS {
                return Err(FormError::TooMany);
            }
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let name = decode(name).ok_or(FormError::NotUtf8)?;
            let value = decode(value).ok_or(FormError::NotUtf8)?;
            if !seen.insert(name.clone()) {
                return Err(FormError::Repeated(name.chars().take(64).collect()));
            }
            out.push((name, value));
        }
        Ok(Self(out))
    }

    /// Parameters from name–value pairs whose names are already distinct (the members of
    /// a JSON object); at most [`MAX_PARAMS`].
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, FormError> {
        if pairs.len() > MAX_PARAMS {
            return Err(FormError::TooMany);
        }
        Ok(Self(pairs))
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
            Some(FormError::Repeated("a".into()))
        );
        assert!(Params::parse(b"a=1&a=").is_err());
        assert!(
            Params::parse(b"a=1&%61=2").is_err(),
            "names compare decoded"
        );
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let ok: Vec<String> = (0..MAX_PARAMS).map(|i| format!("p{i}=x")).collect();
        assert!(Params::parse(ok.join("&").as_bytes()).is_ok());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=x")).collect();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()).err(),
            Some(FormError::TooMany)
        );
        assert!(
            Params::parse(b"&&&a=1&&").is_ok(),
            "empty pieces do not count"
        );
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        assert_eq!(Params::parse(b"state=%FF").err(), Some(FormError::NotUtf8));
        assert_eq!(Params::parse(b"%C3=x").err(), Some(FormError::NotUtf8));
        assert_eq!(Params::parse(b"s=\xff").err(), Some(FormError::NotUtf8));
        let p = Params::parse(b"s=%C3%A9%zz%4&flag").unwrap();
        assert_eq!(p.get("s"), Some("\u{e9}%zz%4"));
        assert_eq!(p.get("flag"), None);
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
