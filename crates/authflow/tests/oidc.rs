//! ID tokens against a JWKS served over a real socket: caching, one refetch after a key
//! rotation, and the userinfo `sub` check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use authflow::client::{Error, OAuthClient};
use authflow::protocol::Credentials;
use authflow::types::{AccessToken, ClientId, IdToken, IssuerUrl, Nonce};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

struct Key {
    kid: String,
    enc: EncodingKey,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    Key {
        kid: kid.into(),
        enc: EncodingKey::from_ed_der(pkcs8.as_ref()),
        jwk: json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":kid,"alg":"EdDSA","use":"sig"}),
    }
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    jwks: Arc<Mutex<Value>>,
    jwks_fetches: Arc<AtomicUsize>,
    userinfo_sub: Arc<Mutex<String>>,
}

async fn start() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let shared = Shared {
        issuer: issuer.clone(),
        jwks: Arc::new(Mutex::new(json!({"keys": []}))),
        jwks_fetches: Arc::new(AtomicUsize::new(0)),
        userinfo_sub: Arc::new(Mutex::new("alice".into())),
    };
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<Shared>| async move {
                Json(json!({
                    "issuer": s.issuer,
                    "authorization_endpoint": format!("{}/authorize", s.issuer),
                    "token_endpoint": format!("{}/token", s.issuer),
                    "jwks_uri": format!("{}/jwks", s.issuer),
                    "userinfo_endpoint": format!("{}/userinfo", s.issuer),
                    "id_token_signing_alg_values_supported": ["EdDSA"],
                }))
            }),
        )
        .route(
            "/jwks",
            get(|State(s): State<Shared>| async move {
                s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                Json(s.jwks.lock().unwrap().clone())
            }),
        )
        .route(
            "/userinfo",
            get(|State(s): State<Shared>| async move {
                Json(json!({"sub": s.userinfo_sub.lock().unwrap().clone(), "email": "alice@example.com"}))
            }),
        )
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    shared
}

fn id_token(k: &Key, issuer: &str, nonce: &str) -> IdToken {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(k.kid.clone());
    let claims = json!({"iss": issuer, "sub": "alice", "aud": "cli", "exp": now + 300, "iat": now, "nonce": nonce});
    IdToken::new(jsonwebtoken::encode(&h, &claims, &k.enc).unwrap()).unwrap()
}

async fn client(s: &Shared) -> OAuthClient {
    OAuthClient::builder(Credentials::public(ClientId::new("cli").unwrap()))
        .discover(&IssuerUrl::new(&s.issuer).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn jwks_is_cached_and_refetched_once_after_rotation() {
    let s = start().await;
    let k1 = key("k1");
    *s.jwks.lock().unwrap() = json!({"keys": [k1.jwk]});
    let c = client(&s).await;
    let nonce = Nonce::new("n").unwrap();
    let claims = c
        .verify_id_token(&id_token(&k1, &s.issuer, "n"), Some(&nonce), None)
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    c.verify_id_token(&id_token(&k1, &s.issuer, "n"), Some(&nonce), None)
        .await
        .unwrap();
    assert_eq!(s.jwks_fetches.load(Ordering::SeqCst), 1, "cached");

    // The provider rotates to k2.
    let k2 = key("k2");
    *s.jwks.lock().unwrap() = json!({"keys": [k2.jwk]});
    c.verify_id_token(&id_token(&k2, &s.issuer, "n"), Some(&nonce), None)
        .await
        .unwrap();
    assert_eq!(s.jwks_fetches.load(Ordering::SeqCst), 2, "one refetch");

    // A key nobody publishes: one refetch, then a clear refusal.
    let rogue = key("rogue");
    let err = c
        .verify_id_token(&id_token(&rogue, &s.issuer, "n"), Some(&nonce), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IdToken(_)), "{err:?}");
    assert_eq!(s.jwks_fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn nonce_mismatch_is_refused() {
    let s = start().await;
    let k1 = key("k1");
    *s.jwks.lock().unwrap() = json!({"keys": [k1.jwk]});
    let c = client(&s).await;
    let err = c
        .verify_id_token(
            &id_token(&k1, &s.issuer, "other"),
            Some(&Nonce::new("n").unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonce"), "{err}");
}

#[tokio::test]
async fn userinfo_sub_must_match_the_id_token() {
    let s = start().await;
    let c = client(&s).await;
    let at = AccessToken::new("at").unwrap();
    let claims = c.userinfo(&at, Some("alice")).await.unwrap();
    assert_eq!(claims["email"], "alice@example.com");
    *s.userinfo_sub.lock().unwrap() = "mallory".into();
    let err = c.userinfo(&at, Some("alice")).await.unwrap_err();
    assert!(err.to_string().contains("sub"), "{err}");
}
