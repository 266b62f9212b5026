//! `authflow doctor ISSUER`: read a provider's metadata, probe it without credentials, and
//! say what a client should know, measured against RFC 9700 (OAuth 2.0 Security BCP).

use std::sync::Arc;

use authflow::client::{HttpClient, ensure_secure_url};
use authflow::protocol::MAX_RESPONSE_BYTES;
use authflow::protocol::discovery::{
    ServerMetadata, metadata_request, oauth_metadata_url, openid_configuration_url, parse_metadata,
};
use authflow::types::IssuerUrl;
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::{CliError, Code};
use crate::output;

mod modern;

/// Options of `authflow doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The issuer to examine.
    pub(crate) issuer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

struct Finding {
    level: Level,
    check: &'static str,
    detail: String,
    why: &'static str,
}

struct Report(Vec<Finding>);

impl Report {
    fn add(
        &mut self,
        level: Level,
        check: &'static str,
        detail: impl Into<String>,
        why: &'static str,
    ) {
        self.0.push(Finding {
            level,
            check,
            detail: detail.into(),
            why,
        });
    }
}

pub(crate) fn run(global: &Global, args: DoctorArgs) -> Result<(), CliError> {
    let issuer = IssuerUrl::new(&args.issuer)?;
    let http = Ctx::http_for(global.verbose)?;
    let report = super::runtime()?.block_on(examine(&issuer, http))?;
    print(&issuer, &report, global.json);
    if report.0.iter().any(|f| f.level == Level::Fail) {
        return Err(CliError::new(
            Code::Failure,
            "the provider has problems a client should not accept (see FAIL above)",
        ));
    }
    Ok(())
}

async fn get(
    http: &Arc<dyn HttpClient>,
    req: http::Request<Vec<u8>>,
) -> Option<http::Response<Bytes>> {
    http.send(req, MAX_RESPONSE_BYTES).await.ok()
}

async fn examine(issuer: &IssuerUrl, http: Arc<dyn HttpClient>) -> Result<Report, CliError> {
    let mut r = Report(Vec::new());
    // Both documents: RFC 8414 first, then OpenID Connect.
    let mut doc: Option<(Map<String, Value>, &'static str)> = None;
    // The first document that passed the checks, read as the library reads it.
    let mut typed: Option<ServerMetadata> = None;
    for (url, name) in [
        (oauth_metadata_url(issuer), "RFC 8414"),
        (openid_configuration_url(issuer), "OpenID Connect"),
    ] {
        let Some(resp) = get(&http, metadata_request(&url)?).await else {
            continue;
        };
        if !resp.status().is_success() {
            r.add(
                Level::Info,
                "metadata",
                format!("{name} document: HTTP {} at {url}", resp.status().as_u16()),
                "clients try the other document",
            );
            continue;
        }
        match parse_metadata(&resp, issuer) {
            Ok(meta) => {
                typed.get_or_insert(meta);
                r.add(
                    Level::Ok,
                    "metadata",
                    format!("{name} document at {url}; issuer matches"),
                    "the issuer check defeats mix-up and impersonation",
                );
            }
            Err(e) => r.add(
                Level::Fail,
                "metadata",
                format!("{name} document at {url}: {e}"),
                "authflow and other strict clients refuse this document",
            ),
        }
        // One view of both documents: the first wins, the second fills gaps (OIDC-only
        // fields such as the ID token algorithms).
        if let Ok(Value::Object(found)) = serde_json::from_slice::<Value>(resp.body()) {
            match &mut doc {
                None => doc = Some((found, name)),
                Some((m, _)) => {
                    for (k, v) in found {
                        m.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    let Some((m, _)) = doc else {
        return Err(CliError::new(
            Code::Network,
            format!(
                "no metadata document found for {}; check the issuer URL",
                issuer.as_issuer_str()
            ),
        ));
    };
    // A document that failed the checks is still worth reading for what it offers.
    let typed = typed.or_else(|| serde_json::from_value(Value::Object(m.clone())).ok());
    let list = |k: &str| -> Vec<String> {
        match m.get(k) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);

    // https everywhere.
    let mut insecure = Vec::new();
    for (k, v) in &m {
        if let Some(s) = v
            .as_str()
            .filter(|_| k.ends_with("_endpoint") || k.ends_with("_uri"))
            && let Ok(u) = url::Url::parse(s)
            && ensure_secure_url(&u).is_err()
        {
            insecure.push(k.clone());
        }
    }
    if insecure.is_empty() {
        r.add(
            Level::Ok,
            "https",
            "every endpoint uses https (or a loopback host)",
            "tokens and codes never cross the network in clear text",
        );
    } else {
        r.add(
            Level::Fail,
            "https",
            format!("plain http: {}", insecure.join(", ")),
            "tokens, codes and secrets would cross the network in clear text",
        );
    }

    let pkce = list("code_challenge_methods_supported");
    match (
        pkce.iter().any(|p| p == "S256"),
        pkce.iter().any(|p| p == "plain"),
    ) {
        (true, false) => r.add(
            Level::Ok,
            "pkce",
            "S256 advertised",
            "PKCE stops authorization code injection and interception (RFC 9700 §2.1.1)",
        ),
        (true, true) => r.add(
            Level::Warn,
            "pkce",
            "S256 and plain advertised",
            "plain offers no protection if the challenge leaks; clients must send S256",
        ),
        (false, _) if pkce.is_empty() => r.add(
            Level::Warn,
            "pkce",
            "code_challenge_methods_supported missing",
            "PKCE support cannot be confirmed; authflow sends S256 regardless",
        ),
        (false, _) => r.add(
            Level::Fail,
            "pkce",
            format!("S256 not advertised ({})", pkce.join(" ")),
            "without S256 codes can be injected or intercepted",
        ),
    }

    if m.get("authorization_response_iss_parameter_supported")
        .and_then(Value::as_bool)
        == Some(true)
    {
        r.add(
            Level::Ok,
            "iss",
            "iss on authorization responses (RFC 9207)",
            "clients detect mix-up attacks from the redirect itself",
        );
    } else {
        r.add(
            Level::Warn,
            "iss",
            "no iss on authorization responses",
            "mix-up defence then relies on one redirect URI per issuer (RFC 9700 §4.4)",
        );
    }

    let responses = list("response_types_supported");
    let grants = list("grant_types_supported");
    let implicit = responses.iter().any(|t| t.split(' ').any(|p| p == "token"))
        || grants.iter().any(|g| g == "implicit");
    if implicit {
        r.add(
            Level::Fail,
            "implicit",
            "the implicit grant is offered",
            "tokens in URLs leak through history, referrers and logs (RFC 9700 §2.1.2)",
        );
    } else {
        r.add(
            Level::Ok,
            "implicit",
            "the implicit grant is not offered",
            "RFC 9700 §2.1.2 says not to use it",
        );
    }
    if grants.iter().any(|g| g == "password") {
        r.add(
            Level::Fail,
            "password",
            "the resource owner password grant is offered",
            "it exposes user passwords to clients (RFC 9700 §2.4)",
        );
    } else {
        r.add(
            Level::Ok,
            "password",
            "the password grant is not offered",
            "RFC 9700 §2.4 says it must not be used",
        );
    }

    let methods = list("token_endpoint_auth_methods_supported");
    let shown = if methods.is_empty() {
        "not listed (client_secret_basic by default)".to_owned()
    } else {
        methods.join(" ")
    };
    r.add(Level::Info, "client auth", shown, "profiles must use a method the server accepts; authflow falls back from basic to post once");
    if methods.iter().any(|m| {
        m == "private_key_jwt" || m == "tls_client_auth" || m == "self_signed_tls_client_auth"
    }) {
        r.add(
            Level::Ok,
            "strong client auth",
            "asymmetric client authentication available",
            "no shared secret to leak (RFC 9700 §2.5)",
        );
    }

    if grants.iter().any(|g| g == "refresh_token") || grants.is_empty() {
        let constrained = has("dpop_signing_alg_values_supported")
            || m.get("tls_client_certificate_bound_access_tokens")
                .and_then(Value::as_bool)
                == Some(true);
        r.add(
            Level::Info,
            "refresh tokens",
            if constrained { "issued; sender-constraining (DPoP or mTLS) available" } else { "issued; no sender-constraining advertised" },
            "RFC 9700 §4.14: public clients' refresh tokens must rotate or be sender-constrained; rotation cannot be seen without logging in",
        );
    }

    match text("jwks_uri") {
        None => r.add(
            Level::Info,
            "jwks",
            "no jwks_uri",
            "ID tokens and JWT access tokens cannot be checked offline",
        ),
        Some(u) => match url::Url::parse(&u)
            .ok()
            .and_then(|u| metadata_request(&u).ok())
        {
            None => r.add(
                Level::Fail,
                "jwks",
                format!("jwks_uri is not a usable URL: {u}"),
                "keys cannot be fetched",
            ),
            Some(req) => match get(&http, req).await {
                Some(resp) if resp.status().is_success() => {
                    let keys: Vec<String> = serde_json::from_slice::<Value>(resp.body())
                        .ok()
                        .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
                        .unwrap_or_default()
                        .iter()
                        .map(|k| {
                            let kty = k.get("kty").and_then(Value::as_str).unwrap_or("?");
                            let alg = k.get("alg").and_then(Value::as_str).unwrap_or("-");
                            format!("{kty}/{alg}")
                        })
                        .collect();
                    let level = if keys.is_empty() {
                        Level::Fail
                    } else {
                        Level::Ok
                    };
                    r.add(
                        level,
                        "jwks",
                        format!("{} key(s): {}", keys.len(), keys.join(" ")),
                        "signatures are checked against these keys",
                    );
                }
                other => r.add(
                    Level::Fail,
                    "jwks",
                    format!(
                        "jwks_uri answered {}",
                        other
                            .map(|r| r.status().to_string())
                            .unwrap_or_else(|| "nothing".into())
                    ),
                    "ID tokens cannot be verified",
                ),
            },
        },
    }
    let id_algs = list("id_token_signing_alg_values_supported");
    if !id_algs.is_empty() {
        if id_algs.iter().any(|a| a == "none") {
            r.add(
                Level::Fail,
                "id token algs",
                id_algs.join(" "),
                "`none` means unsigned ID tokens",
            );
        } else if !id_algs.iter().any(|a| a == "RS256") {
            r.add(Level::Warn, "id token algs", id_algs.join(" "), "OpenID Connect Discovery §3 requires RS256; common clients refuse metadata without it");
        } else {
            r.add(
                Level::Ok,
                "id token algs",
                id_algs.join(" "),
                "RS256 present, as OIDC requires",
            );
        }
    }

    for (key, name, why) in [
        (
            "revocation_endpoint",
            "revocation",
            "logout can end tokens at the server (RFC 7009)",
        ),
        (
            "introspection_endpoint",
            "introspection",
            "resource servers can check opaque tokens (RFC 7662)",
        ),
        (
            "device_authorization_endpoint",
            "device flow",
            "devices without a browser can log in (RFC 8628)",
        ),
    ] {
        let (level, detail) = if has(key) {
            (Level::Ok, "supported")
        } else {
            (Level::Info, "not advertised")
        };
        r.add(level, name, detail, why);
    }
    if let Some(meta) = &typed {
        modern::examine(&mut r, meta);
    }

    // Probes without credentials.
    if let Some(token) = text("token_endpoint").and_then(|t| url::Url::parse(&t).ok()) {
        let req = http::Request::post(token.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(b"grant_type=client_credentials&client_id=authflow-doctor-probe".to_vec());
        if let Ok(req) = req
            && let Some(resp) = get(&http, req).await
        {
            let body: Option<Value> = serde_json::from_slice(resp.body()).ok();
            let error = body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (resp.status().as_u16(), error) {
                (400 | 401, Some(e)) => r.add(
                    Level::Ok,
                    "token errors",
                    format!("unknown client → HTTP {} `{e}`", resp.status().as_u16()),
                    "RFC 6749 §5.2 errors let clients say what went wrong",
                ),
                (s, e) => r.add(
                    Level::Warn,
                    "token errors",
                    format!(
                        "unknown client → HTTP {s}{}",
                        e.map(|e| format!(" `{e}`"))
                            .unwrap_or_else(|| ", no OAuth error".into())
                    ),
                    "clients cannot explain failures without RFC 6749 §5.2 errors",
                ),
            }
        }
    }
    if let Some(mut auth) = text("authorization_endpoint").and_then(|a| url::Url::parse(&a).ok()) {
        auth.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "authflow-doctor-probe")
            .append_pair("redirect_uri", "https://doctor.invalid/callback")
            .append_pair("state", "probe");
        if let Ok(req) = http::Request::get(auth.as_str()).body(Vec::new())
            && let Some(resp) = get(&http, req).await
        {
            let location = resp
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or("");
            if resp.status().is_redirection() && location.starts_with("https://doctor.invalid") {
                r.add(
                    Level::Fail,
                    "open redirect",
                    "an unknown client's redirect_uri was redirected to",
                    "attackers can use the server as an open redirector (RFC 9700 §4.11)",
                );
            } else {
                r.add(
                    Level::Ok,
                    "open redirect",
                    format!(
                        "unknown client → HTTP {}, no redirect to it",
                        resp.status().as_u16()
                    ),
                    "the server is not an open redirector",
                );
            }
        }
    }
    Ok(r)
}

fn print(issuer: &IssuerUrl, report: &Report, json_out: bool) {
    if json_out {
        let items: Vec<Value> = report
            .0
            .iter()
            .map(|f| json!({"level": f.level.label(), "check": f.check, "detail": f.detail, "why": f.why}))
            .collect();
        output::json(&json!({"issuer": issuer.as_issuer_str(), "findings": items}));
        return;
    }
    println!(
        "{}",
        output::bold(&format!("authflow doctor: {}", issuer.as_issuer_str()))
    );
    for f in &report.0 {
        let tag = match f.level {
            Level::Ok => output::green("  ok "),
            Level::Info => output::dim(" info"),
            Level::Warn => output::paint(" warn", "33"),
            Level::Fail => output::paint(" FAIL", "31;1"),
        };
        println!("{tag}  {:<18} {}", f.check, f.detail);
        println!("        {:<18} {}", "", output::dim(f.why));
    }
    println!(
        "\n{} findings: {} ok, {} warnings, {} failures",
        report.0.len(),
        report.0.iter().filter(|f| f.level == Level::Ok).count(),
        report.0.iter().filter(|f| f.level == Level::Warn).count(),
        report.0.iter().filter(|f| f.level == Level::Fail).count(),
    );
}
