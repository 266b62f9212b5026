//! `-v`: an [`HttpClient`] that shows each exchange on stderr with every secret masked.

use std::sync::Arc;

use authflow::client::{BoxFuture, HttpClient, HttpError};
use bytes::Bytes;
use serde_json::Value;

use crate::output::dim;

/// Parameter and field names whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "client_secret",
    "token",
    "password",
    "assertion",
    "client_assertion",
    "subject_token",
    "actor_token",
    "device_code",
    "state",
    "nonce",
    // A signed request object (RFC 9101): it carries state, nonce and the PKCE challenge.
    "request",
];

const MASK: &str = "‹redacted›";

/// Prints requests and responses to stderr, masked.
pub(crate) struct Verbose {
    inner: Arc<dyn HttpClient>,
}

impl Verbose {
    pub(crate) fn new(inner: Arc<dyn HttpClient>) -> Self {
        Self { inner }
    }
}

impl HttpClient for Verbose {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        Box::pin(async move {
            eprint!("{}", describe_request(&request));
            let started = std::time::Instant::now();
            let result = self.inner.send(request, max_body).await;
            match &result {
                Ok(resp) => eprint!("{}", describe_response(resp, started.elapsed())),
                Err(e) => eprintln!("{}", dim(&format!("< failed: {e}"))),
            }
            result
        })
    }
}

/// `> POST http://…/token` with masked headers and form body.
pub(crate) fn describe_request(r: &http::Request<Vec<u8>>) -> String {
    let mut out = format!("> {} {}\n", r.method(), mask_url(&r.uri().to_string()));
    for (name, value) in r.headers() {
        out.push_str(&format!(
            "> {name}: {}\n",
            mask_header(name.as_str(), value)
        ));
    }
    if !r.body().is_empty() {
        out.push_str(&format!("> {}\n", mask_form(r.body())));
    }
    dim(&out)
}

/// `< 200 OK (12 ms)` with the content type and a masked body.
pub(crate) fn describe_response(r: &http::Response<Bytes>, took: std::time::Duration) -> String {
    let mut out = format!("< {} ({} ms)\n", r.status(), took.as_millis());
    for name in [
        "content-type",
        "www-authenticate",
        "cache-control",
        "location",
    ] {
        for v in r.headers().get_all(name) {
            out.push_str(&format!("< {name}: {}\n", mask_header(name, v)));
        }
    }
    if !r.body().is_empty() {
        out.push_str(&format!("< {}\n", mask_body(r.body())));
    }
    dim(&out)
}

fn mask_header(name: &str, value: &http::HeaderValue) -> String {
    let v = value.to_str().unwrap_or("(binary)");
    match name {
        "authorization" | "proxy-authorization" => {
            let scheme = v.split(' ').next().unwrap_or("");
            format!("{scheme} {MASK}")
        }
        // A DPoP proof (RFC 9449) can be replayed at its URL until it expires.
        "cookie" | "set-cookie" | "dpop" => MASK.to_owned(),
        "location" => mask_url(v),
        _ => v.to_owned(),
    }
}

/// A URL with secret query parameters masked.
pub(crate) fn mask_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.split('?').next().unwrap_or("").to_owned();
    };
    if u.query().is_none() {
        return u.to_string();
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if is_secret(&k) {
                MASK.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

fn mask_form(body: &[u8]) -> String {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| {
            let v = if is_secret(&k) { MASK.into() } else { v };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn mask_body(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            mask_json(&mut v);
            let s = v.to_string();
            if s.len() > 2000 {
                let cut: String = s.chars().take(2000).collect();
                format!("{cut}… ({} bytes)", body.len())
            } else {
                s
            }
        }
        Err(_) if std::str::from_utf8(body).is_ok_and(|t| t.contains('=') && !t.contains('<')) => {
            mask_form(body)
        }
        Err(_) => format!("({} bytes)", body.len()),
    }
}

fn mask_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret(k) && !val.is_null() {
                    *val = Value::String(MASK.into());
                } else {
                    mask_json(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_everywhere() {
        let req = http::Request::post("http://127.0.0.1:1/token?x=1&code=SECRET1")
            .header("authorization", "Basic U0VDUkVUMg==")
            .body(b"grant_type=authorization_code&code=SECRET3&code_verifier=SECRET4&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb".to_vec())
            .unwrap();
        let shown = describe_request(&req);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("U0VDUkVUMg"), "{shown}");
        assert!(shown.contains("grant_type=authorization_code"), "{shown}");
        let resp = http::Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"access_token":"SECRET5","refresh_token":"SECRET6","expires_in":3600,"nested":{"id_token":"SECRET7"}}"#))
            .unwrap();
        let shown = describe_response(&resp, std::time::Duration::ZERO);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("3600"), "{shown}");
    }

    #[test]
    fn proofs_assertions_and_request_objects_are_masked() {
        let req = http::Request::post("http://127.0.0.1:1/par")
            .header("authorization", "DPoP SECRET1")
            .header("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.SECRET2.sig")
            .body(b"client_id=app&request=eyJ.SECRET3.sig&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.SECRET4.sig".to_vec())
            .unwrap();
        let shown = describe_request(&req);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(
            shown.contains("> authorization: DPoP ‹redacted›"),
            "{shown}"
        );
        assert!(shown.contains("client_id=app"), "{shown}");
        let url = mask_url("http://127.0.0.1:1/authorize?client_id=app&request=eyJ.SECRET5.sig");
        assert!(
            !url.contains("SECRET") && url.contains("client_id=app"),
            "{url}"
        );
    }
}
