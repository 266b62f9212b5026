//! `RedisReplayCache` against a real `redis-server` on 127.0.0.1: several resource server
//! instances share one record of used DPoP proofs. Without `redis-server` these tests say
//! why and pass, unless AUTHFLOW_REQUIRE_TOOLS is set.

#![cfg(all(feature = "resource", feature = "redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/skip.rs"]
mod skip;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::protocol::dpop::DpopProver;
use authflow::random::OsRandom;
use authflow::resource::{
    Bearer, DpopConfig, ProofId, RedisReplayCache, Refusal, ReplayCache, ReplayError,
    ResourceServer,
};
use authflow::types::IssuerUrl;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use redis_server::redis_port;
use serde_json::json;

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";

static NAMES: AtomicUsize = AtomicUsize::new(0);

/// A fresh cache name, so that tests running at once do not share keys.
fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::SeqCst)
    )
}

async fn cache(port: u16, name: &str) -> RedisReplayCache {
    RedisReplayCache::connect(&format!("redis://127.0.0.1:{port}/"), name)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_handles_share_one_record_and_it_expires() {
    let Some(port) = redis_port() else { return };
    let name = unique("share");
    let (a, b) = (cache(port, &name).await, cache(port, &name).await);
    let id = ProofId::new("jkt", "jti-1");
    let ttl = Duration::from_millis(300);
    assert_eq!(a.check_and_insert(&id, ttl).await, Ok(true));
    assert_eq!(b.check_and_insert(&id, ttl).await, Ok(false), "seen by A");
    assert_eq!(a.check_and_insert(&id, ttl).await, Ok(false));
    // Another key's proof with the same jti is another proof.
    let other = ProofId::new("other-jkt", "jti-1");
    assert_eq!(b.check_and_insert(&other, ttl).await, Ok(true));
    // Another name is another cache.
    let c = cache(port, &unique("share")).await;
    assert_eq!(c.check_and_insert(&id, ttl).await, Ok(true));
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(b.check_and_insert(&id, ttl).await, Ok(true), "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_from_many_handles_admit_exactly_one() {
    let Some(port) = redis_port() else { return };
    let name = unique("race");
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(cache(port, &name).await);
    }
    let id = ProofId::new("jkt", "raced");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let h = handles[i % 4].clone();
        tasks.spawn(async move {
            h.check_and_insert(&id, Duration::from_secs(60))
                .await
                .unwrap()
        });
    }
    let mut admitted = 0;
    while let Some(r) = tasks.join_next().await {
        admitted += usize::from(r.unwrap());
    }
    assert_eq!(admitted, 1);
}

async fn me(bearer: Bearer) -> Result<String, Refusal> {
    Ok(bearer.jkt().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_proof_used_at_one_instance_is_a_replay_at_another() {
    let Some(port) = redis_port() else { return };
    let name = unique("fleet");
    // One issuer key; two instances behind one public URL (the first's address).
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(
        json!({"keys":[{"kty":"OKP","crv":"Ed25519","x":x,"kid":"k","alg":"EdDSA"}]}),
    )
    .unwrap();
    let listeners = [
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let public = format!("http://{}", listeners[0].local_addr().unwrap());
    let mut addrs = Vec::new();
    for l in listeners {
        addrs.push(format!("http://{}", l.local_addr().unwrap()));
        let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
            .jwks(jwks.clone())
            .dpop(
                DpopConfig::new(&public)
                    .unwrap()
                    .replay_cache(cache(port, &name).await),
            )
            .build();
        let app = Router::new().route("/me", get(me)).with_state(server);
        tokio::spawn(async move { axum::serve(l, app).await });
    }

    let prover = DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k".into());
    h.typ = Some("at+jwt".into());
    let claims = json!({"iss": ISS, "sub": "alice", "aud": AUD, "exp": now + 300, "iat": now,
        "cnf": {"jkt": prover.thumbprint()}});
    let t = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_ed_der(pkcs8.as_ref())).unwrap();
    let url = url::Url::parse(&format!("{public}/me")).unwrap();
    let http = reqwest::Client::new();
    let send = |addr: &str, proof: &http::HeaderValue| {
        http.get(format!("{addr}/me"))
            .header("authorization", format!("DPoP {t}"))
            .header("dpop", proof.clone())
            .send()
    };
    let proof = prover
        .proof(
            "GET",
            &url,
            Some(&t),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    let first = send(&addrs[0], &proof).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), prover.thumbprint());
    let replay = send(&addrs[1], &proof).await.unwrap();
    assert_eq!(replay.status(), 401, "replayed at the other instance");
    let challenge = replay
        .headers()
        .get_all("www-authenticate")
        .iter()
        .nth(1)
        .unwrap();
    assert!(
        challenge.to_str().unwrap().contains("invalid_dpop_proof"),
        "{challenge:?}"
    );
    // A fresh proof passes at the second instance: it was the replay that failed.
    let fresh = prover
        .proof(
            "GET",
            &url,
            Some(&t),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    assert_eq!(send(&addrs[1], &fresh).await.unwrap().status(), 200);
}

#[tokio::test]
async fn connection_errors_hide_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = RedisReplayCache::connect(&format!("redis://:hunter2@127.0.0.1:{port}/"), "x")
        .await
        .unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(matches!(err, ReplayError::Backend(_)), "{msg}");
    let err = RedisReplayCache::connect("not a url hunter2", "x")
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
}
