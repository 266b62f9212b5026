//! `/api/*` over real HTTP with DPoP-bound tokens (RFC 9449): accepted with a proof of
//! their key, refused as bearer tokens, proofs single-use; bearer tokens as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use authflow::jose::{JwsAlgorithm, SigningKey as ProofKey};
use authflow::protocol::dpop::DpopProver;
use authflow::protocol::www_authenticate::{Challenge, challenges_from_headers};
use authflow::random::OsRandom;
use authflow::types::IssuerUrl;
use aws_lc_rs::signature::Ed25519KeyPair;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::{Provider, SigningKey};

struct Api {
    base: String,
    enc: EncodingKey,
    kid: String,
    http: reqwest::Client,
}

static JTI: AtomicUsize = AtomicUsize::new(0);

impl Api {
    /// A demo provider on 127.0.0.1:0 whose access token key the test also holds.
    async fn start() -> Self {
        let der = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let provider = Provider::builder()
            .issuer(IssuerUrl::new(&base).unwrap())
            .demo()
            .signing_key(SigningKey::from_pkcs8_der(der.as_ref()).unwrap())
            .build()
            .unwrap();
        let kid = provider.signing_key().kid().to_owned();
        let router = provider.router();
        tokio::spawn(async move { axum::serve(l, router).await });
        Self {
            base,
            enc: EncodingKey::from_ed_der(der.as_ref()),
            kid,
            http: reqwest::Client::new(),
        }
    }

    /// An access token as the provider issues them, with `scope`, bound to `jkt` if given.
    fn token(&self, scope: &str, jkt: Option<&str>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(self.kid.clone());
        h.typ = Some("at+jwt".into());
        let mut claims = json!({"iss": self.base, "sub": "alice", "aud": self.base,
            "client_id": "demo-cli", "scope": scope, "exp": now + 300, "iat": now,
            "jti": format!("test-{}", JTI.fetch_add(1, Ordering::SeqCst))});
        if let Some(jkt) = jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        jsonwebtoken::encode(&h, &claims, &self.enc).unwrap()
    }

    fn proof(&self, p: &DpopProver, method: &str, path: &str, token: &str) -> http::HeaderValue {
        let url = url::Url::parse(&format!("{}{path}", self.base)).unwrap();
        p.proof(
            method,
            &url,
            Some(token),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: &str,
        proof: Option<http::HeaderValue>,
    ) -> (u16, Vec<Challenge>, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", authorization);
        if let Some(p) = proof {
            r = r.header("dpop", p);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let challenges = challenges_from_headers(resp.headers());
        (status, challenges, resp.json().await.unwrap_or(Value::Null))
    }
}

fn scheme<'a>(challenges: &'a [Challenge], name: &str) -> &'a Challenge {
    challenges
        .iter()
        .find(|c| c.is_scheme(name))
        .unwrap_or_else(|| panic!("no {name} challenge: {challenges:?}"))
}

#[tokio::test]
async fn a_bound_token_with_its_proof_reaches_every_api_route() {
    let api = Api::start().await;
    let p = DpopProver::new(ProofKey::generate(JwsAlgorithm::ES256).unwrap());
    let t = api.token("api:read api:write", Some(p.thumbprint()));
    let auth = format!("DPoP {t}");
    let (status, _, v) = api
        .send(
            reqwest::Method::GET,
            "/api/me",
            &auth,
            Some(api.proof(&p, "GET", "/api/me", &t)),
        )
        .await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    let (status, _, v) = api
        .send(
            reqwest::Method::GET,
            "/api/data",
            &auth,
            Some(api.proof(&p, "GET", "/api/data", &t)),
        )
        .await;
    assert_eq!((status, v["owner"].as_str()), (200, Some("alice")), "{v}");
    let (status, _, _) = api
        .send(
            reqwest::Method::POST,
            "/api/data",
            &auth,
            Some(api.proof(&p, "POST", "/api/data", &t)),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_bound_token_is_refused_as_bearer_and_proofs_are_single_use() {
    let api = Api::start().await;
    let p = DpopProver::new(ProofKey::generate(JwsAlgorithm::EdDSA).unwrap());
    let t = api.token("api:read", Some(p.thumbprint()));
    let (status, c, v) = api
        .send(
            reqwest::Method::GET,
            "/api/me",
            &format!("Bearer {t}"),
            None,
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(c[0].scheme(), "Bearer", "Bearer comes first: {c:?}");
    assert_eq!(c[0].error(), Some("invalid_token"));
    assert_eq!(scheme(&c, "DPoP").param("algs"), Some("ES256 EdDSA"));
    assert_eq!(v["error"], "invalid_token");

    let proof = api.proof(&p, "GET", "/api/me", &t);
    let auth = format!("DPoP {t}");
    let (status, _, _) = api
        .send(reqwest::Method::GET, "/api/me", &auth, Some(proof.clone()))
        .await;
    assert_eq!(status, 200);
    let (status, c, v) = api
        .send(reqwest::Method::GET, "/api/me", &auth, Some(proof))
        .await;
    assert_eq!(status, 401, "replayed");
    assert_eq!(c[0].error(), None, "the Bearer challenge stays bare: {c:?}");
    assert_eq!(scheme(&c, "DPoP").error(), Some("invalid_dpop_proof"));
    assert_eq!(v["error"], "invalid_dpop_proof");

    // A proof by another key than the token's.
    let other = DpopProver::new(ProofKey::generate(JwsAlgorithm::ES256).unwrap());
    let (status, c, _) = api
        .send(
            reqwest::Method::GET,
            "/api/me",
            &auth,
            Some(api.proof(&other, "GET", "/api/me", &t)),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(scheme(&c, "DPoP").error(), Some("invalid_token"));
}

#[tokio::test]
async fn bearer_tokens_still_work_and_are_refused_with_the_dpop_scheme() {
    let api = Api::start().await;
    let t = api.token("api:read", None);
    let (status, _, v) = api
        .send(
            reqwest::Method::GET,
            "/api/me",
            &format!("Bearer {t}"),
            None,
        )
        .await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("Bearer")),
        "{v}"
    );
    let p = DpopProver::new(ProofKey::generate(JwsAlgorithm::ES256).unwrap());
    let (status, c, _) = api
        .send(
            reqwest::Method::GET,
            "/api/me",
            &format!("DPoP {t}"),
            Some(api.proof(&p, "GET", "/api/me", &t)),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(scheme(&c, "DPoP").error(), Some("invalid_token"));
}

#[tokio::test]
async fn a_dpop_request_short_of_scope_gets_insufficient_scope_on_the_dpop_challenge() {
    let api = Api::start().await;
    let p = DpopProver::new(ProofKey::generate(JwsAlgorithm::ES256).unwrap());
    let t = api.token("api:read", Some(p.thumbprint()));
    let (status, c, v) = api
        .send(
            reqwest::Method::POST,
            "/api/data",
            &format!("DPoP {t}"),
            Some(api.proof(&p, "POST", "/api/data", &t)),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(scheme(&c, "Bearer").error(), None, "{c:?}");
    let d = scheme(&c, "DPoP");
    assert_eq!(d.error(), Some("insufficient_scope"));
    assert_eq!(d.param("scope"), Some("api:write"));
    assert_eq!(v["scope"], "api:write");
}
