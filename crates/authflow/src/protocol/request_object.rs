//! Signed request objects (JAR, RFC 9101): the authorization parameters as a JWT signed
//! by the client, sent by value (`request`) or through PAR.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use url::Url;

use super::authorization::AuthorizationParameters;
use crate::jose::{JwsSigner, SignError, UnsignedJws, b64, sign_jws};
use crate::random::RandomSource;
use crate::types::{ClientId, EndpointUrl};

/// The JWS `typ` of a request object (RFC 9101 §10.8).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// How long the request objects authflow makes are valid.
pub const REQUEST_OBJECT_LIFETIME_SECS: u64 = 300;

/// Signs `params` as a request object for the server whose issuer is `audience`: the
/// parameters as claims, plus `iss` (the client), `aud`, `iat`, `nbf`, `exp` and `jti`
/// (RFC 9101 §4, FAPI 2.0 message signing).
pub async fn sign_request_object(
    signer: &dyn JwsSigner,
    params: &AuthorizationParameters,
    client_id: &ClientId,
    audience: &str,
    now: SystemTime,
    rng: &mut (dyn RandomSource + Send),
) -> Result<String, SignError> {
    let jws = UnsignedJws::new(
        signer,
        REQUEST_OBJECT_TYP,
        request_object_claims(params, client_id, audience, now, rng),
    );
    sign_jws(signer, jws).await
}

/// The claims of a request object (see [`sign_request_object`]).
pub fn request_object_claims(
    params: &AuthorizationParameters,
    client_id: &ClientId,
    audience: &str,
    now: SystemTime,
    rng: &mut dyn RandomSource,
) -> Value {
    let mut claims = params.to_claims();
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti = [0u8; 16];
    rng.fill(&mut jti);
    claims.insert("iss".into(), client_id.as_str().into());
    claims.insert("aud".into(), audience.into());
    claims.insert("iat".into(), iat.into());
    claims.insert("nbf".into(), iat.into());
    claims.insert("exp".into(), (iat + REQUEST_OBJECT_LIFETIME_SECS).into());
    claims.insert("jti".into(), b64(jti).into());
    Value::Object(claims)
}

/// The authorization URL carrying the request object by value: `client_id` and `request`
/// only (RFC 9101 §5.1).
pub fn authorization_url_with_request(
    endpoint: &EndpointUrl,
    client_id: &ClientId,
    request: &str,
) -> Url {
    super::par::url_with(endpoint, client_id, "request", request)
}

/// The parameters to push when the request object goes through PAR: `client_id` and
/// `request` (RFC 9126 §3).
pub fn pushed_parameters(client_id: &ClientId, request: String) -> AuthorizationParameters {
    AuthorizationParameters::from_pairs(vec![
        ("client_id".to_owned(), client_id.as_str().to_owned()),
        ("request".to_owned(), request),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{CompactJws, JwsAlgorithm, SigningKey};
    use crate::protocol::AuthorizationRequest;
    use crate::random::OsRandom;
    use crate::types::{RedirectUri, ResourceIndicator, Scope};

    #[tokio::test]
    async fn request_object_carries_every_parameter_and_verifies() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let id = ClientId::new("app").unwrap();
        let e = EndpointUrl::new("https://as.example/authorize").unwrap();
        let (params, pending) = AuthorizationRequest::new(
            e.clone(),
            id.clone(),
            RedirectUri::new("http://127.0.0.1:1/cb").unwrap(),
        )
        .scope(Scope::parse("openid api").unwrap())
        .resource(ResourceIndicator::new("https://a.example/").unwrap())
        .resource(ResourceIndicator::new("https://b.example/").unwrap())
        .build_parameters(&mut OsRandom)
        .unwrap();
        let jwt = sign_request_object(
            &key,
            &params,
            &id,
            "https://as.example",
            SystemTime::now(),
            &mut OsRandom,
        )
        .await
        .unwrap();
        let parsed = CompactJws::parse(&jwt).unwrap();
        assert!(parsed.verify(key.public_jwk()));
        assert_eq!(parsed.typ(), Some(REQUEST_OBJECT_TYP));
        assert_eq!(parsed.claim_str("state"), Some(pending.state.secret()));
        assert_eq!(parsed.claim_str("iss"), Some("app"));
        assert_eq!(parsed.claim_str("code_challenge_method"), Some("S256"));
        assert_eq!(
            parsed.claims()["resource"].as_array().map(Vec::len),
            Some(2)
        );
        let url = authorization_url_with_request(&e, &id, &jwt);
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(q.len(), 2, "only client_id and request travel in the URL");
        assert!(!url.as_str().contains("state="));
    }
}
