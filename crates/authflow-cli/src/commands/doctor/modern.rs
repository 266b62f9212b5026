//! What the provider offers beyond RFC 6749: DPoP (RFC 9449), pushed authorization
//! requests (RFC 9126), request objects (RFC 9101) and JWT client authentication
//! (RFC 7523), read from the parsed metadata, and whether `authflow` can use it.

use authflow::protocol::discovery::ServerMetadata;
use serde_json::Value;

use super::{Level, Report};

/// The algorithms of the keys authflow makes and reads (`--dpop`, `--client-key`).
const AUTHFLOW_KEY_ALGS: [&str; 2] = ["ES256", "EdDSA"];

pub(super) fn examine(r: &mut Report, meta: &ServerMetadata) {
    dpop(r, meta);
    par(r, meta);
    request_objects(r, meta);
    jwt_client_auth(r, meta);
}

/// A list of strings among the fields the library does not model; `None` when absent or
/// not a list of strings.
fn extra_list(meta: &ServerMetadata, key: &str) -> Option<Vec<String>> {
    match meta.extra.get(key)? {
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>(),
        _ => None,
    }
}

fn extra_flag(meta: &ServerMetadata, key: &str) -> Option<bool> {
    meta.extra.get(key).and_then(Value::as_bool)
}

fn dpop(r: &mut Report, meta: &ServerMetadata) {
    const WHY: &str = "tokens bound to a client key are useless to whoever steals them (RFC 9449)";
    match &meta.dpop_signing_alg_values_supported {
        None => r.add(Level::Info, "DPoP", "not advertised", WHY),
        Some(algs) if algs.is_empty() => r.add(
            Level::Warn,
            "DPoP",
            "dpop_signing_alg_values_supported is empty",
            "no proof algorithm is accepted, so tokens cannot be bound",
        ),
        Some(algs) if algs.iter().any(|a| a == "ES256") => r.add(
            Level::Ok,
            "DPoP",
            format!(
                "supported, algs {}; `authflow login --dpop` binds tokens (ES256)",
                algs.join(" ")
            ),
            WHY,
        ),
        Some(algs) => r.add(
            Level::Warn,
            "DPoP",
            format!(
                "supported, algs {}; not ES256, which `authflow login --dpop` signs with",
                algs.join(" ")
            ),
            "RFC 9449 clients commonly sign proofs with ES256",
        ),
    }
}

fn par(r: &mut Report, meta: &ServerMetadata) {
    const WHY: &str =
        "request parameters go over an authenticated back channel, not the browser (RFC 9126)";
    let required = meta.requires_pushed_authorization();
    match (&meta.pushed_authorization_request_endpoint, required) {
        (Some(e), true) => r.add(
            Level::Ok,
            "PAR",
            format!("endpoint {e}; required for every authorization request (authflow pushes them)"),
            WHY,
        ),
        (Some(e), false) => r.add(
            Level::Ok,
            "PAR",
            format!("endpoint {e}; not required (`authflow login --par` uses it)"),
            WHY,
        ),
        (None, true) => r.add(
            Level::Fail,
            "PAR",
            "required (require_pushed_authorization_requests) but no pushed_authorization_request_endpoint",
            "no client can start a login",
        ),
        (None, false) => r.add(Level::Info, "PAR", "not advertised", WHY),
    }
}

fn request_objects(r: &mut Report, meta: &ServerMetadata) {
    const WHY: &str = "signed requests cannot be altered in the browser (RFC 9101)";
    let by_value = extra_flag(meta, "request_parameter_supported");
    let algs = extra_list(meta, "request_object_signing_alg_values_supported");
    let required = extra_flag(meta, "require_signed_request_object") == Some(true);
    if by_value != Some(true) && algs.is_none() && !required {
        r.add(Level::Info, "request objects", "not advertised", WHY);
        return;
    }
    let mut detail = vec![match by_value {
        Some(true) => "by value (`request`)".to_owned(),
        Some(false) => "not by value (request_parameter_supported false)".to_owned(),
        None => "by value not announced".to_owned(),
    }];
    if let Some(a) = &algs {
        detail.push(format!("algs {}", a.join(" ")));
    }
    if required {
        detail.push("signed request objects required".to_owned());
    }
    let usable = algs
        .as_ref()
        .is_none_or(|a| a.iter().any(|x| AUTHFLOW_KEY_ALGS.contains(&x.as_str())));
    if usable {
        r.add(Level::Ok, "request objects", detail.join("; "), WHY);
    } else {
        detail.push("neither ES256 nor EdDSA, the keys --client-key reads".to_owned());
        r.add(
            Level::Warn,
            "request objects",
            detail.join("; "),
            "`authflow login --request-object` cannot sign what this server accepts",
        );
    }
}

fn jwt_client_auth(r: &mut Report, meta: &ServerMetadata) {
    const WHY: &str = "clients authenticate with a signed, short-lived JWT (RFC 7523); private_key_jwt keeps no shared secret at the server";
    let methods: Vec<&str> = meta
        .token_endpoint_auth_methods_supported
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|m| matches!(*m, "private_key_jwt" | "client_secret_jwt"))
        .collect();
    if methods.is_empty() {
        r.add(
            Level::Info,
            "JWT client auth",
            "neither private_key_jwt nor client_secret_jwt announced",
            WHY,
        );
        return;
    }
    let algs = extra_list(meta, "token_endpoint_auth_signing_alg_values_supported");
    let mut detail = methods.join(" ");
    if let Some(a) = &algs {
        detail.push_str(&format!("; algs {}", a.join(" ")));
    }
    let key_usable = algs
        .as_ref()
        .is_none_or(|a| a.iter().any(|x| AUTHFLOW_KEY_ALGS.contains(&x.as_str())));
    if methods.contains(&"private_key_jwt") && !key_usable {
        r.add(
            Level::Warn,
            "JWT client auth",
            format!("{detail}; neither ES256 nor EdDSA, the keys --client-key reads"),
            "`--auth-method private_key_jwt` cannot sign what this server accepts",
        );
    } else {
        r.add(Level::Ok, "JWT client auth", detail, WHY);
    }
}
