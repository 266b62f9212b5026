//! Why a request was refused, as an RFC 6750 (`Bearer`) or RFC 9449 (`DPoP`) challenge.

use axum_core::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::server::ResourceServer;
use crate::protocol::dpop::{DEFAULT_PROOF_ALGORITHMS, DPOP_NONCE_HEADER, DpopError};
use crate::protocol::www_authenticate::Challenge;
use crate::types::Scope;

/// The `Authorization` scheme a request presented its token with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP`, with a proof of possession (RFC 9449).
    Dpop,
}

/// A refused request. Its response carries the `WWW-Authenticate` challenge of RFC 6750
/// §3 (or RFC 9449 §7.1 for DPoP) and a small JSON body with the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No token in a scheme this server accepts: 401 with a bare challenge (§3.1).
    #[error("no bearer token")]
    Missing,
    /// A malformed request (several tokens, token in two places): 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Expired, revoked, malformed or for another resource; a DPoP-bound token presented
    /// as a bearer token, or a bearer token with the DPoP scheme: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Valid, but missing a scope: 403 `insufficient_scope` naming it.
    #[error("insufficient scope: needs `{0}`")]
    InsufficientScope(Scope),
    /// The token could not be checked (JWKS, introspection or replay cache unreachable):
    /// 503.
    #[error("the token cannot be checked right now: {0}")]
    Unavailable(String),
    /// The DPoP proof failed a check: 401 `invalid_dpop_proof`, or `use_dpop_nonce` when
    /// the server wants a (newer) nonce. A proof by another key than the token's `cnf.jkt`
    /// is `invalid_token`, as in RFC 9449 §7.1's example.
    #[error("{0}")]
    Dpop(DpopError),
}

/// What a server's challenges say besides the error: its realm and metadata URL, and
/// which schemes it accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChallengeSpec<'a> {
    pub realm: &'a str,
    pub resource_metadata: Option<&'a str>,
    /// Whether `Bearer` is accepted.
    pub bearer: bool,
    /// The DPoP proof algorithms (`algs`), when DPoP is accepted.
    pub dpop_algs: Option<&'a str>,
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken(_) | Self::Dpop(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 6750 (or RFC 9449) error code, if this rejection has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::Missing | Self::Unavailable(_) => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) | Self::Dpop(DpopError::KeyMismatch) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
            Self::Dpop(e) => Some(e.error_code()),
        }
    }

    /// `error_description`: never quotes a token or a proof.
    fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d) | Self::InvalidToken(d) => d.clone(),
            Self::InsufficientScope(_) => "the token lacks a scope this request needs".into(),
            Self::Dpop(e) => e.to_string(),
            Self::Missing | Self::Unavailable(_) => String::new(),
        }
    }

    /// The `WWW-Authenticate` challenge for `realm` (and RFC 9728 `resource_metadata`):
    /// `Bearer`, or `DPoP` with the default `algs` for [`Dpop`](Self::Dpop).
    pub fn challenge(&self, realm: &str, resource_metadata: Option<&str>) -> Option<Challenge> {
        let algs = default_algs();
        let spec = self.standalone_spec(realm, resource_metadata, &algs);
        self.challenges(&spec, None).into_iter().next()
    }

    /// A server that accepts only the scheme this rejection speaks of.
    fn standalone_spec<'a>(
        &self,
        realm: &'a str,
        resource_metadata: Option<&'a str>,
        algs: &'a str,
    ) -> ChallengeSpec<'a> {
        let dpop = matches!(self, Self::Dpop(_));
        ChallengeSpec {
            realm,
            resource_metadata,
            bearer: !dpop,
            dpop_algs: dpop.then_some(algs),
        }
    }

    /// Every challenge of a server accepting what `spec` says: `Bearer` first, then
    /// `DPoP`. The error goes on the challenge of the scheme the request used (`scheme`;
    /// without one, the first the server accepts); the other stays bare.
    pub(crate) fn challenges(
        &self,
        spec: &ChallengeSpec<'_>,
        scheme: Option<Scheme>,
    ) -> Vec<Challenge> {
        let errored = match self {
            Self::Dpop(_) => Scheme::Dpop,
            _ => scheme.unwrap_or(if spec.bearer {
                Scheme::Bearer
            } else {
                Scheme::Dpop
            }),
        };
        let mut out = Vec::with_capacity(2);
        if spec.bearer {
            let c = Challenge::new("Bearer")
                .and_then(|c| c.with_param("realm", spec.realm))
                .and_then(|c| self.with_error(c, errored == Scheme::Bearer))
                .and_then(|c| with_metadata(c, spec.resource_metadata));
            out.extend(c.ok());
        }
        if let Some(algs) = spec.dpop_algs {
            let c = Challenge::new("DPoP")
                .and_then(|c| c.with_param("algs", algs))
                .and_then(|c| c.with_param("realm", spec.realm))
                .and_then(|c| self.with_error(c, errored == Scheme::Dpop))
                .and_then(|c| with_metadata(c, spec.resource_metadata));
            out.extend(c.ok());
        }
        out
    }

    fn with_error(
        &self,
        mut c: Challenge,
        here: bool,
    ) -> Result<Challenge, crate::types::InvalidValue> {
        if !here {
            return Ok(c);
        }
        if let Some(code) = self.error_code() {
            c = c
                .with_param("error", code)?
                .with_param("error_description", &self.description())?;
        }
        if let Self::InsufficientScope(s) = self {
            c = c.with_param("scope", &s.to_string())?;
        }
        Ok(c)
    }

    /// The full response, with the challenge for `realm`.
    pub fn to_response(&self, realm: &str, resource_metadata: Option<&str>) -> Response {
        let algs = default_algs();
        let spec = self.standalone_spec(realm, resource_metadata, &algs);
        self.response(&spec, None, None)
    }

    /// The response of a server accepting what `spec` says, with `nonce` as `DPoP-Nonce`.
    pub(crate) fn response(
        &self,
        spec: &ChallengeSpec<'_>,
        scheme: Option<Scheme>,
        nonce: Option<HeaderValue>,
    ) -> Response {
        let mut body = serde_json::Map::new();
        if let Some(code) = self.error_code() {
            body.insert("error".into(), code.into());
        }
        if let Self::InsufficientScope(s) = self {
            body.insert("scope".into(), s.to_string().into());
        }
        let mut resp = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            serde_json::Value::Object(body).to_string(),
        )
            .into_response();
        if self.status() != StatusCode::SERVICE_UNAVAILABLE {
            // One header field per challenge: a client that reads only the first field
            // still finds a whole challenge there.
            for c in self.challenges(spec, scheme) {
                if let Ok(v) = c.to_header_value() {
                    resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
                }
            }
        }
        if let Some(n) = nonce {
            resp.headers_mut().insert(DPOP_NONCE_HEADER, n);
        }
        resp
    }
}

fn with_metadata(
    c: Challenge,
    resource_metadata: Option<&str>,
) -> Result<Challenge, crate::types::InvalidValue> {
    match resource_metadata {
        Some(m) => c.with_param("resource_metadata", m),
        None => Ok(c),
    }
}

/// `algs` of authflow's default proof algorithms: `ES256 EdDSA`.
pub(crate) fn default_algs() -> String {
    algs_param(DEFAULT_PROOF_ALGORITHMS)
}

/// The `algs` challenge parameter: the names, space-separated.
pub(crate) fn algs_param(algs: &[crate::jose::JwsAlgorithm]) -> String {
    algs.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_response("api", None)
    }
}

/// A refused request, rendered with its server's challenges: the realm and metadata URL,
/// `Bearer` and/or `DPoP` (with `algs`) as the server accepts them, the error on the
/// scheme the request used, and a fresh `DPoP-Nonce` when the server hands out nonces.
///
/// The rejection type of the [`Bearer`](super::Bearer) extractor and of
/// [`ResourceServer::authenticate_request`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{rejection}")]
pub struct Refusal {
    rejection: Rejection,
    scheme: Option<Scheme>,
    server: ResourceServer,
}

impl Refusal {
    pub(crate) fn new(
        rejection: Rejection,
        scheme: Option<Scheme>,
        server: ResourceServer,
    ) -> Self {
        Self {
            rejection,
            scheme,
            server,
        }
    }

    /// Why the request was refused.
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }

    /// The scheme the request presented its token with, if it got that far.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The challenges the response carries, `Bearer` first: for servers that render
    /// their own responses.
    pub fn challenges(&self) -> Vec<Challenge> {
        self.server
            .with_challenge_spec(|spec| self.rejection.challenges(spec, self.scheme))
    }

    /// The rejection alone.
    pub fn into_rejection(self) -> Rejection {
        self.rejection
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let nonce = self.server.fresh_dpop_nonce();
        self.server
            .with_challenge_spec(|spec| self.rejection.response(spec, self.scheme, nonce))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(bearer: bool, dpop: bool) -> ChallengeSpec<'static> {
        ChallengeSpec {
            realm: "api",
            resource_metadata: None,
            bearer,
            dpop_algs: dpop.then_some("ES256 EdDSA"),
        }
    }

    fn render(r: &Rejection, spec: &ChallengeSpec<'_>, scheme: Option<Scheme>) -> Vec<String> {
        r.challenges(spec, scheme)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn both_schemes_bare_when_the_token_is_missing() {
        assert_eq!(
            render(&Rejection::Missing, &spec(true, true), None),
            [
                r#"Bearer realm="api""#,
                r#"DPoP algs="ES256 EdDSA", realm="api""#
            ]
        );
        assert_eq!(
            render(&Rejection::Missing, &spec(false, true), None),
            [r#"DPoP algs="ES256 EdDSA", realm="api""#]
        );
    }

    #[test]
    fn the_error_goes_on_the_scheme_the_request_used() {
        let r = Rejection::InvalidToken("expired".into());
        assert_eq!(
            render(&r, &spec(true, true), Some(Scheme::Dpop)),
            [
                r#"Bearer realm="api""#,
                r#"DPoP algs="ES256 EdDSA", realm="api", error="invalid_token", error_description="expired""#
            ]
        );
        assert_eq!(
            render(&r, &spec(true, true), Some(Scheme::Bearer))[0],
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#
        );
        let r = Rejection::Dpop(DpopError::UseNonce);
        assert!(
            render(&r, &spec(true, true), None)[1].contains(r#"error="use_dpop_nonce""#),
            "a proof error is always DPoP's"
        );
    }

    #[test]
    fn key_mismatch_is_invalid_token_other_proof_errors_invalid_dpop_proof() {
        assert_eq!(
            Rejection::Dpop(DpopError::KeyMismatch).error_code(),
            Some("invalid_token")
        );
        assert_eq!(
            Rejection::Dpop(DpopError::Replayed).error_code(),
            Some("invalid_dpop_proof")
        );
        assert_eq!(
            Rejection::Dpop(DpopError::Url).status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn a_standalone_dpop_rejection_renders_a_dpop_challenge() {
        let resp = Rejection::Dpop(DpopError::Missing).into_response();
        let all: Vec<_> = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .collect();
        assert_eq!(all.len(), 1);
        let v = all[0].to_str().unwrap();
        assert!(
            v.starts_with(r#"DPoP algs="ES256 EdDSA""#) && v.contains("invalid_dpop_proof"),
            "{v}"
        );
    }
}
