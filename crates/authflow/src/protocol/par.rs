//! Pushed authorization requests (RFC 9126): the parameters go to the server in a
//! client-authenticated POST, and the browser carries only a `request_uri`.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use url::Url;

use super::authorization::AuthorizationParameters;
use super::body::{Formats, read_fields};
use super::client_auth::Credentials;
use super::form::{Form, post_form, push_pair};
use super::{BuildError, ResponseError};
use crate::types::{ClientId, EndpointUrl};

/// `POST {pushed_authorization_request_endpoint}` with the authorization parameters and
/// the client's authentication (RFC 9126 §2.1).
///
/// ```
/// use authflow::protocol::{AuthorizationRequest, Credentials, par};
/// use authflow::random::OsRandom;
/// use authflow::types::{ClientId, EndpointUrl, RedirectUri};
///
/// let id = ClientId::new("app").unwrap();
/// let (params, _pending) = AuthorizationRequest::new(
///     EndpointUrl::new("https://as.example/authorize").unwrap(),
///     id.clone(),
///     RedirectUri::new("http://127.0.0.1:8765/cb").unwrap(),
/// )
/// .build_parameters(&mut OsRandom)
/// .unwrap();
/// let req = par::par_request(
///     &EndpointUrl::new("https://as.example/par").unwrap(),
///     &Credentials::public(id),
///     &params,
/// )
/// .unwrap();
/// assert!(String::from_utf8_lossy(req.body()).contains("code_challenge_method=S256"));
/// ```
pub fn par_request(
    endpoint: &EndpointUrl,
    credentials: &Credentials,
    params: &AuthorizationParameters,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut form = Form::new();
    let mut headers = HeaderMap::new();
    credentials.apply(&mut headers, &mut form)?;
    for (k, v) in params.pairs() {
        // Client authentication may already have sent `client_id`.
        if k == "client_id" && form.contains("client_id") {
            continue;
        }
        form.push(k.as_str(), v.as_str());
    }
    post_form(endpoint.as_url(), headers, &form)
}

/// The server's answer: where the browser goes next, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushedAuthorization {
    /// The `request_uri` to send to the authorization endpoint.
    pub request_uri: String,
    /// How long it is valid.
    pub expires_in: Option<Duration>,
}

/// Reads a PAR response (`201` with JSON; errors as RFC 6749 §5.2).
pub fn parse_par_response(resp: &Response<Bytes>) -> Result<PushedAuthorization, ResponseError> {
    let fields = read_fields(resp, Formats::Json)?;
    let request_uri = fields
        .get("request_uri")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty() && s.len() <= 2048)
        .ok_or(ResponseError::MissingField("request_uri"))?
        .to_owned();
    let expires_in = fields
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .map(Duration::from_secs);
    Ok(PushedAuthorization {
        request_uri,
        expires_in,
    })
}

/// The authorization URL with only `client_id` and `request_uri` (RFC 9126 §4), keeping
/// parameters already on the endpoint URL.
pub fn authorization_url(endpoint: &EndpointUrl, client_id: &ClientId, request_uri: &str) -> Url {
    url_with(endpoint, client_id, "request_uri", request_uri)
}

/// The authorization URL with `client_id` and one more parameter.
pub(super) fn url_with(
    endpoint: &EndpointUrl,
    client_id: &ClientId,
    name: &str,
    value: &str,
) -> Url {
    let mut url = endpoint.as_url().clone();
    let mut q = url.query().map(str::to_owned).unwrap_or_default();
    push_pair(&mut q, "client_id", client_id.as_str());
    push_pair(&mut q, name, value);
    url.set_query(Some(&q));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response<Bytes> {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn parses_created_and_errors() {
        let ok = parse_par_response(&resp(
            201,
            r#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#,
        ))
        .unwrap();
        assert_eq!(ok.request_uri, "urn:ietf:params:oauth:request_uri:abc");
        assert_eq!(ok.expires_in, Some(Duration::from_secs(60)));
        let err = parse_par_response(&resp(
            400,
            r#"{"error":"invalid_request","error_description":"bad redirect"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            err.oauth().map(|e| e.error.as_str()),
            Some("invalid_request")
        );
        assert!(matches!(
            parse_par_response(&resp(201, "{}")),
            Err(ResponseError::MissingField("request_uri"))
        ));
    }

    #[test]
    fn url_keeps_existing_query() {
        let e = EndpointUrl::new("https://as.example/authorize?tenant=t1").unwrap();
        let u = authorization_url(&e, &ClientId::new("app").unwrap(), "urn:x:1");
        assert_eq!(
            u.as_str(),
            "https://as.example/authorize?tenant=t1&client_id=app&request_uri=urn%3Ax%3A1"
        );
    }
}
