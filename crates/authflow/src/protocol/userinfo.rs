//! OpenID Connect userinfo (OIDC Core §5.3).

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use serde_json::{Map, Value};

use super::BuildError;
use super::body::{Formats, read_fields};
use super::error::ResponseError;
use super::form::get_json;
use super::www_authenticate::bearer_error;
use crate::types::{AccessToken, EndpointUrl};

/// `GET {endpoint}` with `Authorization: Bearer` (marked sensitive).
pub fn userinfo_request(
    endpoint: &EndpointUrl,
    access_token: &AccessToken,
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut req = get_json(endpoint.as_url())?;
    let mut v = HeaderValue::try_from(format!("Bearer {}", access_token.secret()))
        .map_err(|_| BuildError::Header("authorization"))?;
    v.set_sensitive(true);
    req.headers_mut().insert(header::AUTHORIZATION, v);
    Ok(req)
}

/// Parses a JSON userinfo response; `sub` is required. A Bearer challenge on a 401/403
/// becomes an [`OAuthError`](super::OAuthError) with its `error` and description.
pub fn parse_userinfo(resp: &Response<Bytes>) -> Result<Map<String, Value>, ResponseError> {
    if !resp.status().is_success()
        && let Some(c) = bearer_error(resp.headers())
        && !c.error.is_empty()
    {
        return Err(c.to_oauth_error(resp.status()).into());
    }
    let fields = read_fields(resp, Formats::Json)?;
    match fields.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => Ok(fields),
        _ => Err(ResponseError::MissingField("sub")),
    }
}

/// OIDC Core §5.3.2: the userinfo `sub` must be the ID token's, when one pinned it.
pub fn check_subject(
    claims: &Map<String, Value>,
    expected_sub: Option<&str>,
) -> Result<(), super::id_token::IdTokenError> {
    match expected_sub {
        Some(sub) if claims.get("sub").and_then(Value::as_str) != Some(sub) => {
            Err(super::id_token::IdTokenError::Claim {
                claim: "sub",
                reason: "userinfo names another user than the ID token".into(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_a_sensitive_bearer_header() {
        let r = userinfo_request(
            &EndpointUrl::new("https://as.example/userinfo").unwrap(),
            &AccessToken::new("at").unwrap(),
        )
        .unwrap();
        assert_eq!(r.headers()[header::AUTHORIZATION], "Bearer at");
        assert!(r.headers()[header::AUTHORIZATION].is_sensitive());
    }

    #[test]
    fn parses_claims_and_challenges() {
        let ok = Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"sub":"alice","email":"a@x"}"#))
            .unwrap();
        assert_eq!(parse_userinfo(&ok).unwrap()["email"], "a@x");
        let no_sub = Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"email":"a@x"}"#))
            .unwrap();
        assert_eq!(
            parse_userinfo(&no_sub).unwrap_err(),
            ResponseError::MissingField("sub")
        );
        let denied = Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                r#"Bearer error="invalid_token", error_description="expired""#,
            )
            .body(Bytes::new())
            .unwrap();
        let e = parse_userinfo(&denied).unwrap_err();
        assert_eq!(e.oauth().unwrap().error, "invalid_token");
    }
}
