//! The checks of an authorization request's parameters, one set for `/authorize` and
//! `/par` (RFC 9126 §2.1: a pushed request is validated as the authorization endpoint
//! would). Until client and redirect URI are known good, a refusal is shown at the
//! provider (or answered as JSON at `/par`); after that it goes back to the client.
//!
//! `state` and `nonce` are stored with the login and the code, so they are limited to
//! [`MAX_ECHO_BYTES`]. A `nonce` that is too long is an `invalid_request` redirect (with
//! `state`). A `state` that is too long is an error page: it cannot be echoed (that is
//! what the limit prevents), and a redirect without it would look to the client like a
//! forged response.

use authflow::types::Scope;

use crate::form::Params;
use crate::provider::Shared;
use crate::redirect;
use crate::registry::{Client, ClientKind, GrantType};

/// The longest `state` or `nonce` accepted, in bytes.
pub(crate) const MAX_ECHO_BYTES: usize = 512;

/// Everything a valid authorization request carries (a shared store keeps pushed ones as
/// JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Request {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    pub scope: Scope,
    pub challenge: Option<String>,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    /// RFC 9449 §10: the DPoP key the code will be bound to.
    pub dpop_jkt: Option<String>,
}

/// Why a request was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Client or redirect URI not usable: never redirected.
    Page {
        error: &'static str,
        message: String,
    },
    /// An error for the client at its validated redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl Refusal {
    /// The OAuth error code and its description.
    pub(crate) fn parts(&self) -> (&'static str, &str) {
        match self {
            Refusal::Page { error, message } => (error, message),
            Refusal::Redirect {
                error, description, ..
            } => (error, description),
        }
    }
}

/// Where the parameters came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    /// Through `/par` (so not subject to a PAR requirement).
    pub pushed: bool,
    /// From a verified request object (RFC 9101).
    pub signed: bool,
}

fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the parameters of an authorization request by `client`.
pub(crate) fn validate(
    s: &Shared,
    client: &Client,
    params: &Params,
    origin: Origin,
) -> Result<Request, Refusal> {
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(Refusal::Page {
            error: "unauthorized_client",
            message: "This application may not use sign-in (authorization_code is not allowed)."
                .into(),
        });
    }
    let given = params.get("redirect_uri");
    let any_port = client.kind == ClientKind::Public;
    let Some(redirect_uri) = redirect::resolve(&client.redirect_uris, given, any_port) else {
        return Err(Refusal::Page {
            error: "invalid_request",
            message: "The redirect URI is missing or not registered for this application.".into(),
        });
    };
    let redirect_uri = redirect_uri.to_string();
    let state = params.get("state");
    if state.is_some_and(|st| st.len() > MAX_ECHO_BYTES) {
        return Err(Refusal::Page {
            error: "invalid_request",
            message: format!("The state parameter is longer than {MAX_ECHO_BYTES} bytes."),
        });
    }
    let refuse = |error, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.map(str::to_owned),
        error,
        description: description.to_owned(),
    };
    if !origin.pushed && (s.settings.require_par || client.require_par) {
        return Err(refuse(
            "invalid_request",
            "pushed authorization requests are required: POST the parameters to the PAR endpoint first (RFC 9126)",
        ));
    }
    if !origin.signed && client.require_signed_request_object {
        return Err(refuse(
            "invalid_request",
            "this client must send its parameters in a signed request object (`request`, RFC 9101)",
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is missing")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    let scope = match params.get("scope").map(Scope::parse).transpose() {
        Ok(Some(scope)) if scope.is_subset_of(&client.scope) => scope,
        Ok(Some(_)) => {
            return Err(refuse(
                "invalid_scope",
                "the application may not ask for this scope",
            ));
        }
        Ok(None) => client.scope.clone(),
        Err(_) => return Err(refuse("invalid_scope", "the scope is malformed")),
    };
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, None) if client.kind == ClientKind::Public => {
            return Err(refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
        (None, None) => {}
        (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge is missing")),
        (Some(_), Some("S256")) => {}
        (Some(_), _) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            ));
        }
    }
    if challenge.is_some_and(|c| !is_s256_challenge(c)) {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 value (43 characters)",
        ));
    }
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_ECHO_BYTES) {
        return Err(refuse(
            "invalid_request",
            &format!("nonce is longer than {MAX_ECHO_BYTES} bytes"),
        ));
    }
    let dpop_jkt = params.get("dpop_jkt");
    if dpop_jkt.is_some_and(|j| !crate::dpop::is_jkt(j)) {
        return Err(refuse(
            "invalid_request",
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint (43 characters, RFC 9449 §10)",
        ));
    }
    Ok(Request {
        client_id: client.id.as_str().to_owned(),
        redirect_uri_given: given.is_some(),
        redirect_uri,
        state: state.map(str::to_owned),
        scope,
        challenge: challenge.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        login_hint: params.get("login_hint").map(str::to_owned),
        dpop_jkt: dpop_jkt.map(str::to_owned),
    })
}
