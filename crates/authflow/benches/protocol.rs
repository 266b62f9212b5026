//! Protocol-core speed, side by side with oauth2-rs doing the same work.
//!
//! `cargo bench -p authflow --bench protocol`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::SystemTime;

use authflow::protocol::AuthorizationRequest;
use authflow::protocol::token_response::parse_token_response;
use authflow::protocol::www_authenticate::parse_challenges;
use authflow::random::{OsRandom, ThreadRandom};
use authflow::types::{ClientId, EndpointUrl, RedirectUri, Scope};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};

const TOKEN_JSON: &str = r#"{"access_token":"eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUiLCJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA","token_type":"Bearer","expires_in":3600,"refresh_token":"8xLOxBtZp8-rt-0123456789abcdef","scope":"openid profile api:read"}"#;

fn authorization_url(c: &mut Criterion) {
    let mut g = c.benchmark_group("authorization_url");
    let request = AuthorizationRequest::new(
        EndpointUrl::new("https://as.example/authorize").unwrap(),
        ClientId::new("my-cli").unwrap(),
        RedirectUri::new("http://127.0.0.1:8765/callback").unwrap(),
    )
    .scope(Scope::parse("api:read offline_access").unwrap());
    g.bench_function("authflow", |b| {
        b.iter(|| black_box(request.build(&mut ThreadRandom).unwrap()))
    });
    g.bench_function("authflow_os_random", |b| {
        b.iter(|| black_box(request.build(&mut OsRandom).unwrap()))
    });

    use oauth2::{AuthUrl, CsrfToken, PkceCodeChallenge, RedirectUrl, TokenUrl};
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new("my-cli".into()))
        .set_auth_uri(AuthUrl::new("https://as.example/authorize".into()).unwrap())
        .set_token_uri(TokenUrl::new("https://as.example/token".into()).unwrap())
        .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:8765/callback".into()).unwrap());
    g.bench_function("oauth2-rs", |b| {
        b.iter(|| {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, state) = client
                .authorize_url(CsrfToken::new_random)
                .add_scope(oauth2::Scope::new("api:read".into()))
                .add_scope(oauth2::Scope::new("offline_access".into()))
                .set_pkce_challenge(challenge)
                .url();
            black_box((url, state, verifier))
        })
    });
    g.finish();
}

fn token_response(c: &mut Criterion) {
    let mut g = c.benchmark_group("token_response_json");
    let resp = http::Response::builder()
        .header("content-type", "application/json")
        .body(Bytes::from_static(TOKEN_JSON.as_bytes()))
        .unwrap();
    let now = SystemTime::now();
    g.bench_function("authflow", |b| {
        b.iter(|| black_box(parse_token_response(black_box(&resp), now).unwrap()))
    });
    g.bench_function("oauth2-rs", |b| {
        b.iter(|| {
            let parsed: oauth2::basic::BasicTokenResponse =
                serde_json::from_slice(black_box(TOKEN_JSON.as_bytes())).unwrap();
            black_box(parsed)
        })
    });
    g.finish();
}

fn www_authenticate(c: &mut Criterion) {
    let header = r#"Bearer realm="api", error="insufficient_scope", error_description="needs write", scope="api:write", DPoP algs="ES256 EdDSA""#;
    let mut g = c.benchmark_group("www_authenticate_2_challenges");
    g.bench_function("authflow", |b| {
        b.iter(|| black_box(parse_challenges(black_box(header)).unwrap()))
    });
    g.finish();
}

/// RFC 9449 proofs: what every DPoP-bound request adds on the client, and what a
/// resource server spends checking one.
fn dpop(c: &mut Criterion) {
    use authflow::jose::{JwsAlgorithm, SigningKey};
    use authflow::protocol::dpop::{DpopProver, ProofCheck, verify_proof};
    let url = url::Url::parse("https://api.example/v1/me?x=1").unwrap();
    let mut g = c.benchmark_group("dpop_proof");
    for (name, alg) in [
        ("es256", JwsAlgorithm::ES256),
        ("eddsa", JwsAlgorithm::EdDSA),
    ] {
        let prover = DpopProver::new(SigningKey::generate(alg).unwrap());
        g.bench_function(format!("create_{name}"), |b| {
            b.iter(|| {
                black_box(
                    prover
                        .proof(
                            "GET",
                            &url,
                            Some("access-token-0123456789"),
                            None,
                            SystemTime::now(),
                            &mut ThreadRandom,
                        )
                        .unwrap(),
                )
            })
        });
        let now = SystemTime::now();
        let proof = prover
            .proof(
                "GET",
                &url,
                Some("access-token-0123456789"),
                None,
                now,
                &mut ThreadRandom,
            )
            .unwrap();
        let proof = proof.to_str().unwrap().to_owned();
        g.bench_function(format!("verify_{name}"), |b| {
            b.iter(|| {
                let check =
                    ProofCheck::new("GET", &url, now).access_token("access-token-0123456789");
                black_box(verify_proof(black_box(&proof), &check).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    authorization_url,
    token_response,
    www_authenticate,
    dpop
);
criterion_main!(benches);
