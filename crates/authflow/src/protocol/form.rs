//! Form-encoded request bodies (`application/x-www-form-urlencoded`).

use http::{HeaderMap, HeaderValue, Method, Request, header};
use url::Url;
use zeroize::Zeroize;

use super::BuildError;

/// Ordered form parameters. Values may be secrets, so they are wiped on drop.
#[derive(Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((key.into(), value.into()));
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            ser.append_pair(k, v);
        }
        ser.finish().into_bytes()
    }
}

impl Drop for Form {
    fn drop(&mut self) {
        for (_, v) in &mut self.pairs {
            v.zeroize();
        }
    }
}

/// Parameter names whose meaning the protocol sets; callers' extra parameters may not
/// repeat them (RFC 6749 §3.1: parameters must not be sent more than once).
pub(crate) const RESERVED: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "token",
    "token_type_hint",
    "device_code",
    "subject_token",
    "subject_token_type",
    "requested_token_type",
];

pub(crate) fn check_extra(key: &str) -> Result<(), BuildError> {
    if key.is_empty() || RESERVED.contains(&key) {
        return Err(BuildError::Parameter(key.to_owned()));
    }
    Ok(())
}

/// Converts a validated URL into a request URI.
pub(crate) fn request_uri(url: &Url) -> Result<http::Uri, BuildError> {
    http::Uri::try_from(url.as_str()).map_err(|e| BuildError::Url {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// `POST url` with the form as body and `Accept: application/json`.
pub(crate) fn post_form(
    url: &Url,
    headers: HeaderMap,
    form: &Form,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut req = Request::new(form.encode());
    *req.method_mut() = Method::POST;
    *req.uri_mut() = request_uri(url)?;
    *req.headers_mut() = headers;
    let h = req.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    Ok(req)
}

/// `GET url` with `Accept: application/json`.
pub(crate) fn get_json(url: &Url) -> Result<Request<Vec<u8>>, BuildError> {
    let mut req = Request::new(Vec::new());
    *req.uri_mut() = request_uri(url)?;
    req.headers_mut()
        .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn post_form_sets_headers_and_encodes() {
        let mut f = Form::new();
        f.push("a b", "x&y=z+%");
        let url = Url::parse("https://as.example/token?tenant=1").unwrap();
        let req = post_form(&url, HeaderMap::new(), &f).unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "https://as.example/token?tenant=1");
        assert_eq!(req.body(), b"a+b=x%26y%3Dz%2B%25");
        assert_eq!(req.headers()[header::ACCEPT], "application/json");
    }

    proptest! {
        #[test]
        fn form_round_trip(pairs in proptest::collection::vec(("\\PC{1,16}", "\\PC{0,32}"), 0..8)) {
            let mut f = Form::new();
            for (k, v) in &pairs {
                f.push(k.as_str(), v.as_str());
            }
            let back: Vec<(String, String)> =
                url::form_urlencoded::parse(&f.encode()).into_owned().collect();
            prop_assert_eq!(back, pairs);
        }
    }
}
