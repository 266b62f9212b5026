//! Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0.
//!
//! Build the request with [`metadata_request`] on [`oauth_metadata_url`] (or
//! [`openid_configuration_url`]), send it, then check the answer with [`parse_metadata`],
//! which refuses a document whose `issuer` is not the one asked for (mix-up defence).
//!
//! ```
//! use authflow::protocol::discovery::{metadata_request, oauth_metadata_url};
//! use authflow::types::IssuerUrl;
//! let issuer = IssuerUrl::new("https://as.example/tenant").unwrap();
//! let url = oauth_metadata_url(&issuer);
//! assert_eq!(url.as_str(), "https://as.example/.well-known/oauth-authorization-server/tenant");
//! let req = metadata_request(&url).unwrap();
//! assert_eq!(req.method(), http::Method::GET);
//! ```

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::BuildError;
use super::body::{Formats, read_fields};
use super::error::ResponseError;
use super::form::get_json;
use crate::types::{EndpointUrl, InvalidValue, IssuerUrl};

/// An authorization server's metadata, checked: the issuer matched the one asked for, the
/// token endpoint is present, and every endpoint is `https` (or `http` on loopback).
///
/// Lists are `None` when the server left them out, which differs from an empty list:
/// RFC 8414 gives defaults for some (see [`supports_grant`](Self::supports_grant) and
/// [`supports_auth_method`](Self::supports_auth_method)). Fields authflow does not model
/// are kept in [`extra`](Self::extra).
///
/// Serializes to and deserializes from the RFC 8414 JSON form, e.g. for a cache; only
/// [`parse_metadata`] checks the issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// `issuer`, exactly as the document sent it.
    pub issuer: String,
    /// `authorization_endpoint`; absent on servers that only offer e.g. client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<EndpointUrl>,
    /// `token_endpoint`.
    pub token_endpoint: EndpointUrl,
    /// `jwks_uri`: the server's signing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<EndpointUrl>,
    /// `registration_endpoint` (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<EndpointUrl>,
    /// `scopes_supported`; often incomplete, never a reason to refuse a scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// `response_types_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// `response_modes_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// `grant_types_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported` (RFC 7636).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `revocation_endpoint` (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<EndpointUrl>,
    /// `introspection_endpoint` (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<EndpointUrl>,
    /// `userinfo_endpoint` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<EndpointUrl>,
    /// `device_authorization_endpoint` (RFC 8628).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<EndpointUrl>,
    /// `pushed_authorization_request_endpoint` (RFC 9126).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<EndpointUrl>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<EndpointUrl>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): when true, every
    /// authorization response must carry `iss`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// `id_token_signing_alg_values_supported` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// `dpop_signing_alg_values_supported` (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// `subject_types_supported` (OpenID Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_types_supported: Option<Vec<String>>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerMetadata {
    /// Whether the server accepts authorization requests only through PAR
    /// (`require_pushed_authorization_requests`, RFC 9126 §5).
    pub fn requires_pushed_authorization(&self) -> bool {
        self.extra
            .get("require_pushed_authorization_requests")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Metadata for a server configured by hand rather than discovered: only the issuer and
    /// the token endpoint; set other fields as needed.
    pub fn new(issuer: &IssuerUrl, token_endpoint: EndpointUrl) -> Self {
        Self {
            issuer: issuer.as_issuer_str().to_owned(),
            authorization_endpoint: None,
            token_endpoint,
            jwks_uri: None,
            registration_endpoint: None,
            scopes_supported: None,
            response_types_supported: None,
            response_modes_supported: None,
            grant_types_supported: None,
            token_endpoint_auth_methods_supported: None,
            code_challenge_methods_supported: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            userinfo_endpoint: None,
            device_authorization_endpoint: None,
            pushed_authorization_request_endpoint: None,
            end_session_endpoint: None,
            authorization_response_iss_parameter_supported: false,
            id_token_signing_alg_values_supported: None,
            dpop_signing_alg_values_supported: None,
            subject_types_supported: None,
            extra: Map::new(),
        }
    }

    /// Whether `S256` PKCE is advertised. Absent means "not advertised", not "refused":
    /// authflow sends PKCE anyway.
    pub fn supports_pkce_s256(&self) -> bool {
        listed(&self.code_challenge_methods_supported, "S256")
    }

    /// Whether the token endpoint accepts client authentication `method`
    /// (e.g. `client_secret_post`). RFC 8414 §2: absent means `client_secret_basic` only.
    pub fn supports_auth_method(&self, method: &str) -> bool {
        match &self.token_endpoint_auth_methods_supported {
            Some(list) => list.iter().any(|m| m == method),
            None => method == "client_secret_basic",
        }
    }

    /// Whether grant type `grant` is advertised. RFC 8414 §2: absent means
    /// `authorization_code` and `implicit`.
    pub fn supports_grant(&self, grant: &str) -> bool {
        match &self.grant_types_supported {
            Some(list) => list.iter().any(|g| g == grant),
            None => matches!(grant, "authorization_code" | "implicit"),
        }
    }
}

fn listed(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref().is_some_and(|l| l.iter().any(|v| v == value))
}

/// What was wrong with a metadata document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The response itself was unusable (status, content type, size, JSON).
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The document names another issuer: it may come from another server (mix-up), or
    /// the configured issuer is spelled differently.
    #[error(
        "the metadata names issuer {found:?} but {expected:?} was asked for; configure the issuer exactly as the server names it (path and trailing slash included)"
    )]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer in the document (shortened if very long).
        found: String,
    },
    /// A required field is missing.
    #[error("the metadata has no `{0}`; check the issuer URL, or configure the endpoints by hand")]
    MissingField(&'static str),
    /// An endpoint is not an `https` URL (or `http` on loopback).
    #[error("the metadata's `{field}` cannot be used: {source}")]
    InvalidEndpoint {
        /// The metadata field.
        field: &'static str,
        /// What is wrong with the URL.
        source: InvalidValue,
    },
    /// A field has the wrong JSON type.
    #[error("the metadata's `{field}` field is invalid: {reason}")]
    InvalidField {
        /// The metadata field.
        field: &'static str,
        /// What was expected.
        reason: &'static str,
    },
}

impl DiscoveryError {
    /// Whether the server answered 404: try the other well-known URL (RFC 8414 versus
    /// OpenID Connect) before giving up.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Response(ResponseError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            })
        )
    }
}

/// The RFC 8414 metadata URL: `https://host/.well-known/oauth-authorization-server{path}`.
pub fn oauth_metadata_url(issuer: &IssuerUrl) -> Url {
    issuer.well_known("oauth-authorization-server")
}

/// The OpenID Connect discovery URL: `{issuer}/.well-known/openid-configuration`.
pub fn openid_configuration_url(issuer: &IssuerUrl) -> Url {
    issuer.openid_configuration()
}

/// `GET url` with `Accept: application/json`. Refuses plain `http` except on loopback:
/// metadata names the endpoints that receive secrets.
pub fn metadata_request(url: &Url) -> Result<Request<Vec<u8>>, BuildError> {
    EndpointUrl::from_url(url.clone()).map_err(|e| BuildError::Url {
        url: url.to_string(),
        reason: e.reason,
    })?;
    get_json(url)
}

/// Reads and checks a metadata response: JSON only, `issuer` equal to `expected_issuer`,
/// `token_endpoint` present, every endpoint `https` (or loopback `http`).
pub fn parse_metadata(
    resp: &Response<Bytes>,
    expected_issuer: &IssuerUrl,
) -> Result<ServerMetadata, DiscoveryError> {
    let mut f = read_fields(resp, Formats::Json)?;
    let issuer = match f.remove("issuer") {
        None | Some(Value::Null) => return Err(DiscoveryError::MissingField("issuer")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("issuer", "must be a string")),
    };
    // Before anything else: a document from the wrong issuer must not be read further.
    if !expected_issuer.matches(&issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            expected: expected_issuer.as_issuer_str().to_owned(),
            found: issuer.chars().take(200).collect(),
        });
    }
    let f = &mut f;
    Ok(ServerMetadata {
        issuer,
        authorization_endpoint: endpoint(f, "authorization_endpoint")?,
        token_endpoint: endpoint(f, "token_endpoint")?
            .ok_or(DiscoveryError::MissingField("token_endpoint"))?,
        jwks_uri: endpoint(f, "jwks_uri")?,
        registration_endpoint: endpoint(f, "registration_endpoint")?,
        scopes_supported: list(f, "scopes_supported")?,
        response_types_supported: list(f, "response_types_supported")?,
        response_modes_supported: list(f, "response_modes_supported")?,
        grant_types_supported: list(f, "grant_types_supported")?,
        token_endpoint_auth_methods_supported: list(f, "token_endpoint_auth_methods_supported")?,
        code_challenge_methods_supported: list(f, "code_challenge_methods_supported")?,
        revocation_endpoint: endpoint(f, "revocation_endpoint")?,
        introspection_endpoint: endpoint(f, "introspection_endpoint")?,
        userinfo_endpoint: endpoint(f, "userinfo_endpoint")?,
        device_authorization_endpoint: endpoint(f, "device_authorization_endpoint")?,
        pushed_authorization_request_endpoint: endpoint(
            f,
            "pushed_authorization_request_endpoint",
        )?,
        end_session_endpoint: endpoint(f, "end_session_endpoint")?,
        authorization_response_iss_parameter_supported: flag(
            f,
            "authorization_response_iss_parameter_supported",
        )?,
        id_token_signing_alg_values_supported: list(f, "id_token_signing_alg_values_supported")?,
        dpop_signing_alg_values_supported: list(f, "dpop_signing_alg_values_supported")?,
        subject_types_supported: list(f, "subject_types_supported")?,
        extra: std::mem::take(f),
    })
}

fn invalid(field: &'static str, reason: &'static str) -> DiscoveryError {
    DiscoveryError::InvalidField { field, reason }
}

/// An endpoint field; `null` and `""` count as absent (some servers send them).
fn endpoint(
    f: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<EndpointUrl>, DiscoveryError> {
    match f.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => EndpointUrl::new(&s)
            .map(Some)
            .map_err(|source| DiscoveryError::InvalidEndpoint { field, source }),
        Some(_) => Err(invalid(field, "must be a URL string")),
    }
}

/// A list of strings; a lone space-separated string is read as its parts.
fn list(
    f: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<Vec<String>>, DiscoveryError> {
    match f.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(invalid(field, "must be an array of strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(Value::String(s)) => Ok(Some(s.split_whitespace().map(str::to_owned).collect())),
        Some(_) => Err(invalid(field, "must be an array of strings")),
    }
}

/// A boolean, or leniently `"true"` / `"false"`; absent means false.
fn flag(f: &mut Map<String, Value>, field: &'static str) -> Result<bool, DiscoveryError> {
    match f.remove(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid(field, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    fn issuer() -> IssuerUrl {
        IssuerUrl::new("https://server.example.com").unwrap()
    }

    fn resp(status: u16, ct: &str, body: &str) -> Response<Bytes> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, ct)
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    fn json(body: &str) -> Response<Bytes> {
        resp(200, "application/json", body)
    }

    /// RFC 8414 §3.2's example, plus fields from OIDC Discovery and RFC 9207.
    const RFC8414_EXAMPLE: &str = r#"{
        "issuer": "https://server.example.com",
        "authorization_endpoint": "https://server.example.com/authorize",
        "token_endpoint": "https://server.example.com/token",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_endpoint": "https://server.example.com/userinfo",
        "jwks_uri": "https://server.example.com/jwks.json",
        "registration_endpoint": "https://server.example.com/register",
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "response_types_supported": ["code", "code token"],
        "service_documentation": "http://server.example.com/service_documentation.html",
        "ui_locales_supported": ["en-US", "en-GB", "fr-FR"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "revocation_endpoint": "https://server.example.com/revoke",
        "introspection_endpoint": "https://server.example.com/introspect",
        "end_session_endpoint": null
    }"#;

    #[test]
    fn parses_rfc8414_example() {
        let m = parse_metadata(&json(RFC8414_EXAMPLE), &issuer()).unwrap();
        assert_eq!(m.issuer, "https://server.example.com");
        assert_eq!(
            m.token_endpoint.as_str(),
            "https://server.example.com/token"
        );
        assert_eq!(
            m.authorization_endpoint.as_ref().unwrap().as_str(),
            "https://server.example.com/authorize"
        );
        assert_eq!(
            m.revocation_endpoint.as_ref().unwrap().as_str(),
            "https://server.example.com/revoke"
        );
        assert!(m.end_session_endpoint.is_none());
        assert!(m.authorization_response_iss_parameter_supported);
        assert!(m.supports_pkce_s256());
        assert!(m.supports_auth_method("private_key_jwt"));
        assert!(!m.supports_auth_method("client_secret_post"));
        assert_eq!(m.scopes_supported.as_ref().unwrap().len(), 6);
        // A plain-http documentation link is not an endpoint: kept as an extra, unchecked.
        assert!(m.extra.contains_key("service_documentation"));
        assert!(m.extra.contains_key("ui_locales_supported"));
        assert!(
            !m.extra.contains_key("issuer"),
            "known fields are not repeated"
        );
    }

    #[test]
    fn issuer_mismatch_is_refused_and_says_what_to_do() {
        let body = RFC8414_EXAMPLE.replace(
            r#""issuer": "https://server.example.com""#,
            r#""issuer": "https://evil.example""#,
        );
        let e = parse_metadata(&json(&body), &issuer()).unwrap_err();
        assert!(
            matches!(&e, DiscoveryError::IssuerMismatch { expected, found }
                if expected == "https://server.example.com" && found == "https://evil.example"),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("https://evil.example") && msg.contains("configure"),
            "{msg}"
        );
    }

    #[test]
    fn issuer_is_compared_after_normalisation_only() {
        let slash = RFC8414_EXAMPLE.replace(
            r#""issuer": "https://server.example.com""#,
            r#""issuer": "https://server.example.com/""#,
        );
        assert!(parse_metadata(&json(&slash), &issuer()).is_ok());
        let tenant = IssuerUrl::new("https://server.example.com/t1").unwrap();
        assert!(matches!(
            parse_metadata(&json(RFC8414_EXAMPLE), &tenant),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn issuer_control_characters_do_not_reach_the_terminal() {
        let body =
            r#"{"issuer":"https://x.example/\u001b[31m","token_endpoint":"https://x.example/t"}"#;
        let e = parse_metadata(&json(body), &issuer()).unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }

    #[test]
    fn missing_issuer_and_token_endpoint_are_named() {
        let e =
            parse_metadata(&json(r#"{"token_endpoint":"https://x/t"}"#), &issuer()).unwrap_err();
        assert_eq!(e, DiscoveryError::MissingField("issuer"));
        let e = parse_metadata(
            &json(r#"{"issuer":"https://server.example.com","authorization_endpoint":"https://server.example.com/a"}"#),
            &issuer(),
        )
        .unwrap_err();
        assert_eq!(e, DiscoveryError::MissingField("token_endpoint"));
        assert!(e.to_string().contains("token_endpoint"), "{e}");
    }

    #[test]
    fn client_credentials_only_server_has_no_authorization_endpoint() {
        let m = parse_metadata(
            &json(r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","grant_types_supported":["client_credentials"]}"#),
            &issuer(),
        )
        .unwrap();
        assert!(m.authorization_endpoint.is_none());
        assert!(m.supports_grant("client_credentials"));
        assert!(!m.supports_grant("authorization_code"));
    }

    #[test]
    fn plain_http_endpoint_is_an_error_naming_the_field() {
        let body = RFC8414_EXAMPLE.replace(
            "https://server.example.com/userinfo",
            "http://server.example.com/userinfo",
        );
        let e = parse_metadata(&json(&body), &issuer()).unwrap_err();
        assert!(
            matches!(
                &e,
                DiscoveryError::InvalidEndpoint {
                    field: "userinfo_endpoint",
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("userinfo_endpoint") && msg.contains("https"),
            "{msg}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn loopback_server_may_use_http() {
        let i = IssuerUrl::new("http://127.0.0.1:8080").unwrap();
        let m = parse_metadata(
            &json(r#"{"issuer":"http://127.0.0.1:8080","token_endpoint":"http://127.0.0.1:8080/token"}"#),
            &i,
        )
        .unwrap();
        assert_eq!(m.token_endpoint.as_str(), "http://127.0.0.1:8080/token");
    }

    #[test]
    fn rfc8414_defaults_when_lists_are_absent() {
        let m = ServerMetadata::new(&issuer(), EndpointUrl::new("https://a.example/t").unwrap());
        assert!(m.supports_auth_method("client_secret_basic"));
        assert!(!m.supports_auth_method("client_secret_post"));
        assert!(m.supports_grant("authorization_code"));
        assert!(m.supports_grant("implicit"));
        assert!(!m.supports_grant("refresh_token"));
        assert!(!m.supports_pkce_s256());
        assert!(!m.authorization_response_iss_parameter_supported);
    }

    #[test]
    fn lenient_shapes_are_accepted() {
        let m = parse_metadata(
            &json(
                r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t",
                "code_challenge_methods_supported":"plain S256",
                "authorization_response_iss_parameter_supported":"true",
                "registration_endpoint":""}"#,
            ),
            &issuer(),
        )
        .unwrap();
        assert!(m.supports_pkce_s256());
        assert!(m.authorization_response_iss_parameter_supported);
        assert!(m.registration_endpoint.is_none());
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (body, field) in [
            (r#"{"issuer":1}"#, "issuer"),
            (
                r#"{"issuer":"https://server.example.com","token_endpoint":["x"]}"#,
                "token_endpoint",
            ),
            (
                r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","scopes_supported":[1]}"#,
                "scopes_supported",
            ),
            (
                r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","authorization_response_iss_parameter_supported":1}"#,
                "authorization_response_iss_parameter_supported",
            ),
        ] {
            let e = parse_metadata(&json(body), &issuer()).unwrap_err();
            assert!(
                matches!(&e, DiscoveryError::InvalidField { field: f, .. } if *f == field),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn response_problems_pass_through() {
        let e = parse_metadata(&resp(404, "text/html", "<h1>nope</h1>"), &issuer()).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        let e = parse_metadata(
            &resp(200, "application/x-www-form-urlencoded", "issuer=x"),
            &issuer(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DiscoveryError::Response(ResponseError::ContentType { .. })
            ),
            "{e:?}"
        );
        assert!(!e.is_not_found());
        let e = parse_metadata(&json("[1]"), &issuer()).unwrap_err();
        assert!(matches!(
            e,
            DiscoveryError::Response(ResponseError::Malformed { .. })
        ));
    }

    #[test]
    fn serde_round_trip_keeps_everything() {
        let m = parse_metadata(&json(RFC8414_EXAMPLE), &issuer()).unwrap();
        let text = serde_json::to_string(&m).unwrap();
        let back: ServerMetadata = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        assert!(
            !text.contains("end_session_endpoint"),
            "absent fields stay absent"
        );
        // The cache path still refuses plain-http endpoints.
        let bad = text.replace(
            "https://server.example.com/token",
            "http://server.example.com/token",
        );
        assert!(serde_json::from_str::<ServerMetadata>(&bad).is_err());
    }

    #[test]
    fn well_known_urls() {
        let i = IssuerUrl::new("https://as.example/realms/dev").unwrap();
        assert_eq!(
            oauth_metadata_url(&i).as_str(),
            "https://as.example/.well-known/oauth-authorization-server/realms/dev"
        );
        assert_eq!(
            openid_configuration_url(&i).as_str(),
            "https://as.example/realms/dev/.well-known/openid-configuration"
        );
    }

    #[test]
    fn request_is_a_json_get_and_refuses_plain_http() {
        let url = Url::parse("https://as.example/.well-known/openid-configuration").unwrap();
        let req = metadata_request(&url).unwrap();
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(req.uri(), url.as_str());
        assert_eq!(req.headers()[header::ACCEPT], "application/json");
        assert!(req.body().is_empty());
        let e = metadata_request(&Url::parse("http://as.example/x").unwrap()).unwrap_err();
        assert!(matches!(e, BuildError::Url { .. }), "{e:?}");
        assert!(metadata_request(&Url::parse("http://localhost:9/x").unwrap()).is_ok());
    }
}
