//! Token revocation (RFC 7009).
//!
//! Revoke the refresh token first (that usually ends the whole grant), then the access
//! token. A server answers 200 for tokens it does not know, so a 200 says nothing about
//! whether the token was valid.
//!
//! ```
//! use authflow::protocol::Credentials;
//! use authflow::protocol::revocation::{TokenTypeHint, revocation_request};
//! use authflow::types::{ClientId, EndpointUrl};
//! let endpoint = EndpointUrl::new("https://as.example/revoke").unwrap();
//! let creds = Credentials::public(ClientId::new("cli").unwrap());
//! let req = revocation_request(&endpoint, &creds, "tok", Some(TokenTypeHint::RefreshToken)).unwrap();
//! assert_eq!(req.method(), http::Method::POST);
//! ```

use bytes::Bytes;
use http::{HeaderMap, Request, Response};

use super::BuildError;
use super::body::{Formats, read_fields};
use super::client_auth::Credentials;
use super::error::ResponseError;
use super::form::{Form, post_form};
use crate::types::{AccessToken, EndpointUrl, RefreshToken};

/// Which kind of token is sent (RFC 7009 §2.1, RFC 7662 §2.1): a hint that saves the
/// server a lookup; servers must search further when it is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// The registered value sent as `token_type_hint`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// Builds the form shared by revocation and introspection: `token`, the hint, and the
/// client's authentication.
pub(crate) fn token_request(
    endpoint: &EndpointUrl,
    creds: &Credentials,
    token: &str,
    hint: Option<TokenTypeHint>,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut form = Form::new();
    form.push("token", token);
    if let Some(hint) = hint {
        form.push("token_type_hint", hint.as_str());
    }
    let mut headers = HeaderMap::new();
    creds.apply(&mut headers, &mut form)?;
    post_form(endpoint.as_url(), headers, &form)
}

/// `POST` to the revocation endpoint with `token` (the secret value), the optional hint
/// and the client's authentication (RFC 7009 §2.1).
pub fn revocation_request(
    endpoint: &EndpointUrl,
    creds: &Credentials,
    token: &str,
    hint: Option<TokenTypeHint>,
) -> Result<Request<Vec<u8>>, BuildError> {
    token_request(endpoint, creds, token, hint)
}

/// [`revocation_request`] for an access token, with its hint.
pub fn access_token_revocation_request(
    endpoint: &EndpointUrl,
    creds: &Credentials,
    token: &AccessToken,
) -> Result<Request<Vec<u8>>, BuildError> {
    revocation_request(
        endpoint,
        creds,
        token.secret(),
        Some(TokenTypeHint::AccessToken),
    )
}

/// [`revocation_request`] for a refresh token, with its hint.
pub fn refresh_token_revocation_request(
    endpoint: &EndpointUrl,
    creds: &Credentials,
    token: &RefreshToken,
) -> Result<Request<Vec<u8>>, BuildError> {
    revocation_request(
        endpoint,
        creds,
        token.secret(),
        Some(TokenTypeHint::RefreshToken),
    )
}

/// Reads a revocation response (RFC 7009 §2.2): any 2xx is success and its body is
/// ignored (it is usually empty); an error body becomes [`ResponseError::OAuth`]
/// (e.g. `unsupported_token_type`); any other failure, such as 503 (retry later),
/// becomes [`ResponseError::Status`].
pub fn parse_revocation_response(resp: &Response<Bytes>) -> Result<(), ResponseError> {
    if resp.status().is_success() {
        return Ok(());
    }
    match read_fields(resp, Formats::Json) {
        Err(e) => Err(e),
        // Unreachable for a failure status, which `read_fields` always turns into an error.
        Ok(_) => Err(ResponseError::Status {
            status: resp.status(),
            content_type: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client_auth::decode_basic_authorization;
    use crate::types::{ClientId, ClientSecret};
    use http::{StatusCode, header};

    fn endpoint() -> EndpointUrl {
        EndpointUrl::new("https://as.example/revoke").unwrap()
    }

    fn body(req: &Request<Vec<u8>>) -> Vec<(String, String)> {
        url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect()
    }

    fn resp(status: u16, ct: Option<&str>, body: &str) -> Response<Bytes> {
        let mut b = Response::builder().status(status);
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Bytes::from(body.to_owned())).unwrap()
    }

    #[test]
    fn public_client_request_rfc7009_section_2_1() {
        let creds = Credentials::public(ClientId::new("cli").unwrap());
        let rt = RefreshToken::new("45ghiukldjahdnhzdauz/+&=").unwrap();
        let req = refresh_token_revocation_request(&endpoint(), &creds, &rt).unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri(), "https://as.example/revoke");
        assert_eq!(
            req.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.headers()[header::ACCEPT], "application/json");
        assert!(req.headers().get(header::AUTHORIZATION).is_none());
        assert_eq!(
            body(&req),
            [
                ("token".into(), "45ghiukldjahdnhzdauz/+&=".into()),
                ("token_type_hint".into(), "refresh_token".into()),
                ("client_id".into(), "cli".into()),
            ]
        );
    }

    #[test]
    fn basic_auth_goes_in_a_sensitive_header() {
        let creds = Credentials::secret_basic(
            ClientId::new("app").unwrap(),
            ClientSecret::new("s:e%c+r").unwrap(),
        );
        let at = AccessToken::new("at-1").unwrap();
        let req = access_token_revocation_request(&endpoint(), &creds, &at).unwrap();
        let auth = &req.headers()[header::AUTHORIZATION];
        assert!(auth.is_sensitive());
        let (id, secret) = decode_basic_authorization(auth.to_str().unwrap()).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("app", "s:e%c+r"));
        let b = body(&req);
        assert!(b.contains(&("token_type_hint".into(), "access_token".into())));
        assert!(
            !b.iter()
                .any(|(k, _)| k == "client_secret" || k == "client_id")
        );
    }

    #[test]
    fn no_hint_sends_no_hint() {
        let creds = Credentials::secret_post(
            ClientId::new("app").unwrap(),
            ClientSecret::new("pw").unwrap(),
        );
        let req = revocation_request(&endpoint(), &creds, "t", None).unwrap();
        let b = body(&req);
        assert!(!b.iter().any(|(k, _)| k == "token_type_hint"));
        assert!(b.contains(&("client_secret".into(), "pw".into())));
    }

    #[test]
    fn success_ignores_the_body() {
        assert!(parse_revocation_response(&resp(200, None, "")).is_ok());
        assert!(parse_revocation_response(&resp(200, Some("text/html"), "<p>ok</p>")).is_ok());
        assert!(parse_revocation_response(&resp(204, None, "")).is_ok());
    }

    #[test]
    fn unsupported_token_type_is_an_oauth_error() {
        let r = resp(
            400,
            Some("application/json"),
            r#"{"error":"unsupported_token_type"}"#,
        );
        let e = parse_revocation_response(&r).unwrap_err();
        let o = e.oauth().unwrap();
        assert!(o.is("unsupported_token_type"));
        assert_eq!(o.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unavailable_is_a_status_error() {
        let e = parse_revocation_response(&resp(503, None, "")).unwrap_err();
        assert!(
            matches!(e, ResponseError::Status { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE),
            "{e:?}"
        );
        let e = parse_revocation_response(&resp(401, Some("text/html"), "<b>no</b>")).unwrap_err();
        assert!(matches!(e, ResponseError::Status { .. }), "{e:?}");
    }

    #[test]
    fn request_debug_does_not_leak_the_token_in_errors() {
        let e = parse_revocation_response(&resp(
            500,
            Some("application/json"),
            r#"{"token":"SECRET-TOKEN"}"#,
        ))
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET-TOKEN"));
    }
}
