//! An authorization server measured against RFC 9700 (OAuth 2.0 Security Best Current
//! Practice), from its metadata and from a few requests without credentials: what
//! `authflow doctor` reports.
//!
//! Sans-IO like the rest of [`protocol`](super): [`audit`] reads only the metadata;
//! [`probes`] builds the requests that show how the server behaves, the caller sends them,
//! and [`audit_with_probes`] reads the answers as well. A document that
//! [`parse_metadata`](super::discovery::parse_metadata) refuses can still be audited through
//! [`read_metadata_lenient`](super::discovery::read_metadata_lenient): a refused endpoint
//! then stays in [`extra`](ServerMetadata::extra), where the `https` check finds it.
//!
//! ```
//! use authflow::protocol::audit::{FindingKind, Severity, audit};
//! use authflow::protocol::discovery::read_metadata_lenient;
//!
//! let doc = serde_json::json!({
//!     "issuer": "https://as.example",
//!     "authorization_endpoint": "https://as.example/authorize",
//!     "token_endpoint": "https://as.example/token",
//!     "grant_types_supported": ["authorization_code", "implicit"],
//!     "code_challenge_methods_supported": ["S256"],
//! });
//! let serde_json::Value::Object(doc) = doc else { unreachable!() };
//! let findings = audit(&read_metadata_lenient(doc)?);
//! let implicit = findings.iter().find(|f| f.kind == FindingKind::Implicit).unwrap();
//! assert_eq!(implicit.severity, Severity::Fail);
//! # Ok::<(), authflow::protocol::DiscoveryError>(())
//! ```

use serde_json::Value;
use url::Url;

use super::discovery::ServerMetadata;
use crate::types::is_loopback_url;

use FindingKind as K;
use Severity as S;

mod probe;

pub use probe::{Answer, PROBE_CLIENT_ID, PROBE_REDIRECT_URI, ProbeAnswers, Probes, probes};
/// The algorithms of the keys authflow makes and reads (`--dpop`, `--client-key`).
const AUTHFLOW_KEY_ALGS: [&str; 2] = ["ES256", "EdDSA"];

/// How a finding weighs; ordered from harmless to disqualifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// As RFC 9700 wants.
    Ok,
    /// Worth knowing; neither good nor bad.
    Info,
    /// Weaker than it should be, or something authflow cannot use.
    Warn,
    /// A client should not accept this server as it is.
    Fail,
}

/// What a finding is about. [`name`](Self::name) is the stable name `authflow doctor`
/// prints and puts in its `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// Every endpoint `https` (or `http` on a loopback host).
    Https,
    /// PKCE with `S256` (RFC 7636, RFC 9700 §2.1.1).
    Pkce,
    /// `iss` on authorization responses (RFC 9207).
    Iss,
    /// The implicit grant not offered (RFC 9700 §2.1.2).
    Implicit,
    /// The resource owner password grant not offered (RFC 9700 §2.4).
    Password,
    /// The token endpoint's client authentication methods.
    ClientAuth,
    /// Client authentication without a shared secret (RFC 9700 §2.5).
    StrongClientAuth,
    /// Refresh tokens and sender-constraining (RFC 9700 §4.14).
    RefreshTokens,
    /// The signing keys at `jwks_uri`.
    Jwks,
    /// `id_token_signing_alg_values_supported` (OpenID Connect).
    IdTokenAlgs,
    /// A revocation endpoint (RFC 7009).
    Revocation,
    /// An introspection endpoint (RFC 7662).
    Introspection,
    /// A device authorization endpoint (RFC 8628).
    DeviceFlow,
    /// DPoP (RFC 9449).
    Dpop,
    /// Pushed authorization requests (RFC 9126).
    Par,
    /// Request objects (RFC 9101).
    RequestObjects,
    /// `private_key_jwt` and `client_secret_jwt` (RFC 7523).
    JwtClientAuth,
    /// RFC 6749 §5.2 errors from the token endpoint (a probe).
    TokenErrors,
    /// No redirect to an unknown client's `redirect_uri` (a probe; RFC 9700 §4.11).
    OpenRedirect,
}

impl FindingKind {
    /// The check's name in `authflow doctor`'s output: `"pkce"`, `"open redirect"`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Pkce => "pkce",
            Self::Iss => "iss",
            Self::Implicit => "implicit",
            Self::Password => "password",
            Self::ClientAuth => "client auth",
            Self::StrongClientAuth => "strong client auth",
            Self::RefreshTokens => "refresh tokens",
            Self::Jwks => "jwks",
            Self::IdTokenAlgs => "id token algs",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::DeviceFlow => "device flow",
            Self::Dpop => "DPoP",
            Self::Par => "PAR",
            Self::RequestObjects => "request objects",
            Self::JwtClientAuth => "JWT client auth",
            Self::TokenErrors => "token errors",
            Self::OpenRedirect => "open redirect",
        }
    }
}

/// One result of an audit. The texts are written for `authflow doctor`'s users.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What was checked.
    pub kind: FindingKind,
    /// How it weighs.
    pub severity: Severity,
    /// What was found, e.g. `"S256 and plain advertised"`.
    pub message: String,
    /// Why it matters, e.g. the RFC 9700 section.
    pub why: &'static str,
}

/// The findings the metadata alone supports, in the order `authflow doctor` prints them.
/// The signing keys are not fetched: with a `jwks_uri`, the [`FindingKind::Jwks`] finding
/// only says where they are.
pub fn audit(meta: &ServerMetadata) -> Vec<Finding> {
    audit_with_probes(meta, &ProbeAnswers::default())
}

/// The findings of [`audit`] plus those of the probes' answers.
pub fn audit_with_probes(meta: &ServerMetadata, answers: &ProbeAnswers<'_>) -> Vec<Finding> {
    let mut out = Findings(Vec::new());
    https(&mut out, meta);
    pkce(&mut out, meta);
    iss(&mut out, meta);
    grants(&mut out, meta);
    client_auth(&mut out, meta);
    refresh_tokens(&mut out, meta);
    jwks(&mut out, meta, answers.jwks);
    id_token_algs(&mut out, meta);
    endpoints(&mut out, meta);
    dpop(&mut out, meta);
    par(&mut out, meta);
    request_objects(&mut out, meta);
    jwt_client_auth(&mut out, meta);
    probe::token_errors(&mut out, answers.token_error);
    probe::open_redirect(&mut out, answers.open_redirect);
    out.0
}

/// The findings so far, in order.
struct Findings(Vec<Finding>);

impl Findings {
    fn add(
        &mut self,
        kind: FindingKind,
        severity: Severity,
        message: impl Into<String>,
        why: &'static str,
    ) {
        self.0.push(Finding {
            kind,
            severity,
            message: message.into(),
            why,
        });
    }
}

fn strings(list: &Option<Vec<String>>) -> &[String] {
    list.as_deref().unwrap_or_default()
}

fn has(list: &Option<Vec<String>>, value: &str) -> bool {
    strings(list).iter().any(|v| v == value)
}

/// Whether the document advertises `field`: typed, or left in `extra` because its value
/// could not be used (a lenient read).
fn advertised(typed: bool, meta: &ServerMetadata, field: &str) -> bool {
    typed || meta.extra.get(field).is_some_and(|v| !v.is_null())
}

fn https(out: &mut Findings, meta: &ServerMetadata) {
    // Typed endpoints are https or loopback by construction; what is left to check are
    // the fields authflow does not model and the endpoints a lenient read refused.
    let mut insecure: Vec<&str> = meta
        .extra
        .iter()
        .filter(|(k, _)| k.ends_with("_endpoint") || k.ends_with("_uri"))
        .filter_map(|(k, v)| Some((k, Url::parse(v.as_str()?).ok()?)))
        .filter(|(_, u)| !(u.scheme() == "https" || (u.scheme() == "http" && is_loopback_url(u))))
        .map(|(k, _)| k.as_str())
        .collect();
    insecure.sort_unstable();
    if insecure.is_empty() {
        out.add(
            K::Https,
            S::Ok,
            "every endpoint uses https (or a loopback host)",
            "tokens and codes never cross the network in clear text",
        );
    } else {
        out.add(
            K::Https,
            S::Fail,
            format!("plain http: {}", insecure.join(", ")),
            "tokens, codes and secrets would cross the network in clear text",
        );
    }
}

fn pkce(out: &mut Findings, meta: &ServerMetadata) {
    let methods = strings(&meta.code_challenge_methods_supported);
    let (s256, plain) = (
        methods.iter().any(|p| p == "S256"),
        methods.iter().any(|p| p == "plain"),
    );
    match (s256, plain) {
        (true, false) => out.add(
            K::Pkce,
            S::Ok,
            "S256 advertised",
            "PKCE stops authorization code injection and interception (RFC 9700 §2.1.1)",
        ),
        (true, true) => out.add(
            K::Pkce,
            S::Warn,
            "S256 and plain advertised",
            "plain offers no protection if the challenge leaks; clients must send S256",
        ),
        (false, _) if methods.is_empty() => out.add(
            K::Pkce,
            S::Warn,
            "code_challenge_methods_supported missing",
            "PKCE support cannot be confirmed; authflow sends S256 regardless",
        ),
        (false, _) => out.add(
            K::Pkce,
            S::Fail,
            format!("S256 not advertised ({})", methods.join(" ")),
            "without S256 codes can be injected or intercepted",
        ),
    }
}

fn iss(out: &mut Findings, meta: &ServerMetadata) {
    if meta.authorization_response_iss_parameter_supported {
        out.add(
            K::Iss,
            S::Ok,
            "iss on authorization responses (RFC 9207)",
            "clients detect mix-up attacks from the redirect itself",
        );
    } else {
        out.add(
            K::Iss,
            S::Warn,
            "no iss on authorization responses",
            "mix-up defence then relies on one redirect URI per issuer (RFC 9700 §4.4)",
        );
    }
}

fn grants(out: &mut Findings, meta: &ServerMetadata) {
    // Only what the server lists: RFC 8414's default for an absent list (implicit
    // included) says little about a server that simply left the field out.
    let implicit = strings(&meta.response_types_supported)
        .iter()
        .any(|t| t.split(' ').any(|p| p == "token"))
        || has(&meta.grant_types_supported, "implicit");
    if implicit {
        out.add(
            K::Implicit,
            S::Fail,
            "the implicit grant is offered",
            "tokens in URLs leak through history, referrers and logs (RFC 9700 §2.1.2)",
        );
    } else {
        out.add(
            K::Implicit,
            S::Ok,
            "the implicit grant is not offered",
            "RFC 9700 §2.1.2 says not to use it",
        );
    }
    if has(&meta.grant_types_supported, "password") {
        out.add(
            K::Password,
            S::Fail,
            "the resource owner password grant is offered",
            "it exposes user passwords to clients (RFC 9700 §2.4)",
        );
    } else {
        out.add(
            K::Password,
            S::Ok,
            "the password grant is not offered",
            "RFC 9700 §2.4 says it must not be used",
        );
    }
}

fn client_auth(out: &mut Findings, meta: &ServerMetadata) {
    let methods = strings(&meta.token_endpoint_auth_methods_supported);
    let shown = if methods.is_empty() {
        "not listed (client_secret_basic by default)".to_owned()
    } else {
        methods.join(" ")
    };
    out.add(
        K::ClientAuth,
        S::Info,
        shown,
        "profiles must use a method the server accepts; authflow falls back from basic to post once",
    );
    if methods.iter().any(|m| {
        matches!(
            m.as_str(),
            "private_key_jwt" | "tls_client_auth" | "self_signed_tls_client_auth"
        )
    }) {
        out.add(
            K::StrongClientAuth,
            S::Ok,
            "asymmetric client authentication available",
            "no shared secret to leak (RFC 9700 §2.5)",
        );
    }
}

fn refresh_tokens(out: &mut Findings, meta: &ServerMetadata) {
    let grants = strings(&meta.grant_types_supported);
    if grants.is_empty() || grants.iter().any(|g| g == "refresh_token") {
        let constrained = meta.dpop_signing_alg_values_supported.is_some()
            || meta.tls_client_certificate_bound_access_tokens;
        out.add(
            K::RefreshTokens,
            S::Info,
            if constrained {
                "issued; sender-constraining (DPoP or mTLS) available"
            } else {
                "issued; no sender-constraining advertised"
            },
            "RFC 9700 §4.14: public clients' refresh tokens must rotate or be sender-constrained; rotation cannot be seen without logging in",
        );
    }
}

fn jwks(out: &mut Findings, meta: &ServerMetadata, answer: Answer<'_>) {
    const WHY: &str = "signatures are checked against these keys";
    let Some(uri) = &meta.jwks_uri else {
        match meta.extra.get("jwks_uri").and_then(Value::as_str) {
            Some(refused) => out.add(
                K::Jwks,
                S::Fail,
                format!("jwks_uri is not a usable URL: {refused}"),
                "keys cannot be fetched",
            ),
            None => out.add(
                K::Jwks,
                S::Info,
                "no jwks_uri",
                "ID tokens and JWT access tokens cannot be checked offline",
            ),
        }
        return;
    };
    match answer {
        Answer::NotSent => out.add(K::Jwks, S::Info, format!("keys at {uri}, not fetched"), WHY),
        Answer::Response(resp) if resp.status().is_success() => {
            let keys = probe::jwks_keys(resp);
            let severity = if keys.is_empty() { S::Fail } else { S::Ok };
            out.add(
                K::Jwks,
                severity,
                format!("{} key(s): {}", keys.len(), keys.join(" ")),
                WHY,
            );
        }
        Answer::Response(resp) => out.add(
            K::Jwks,
            S::Fail,
            format!("jwks_uri answered {}", resp.status()),
            "ID tokens cannot be verified",
        ),
        Answer::NoAnswer => out.add(
            K::Jwks,
            S::Fail,
            "jwks_uri answered nothing",
            "ID tokens cannot be verified",
        ),
    }
}

fn id_token_algs(out: &mut Findings, meta: &ServerMetadata) {
    let algs = strings(&meta.id_token_signing_alg_values_supported);
    if algs.is_empty() {
        return;
    }
    if algs.iter().any(|a| a == "none") {
        out.add(
            K::IdTokenAlgs,
            S::Fail,
            algs.join(" "),
            "`none` means unsigned ID tokens",
        );
    } else if !algs.iter().any(|a| a == "RS256") {
        out.add(
            K::IdTokenAlgs,
            S::Warn,
            algs.join(" "),
            "OpenID Connect Discovery §3 requires RS256; common clients refuse metadata without it",
        );
    } else {
        out.add(
            K::IdTokenAlgs,
            S::Ok,
            algs.join(" "),
            "RS256 present, as OIDC requires",
        );
    }
}

fn endpoints(out: &mut Findings, meta: &ServerMetadata) {
    for (kind, present, field, why) in [
        (
            K::Revocation,
            meta.revocation_endpoint.is_some(),
            "revocation_endpoint",
            "logout can end tokens at the server (RFC 7009)",
        ),
        (
            K::Introspection,
            meta.introspection_endpoint.is_some(),
            "introspection_endpoint",
            "resource servers can check opaque tokens (RFC 7662)",
        ),
        (
            K::DeviceFlow,
            meta.device_authorization_endpoint.is_some(),
            "device_authorization_endpoint",
            "devices without a browser can log in (RFC 8628)",
        ),
    ] {
        if advertised(present, meta, field) {
            out.add(kind, S::Ok, "supported", why);
        } else {
            out.add(kind, S::Info, "not advertised", why);
        }
    }
}

fn dpop(out: &mut Findings, meta: &ServerMetadata) {
    const WHY: &str = "tokens bound to a client key are useless to whoever steals them (RFC 9449)";
    match &meta.dpop_signing_alg_values_supported {
        None => out.add(K::Dpop, S::Info, "not advertised", WHY),
        Some(algs) if algs.is_empty() => out.add(
            K::Dpop,
            S::Warn,
            "dpop_signing_alg_values_supported is empty",
            "no proof algorithm is accepted, so tokens cannot be bound",
        ),
        Some(algs) if algs.iter().any(|a| a == "ES256") => out.add(
            K::Dpop,
            S::Ok,
            format!(
                "supported, algs {}; `authflow login --dpop` binds tokens (ES256)",
                algs.join(" ")
            ),
            WHY,
        ),
        Some(algs) => out.add(
            K::Dpop,
            S::Warn,
            format!(
                "supported, algs {}; not ES256, which `authflow login --dpop` signs with",
                algs.join(" ")
            ),
            "RFC 9449 clients commonly sign proofs with ES256",
        ),
    }
}

fn par(out: &mut Findings, meta: &ServerMetadata) {
    const WHY: &str =
        "request parameters go over an authenticated back channel, not the browser (RFC 9126)";
    let required = meta.require_pushed_authorization_requests;
    match (&meta.pushed_authorization_request_endpoint, required) {
        (Some(e), true) => out.add(
            K::Par,
            S::Ok,
            format!("endpoint {e}; required for every authorization request (authflow pushes them)"),
            WHY,
        ),
        (Some(e), false) => out.add(
            K::Par,
            S::Ok,
            format!("endpoint {e}; not required (`authflow login --par` uses it)"),
            WHY,
        ),
        (None, true) => out.add(
            K::Par,
            S::Fail,
            "required (require_pushed_authorization_requests) but no pushed_authorization_request_endpoint",
            "no client can start a login",
        ),
        (None, false) => out.add(K::Par, S::Info, "not advertised", WHY),
    }
}

/// Whether authflow can sign for a server that accepts `algs` (absent: anything).
fn usable_by_authflow(algs: &Option<Vec<String>>) -> bool {
    algs.as_ref()
        .is_none_or(|a| a.iter().any(|x| AUTHFLOW_KEY_ALGS.contains(&x.as_str())))
}

fn request_objects(out: &mut Findings, meta: &ServerMetadata) {
    const WHY: &str = "signed requests cannot be altered in the browser (RFC 9101)";
    let by_value = meta.request_parameter_supported;
    let algs = &meta.request_object_signing_alg_values_supported;
    let required = meta.require_signed_request_object;
    if by_value != Some(true) && algs.is_none() && !required {
        out.add(K::RequestObjects, S::Info, "not advertised", WHY);
        return;
    }
    let mut detail = vec![match by_value {
        Some(true) => "by value (`request`)".to_owned(),
        Some(false) => "not by value (request_parameter_supported false)".to_owned(),
        None => "by value not announced".to_owned(),
    }];
    if let Some(a) = algs {
        detail.push(format!("algs {}", a.join(" ")));
    }
    if required {
        detail.push("signed request objects required".to_owned());
    }
    if usable_by_authflow(algs) {
        out.add(K::RequestObjects, S::Ok, detail.join("; "), WHY);
    } else {
        detail.push("neither ES256 nor EdDSA, the keys --client-key reads".to_owned());
        out.add(
            K::RequestObjects,
            S::Warn,
            detail.join("; "),
            "`authflow login --request-object` cannot sign what this server accepts",
        );
    }
}

fn jwt_client_auth(out: &mut Findings, meta: &ServerMetadata) {
    const WHY: &str = "clients authenticate with a signed, short-lived JWT (RFC 7523); private_key_jwt keeps no shared secret at the server";
    let methods: Vec<&str> = strings(&meta.token_endpoint_auth_methods_supported)
        .iter()
        .map(String::as_str)
        .filter(|m| matches!(*m, "private_key_jwt" | "client_secret_jwt"))
        .collect();
    if methods.is_empty() {
        out.add(
            K::JwtClientAuth,
            S::Info,
            "neither private_key_jwt nor client_secret_jwt announced",
            WHY,
        );
        return;
    }
    let algs = &meta.token_endpoint_auth_signing_alg_values_supported;
    let mut detail = methods.join(" ");
    if let Some(a) = algs {
        detail.push_str("; algs ");
        detail.push_str(&a.join(" "));
    }
    if methods.contains(&"private_key_jwt") && !usable_by_authflow(algs) {
        out.add(
            K::JwtClientAuth,
            S::Warn,
            format!("{detail}; neither ES256 nor EdDSA, the keys --client-key reads"),
            "`--auth-method private_key_jwt` cannot sign what this server accepts",
        );
    } else {
        out.add(K::JwtClientAuth, S::Ok, detail, WHY);
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
