//! DPoP-bound access tokens (RFC 9449) at a real axum resource server on 127.0.0.1: every
//! refusal of §4.3 and §7, each next to the request that passes, with proofs made by the
//! library's `DpopProver`.

#![cfg(feature = "resource")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authflow::client::{BoxFuture, OAuthClient};
use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::protocol::Credentials;
use authflow::protocol::dpop::{DpopNonces, DpopProver};
use authflow::protocol::www_authenticate::{Challenge, challenges_from_headers};
use authflow::random::OsRandom;
use authflow::resource::{
    Bearer, DpopConfig, ProofId, Refusal, ReplayCache, ReplayError, ResourceServer,
};
use authflow::types::{ClientId, ClientSecret, EndpointUrl, IssuerUrl};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use url::Url;

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";

/// What the handler saw: who, and how the token came.
async fn me(bearer: Bearer) -> Result<String, Refusal> {
    Ok(json!({
        "sub": bearer.subject(),
        "dpop": bearer.is_dpop(),
        "jkt": bearer.jkt(),
    })
    .to_string())
}

/// The issuer's Ed25519 key: the set the resource server trusts, and the signing key.
fn issuer_keys() -> (jsonwebtoken::jwk::JwkSet, EncodingKey) {
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

static JTI: AtomicUsize = AtomicUsize::new(0);

/// An RFC 9068 access token, bound to `jkt` (`cnf.jkt`) when given.
fn token(enc: &EncodingKey, jkt: Option<&str>) -> String {
    token_with_cnf(enc, jkt.map(|jkt| json!({ "jkt": jkt })))
}

/// An RFC 9068 access token with any `cnf`.
fn token_with_cnf(enc: &EncodingKey, cnf: Option<Value>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k".into());
    h.typ = Some("at+jwt".into());
    let mut claims = json!({"iss": ISS, "sub": "alice", "aud": AUD, "client_id": "cli",
        "scope": "api:read", "exp": now + 300, "iat": now,
        "jti": JTI.fetch_add(1, Ordering::SeqCst).to_string()});
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    jsonwebtoken::encode(&h, &claims, enc).unwrap()
}

fn prover() -> DpopProver {
    DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap())
}

struct Api {
    base: String,
    enc: EncodingKey,
    client: reqwest::Client,
}

impl Api {
    /// Serves `/me` (GET) and `/items` (POST) with a resource server that accepts DPoP
    /// at its own address, configured further by `dpop`.
    async fn start(dpop: impl FnOnce(DpopConfig) -> DpopConfig) -> Self {
        let (jwks, enc) = issuer_keys();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
            .jwks(jwks)
            .realm("demo")
            .dpop(dpop(DpopConfig::new(&base).unwrap()))
            .build();
        tokio::spawn(async move { axum::serve(l, app(server)).await });
        Self {
            base,
            enc,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.base)).unwrap()
    }

    /// A proof for `method` on `path` for `token`, made now.
    fn proof(&self, p: &DpopProver, method: &str, path: &str, token: &str) -> HeaderValue {
        p.proof(
            method,
            &self.url(path),
            Some(token),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap()
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        authorization: &str,
        proofs: &[HeaderValue],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .client
            .request(method, self.url(path))
            .header("authorization", authorization);
        for p in proofs {
            r = r.header("dpop", p.clone());
        }
        let resp = r.send().await.unwrap();
        Reply {
            status: resp.status().as_u16(),
            challenges: challenges_from_headers(resp.headers()),
            nonce: resp
                .headers()
                .get("dpop-nonce")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: resp.text().await.unwrap(),
        }
    }

    /// GET /me with `DPoP <token>` and the given proofs.
    async fn dpop(&self, token: &str, proofs: &[HeaderValue]) -> Reply {
        self.send("GET", "/me", &format!("DPoP {token}"), proofs)
            .await
    }
}

fn app(server: ResourceServer) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/items", post(me))
        .with_state(server)
}

#[derive(Debug)]
struct Reply {
    status: u16,
    challenges: Vec<Challenge>,
    nonce: Option<String>,
    body: String,
}

impl Reply {
    fn challenge(&self, scheme: &str) -> &Challenge {
        self.challenges
            .iter()
            .find(|c| c.is_scheme(scheme))
            .unwrap_or_else(|| panic!("no {scheme} challenge in {self:?}"))
    }

    /// The body of an accepted request.
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        serde_json::from_str(&self.body).unwrap()
    }

    /// A 401 whose DPoP challenge carries `error`.
    fn assert_dpop_error(&self, error: &str, why: &str) {
        assert_eq!(self.status, 401, "{why}: {self:?}");
        let c = self.challenge("DPoP");
        assert_eq!(c.error(), Some(error), "{why}: {self:?}");
        assert_eq!(c.param("algs"), Some("ES256 EdDSA"), "{why}");
        assert_eq!(
            self.challenge("Bearer").error(),
            None,
            "{why}: the error is the DPoP challenge's"
        );
    }
}

#[tokio::test]
async fn a_bound_token_with_its_proof_is_accepted_and_says_so() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    for _ in 0..2 {
        // A fresh proof per request: the second is not a replay.
        let r = api.dpop(&t, &[api.proof(&p, "GET", "/me", &t)]).await;
        let v = r.json();
        assert_eq!(v["sub"], "alice");
        assert_eq!(v["dpop"], true);
        assert_eq!(v["jkt"], p.thumbprint());
    }
    // The scheme name is case-insensitive, and the query is not part of `htu`.
    let proof = api.proof(&p, "GET", "/me", &t);
    let r = api
        .send("GET", "/me?page=2", &format!("dpop {t}"), &[proof])
        .await;
    assert_eq!(r.json()["dpop"], true);
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let r = api.dpop(&t, &[api.proof(&p, "GET", "/items", &t)]).await;
    r.assert_dpop_error("invalid_dpop_proof", "proof for /items used on /me");
    let r = api.dpop(&t, &[api.proof(&p, "POST", "/me", &t)]).await;
    r.assert_dpop_error("invalid_dpop_proof", "POST proof used for GET");
    // Another origin with the same path: the server checks against its public URL.
    let elsewhere = Url::parse("https://api.example/me").unwrap();
    let proof = p
        .proof(
            "GET",
            &elsewhere,
            Some(&t),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    api.dpop(&t, &[proof])
        .await
        .assert_dpop_error("invalid_dpop_proof", "proof for another origin");
    // The same token and key, with the right method and URL, pass.
    let proof = api.proof(&p, "POST", "/items", &t);
    let r = api
        .send("POST", "/items", &format!("DPoP {t}"), &[proof])
        .await;
    assert_eq!(r.json()["dpop"], true);
}

#[tokio::test]
async fn a_proof_whose_iat_is_too_old_or_ahead_is_refused() {
    let api = Api::start(|c| c.proof_window(Duration::from_secs(60), Duration::from_secs(5))).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    for (skew, ok) in [(-120i64, false), (-30, true), (60, false), (2, true)] {
        let at = if skew < 0 {
            SystemTime::now() - Duration::from_secs(skew.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(skew.unsigned_abs())
        };
        let proof = p
            .proof("GET", &api.url("/me"), Some(&t), None, at, &mut OsRandom)
            .unwrap();
        let r = api.dpop(&t, &[proof]).await;
        if ok {
            assert_eq!(r.status, 200, "iat {skew:+} s: {r:?}");
        } else {
            r.assert_dpop_error("invalid_dpop_proof", &format!("iat {skew:+} s"));
        }
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let proof = api.proof(&p, "GET", "/me", &t);
    assert_eq!(api.dpop(&t, std::slice::from_ref(&proof)).await.status, 200);
    let r = api.dpop(&t, &[proof]).await;
    r.assert_dpop_error("invalid_dpop_proof", "the same proof twice");
    assert!(
        r.challenge("DPoP")
            .error_description()
            .unwrap()
            .contains("already used"),
        "{r:?}"
    );
}

#[tokio::test]
async fn concurrent_replays_of_one_proof_admit_exactly_one() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let proof = api.proof(&p, "GET", "/me", &t);
    let proofs = [proof];
    let replies = futures_util::future::join_all((0..16).map(|_| api.dpop(&t, &proofs))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{replies:?}");
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    // Even with a valid proof alongside (RFC 9449 §7.2).
    let proof = api.proof(&p, "GET", "/me", &t);
    let r = api
        .send("GET", "/me", &format!("Bearer {t}"), &[proof])
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let bearer = r.challenge("Bearer");
    assert_eq!(bearer.error(), Some("invalid_token"), "{r:?}");
    assert_eq!(bearer.realm(), Some("demo"));
    assert!(bearer.error_description().unwrap().contains("DPoP-bound"));
    assert_eq!(r.challenge("DPoP").error(), None, "{r:?}");
    // An unbound token is a bearer token, here as before.
    let plain = token(&api.enc, None);
    let r = api
        .send("GET", "/me", &format!("Bearer {plain}"), &[])
        .await;
    let v = r.json();
    assert_eq!(
        (v["dpop"].clone(), v["jkt"].clone()),
        (json!(false), Value::Null)
    );
}

#[tokio::test]
async fn a_bearer_token_presented_with_the_dpop_scheme_is_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let plain = token(&api.enc, None);
    let r = api
        .dpop(&plain, &[api.proof(&p, "GET", "/me", &plain)])
        .await;
    r.assert_dpop_error("invalid_token", "an unbound token with a valid proof");
}

#[tokio::test]
async fn a_proof_with_a_wrong_or_missing_ath_is_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let other = token(&api.enc, Some(p.thumbprint()));
    assert_ne!(t, other);
    let r = api.dpop(&t, &[api.proof(&p, "GET", "/me", &other)]).await;
    r.assert_dpop_error("invalid_dpop_proof", "ath of another token");
    let no_ath = p
        .proof(
            "GET",
            &api.url("/me"),
            None,
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    let r = api.dpop(&t, &[no_ath]).await;
    r.assert_dpop_error("invalid_dpop_proof", "no ath");
    assert_eq!(
        api.dpop(&t, &[api.proof(&p, "GET", "/me", &t)])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_proof_by_another_key_than_cnf_jkt_is_refused() {
    let api = Api::start(|c| c).await;
    let (holder, thief) = (prover(), prover());
    let t = token(&api.enc, Some(holder.thumbprint()));
    let r = api.dpop(&t, &[api.proof(&thief, "GET", "/me", &t)]).await;
    // RFC 9449 §7.1's own example: a key binding mismatch is `invalid_token`.
    r.assert_dpop_error("invalid_token", "proof by a key the token is not bound to");
    // An EdDSA holder key passes too.
    let ed = DpopProver::new(SigningKey::generate(JwsAlgorithm::EdDSA).unwrap());
    let t = token(&api.enc, Some(ed.thumbprint()));
    assert_eq!(
        api.dpop(&t, &[api.proof(&ed, "GET", "/me", &t)])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_missing_proof_or_two_proofs_are_refused() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    api.dpop(&t, &[])
        .await
        .assert_dpop_error("invalid_dpop_proof", "no DPoP header");
    let two = [
        api.proof(&p, "GET", "/me", &t),
        api.proof(&p, "GET", "/me", &t),
    ];
    api.dpop(&t, &two)
        .await
        .assert_dpop_error("invalid_dpop_proof", "two DPoP headers");
    api.dpop(&t, &[HeaderValue::from_static("not.a.jws")])
        .await
        .assert_dpop_error("invalid_dpop_proof", "garbage proof");
    // Either of the two alone passes: it was the count that failed.
    assert_eq!(api.dpop(&t, &two[1..]).await.status, 200);
}

#[tokio::test]
async fn a_required_nonce_is_asked_for_then_accepted() {
    let nonces = DpopNonces::random(Duration::from_secs(300), &mut OsRandom);
    let api = Api::start(|c| c.nonces(nonces)).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let r = api.dpop(&t, &[api.proof(&p, "GET", "/me", &t)]).await;
    r.assert_dpop_error("use_dpop_nonce", "no nonce");
    let nonce = r.nonce.clone().expect("a DPoP-Nonce with use_dpop_nonce");
    // A nonce this server never made is no better.
    let foreign =
        DpopNonces::random(Duration::from_secs(300), &mut OsRandom).current(SystemTime::now());
    let stale = p
        .proof(
            "GET",
            &api.url("/me"),
            Some(&t),
            Some(&foreign),
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    api.dpop(&t, &[stale])
        .await
        .assert_dpop_error("use_dpop_nonce", "a foreign nonce");
    let with_nonce = p
        .proof(
            "GET",
            &api.url("/me"),
            Some(&t),
            Some(&nonce),
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    let r = api.dpop(&t, &[with_nonce]).await;
    assert_eq!(r.json()["dpop"], true);
    // Other refusals carry a fresh nonce too.
    let r = api.send("GET", "/me", "Bearer nope", &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.nonce.is_some(), "{r:?}");
}

#[tokio::test]
async fn a_missing_token_gets_both_challenges_and_bearer_tokens_still_work() {
    let api = Api::start(|c| c).await;
    let r = api.client.get(api.url("/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let fields: Vec<_> = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        [
            r#"Bearer realm="demo""#,
            r#"DPoP algs="ES256 EdDSA", realm="demo""#
        ]
    );
    assert!(
        r.headers().get("dpop-nonce").is_none(),
        "no nonces configured"
    );
    let plain = token(&api.enc, None);
    let r = api
        .send("GET", "/me", &format!("Bearer {plain}"), &[])
        .await;
    assert_eq!(r.json()["dpop"], false);
}

#[tokio::test]
async fn a_dpop_only_server_refuses_the_bearer_scheme() {
    let api = Api::start(DpopConfig::dpop_only).await;
    let plain = token(&api.enc, None);
    let r = api
        .send("GET", "/me", &format!("Bearer {plain}"), &[])
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.challenges.len(), 1, "{r:?}");
    assert!(r.challenges[0].is_scheme("DPoP"), "{r:?}");
    assert_eq!(r.challenges[0].error(), None);
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    assert_eq!(
        api.dpop(&t, &[api.proof(&p, "GET", "/me", &t)])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_server_without_dpop_treats_the_scheme_as_unknown_and_still_refuses_bound_tokens() {
    let (jwks, enc) = issuer_keys();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
        .jwks(jwks)
        .build();
    tokio::spawn(async move { axum::serve(l, app(server)).await });
    let http = reqwest::Client::new();
    let p = prover();
    let t = token(&enc, Some(p.thumbprint()));
    let r = http
        .get(format!("{base}/me"))
        .header("authorization", format!("DPoP {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], r#"Bearer realm="api""#);
    let r = http
        .get(format!("{base}/me"))
        .header("authorization", format!("Bearer {t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let c = challenges_from_headers(r.headers());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].error(), Some("invalid_token"));
    let plain = token(&enc, None);
    let r = http
        .get(format!("{base}/me"))
        .header("authorization", format!("Bearer {plain}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// An introspection endpoint that knows two opaque tokens: one bound to `jkt`, one not.
async fn introspection(jkt: String) -> String {
    async fn introspect(
        axum::extract::State(jkt): axum::extract::State<String>,
        body: String,
    ) -> axum::Json<Value> {
        let token = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        axum::Json(match token.as_str() {
            "opaque-bound" => {
                json!({"active": true, "sub": "bob", "scope": "api:read", "aud": AUD, "cnf": {"jkt": jkt}})
            }
            "opaque-plain" => json!({"active": true, "sub": "carol", "scope": "api:read"}),
            _ => json!({"active": false}),
        })
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", l.local_addr().unwrap());
    let app = Router::new()
        .route("/introspect", post(introspect))
        .with_state(jkt);
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test]
async fn introspected_tokens_are_bound_by_their_cnf_too() {
    let p = prover();
    let endpoint = introspection(p.thumbprint().to_owned()).await;
    let client = OAuthClient::builder(Credentials::secret_basic(
        ClientId::new("rs").unwrap(),
        ClientSecret::new("pw").unwrap(),
    ))
    .introspection_endpoint(EndpointUrl::new(&endpoint).unwrap())
    .build()
    .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let server = ResourceServer::builder(IssuerUrl::new(ISS).unwrap(), AUD)
        .introspection(client)
        .dpop(DpopConfig::new(&base).unwrap())
        .build();
    tokio::spawn(async move { axum::serve(l, app(server)).await });
    let api = Api {
        base,
        enc: issuer_keys().1,
        client: reqwest::Client::new(),
    };
    let r = api
        .dpop(
            "opaque-bound",
            &[api.proof(&p, "GET", "/me", "opaque-bound")],
        )
        .await;
    assert_eq!(r.json()["sub"], "bob");
    let r = api.send("GET", "/me", "Bearer opaque-bound", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.challenge("Bearer").error(), Some("invalid_token"));
    let r = api
        .dpop(
            "opaque-bound",
            &[api.proof(&prover(), "GET", "/me", "opaque-bound")],
        )
        .await;
    r.assert_dpop_error("invalid_token", "another key");
    let r = api.send("GET", "/me", "Bearer opaque-plain", &[]).await;
    assert_eq!(r.json()["sub"], "carol");
}

/// A replay cache whose backend is down.
struct Broken;

impl ReplayCache for Broken {
    fn check_and_insert<'a>(
        &'a self,
        _id: &'a ProofId,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, ReplayError>> {
        Box::pin(async { Err(ReplayError::Backend("down".into())) })
    }
}

#[tokio::test]
async fn a_proof_that_cannot_be_checked_for_replay_is_not_accepted() {
    let api = Api::start(|c| c.replay_cache(Broken)).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let r = api.dpop(&t, &[api.proof(&p, "GET", "/me", &t)]).await;
    assert_eq!(r.status, 503, "{r:?}");
    // Bearer tokens do not touch the replay cache.
    let plain = token(&api.enc, None);
    let r = api
        .send("GET", "/me", &format!("Bearer {plain}"), &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn refusals_never_show_the_token_or_the_proof() {
    let api = Api::start(|c| c).await;
    let p = prover();
    let t = token(&api.enc, Some(p.thumbprint()));
    let proof = api.proof(&p, "GET", "/items", &t);
    let r = api.dpop(&t, std::slice::from_ref(&proof)).await;
    assert_eq!(r.status, 401);
    let text = format!("{r:?}");
    let sig = t.rsplit('.').next().unwrap();
    let proof_sig = proof.to_str().unwrap().rsplit('.').next().unwrap();
    assert!(!text.contains(sig) && !text.contains(proof_sig), "{text}");
}

/// A session whose tokens are bound to `prover`; each refresh mints a new bound token and
/// counts itself (the resource server refuses nothing but bad proofs and stale tokens).
struct BoundSession {
    enc: EncodingKey,
    prover: DpopProver,
    refreshes: std::sync::Arc<AtomicUsize>,
}

impl authflow::session::TokenProvider for BoundSession {
    fn fetch<'a>(
        &'a self,
        _current: Option<&'a authflow::session::TokenSet>,
    ) -> BoxFuture<'a, Result<authflow::session::TokenSet, authflow::session::SessionError>> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let set = bound_set(&self.enc, &self.prover, None);
        Box::pin(async move { Ok(set) })
    }
}

/// A DPoP token set for `prover`; `sub` other than alice makes the handler's token stale.
fn bound_set(
    enc: &EncodingKey,
    prover: &DpopProver,
    token: Option<String>,
) -> authflow::session::TokenSet {
    let token = token.unwrap_or_else(|| self::token(enc, Some(prover.thumbprint())));
    let mut set =
        authflow::session::TokenSet::new(authflow::types::AccessToken::new(token).unwrap())
            .with_expiry(Some(SystemTime::now() + Duration::from_secs(300)))
            .with_dpop(Some(prover.clone()));
    set.token_type = "DPoP".into();
    set
}

fn bound_source(
    api: &Api,
    initial: authflow::session::TokenSet,
    prover: &DpopProver,
) -> (authflow::session::TokenSource, std::sync::Arc<AtomicUsize>) {
    let refreshes = std::sync::Arc::new(AtomicUsize::new(0));
    let source = authflow::session::TokenSource::builder()
        .initial(initial)
        .provider(BoundSession {
            enc: api.enc.clone(),
            prover: prover.clone(),
            refreshes: refreshes.clone(),
        })
        .build();
    (source, refreshes)
}

/// The library's own client side against its own resource side: `AuthorizedClient`
/// (`send` and `execute`) and `BearerMiddleware` send `DPoP` with a fresh proof per
/// request, follow the server's nonce with one retry, and refresh once when the token is
/// refused.
#[tokio::test]
async fn authorized_client_and_middleware_prove_possession_follow_nonces_and_refresh() {
    let nonces = DpopNonces::new(b"resource nonce secret", Duration::from_secs(300));
    let api = Api::start(|c| c.nonces(nonces)).await;
    let p = prover();
    let (source, refreshes) = bound_source(&api, bound_set(&api.enc, &p, None), &p);
    let http = authflow::client::ReqwestClient::new().unwrap();
    let client = authflow::session::AuthorizedClient::new(source.clone(), http);

    // First call: no nonce yet, the server asks for one, the client retries with it.
    let req = http::Request::get(api.url("/me").as_str())
        .body(Vec::new())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 200, "{resp:?}");
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["dpop"], true);
    assert_eq!(body["jkt"], p.thumbprint());
    // Later calls (send with a body, execute) use the nonce at once; every proof is new.
    for _ in 0..3 {
        let req = http::Request::post(api.url("/items").as_str())
            .body(b"{}".to_vec())
            .unwrap();
        assert_eq!(client.send(req).await.unwrap().status(), 200);
        let req = reqwest::Request::new(reqwest::Method::GET, api.url("/me"));
        assert_eq!(client.execute(req).await.unwrap().status(), 200);
    }
    assert_eq!(
        refreshes.load(Ordering::SeqCst),
        0,
        "nothing to refresh yet"
    );

    // The middleware, on the same source, keeps its own nonce.
    let mw = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(authflow::session::BearerMiddleware::new(source))
        .build();
    let resp = mw.get(api.url("/me")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        serde_json::from_str::<Value>(&resp.text().await.unwrap()).unwrap()["dpop"],
        true
    );

    // A token the server no longer accepts (bound to another key): one refresh, one retry.
    let stale = token(&api.enc, Some(prover().thumbprint()));
    let (source, refreshes) = bound_source(&api, bound_set(&api.enc, &p, Some(stale)), &p);
    let http = authflow::client::ReqwestClient::new().unwrap();
    let client = authflow::session::AuthorizedClient::new(source, http);
    let req = http::Request::get(api.url("/me").as_str())
        .body(Vec::new())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 200, "{resp:?}");
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
}

/// A key the server never accepts: still refused after the one refresh, as a typed error
/// that names the DPoP challenge, and the proof never reaches the error's text.
#[tokio::test]
async fn authorized_client_gives_up_after_one_refresh() {
    let api = Api::start(|c| c).await;
    let p = prover();
    // Every token (also the refreshed one) is bound to a key the client does not hold.
    let other = prover();
    let set = bound_set(
        &api.enc,
        &p,
        Some(token(&api.enc, Some(other.thumbprint()))),
    );
    let refreshes = std::sync::Arc::new(AtomicUsize::new(0));
    struct Mismatched(
        EncodingKey,
        DpopProver,
        DpopProver,
        std::sync::Arc<AtomicUsize>,
    );
    impl authflow::session::TokenProvider for Mismatched {
        fn fetch<'a>(
            &'a self,
            _current: Option<&'a authflow::session::TokenSet>,
        ) -> BoxFuture<'a, Result<authflow::session::TokenSet, authflow::session::SessionError>>
        {
            self.3.fetch_add(1, Ordering::SeqCst);
            let t = token(&self.0, Some(self.2.thumbprint()));
            let set = bound_set(&self.0, &self.1, Some(t));
            Box::pin(async move { Ok(set) })
        }
    }
    let source = authflow::session::TokenSource::builder()
        .initial(set)
        .provider(Mismatched(
            api.enc.clone(),
            p.clone(),
            other,
            refreshes.clone(),
        ))
        .build();
    let client = authflow::session::AuthorizedClient::new(
        source,
        authflow::client::ReqwestClient::new().unwrap(),
    );
    let req = http::Request::get(api.url("/me").as_str())
        .body(Vec::new())
        .unwrap();
    let err = client.send(req).await.unwrap_err();
    let authflow::session::AuthorizedError::TokenRejected { challenge, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(challenge.error, "invalid_token");
    assert_eq!(refreshes.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert!(!format!("{err} {err:?}").contains("eyJ"), "{err:?}");
}

/// Found in review: a token bound to a TLS client certificate (RFC 8705), which this
/// server cannot check, passed as a plain bearer token.
#[tokio::test]
async fn a_token_bound_to_something_unchecked_is_never_a_bearer_token() {
    let api = Api::start(|c| c).await;
    for cnf in [
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({"kid": "k"}),
    ] {
        let t = token_with_cnf(&api.enc, Some(cnf.clone()));
        let r = api.send("GET", "/me", &format!("Bearer {t}"), &[]).await;
        assert_eq!(r.status, 401, "{cnf}: {r:?}");
        assert_eq!(
            r.challenge("Bearer").error(),
            Some("invalid_token"),
            "{cnf}"
        );
    }
}
