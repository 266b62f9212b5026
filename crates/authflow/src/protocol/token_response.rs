//! The one token-response parser, for every grant (RFC 6749 §5.1, §5.2).
//!
//! Tolerant of what providers really send (see provider-quirks.md), strict about what
//! makes a token usable.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Response;
use serde_json::{Map, Value};

use super::body::{Formats, read_fields};
use super::error::ResponseError;
use crate::types::{AccessToken, IdToken, RefreshToken, Scope};

/// The longest lifetime taken at face value; larger `expires_in` values are clamped so
/// that expiry arithmetic cannot overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The kind of access token (RFC 6749 §7.1), compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer` (RFC 6750). Also assumed when the server omits `token_type`.
    Bearer,
    /// `DPoP` (RFC 9449).
    DPoP,
    /// `N_A`, as RFC 8693 token exchange returns for non-access tokens.
    NotApplicable,
    /// Anything else, as sent.
    Other(String),
}

impl TokenType {
    /// Reads a `token_type` value, ignoring case.
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else if s.eq_ignore_ascii_case("dpop") {
            Self::DPoP
        } else if s.eq_ignore_ascii_case("n_a") {
            Self::NotApplicable
        } else {
            Self::Other(s.to_owned())
        }
    }

    /// The canonical name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::DPoP => "DPoP",
            Self::NotApplicable => "N_A",
            Self::Other(s) => s,
        }
    }
}

/// A successful token response.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Its type; `Bearer` when the server omitted it.
    pub token_type: TokenType,
    /// The lifetime the server announced; `None` means unknown (not "never expires"):
    /// refresh when a resource answers `invalid_token`.
    pub expires_in: Option<Duration>,
    /// `now + expires_in`, with the `now` given to the parser.
    pub expires_at: Option<SystemTime>,
    /// A refresh token, when issued. On refresh, `None` means "keep the old one".
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope when the server said it; `None` means "as requested"
    /// (see [`granted_scope`](Self::granted_scope)).
    pub scope: Option<Scope>,
    /// An OpenID Connect ID token, unvalidated.
    pub id_token: Option<IdToken>,
    /// `issued_token_type` (RFC 8693).
    pub issued_token_type: Option<String>,
    /// Every other field, as sent.
    pub extra: Map<String, Value>,
}

impl TokenResponse {
    /// The scope the token carries: what the server said, or what was requested when it
    /// said nothing (RFC 6749 §5.1). Never read a missing scope as "denied".
    pub fn granted_scope(&self, requested: &Scope) -> Scope {
        self.scope.clone().unwrap_or_else(|| requested.clone())
    }

    /// Whether the token is known to expire within `margin` of `now`.
    /// A token of unknown lifetime is never considered expired here.
    pub fn expires_within(&self, now: SystemTime, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.checked_add(margin).unwrap_or(now))
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token)
            .field("issued_token_type", &self.issued_token_type)
            // Extra fields may hold secrets of their own: show only their names.
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses a token endpoint response.
///
/// - a body with `error` is an [`OAuthError`](super::OAuthError) whatever the status;
/// - JSON, form-encoded and `text/plain` bodies are read;
/// - `expires_in` may be a number or a numeric string, or `expires` (legacy);
/// - `token_type` in any case, or missing (then `Bearer`);
/// - `scope` space- or comma-separated;
/// - `access_token` is required.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authflow::protocol::token_response::parse_token_response;
///
/// let resp = http::Response::builder()
///     .header("content-type", "application/json")
///     .body(bytes::Bytes::from_static(
///         br#"{"access_token":"at","token_type":"bearer","expires_in":"3600"}"#,
///     ))
///     .unwrap();
/// let now = SystemTime::UNIX_EPOCH;
/// let t = parse_token_response(&resp, now).unwrap();
/// assert_eq!(t.access_token.secret(), "at");
/// assert_eq!(t.expires_at, Some(now + Duration::from_secs(3600)));
/// ```
pub fn parse_token_response(
    resp: &Response<Bytes>,
    now: SystemTime,
) -> Result<TokenResponse, ResponseError> {
    // Fast path for the common case: a success answer in JSON, read in one pass with
    // borrowed keys. Anything unusual (errors, other formats, bad JSON) takes the general
    // path below, which reports it precisely.
    if resp.status().is_success()
        && resp.body().len() <= super::MAX_RESPONSE_BYTES
        && is_plain_json(resp)
        && let Ok(known) = serde_json::from_slice::<Known>(resp.body())
        && !known.has_error
    {
        return finish(known, now);
    }
    let fields = read_fields(resp, Formats::Lenient)?;
    finish(Known::from_map(fields), now)
}

/// `Content-Type: application/json` (any parameters), checked without allocating.
fn is_plain_json(resp: &Response<Bytes>) -> bool {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().get(..16))
        .is_some_and(|p| p.eq_ignore_ascii_case(b"application/json"))
}

/// The fields the parser knows, and everything else.
#[derive(Default)]
struct Known {
    access_token: Option<Value>,
    token_type: Option<Value>,
    expires_in: Option<Value>,
    expires: Option<Value>,
    refresh_token: Option<Value>,
    scope: Option<Value>,
    id_token: Option<Value>,
    issued_token_type: Option<Value>,
    has_error: bool,
    extra: Map<String, Value>,
}

impl Known {
    fn from_map(mut f: Map<String, Value>) -> Self {
        Self {
            access_token: f.remove("access_token"),
            token_type: f.remove("token_type"),
            expires_in: f.remove("expires_in"),
            expires: f.remove("expires"),
            refresh_token: f.remove("refresh_token"),
            scope: f.remove("scope"),
            id_token: f.remove("id_token"),
            issued_token_type: f.remove("issued_token_type"),
            has_error: false,
            extra: f,
        }
    }

    fn slot(&mut self, key: &str) -> Option<&mut Option<Value>> {
        Some(match key {
            "access_token" => &mut self.access_token,
            "token_type" => &mut self.token_type,
            "expires_in" => &mut self.expires_in,
            "expires" => &mut self.expires,
            "refresh_token" => &mut self.refresh_token,
            "scope" => &mut self.scope,
            "id_token" => &mut self.id_token,
            "issued_token_type" => &mut self.issued_token_type,
            _ => return None,
        })
    }
}

impl<'de> serde::Deserialize<'de> for Known {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Known;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Known, A::Error> {
                let mut k = Known::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let value: Value = map.next_value()?;
                    if key == "error" {
                        k.has_error = true;
                    }
                    // A repeated name: the last one wins, as serde_json's own maps do.
                    match k.slot(&key) {
                        Some(slot) => *slot = Some(value),
                        None => {
                            k.extra.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(k)
            }
        }
        d.deserialize_map(V)
    }
}

fn finish(mut k: Known, now: SystemTime) -> Result<TokenResponse, ResponseError> {
    let access_token = match k.access_token.take() {
        Some(Value::String(s)) if !s.is_empty() => {
            AccessToken::new(s).map_err(|e| invalid("access_token", e.reason))?
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ResponseError::MissingField("access_token"));
        }
        Some(_) => return Err(invalid("access_token", "not a string")),
    };
    let token_type = match k.token_type.take() {
        Some(Value::String(s)) if !s.is_empty() => TokenType::parse(&s),
        None | Some(Value::Null) | Some(Value::String(_)) => TokenType::Bearer,
        Some(_) => return Err(invalid("token_type", "not a string")),
    };
    let expires_in = match (k.expires_in.take(), k.expires.take()) {
        (Some(v), _) => lifetime("expires_in", &v)?,
        (None, Some(v)) => lifetime("expires", &v)?,
        (None, None) => None,
    };
    let refresh_token = match k.refresh_token.take() {
        Some(Value::String(s)) if !s.is_empty() => {
            Some(RefreshToken::new(s).map_err(|e| invalid("refresh_token", e.reason))?)
        }
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(_) => return Err(invalid("refresh_token", "not a string")),
    };
    let scope = match k.scope.take() {
        Some(Value::String(s)) => {
            Some(Scope::parse_lenient(&s).map_err(|e| invalid("scope", e.reason))?)
        }
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().unwrap_or_default())
                .filter(|s| !s.is_empty())
                .map(crate::types::ScopeToken::new)
                .collect::<Result<Scope, _>>()
                .map_err(|e| invalid("scope", e.reason))?,
        ),
        None | Some(Value::Null) => None,
        Some(_) => return Err(invalid("scope", "not a string")),
    };
    let id_token = match k.id_token.take() {
        Some(Value::String(s)) if !s.is_empty() => {
            Some(IdToken::new(s).map_err(|e| invalid("id_token", e.reason))?)
        }
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(_) => return Err(invalid("id_token", "not a string")),
    };
    let issued_token_type = match k.issued_token_type.take() {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let expires_at = expires_in.and_then(|d| now.checked_add(d));
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        expires_at,
        refresh_token,
        scope,
        id_token,
        issued_token_type,
        extra: k.extra,
    })
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ResponseError {
    ResponseError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// Seconds as a number (integer or float) or numeric string. Negative values mean
/// "already expired"; empty strings and `null` mean unknown.
fn lifetime(field: &'static str, v: &Value) -> Result<Option<Duration>, ResponseError> {
    let secs: f64 = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| invalid(field, "not a number of seconds"))?,
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid(field, "not a number of seconds"))?,
        _ => return Err(invalid(field, "not a number of seconds")),
    };
    if !secs.is_finite() {
        return Err(invalid(field, "not a finite number of seconds"));
    }
    let secs = secs.max(0.0);
    Ok(Some(
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_LIFETIME)
            .min(MAX_LIFETIME),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;
    use proptest::prelude::*;

    fn resp(status: u16, ct: &str, body: &str) -> Response<Bytes> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, ct)
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    fn json(body: &str) -> Result<TokenResponse, ResponseError> {
        parse_token_response(&resp(200, "application/json", body), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn typical_response() {
        let t = json(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,
                "refresh_token":"r","scope":"openid api:read","id_token":"x.y.z","custom":1}"#,
        )
        .unwrap();
        assert_eq!(t.access_token.secret(), "a");
        assert_eq!(t.token_type, TokenType::Bearer);
        assert_eq!(t.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(t.refresh_token.unwrap().secret(), "r");
        assert_eq!(t.scope.unwrap().to_string(), "openid api:read");
        assert!(t.id_token.is_some());
        assert_eq!(t.extra["custom"], 1);
    }

    #[test]
    fn token_type_any_case_or_missing() {
        for tt in ["bearer", "BEARER", "Bearer"] {
            let t = json(&format!(r#"{{"access_token":"a","token_type":"{tt}"}}"#)).unwrap();
            assert_eq!(t.token_type, TokenType::Bearer);
        }
        assert_eq!(
            json(r#"{"access_token":"a"}"#).unwrap().token_type,
            TokenType::Bearer
        );
        assert_eq!(
            json(r#"{"access_token":"a","token_type":"dpop"}"#)
                .unwrap()
                .token_type,
            TokenType::DPoP
        );
    }

    #[test]
    fn expires_variants() {
        let e = |b: &str| json(b).unwrap().expires_in;
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":"3599"}"#),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires":60}"#),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":59.5}"#),
            Some(Duration::from_millis(59500))
        );
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":-5}"#),
            Some(Duration::ZERO)
        );
        assert_eq!(e(r#"{"access_token":"a"}"#), None, "missing means unknown");
        assert_eq!(
            e(r#"{"access_token":"a","expires_in":1e300}"#),
            Some(MAX_LIFETIME)
        );
        assert!(json(r#"{"access_token":"a","expires_in":"soon"}"#).is_err());
        assert!(json(r#"{"access_token":"a","expires_in":[1]}"#).is_err());
    }

    #[test]
    fn missing_scope_means_as_requested() {
        let t = json(r#"{"access_token":"a"}"#).unwrap();
        let req = Scope::parse("a b").unwrap();
        assert_eq!(t.granted_scope(&req), req);
        let t = json(r#"{"access_token":"a","scope":"repo,user"}"#).unwrap();
        assert_eq!(t.scope.unwrap().to_string(), "repo user");
    }

    #[test]
    fn form_encoded_and_text_plain_bodies() {
        let body = "access_token=gho_abc&token_type=bearer&scope=repo%2Cgist";
        for ct in [
            "application/x-www-form-urlencoded",
            "text/plain; charset=utf-8",
        ] {
            let t = parse_token_response(&resp(200, ct, body), SystemTime::UNIX_EPOCH).unwrap();
            assert_eq!(t.access_token.secret(), "gho_abc");
            assert_eq!(t.scope.unwrap().to_string(), "repo gist");
        }
    }

    #[test]
    fn error_in_200_is_an_error() {
        let e = json(r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.example/x"}"#).unwrap_err();
        let o = e.oauth().unwrap();
        assert_eq!(o.error, "bad_verification_code");
        assert_eq!(o.error_uri.as_deref(), Some("https://docs.example/x"));
    }

    #[test]
    fn error_status_keeps_fields() {
        let r = resp(
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"expired"}"#,
        );
        let e = parse_token_response(&r, SystemTime::UNIX_EPOCH).unwrap_err();
        let o = e.oauth().unwrap();
        assert_eq!(o.status, 400);
        assert_eq!(o.error_description.as_deref(), Some("expired"));
    }

    #[test]
    fn missing_or_bad_access_token() {
        assert_eq!(
            json(r#"{"token_type":"bearer"}"#).unwrap_err(),
            ResponseError::MissingField("access_token")
        );
        assert_eq!(
            json(r#"{"access_token":""}"#).unwrap_err(),
            ResponseError::MissingField("access_token")
        );
        assert!(json(r#"{"access_token":5}"#).is_err());
        let e = json("{\"access_token\":\"ab\\ncd-SECRET\"}").unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn debug_hides_tokens_and_extra_values() {
        let t = json(
            r#"{"access_token":"AT-SECRET","refresh_token":"RT-SECRET","other_secret":"X-SECRET"}"#,
        )
        .unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("SECRET\""), "{d}");
        assert!(!d.contains("AT-SECRET") && !d.contains("X-SECRET"), "{d}");
        assert!(d.contains("other_secret"));
    }

    #[test]
    fn fast_and_general_paths_agree() {
        // application/json takes the one-pass path; text/plain the general one.
        for body in [
            r#"{"access_token":"a","expires_in":"60","scope":"x,y","custom":{"k":1},"refresh_token":"r"}"#,
            r#"{"access_token":"a","access_token":"b","acc\u0065ss_token2":"c"}"#,
            r#"{"access_token":"a","token_type":"BEARER","expires":30,"id_token":"h.p.s"}"#,
        ] {
            let fast =
                parse_token_response(&resp(200, "application/json", body), SystemTime::UNIX_EPOCH)
                    .unwrap();
            let general =
                parse_token_response(&resp(200, "text/plain", body), SystemTime::UNIX_EPOCH)
                    .unwrap();
            assert_eq!(fast.access_token, general.access_token, "{body}");
            assert_eq!(fast.expires_at, general.expires_at, "{body}");
            assert_eq!(fast.scope, general.scope, "{body}");
            assert_eq!(fast.refresh_token, general.refresh_token, "{body}");
            assert_eq!(fast.token_type, general.token_type, "{body}");
            assert_eq!(fast.extra, general.extra, "{body}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in ".{0,200}", ct in prop::sample::select(vec!["application/json", "text/plain", "application/x-www-form-urlencoded", "text/html", ""])) {
            let _ = parse_token_response(&resp(200, ct, &body), SystemTime::UNIX_EPOCH);
        }

        #[test]
        fn expires_in_round_trip(secs in 0u64..10_000_000, as_string in any::<bool>()) {
            let v = if as_string { format!("\"{secs}\"") } else { secs.to_string() };
            let t = json(&format!(r#"{{"access_token":"a","expires_in":{v}}}"#)).unwrap();
            prop_assert_eq!(t.expires_at, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)));
        }
    }
}
