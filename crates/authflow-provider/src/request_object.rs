//! Request objects passed by value (RFC 9101): the `request` parameter at `/authorize`
//! and `/par`. The object is a JWS signed with a key from the client's JWKS (ES256, EdDSA,
//! RS256 or PS256; never `none`, never HMAC), `iss` the client id, `aud` the issuer, `exp`
//! required and at most an hour ahead, and `client_id` equal to the outer one. Its
//! members are then the request's only parameters (§6.3).

use authflow::jose::CompactJws;
use serde_json::Value;

use crate::client_keys::{audience_ok, check_lifetime, verify_with};
use crate::form::Params;
use crate::provider::Shared;
use crate::registry::Client;
use crate::time::now;

/// How far ahead a request object's `exp` may lie, in seconds.
const MAX_LIFETIME: u64 = 3600;

/// JWT claims that are not authorization parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "iat", "nbf", "jti"];

/// The `typ` values accepted (RFC 9101 §10.8 registers the first; plain JWTs are common).
fn typ_ok(typ: Option<&str>) -> bool {
    typ.is_none_or(|t| {
        let t = t.strip_prefix("application/").unwrap_or(t);
        t.eq_ignore_ascii_case("oauth-authz-req+jwt") || t.eq_ignore_ascii_case("jwt")
    })
}

/// The parameters of `client`'s request object, verified; the error (for
/// `invalid_request_object`) says what is wrong without quoting the object.
pub(crate) fn verify(s: &Shared, client: &Client, jwt: &str) -> Result<Params, String> {
    let jws = CompactJws::parse(jwt).map_err(|e| e.to_string())?;
    if !jws.algorithm().is_asymmetric() {
        return Err("request objects signed with a shared secret (HS256) are not accepted".into());
    }
    if !typ_ok(jws.typ()) {
        return Err("its `typ` is not oauth-authz-req+jwt".into());
    }
    if client.keys.is_empty() {
        return Err("the client has no registered keys (jwks) to verify it with".into());
    }
    if !verify_with(&jws, &client.keys) {
        return Err("its signature does not verify with the client's registered keys".into());
    }
    let id = client.id.as_str();
    if jws.claim_str("iss") != Some(id) {
        return Err("its `iss` must be the client id".into());
    }
    if jws.claim_str("client_id") != Some(id) {
        return Err("its `client_id` must equal the request's client_id".into());
    }
    if !audience_ok(&jws, &[s.issuer_str.as_str()]) {
        return Err("its `aud` must be the issuer".into());
    }
    check_lifetime(&jws, now(), MAX_LIFETIME).map_err(str::to_owned)?;
    let claims = jws.claims();
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err("it must not contain `request` or `request_uri`".into());
    }
    let pairs = claims
        .iter()
        .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(v) => v.clone(),
                // Structured parameters (OIDC `claims`) travel as JSON text.
                other => other.to_string(),
            };
            Some((name.clone(), text))
        })
        .collect();
    Params::from_pairs(pairs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::typ_ok;

    #[test]
    fn typ_values() {
        for ok in [
            None,
            Some("oauth-authz-req+jwt"),
            Some("application/oauth-authz-req+jwt"),
            Some("JWT"),
        ] {
            assert!(typ_ok(ok), "{ok:?}");
        }
        for bad in ["dpop+jwt", "at+jwt", "application/jwt+x"] {
            assert!(!typ_ok(Some(bad)), "{bad}");
        }
    }
}
