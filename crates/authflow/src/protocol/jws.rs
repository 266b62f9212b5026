//! Verifying a compact JWS against a JWKS: the part ID tokens and JWT access tokens share.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// A verified JWS.
pub(crate) struct Verified {
    pub(crate) alg: Algorithm,
    pub(crate) typ: Option<String>,
    pub(crate) claims: Map<String, Value>,
}

/// Why a JWS did not verify. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwsError {
    Malformed(String),
    Algorithm(String),
    UnknownKey(String),
    Signature,
}

/// What was wrong with the header, in words that never quote it: serde's messages do
/// (``unknown variant `...` ``), and the header is part of a bearer token.
fn header_error(kind: &jsonwebtoken::errors::ErrorKind) -> JwsError {
    use jsonwebtoken::errors::ErrorKind;
    JwsError::Malformed(
        match kind {
            ErrorKind::InvalidToken => "not three base64url parts separated by dots",
            ErrorKind::Base64(_) => "the header is not base64url",
            ErrorKind::Utf8(_) => "the header is not UTF-8",
            ErrorKind::Json(_) => "the header is not a JSON object with a known `alg`",
            _ => "the header cannot be read",
        }
        .to_owned(),
    )
}

/// Verifies `token`'s signature with a key from `jwks`.
///
/// The algorithm must be in `announced` (the provider's list) — or, when that list is
/// empty, equal `default_alg` or the `alg` the selected key itself declares in the
/// provider's JWKS, which pins it as firmly. Symmetric algorithms and `none` never pass.
pub(crate) fn verify(
    token: &str,
    jwks: &JwkSet,
    announced: &[String],
    default_alg: Option<Algorithm>,
) -> Result<Verified, JwsError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| header_error(e.kind()))?;
    let alg = header.alg;
    let alg_name = format!("{alg:?}");
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => vec![
            jwks.find(kid)
                .ok_or_else(|| JwsError::UnknownKey(kid.clone()))?,
        ],
        // Without a kid, any key of the right type may be the one.
        None => jwks.keys.iter().collect(),
    };
    let key_declares = header.kid.is_some()
        && candidates.iter().all(|jwk| {
            jwk.common
                .key_algorithm
                .is_some_and(|ka| format!("{ka:?}") == alg_name)
        });
    let allowed = if announced.is_empty() {
        default_alg == Some(alg) || key_declares
    } else {
        announced.iter().any(|a| a == &alg_name)
    };
    if !allowed || matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(JwsError::Algorithm(alg_name));
    }
    let mut validation = Validation::new(alg);
    // Claims are the caller's to check, with its clock and its error messages.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            return Ok(Verified {
                alg,
                typ: header.typ.clone(),
                claims: data.claims,
            });
        }
    }
    Err(JwsError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by tests/secret_debug.rs: `Malformed` carried serde's message, which quotes
    /// the header (`unknown variant `<alg>``), into `Display` and `Debug`.
    #[test]
    fn malformed_jwt_header_error_does_not_quote_the_header() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let jwks: JwkSet = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
        for header in [
            r#"{"alg":"SECRET-ish"}"#,
            r#"{"alg":"RS256","kid":"SECRET-ish","x":[}"#,
        ] {
            let token = format!("{}.{}.sig", b64(header), b64("{}"));
            let Err(e) = verify(&token, &jwks, &[], None) else {
                panic!("{header} verified")
            };
            assert!(matches!(e, JwsError::Malformed(_)), "{e:?}");
            assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
        }
    }
}
