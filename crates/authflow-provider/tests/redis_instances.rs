//! Providers sharing one real `redis-server` (started here on a free 127.0.0.1 port,
//! persistence off): a restart keeps every grant, and two instances of one provider (same
//! issuer, same namespace, each its own process state and socket) redeem each other's
//! codes, refresh tokens, device codes, logins and DPoP nonces, with single use and
//! rotation atomic across them. Without `redis-server` these tests report their skip
//! (`support/skip.rs`) and pass, unless AUTHFLOW_REQUIRE_TOOLS is set.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "it/redis_server.rs"]
mod redis_server;
#[path = "support/skip.rs"]
mod skip;

use std::collections::HashMap;
use std::time::SystemTime;

use authflow::jose::{JwsAlgorithm, SigningKey as ProofKey};
use authflow::protocol::dpop::DpopProver;
use authflow::random::OsRandom;
use authflow::types::{IssuerUrl, PkceVerifier};
use authflow_provider::{Provider, RedisGrantStore};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const REDIRECT: &str = "http://127.0.0.1:43210/callback";

/// One running instance: its own provider (memory, keys parsed, caches) and socket.
struct Instance {
    base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts an instance of the provider `issuer` on `listener`, its state in the Redis
/// namespace `ns`, its keys those kept there, with `configure` applied.
async fn instance(
    listener: TcpListener,
    issuer: &str,
    ns: &str,
    configure: impl FnOnce(authflow_provider::ProviderBuilder) -> authflow_provider::ProviderBuilder,
) -> Instance {
    let url = redis_server::redis_url().unwrap();
    // A fresh connection, as a separate process would have.
    let store = RedisGrantStore::connect(&url, ns).await.unwrap();
    let builder = Provider::builder()
        .issuer(IssuerUrl::new(issuer).unwrap())
        .demo()
        .auto_approve(Some("alice".into()))
        .signing_key(store.signing_key().await.unwrap())
        .id_token_key(store.id_token_key().await.unwrap())
        .redis_store(store);
    let provider = configure(builder).build().unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let router = provider.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Instance {
        base,
        http,
        stop: Some(stop),
        task,
    }
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Two instances of one provider (the first's address is the issuer), or `None` when
/// redis-server is missing.
async fn pair(
    configure: impl Fn(authflow_provider::ProviderBuilder) -> authflow_provider::ProviderBuilder,
) -> Option<(Instance, Instance)> {
    redis_server::redis_url()?;
    let ns = redis_server::unique_namespace("pair");
    let (la, lb) = (bind().await, bind().await);
    let issuer = format!("http://{}", la.local_addr().unwrap());
    let a = instance(la, &issuer, &ns, &configure).await;
    let b = instance(lb, &issuer, &ns, &configure).await;
    Some((a, b))
}

impl Instance {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A code for the CLI client (auto-approved as alice), with its verifier.
    async fn code(&self) -> (String, String) {
        let v = PkceVerifier::generate(&mut OsRandom);
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", "authflow-cli"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid api:read offline_access"),
            ("code_challenge", &v.s256_challenge()),
            ("code_challenge_method", "S256"),
        ]);
        let resp = self.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        let loc = resp.headers()["location"].to_str().unwrap();
        let q: HashMap<String, String> = url::Url::parse(loc)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        (q["code"].clone(), v.secret().to_owned())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let (status, _, v) = self.post_with(path, form, None).await;
        (status, v)
    }

    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        dpop: Option<HeaderValue>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(p) = dpop {
            req = req.header("DPoP", p);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        (status, headers, resp.json().await.unwrap_or(Value::Null))
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "authflow-cli"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn refresh(&self, rt: &str) -> (StatusCode, Value) {
        self.post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "authflow-cli"),
                ("refresh_token", rt),
            ],
        )
        .await
    }

    /// `GET /api/me` with a bearer token: the status.
    async fn me(&self, at: &str) -> StatusCode {
        self.http
            .get(self.url("/api/me"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// The value of a hidden form field.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_issued_before_a_restart_still_works_after_it() {
    let Some(_) = redis_server::redis_url() else {
        return;
    };
    let ns = redis_server::unique_namespace("restart");
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}");
    let before = instance(listener, &issuer, &ns, |b| b).await;
    let (code, verifier) = before.code().await;
    let (status, tokens) = before.exchange(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (rt, at) = (
        text(&tokens, "refresh_token"),
        text(&tokens, "access_token"),
    );
    // A second, still unused code: it must survive too.
    let (pending_code, pending_verifier) = before.code().await;
    before.stop().await;

    // The same provider again, same address: nothing of the first process is left but
    // what Redis kept.
    let after = instance(TcpListener::bind(addr).await.unwrap(), &issuer, &ns, |b| b).await;
    assert_eq!(
        after.me(at).await,
        StatusCode::OK,
        "the same keys after the restart"
    );
    let (status, refreshed) = after.refresh(rt).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(text(&refreshed, "refresh_token"), rt, "rotated");
    assert_eq!(
        after.me(text(&refreshed, "access_token")).await,
        StatusCode::OK
    );
    let (status, v) = after.exchange(&pending_code, &pending_verifier).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // And the rotation history survived too: the pre-restart token is now a reuse.
    let (status, v) = after.refresh(rt).await;
    assert_eq!(
        (status, text(&v, "error")),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        after.me(text(&refreshed, "access_token")).await,
        StatusCode::UNAUTHORIZED,
        "the reuse revoked the grant"
    );
    after.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_redeem_each_others_codes_and_detect_refresh_reuse() {
    let Some((a, b)) = pair(|b| b).await else {
        return;
    };
    // A code from one, redeemed at the other; its tokens good at both.
    let (code, verifier) = a.code().await;
    let (status, t0) = b.exchange(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t0}");
    assert_eq!(a.me(text(&t0, "access_token")).await, StatusCode::OK);
    // Used at B: a replay at A revokes what it issued, everywhere.
    let (status, v) = a.exchange(&code, &verifier).await;
    assert_eq!(
        (status, text(&v, "error")),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        b.me(text(&t0, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );

    // A refresh token rotated at A is a reuse at B, which revokes the whole grant.
    let (code, verifier) = a.code().await;
    let (_, t1) = a.exchange(&code, &verifier).await;
    let rt1 = text(&t1, "refresh_token");
    let (status, t2) = a.refresh(rt1).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let (status, v) = b.refresh(rt1).await;
    assert_eq!(
        (status, text(&v, "error")),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert!(
        text(&v, "error_description").contains("already used"),
        "{v}"
    );
    let (status, _) = a.refresh(text(&t2, "refresh_token")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the live token went with its grant"
    );
    assert_eq!(
        a.me(text(&t2, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );

    // A token revoked at one instance is refused at the other.
    let (code, verifier) = b.code().await;
    let (_, t3) = b.exchange(&code, &verifier).await;
    let at3 = text(&t3, "access_token");
    let (status, _) = a
        .post("/revoke", &[("client_id", "authflow-cli"), ("token", at3)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(b.me(at3).await, StatusCode::UNAUTHORIZED);
    a.stop().await;
    b.stop().await;
}

/// Concurrent presentations of one code: one of them uses it, the others are replays,
/// which revoke whatever it issued (as with one instance). So at most one token response,
/// and no token from it still works anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_redeemed_at_both_instances_at_once_never_yields_a_usable_token() {
    let Some((a, b)) = pair(|b| b).await else {
        return;
    };
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    for _ in 0..5 {
        let (code, verifier) = a.code().await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let inst = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (code, verifier) = (code.clone(), verifier.clone());
            tasks.spawn(async move { inst.exchange(&code, &verifier).await });
        }
        let mut issued = Vec::new();
        while let Some(r) = tasks.join_next().await {
            let (status, v) = r.unwrap();
            if status == StatusCode::OK {
                issued.push(v);
            } else {
                assert_eq!(
                    (status, text(&v, "error")),
                    (StatusCode::BAD_REQUEST, "invalid_grant")
                );
            }
        }
        assert!(issued.len() <= 1, "a code is used once across instances");
        for v in &issued {
            let at = text(v, "access_token");
            assert_eq!(
                a.me(at).await,
                StatusCode::UNAUTHORIZED,
                "revoked by the replays"
            );
            assert_eq!(b.me(at).await, StatusCode::UNAUTHORIZED);
            let (status, _) = b.refresh(text(v, "refresh_token")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_codes_logins_and_dpop_state_are_shared() {
    let Some((a, b)) = pair(|b| b.dpop_nonce(true).auto_approve(None)).await else {
        return;
    };
    // Device authorization at A, the user's approval at B, the poll at A.
    let (status, d) = a
        .post(
            "/device_authorization",
            &[("client_id", "authflow-cli"), ("scope", "api:read")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let device_code = text(&d, "device_code");
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "authflow-cli"),
        ("device_code", device_code),
    ];
    let (_, v) = a.post("/token", &poll).await;
    assert_eq!(text(&v, "error"), "authorization_pending");
    let page = b.http.get(b.url("/device")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    // The login starts at B and is finished at A: the login in progress is shared.
    let login = b
        .http
        .post(b.url("/device"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("user_code", text(&d, "user_code")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let login_cookie = login.headers()["set-cookie"].to_str().unwrap();
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let html = login.text().await.unwrap();
    let (pending, login_csrf) = (hidden(&html, "pending"), hidden(&html, "csrf"));
    let form = |extra: (&'static str, &'static str)| {
        vec![
            ("pending", pending.clone()),
            ("csrf", login_csrf.clone()),
            (extra.0, extra.1.to_owned()),
        ]
    };
    let mut signin = form(("username", "alice"));
    signin.push(("password", "alice-password".into()));
    let resp = a
        .http
        .post(a.url("/authorize/login"))
        .header("cookie", &login_cookie)
        .form(&signin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "signed in at the other instance"
    );
    assert!(
        resp.text().await.unwrap().contains("api:read"),
        "the consent page"
    );
    let resp = b
        .http
        .post(b.url("/authorize/consent"))
        .header("cookie", &login_cookie)
        .form(&form(("decision", "allow")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, t) = a.post("/token", &poll).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let (_, v) = b.post("/token", &poll).await;
    assert_eq!(
        text(&v, "error"),
        "invalid_grant",
        "the device code is spent everywhere"
    );

    // A DPoP nonce from A is good at B (one shared secret), and a proof used at B is a
    // replay at A. Proofs name the issuer's token endpoint, whichever instance serves it.
    let prover = DpopProver::new(ProofKey::generate(JwsAlgorithm::ES256).unwrap());
    let htu = url::Url::parse(&format!("{}/token", a.base)).unwrap();
    let proof = |nonce: Option<&str>| {
        prover
            .proof("POST", &htu, None, nonce, SystemTime::now(), &mut OsRandom)
            .unwrap()
    };
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", "authflow-cli"),
        ("refresh_token", text(&t, "refresh_token")),
    ];
    let (status, headers, v) = a.post_with("/token", &refresh, Some(proof(None))).await;
    assert_eq!(
        (status, text(&v, "error")),
        (StatusCode::BAD_REQUEST, "use_dpop_nonce")
    );
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let used = proof(Some(&nonce));
    let (status, _, v) = b.post_with("/token", &refresh, Some(used.clone())).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _, v) = a.post_with("/token", &refresh, Some(used)).await;
    assert_eq!(
        (status, text(&v, "error")),
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof")
    );
    a.stop().await;
    b.stop().await;
}
