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

/// Appends `value` form-urlencoded (`application/x-www-form-urlencoded` byte serializer:
/// `*-._` and alphanumerics as they are, space as `+`, the rest as `%XX`). A tight loop:
/// building authorization URLs is on a hot path.
pub(crate) fn push_encoded(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let safe = b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
        if safe {
            continue;
        }
        // Between escaped bytes lie only safe ASCII bytes, so a non-empty run starts
        // and ends on character boundaries.
        if start < i {
            out.push_str(&value[start..i]);
        }
        if b == b' ' {
            out.push('+');
        } else {
            let at = usize::from(b) * 3;
            out.push_str(&ESCAPES[at..at + 3]);
        }
        start = i + 1;
    }
    if start < bytes.len() {
        out.push_str(&value[start..]);
    }
}

/// `%00%01…%FF`: the escape of byte `b` is `ESCAPES[3b..3b+3]` (ASCII, so any such slice
/// is on character boundaries).
static ESCAPES: &str = concat!(
    "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F",
    "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2D%2E%2F%30%31%32%33%34%35%36%37%38%39%3A%3B%3C%3D%3E%3F",
    "%40%41%42%43%44%45%46%47%48%49%4A%4B%4C%4D%4E%4F%50%51%52%53%54%55%56%57%58%59%5A%5B%5C%5D%5E%5F",
    "%60%61%62%63%64%65%66%67%68%69%6A%6B%6C%6D%6E%6F%70%71%72%73%74%75%76%77%78%79%7A%7B%7C%7D%7E%7F",
    "%80%81%82%83%84%85%86%87%88%89%8A%8B%8C%8D%8E%8F%90%91%92%93%94%95%96%97%98%99%9A%9B%9C%9D%9E%9F",
    "%A0%A1%A2%A3%A4%A5%A6%A7%A8%A9%AA%AB%AC%AD%AE%AF%B0%B1%B2%B3%B4%B5%B6%B7%B8%B9%BA%BB%BC%BD%BE%BF",
    "%C0%C1%C2%C3%C4%C5%C6%C7%C8%C9%CA%CB%CC%CD%CE%CF%D0%D1%D2%D3%D4%D5%D6%D7%D8%D9%DA%DB%DC%DD%DE%DF",
    "%E0%E1%E2%E3%E4%E5%E6%E7%E8%E9%EA%EB%EC%ED%EE%EF%F0%F1%F2%F3%F4%F5%F6%F7%F8%F9%FA%FB%FC%FD%FE%FF",
);

/// Appends `&name=value` (or `name=value` at the start), form-urlencoded.
pub(crate) fn push_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    push_encoded(out, name);
    out.push('=');
    push_encoded(out, value);
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
    "assertion",
    "client_assertion",
    "client_assertion_type",
    "request",
    "request_uri",
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
        fn push_encoded_matches_the_url_crate(s in "\\PC{0,40}") {
            let mut ours = String::new();
            push_encoded(&mut ours, &s);
            let theirs: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            prop_assert_eq!(ours, theirs);
        }

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
