//! The requests that show how a server behaves, and what their answers say.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use serde_json::Value;

use super::{Findings, K, S};
use crate::protocol::discovery::{ServerMetadata, metadata_request};
use crate::protocol::form::{Form, post_form, request_uri};

/// The `client_id` of the probes: no server should know it.
pub const PROBE_CLIENT_ID: &str = "authflow-doctor-probe";

/// The `redirect_uri` of the authorization probe: an address under `.invalid` (RFC 2606)
/// that a server must not send the browser to for an unknown client.
pub const PROBE_REDIRECT_URI: &str = "https://doctor.invalid/callback";

/// Where [`PROBE_REDIRECT_URI`] points, whatever path and query a server puts after it.
pub(super) const PROBE_ORIGIN: &str = "https://doctor.invalid";

/// The requests that show how a server behaves, built by [`probes`]; none carries a
/// credential. Send those present and hand the answers to
/// [`audit_with_probes`](super::audit_with_probes).
#[derive(Debug)]
#[non_exhaustive]
pub struct Probes {
    /// `GET jwks_uri`: the signing keys.
    pub jwks: Option<Request<Vec<u8>>>,
    /// A client credentials request for an unknown client at the token endpoint: the
    /// answer should be an RFC 6749 §5.2 error.
    pub token_error: Option<Request<Vec<u8>>>,
    /// An authorization request for an unknown client with [`PROBE_REDIRECT_URI`]: the
    /// answer must not redirect there.
    pub open_redirect: Option<Request<Vec<u8>>>,
}

/// What the server answered to one probe.
#[derive(Debug, Clone, Copy, Default)]
pub enum Answer<'a> {
    /// The probe was not sent: its check reports what the metadata alone says, if anything.
    #[default]
    NotSent,
    /// Sent, but no response came (connection refused, time-out, refused URL).
    NoAnswer,
    /// The response.
    Response(&'a Response<Bytes>),
}

/// The answers to [`Probes`], each [`Answer::NotSent`] by default.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ProbeAnswers<'a> {
    /// The answer to [`Probes::jwks`].
    pub jwks: Answer<'a>,
    /// The answer to [`Probes::token_error`].
    pub token_error: Answer<'a>,
    /// The answer to [`Probes::open_redirect`].
    pub open_redirect: Answer<'a>,
}

/// The probe requests the metadata allows: a probe is `None` when its endpoint is absent.
pub fn probes(meta: &ServerMetadata) -> Probes {
    let jwks = meta
        .jwks_uri
        .as_ref()
        .and_then(|u| metadata_request(u.as_url()).ok());
    let mut form = Form::new();
    form.push("grant_type", "client_credentials");
    form.push("client_id", PROBE_CLIENT_ID);
    let token_error = post_form(meta.token_endpoint.as_url(), HeaderMap::new(), &form).ok();
    let open_redirect = meta.authorization_endpoint.as_ref().and_then(|a| {
        let mut url = a.as_url().clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", PROBE_CLIENT_ID)
            .append_pair("redirect_uri", PROBE_REDIRECT_URI)
            .append_pair("state", "probe");
        let mut req = Request::new(Vec::new());
        *req.method_mut() = Method::GET;
        *req.uri_mut() = request_uri(&url).ok()?;
        Some(req)
    });
    Probes {
        jwks,
        token_error,
        open_redirect,
    }
}

/// The keys in a JWKS answer, as `kty/alg` (`?` and `-` where missing); empty when the
/// body is not a JWKS.
pub(super) fn jwks_keys(resp: &Response<Bytes>) -> Vec<String> {
    let doc = serde_json::from_slice::<Value>(resp.body()).ok();
    let Some(keys) = doc
        .as_ref()
        .and_then(|v| v.get("keys"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    keys.iter()
        .map(|k| {
            let kty = k.get("kty").and_then(Value::as_str).unwrap_or("?");
            let alg = k.get("alg").and_then(Value::as_str).unwrap_or("-");
            format!("{kty}/{alg}")
        })
        .collect()
}

pub(super) fn token_errors(out: &mut Findings, answer: Answer<'_>) {
    let Answer::Response(resp) = answer else {
        return;
    };
    let status = resp.status().as_u16();
    let error = serde_json::from_slice::<Value>(resp.body())
        .ok()
        .as_ref()
        .and_then(|b| b.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (status, error) {
        (400 | 401, Some(e)) => out.add(
            K::TokenErrors,
            S::Ok,
            format!("unknown client → HTTP {status} `{e}`"),
            "RFC 6749 §5.2 errors let clients say what went wrong",
        ),
        (s, e) => out.add(
            K::TokenErrors,
            S::Warn,
            format!(
                "unknown client → HTTP {s}{}",
                e.map(|e| format!(" `{e}`"))
                    .unwrap_or_else(|| ", no OAuth error".into())
            ),
            "clients cannot explain failures without RFC 6749 §5.2 errors",
        ),
    }
}

pub(super) fn open_redirect(out: &mut Findings, answer: Answer<'_>) {
    let Answer::Response(resp) = answer else {
        return;
    };
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    if resp.status().is_redirection() && location.starts_with(PROBE_ORIGIN) {
        out.add(
            K::OpenRedirect,
            S::Fail,
            "an unknown client's redirect_uri was redirected to",
            "attackers can use the server as an open redirector (RFC 9700 §4.11)",
        );
    } else {
        out.add(
            K::OpenRedirect,
            S::Ok,
            format!(
                "unknown client → HTTP {}, no redirect to it",
                resp.status().as_u16()
            ),
            "the server is not an open redirector",
        );
    }
}
