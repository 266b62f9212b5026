//! The resource-server extractor on a real axum server: RFC 6750 answers for every way a
//! bearer token can be missing, wrong or short of scope.

#![cfg(feature = "resource")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authflow::resource::{Bearer, Rejection, ResourceServer};
use authflow::types::IssuerUrl;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";

async fn me(bearer: Bearer) -> Result<String, Rejection> {
    bearer.require("api:read")?;
    Ok(format!("hello {}", bearer.subject().unwrap_or("?")))
}

async fn admin(bearer: Bearer) -> Result<String, Rejection> {
    bearer.require("api:admin")?;
    Ok("ok".into())
}

/// A fresh Ed25519 key: the set a resource server trusts, and the key that signs.
fn keys() -> (jsonwebtoken::jwk::JwkSet, EncodingKey) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let jwks = serde_json::from_value(
        json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":x,"kid":"k","alg":"EdDSA"}]}),
    )
    .unwrap();
    (jwks, EncodingKey::from_ed_der(pkcs8.as_ref()))
}

async fn start() -> (String, EncodingKey) {
    let (jwks, enc) = keys();
    let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
        .jwks(jwks)
        .realm("demo")
        .build();
    let app = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .with_state(server);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, enc)
}

fn token(enc: &EncodingKey, aud: &str, exp_in: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k".into());
    h.typ = Some("at+jwt".into());
    let claims = json!({"iss": ISS, "sub": "alice", "aud": aud, "client_id": "cli", "scope": "api:read", "exp": now + exp_in, "iat": now, "jti": "1"});
    jsonwebtoken::encode(&h, &claims, enc).unwrap()
}

async fn call(url: &str, auth: Option<&str>) -> (u16, String, String) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        resp.status().as_u16(),
        challenge,
        resp.text().await.unwrap(),
    )
}

#[tokio::test]
async fn valid_token_reaches_the_handler() {
    let (base, enc) = start().await;
    let (status, _, body) = call(
        &format!("{base}/me"),
        Some(&format!("Bearer {}", token(&enc, AUD, 300))),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "hello alice"));
    // The scheme is case-insensitive.
    let (status, _, _) = call(
        &format!("{base}/me"),
        Some(&format!("bearer {}", token(&enc, AUD, 300))),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_refusal_carries_the_right_challenge() {
    let (base, enc) = start().await;
    let me = format!("{base}/me");
    // No token, or another scheme: a bare challenge, no error code (RFC 6750 §3.1).
    for auth in [None, Some("Basic dXNlcjpwYXNz")] {
        let (status, challenge, _) = call(&me, auth).await;
        assert_eq!(status, 401);
        assert_eq!(challenge, r#"Bearer realm="demo""#);
    }
    let (status, challenge, _) = call(&me, Some("Bearer not-a-jwt")).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let (status, challenge, _) = call(
        &me,
        Some(&format!(
            "Bearer {}",
            token(&enc, "https://other.example", 300)
        )),
    )
    .await;
    assert_eq!(status, 401, "a token for another resource");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let (status, _, _) = call(&me, Some(&format!("Bearer {}", token(&enc, AUD, -120)))).await;
    assert_eq!(status, 401, "expired");
    let (status, challenge, body) = call(
        &format!("{base}/admin"),
        Some(&format!("Bearer {}", token(&enc, AUD, 300))),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="api:admin""#),
        "{challenge}"
    );
    assert!(body.contains("insufficient_scope"), "{body}");
    let (status, challenge, _) = call(&me, Some("Bearer a b")).await;
    assert_eq!(status, 400);
    assert!(challenge.contains("invalid_request"), "{challenge}");
}

#[tokio::test]
async fn a_cached_validation_never_outlives_the_token() {
    let (jwks, enc) = keys();
    let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
        .jwks(jwks)
        .leeway(Duration::ZERO)
        .validation_cache(Duration::from_secs(3600))
        .build();
    let t = token(&enc, AUD, 2);
    let first = server.validate(&t).await.unwrap();
    let again = server.validate(&t).await.unwrap();
    assert_eq!(first, again, "the cached answer is the validated one");
    assert!(server.validate(&format!("{t}x")).await.is_err());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        server.validate(&t).await.is_err(),
        "cached past the token's exp"
    );
}
