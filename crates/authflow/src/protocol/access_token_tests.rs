use super::*;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const ISS: &str = "https://as.example";

fn key() -> (EncodingKey, JwkSet) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let set = serde_json::from_value(
        json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":x,"kid":"k","alg":"EdDSA"}]}),
    )
    .unwrap();
    (EncodingKey::from_ed_der(pkcs8.as_ref()), set)
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn sign(enc: &EncodingKey, typ: Option<&str>, claims: Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k".into());
    h.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&h, &claims, enc).unwrap()
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": "https://api.example", "client_id": "cli",
           "scope": "api:read api:write", "exp": 1_800_000_300u64, "iat": 1_800_000_000u64, "jti": "j1"})
}

fn check(
    token: &str,
    set: &JwkSet,
    require_typ: bool,
) -> Result<AccessTokenClaims, AccessTokenError> {
    let issuer = IssuerUrl::new(ISS).unwrap();
    let aud = ["https://api.example".to_owned()];
    let mut e = AccessTokenExpectations::new(&issuer, &aud, now());
    e.require_at_jwt = require_typ;
    validate_access_token(token, set, &e)
}

#[test]
fn a_valid_rfc9068_token() {
    let (enc, set) = key();
    let c = check(&sign(&enc, Some("at+jwt"), claims()), &set, true).unwrap();
    assert_eq!(c.sub.as_deref(), Some("alice"));
    assert_eq!(c.client_id.as_deref(), Some("cli"));
    assert!(c.scope.contains("api:write"));
    assert!(
        check(
            &sign(&enc, Some("application/AT+JWT"), claims()),
            &set,
            true
        )
        .is_ok()
    );
}

#[test]
fn type_audience_issuer_and_expiry_rules() {
    let (enc, set) = key();
    // An ID token (typ JWT) presented as an access token.
    assert!(matches!(
        check(&sign(&enc, Some("JWT"), claims()), &set, true),
        Err(AccessTokenError::Type(_))
    ));
    assert!(check(&sign(&enc, Some("JWT"), claims()), &set, false).is_ok());
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        check(&sign(&enc, Some("at+jwt"), c), &set, true)
    };
    let claim_of = |r: Result<AccessTokenClaims, AccessTokenError>| match r {
        Err(AccessTokenError::Claim { claim, .. }) => claim,
        other => panic!("{other:?}"),
    };
    assert_eq!(claim_of(with("aud", json!("https://other.example"))), "aud");
    assert!(with("aud", json!(["x", "https://api.example"])).is_ok());
    assert_eq!(claim_of(with("iss", json!("https://evil.example"))), "iss");
    assert_eq!(claim_of(with("exp", json!(1_800_000_000u64 - 31))), "exp");
    assert!(with("exp", json!(1_800_000_000u64 - 29)).is_ok(), "leeway");
    assert_eq!(claim_of(with("nbf", json!(1_800_000_100u64))), "nbf");
}

#[test]
fn foreign_keys_and_symmetric_algorithms_are_refused() {
    let (enc, _) = key();
    let (_, other_set) = key();
    assert_eq!(
        check(&sign(&enc, Some("at+jwt"), claims()), &other_set, true).unwrap_err(),
        AccessTokenError::Signature
    );
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k".into());
    h.typ = Some("at+jwt".into());
    let hs = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
    let (_, set) = key();
    assert!(matches!(
        check(&hs, &set, true),
        Err(AccessTokenError::Algorithm(_))
    ));
}
