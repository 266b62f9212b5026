//! Token introspection (RFC 7662): ask the authorization server whether a token is active
//! and what it grants.
//!
//! ```
//! use authflow::protocol::introspection::parse_introspection_response;
//! let resp = http::Response::builder()
//!     .header("content-type", "application/json")
//!     .body(bytes::Bytes::from_static(br#"{"active":true,"scope":"read","exp":1700000000}"#))
//!     .unwrap();
//! let r = parse_introspection_response(&resp).unwrap();
//! assert!(r.active);
//! assert!(r.scope.unwrap().contains("read"));
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use serde_json::{Map, Value};

use super::BuildError;
use super::body::{Formats, read_fields};
use super::client_auth::Credentials;
use super::error::ResponseError;
use super::revocation::{TokenTypeHint, token_request};
use crate::types::{EndpointUrl, Scope};

/// `POST` to the introspection endpoint with `token` (the secret value), the optional hint
/// and the client's authentication (RFC 7662 §2.1).
pub fn introspection_request(
    endpoint: &EndpointUrl,
    creds: &Credentials,
    token: &str,
    hint: Option<TokenTypeHint>,
) -> Result<Request<Vec<u8>>, BuildError> {
    token_request(endpoint, creds, token, hint)
}

/// What the server says about a token (RFC 7662 §2.2).
///
/// When `active` is false every other field is empty, whatever the server sent: nothing
/// about an inactive token is to be relied on. `Debug` shows only the keys of `extra`.
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// `scope`, parsed leniently.
    pub scope: Option<Scope>,
    /// `client_id`: the client the token was issued to.
    pub client_id: Option<String>,
    /// `username`: the resource owner's human-readable name.
    pub username: Option<String>,
    /// `token_type`, as sent (e.g. `Bearer`).
    pub token_type: Option<String>,
    /// `exp`: when the token expires.
    pub exp: Option<SystemTime>,
    /// `iat`: when it was issued.
    pub iat: Option<SystemTime>,
    /// `nbf`: not to be used before this time.
    pub nbf: Option<SystemTime>,
    /// `sub`: the resource owner's identifier.
    pub sub: Option<String>,
    /// `aud`: the intended audiences (a single string becomes one element).
    pub aud: Vec<String>,
    /// `iss`: the issuer.
    pub iss: Option<String>,
    /// `jti`: the token's identifier.
    pub jti: Option<String>,
    /// `cnf`: what the token is bound to (RFC 7800), e.g. a DPoP key (RFC 9449 §6.2).
    pub cnf: Option<Confirmation>,
    /// Every other field, as sent.
    pub extra: Map<String, Value>,
}

impl IntrospectionResponse {
    /// Whether the token is active and, by its `exp` and `nbf`, usable at `now`.
    pub fn is_active_at(&self, now: SystemTime) -> bool {
        self.active && self.exp.is_none_or(|exp| now < exp) && self.nbf.is_none_or(|nbf| now >= nbf)
    }
}

impl fmt::Debug for IntrospectionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionResponse")
            .field("active", &self.active)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("token_type", &self.token_type)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("jti", &self.jti)
            .field("cnf", &self.cnf)
            // Extension fields may hold anything, secrets included.
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The confirmation claim `cnf` (RFC 7800 §3.1) of an access token or introspection
/// response: the key or certificate a sender-constrained token is bound to. Thumbprints of
/// public keys, not secrets.
///
/// ```
/// use authflow::protocol::introspection::Confirmation;
/// let cnf = Confirmation::from_json(&serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})).unwrap();
/// assert_eq!(cnf.jkt.as_deref(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Confirmation {
    /// `jkt`: the RFC 7638 thumbprint of the DPoP key (RFC 9449 §6).
    pub jkt: Option<String>,
    /// `x5t#S256`: the SHA-256 thumbprint of the client's certificate (RFC 8705 §3.1).
    pub x5t_s256: Option<String>,
}

impl Confirmation {
    /// Reads `cnf`: an object whose `jkt` and `x5t#S256`, when present, are non-empty
    /// strings. Other confirmation methods are ignored. The error says what is wrong.
    pub fn from_json(value: &Value) -> Result<Self, &'static str> {
        let Value::Object(o) = value else {
            return Err("must be a JSON object");
        };
        let member = |name: &str| match o.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err("its members must be non-empty strings"),
        };
        Ok(Self {
            jkt: member("jkt")?,
            x5t_s256: member("x5t#S256")?,
        })
    }
}

/// Reads an introspection response: JSON only; `active` is required and must be a
/// boolean (`"true"` / `"false"` strings are accepted, as some servers send them);
/// times are numeric seconds or numeric strings.
pub fn parse_introspection_response(
    resp: &Response<Bytes>,
) -> Result<IntrospectionResponse, ResponseError> {
    let mut f = read_fields(resp, Formats::Json)?;
    let active = match f.remove("active") {
        None | Some(Value::Null) => return Err(ResponseError::MissingField("active")),
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(invalid("active", "must be true or false")),
    };
    if !active {
        return Ok(IntrospectionResponse::default());
    }
    let f = &mut f;
    Ok(IntrospectionResponse {
        active,
        scope: match text(f, "scope")? {
            None => None,
            Some(s) => {
                Some(Scope::parse_lenient(&s).map_err(|e| invalid("scope", e.reason.as_str()))?)
            }
        },
        client_id: text(f, "client_id")?,
        username: text(f, "username")?,
        token_type: text(f, "token_type")?,
        exp: time(f, "exp")?,
        iat: time(f, "iat")?,
        nbf: time(f, "nbf")?,
        sub: text(f, "sub")?,
        aud: audiences(f)?,
        iss: text(f, "iss")?,
        jti: text(f, "jti")?,
        cnf: match f.remove("cnf") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Confirmation::from_json(&v).map_err(|reason| invalid("cnf", reason))?),
        },
        extra: std::mem::take(f),
    })
}

fn invalid(field: &'static str, reason: &str) -> ResponseError {
    ResponseError::InvalidField {
        field,
        reason: reason.to_owned(),
    }
}

fn text(f: &mut Map<String, Value>, field: &'static str) -> Result<Option<String>, ResponseError> {
    match f.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        // Some servers send numeric ids (`sub`, `client_id`) as numbers.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// Seconds since the epoch (RFC 7519 `NumericDate`), as a number or a numeric string.
fn time(
    f: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<SystemTime>, ResponseError> {
    const REASON: &str = "must be a non-negative number of seconds since 1970";
    let secs = match f.remove(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Ok).or_else(|| n.as_f64().map(Err)),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .map(Ok)
                .or_else(|| s.parse::<f64>().ok().map(Err))
        }
        Some(_) => None,
    };
    let duration = match secs {
        Some(Ok(whole)) => Some(Duration::from_secs(whole)),
        Some(Err(fractional)) => Duration::try_from_secs_f64(fractional).ok(),
        None => None,
    };
    duration
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .map(Some)
        .ok_or_else(|| invalid(field, REASON))
}

/// `aud`: a string or an array of strings.
fn audiences(f: &mut Map<String, Value>) -> Result<Vec<String>, ResponseError> {
    match f.remove("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(invalid("aud", "must be a string or an array of strings")),
            })
            .collect(),
        Some(_) => Err(invalid("aud", "must be a string or an array of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, ClientSecret};
    use http::{StatusCode, header};

    fn json(status: u16, body: &str) -> Response<Bytes> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn request_carries_token_hint_and_client_auth() {
        let endpoint = EndpointUrl::new("https://as.example/introspect").unwrap();
        let creds = Credentials::secret_basic(
            ClientId::new("rs").unwrap(),
            ClientSecret::new("pw").unwrap(),
        );
        let req = introspection_request(
            &endpoint,
            &creds,
            "mF_9.B5f-4.1JqM",
            Some(TokenTypeHint::AccessToken),
        )
        .unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri(), "https://as.example/introspect");
        assert!(req.headers()[header::AUTHORIZATION].is_sensitive());
        assert_eq!(req.headers()[header::ACCEPT], "application/json");
        let body: Vec<(String, String)> = url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect();
        assert_eq!(
            body,
            [
                ("token".into(), "mF_9.B5f-4.1JqM".into()),
                ("token_type_hint".into(), "access_token".into()),
            ]
        );
    }

    #[test]
    fn parses_rfc7662_section_2_2_example() {
        let r = parse_introspection_response(&json(
            200,
            r#"{
                "active": true,
                "client_id": "l238j323ds-23ij4",
                "username": "jdoe",
                "scope": "read write dolphin",
                "sub": "Z5O3upPC88QrAjx00dis",
                "aud": "https://protected.example.net/resource",
                "iss": "https://server.example.com/",
                "exp": 1419356238,
                "iat": 1419350238,
                "extension_field": "twenty-seven"
            }"#,
        ))
        .unwrap();
        assert!(r.active);
        assert_eq!(r.client_id.as_deref(), Some("l238j323ds-23ij4"));
        assert_eq!(r.username.as_deref(), Some("jdoe"));
        assert_eq!(r.scope.as_ref().unwrap().len(), 3);
        assert_eq!(r.sub.as_deref(), Some("Z5O3upPC88QrAjx00dis"));
        assert_eq!(r.aud, ["https://protected.example.net/resource"]);
        assert_eq!(r.iss.as_deref(), Some("https://server.example.com/"));
        assert_eq!(r.exp, Some(at(1419356238)));
        assert_eq!(r.iat, Some(at(1419350238)));
        assert_eq!(r.nbf, None);
        assert_eq!(r.extra["extension_field"], "twenty-seven");
        assert!(r.is_active_at(at(1419356237)));
        assert!(!r.is_active_at(at(1419356238)));
    }

    #[test]
    fn inactive_token_drops_everything_else() {
        let r = parse_introspection_response(&json(
            200,
            r#"{"active":false,"scope":"admin","exp":"garbage","sub":"x"}"#,
        ))
        .unwrap();
        assert!(!r.active);
        assert_eq!(r, IntrospectionResponse::default());
        assert!(!r.is_active_at(at(0)));
    }

    #[test]
    fn lenient_shapes() {
        let r = parse_introspection_response(&json(
            200,
            r#"{"active":"TRUE","exp":"1700000000","nbf":1600000000.5,"aud":["a","b"],"scope":"x,y","sub":42}"#,
        ))
        .unwrap();
        assert!(r.active);
        assert_eq!(r.exp, Some(at(1_700_000_000)));
        assert_eq!(r.nbf, Some(at(1_600_000_000) + Duration::from_millis(500)));
        assert_eq!(r.aud, ["a", "b"]);
        assert_eq!(r.scope.unwrap().to_string(), "x y");
        assert_eq!(r.sub.as_deref(), Some("42"));
        assert!(
            !parse_introspection_response(&json(200, r#"{"active":"false"}"#))
                .unwrap()
                .active
        );
    }

    #[test]
    fn active_is_required_and_must_be_boolean() {
        let e = parse_introspection_response(&json(200, r#"{"scope":"a"}"#)).unwrap_err();
        assert_eq!(e, ResponseError::MissingField("active"));
        for bad in [
            r#"{"active":1}"#,
            r#"{"active":"yes"}"#,
            r#"{"active":[true]}"#,
        ] {
            let e = parse_introspection_response(&json(200, bad)).unwrap_err();
            assert!(
                matches!(
                    e,
                    ResponseError::InvalidField {
                        field: "active",
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn bad_times_and_types_name_the_field() {
        for (body, field) in [
            (r#"{"active":true,"exp":-1}"#, "exp"),
            (r#"{"active":true,"iat":"soon"}"#, "iat"),
            (r#"{"active":true,"nbf":1e300}"#, "nbf"),
            (r#"{"active":true,"exp":true}"#, "exp"),
            (r#"{"active":true,"aud":[1]}"#, "aud"),
            (r#"{"active":true,"aud":{}}"#, "aud"),
            (r#"{"active":true,"username":["x"]}"#, "username"),
            (r#"{"active":true,"scope":"caf\u00e9"}"#, "scope"),
        ] {
            let e = parse_introspection_response(&json(200, body)).unwrap_err();
            assert!(
                matches!(&e, ResponseError::InvalidField { field: f, .. } if *f == field),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn cnf_jkt_is_read_and_a_malformed_cnf_refused() {
        let r = parse_introspection_response(&json(
            200,
            r#"{"active":true,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}"#,
        ))
        .unwrap();
        assert_eq!(
            r.cnf.unwrap().jkt.as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        assert!(!r.extra.contains_key("cnf"));
        for bad in [
            r#"{"active":true,"cnf":"jkt"}"#,
            r#"{"active":true,"cnf":{"jkt":7}}"#,
            r#"{"active":true,"cnf":{"jkt":""}}"#,
        ] {
            let e = parse_introspection_response(&json(200, bad)).unwrap_err();
            assert!(
                matches!(e, ResponseError::InvalidField { field: "cnf", .. }),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn errors_and_formats() {
        let e =
            parse_introspection_response(&json(401, r#"{"error":"invalid_client"}"#)).unwrap_err();
        assert_eq!(e.oauth().unwrap().status, StatusCode::UNAUTHORIZED);
        let r = Response::builder()
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"active=true"))
            .unwrap();
        assert!(matches!(
            parse_introspection_response(&r),
            Err(ResponseError::ContentType { .. })
        ));
    }

    #[test]
    fn debug_shows_only_extra_keys() {
        let r = parse_introspection_response(&json(
            200,
            r#"{"active":true,"sub":"s","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},"upstream_token":"SECRET-VALUE"}"#,
        ))
        .unwrap();
        let d = format!("{r:?}");
        assert!(d.contains("upstream_token") && d.contains("cnf"), "{d}");
        let cnf = r.cnf.as_ref().unwrap();
        assert_eq!(cnf.jkt, None);
        assert_eq!(
            cnf.x5t_s256.as_deref(),
            Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2")
        );
        assert!(!d.contains("SECRET-VALUE"), "{d}");
    }
}
