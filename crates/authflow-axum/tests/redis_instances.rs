//! Two instances of one application sharing a real `redis-server` (feature `redis`): each
//! with its own `Auth`, Redis connections, token-source cache and HTTP server, nothing
//! shared in memory. The Redis server (`authflow_testkit::redis`) runs on a free port of
//! 127.0.0.1 with persistence off; without `redis-server` these tests say why and pass,
//! unless AUTHFLOW_REQUIRE_TOOLS is set.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/skip.rs"]
mod skip;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri};
use authflow_axum::{Auth, RedisSessionStore};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use support::{Browser, Options, Setup, app_router, location, provider};
use tokio::net::TcpListener;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use url::Url;

/// The server's port, or `None` (the running test's skip reported) when redis-server is
/// not installed.
fn redis_port() -> Option<u16> {
    authflow_testkit::redis::shared(skip::skip).map(|r| r.port())
}

/// A fresh namespace, so that tests running at once do not share keys.
fn namespace() -> String {
    authflow_testkit::unique_name("test")
}

fn redis_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// What the provider's token endpoint saw.
#[derive(Clone, Default)]
struct Counts {
    refreshes: Arc<AtomicUsize>,
    refused_refreshes: Arc<AtomicUsize>,
    revocations: Arc<AtomicUsize>,
}

async fn count(State(c): State<Counts>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let refresh = parts.uri.path() == "/token"
        && String::from_utf8_lossy(&bytes).contains("grant_type=refresh_token");
    if parts.uri.path() == "/revoke" {
        c.revocations.fetch_add(1, Ordering::SeqCst);
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if refresh {
        c.refreshes.fetch_add(1, Ordering::SeqCst);
        if !resp.status().is_success() {
            c.refused_refreshes.fetch_add(1, Ordering::SeqCst);
        }
    }
    resp
}

/// The provider, and instances A and B of one application behind one public origin
/// (A's: the redirect URI), each its own `Auth` on its own Redis connection.
struct Cluster {
    a: Setup,
    b: Setup,
    counts: Counts,
    port: u16,
    namespace: String,
}

async fn cluster(access_ttl: Duration) -> Option<Cluster> {
    let port = redis_port()?;
    let namespace = namespace();
    let provider_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "http://127.0.0.1:{}",
        provider_listener.local_addr().unwrap().port()
    );
    let listener_a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener_b = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_a = format!(
        "http://127.0.0.1:{}",
        listener_a.local_addr().unwrap().port()
    );
    let app_b = format!(
        "http://127.0.0.1:{}",
        listener_b.local_addr().unwrap().port()
    );
    let redirect = format!("{app_a}/callback");

    let counts = Counts::default();
    let opts = Options {
        access_ttl,
        ..Options::default()
    };
    let router = provider(&issuer, &redirect, &opts)
        .router()
        .layer(middleware::from_fn_with_state(counts.clone(), count));
    tokio::spawn(async move { axum::serve(provider_listener, router).await.unwrap() });

    let mut setups = Vec::new();
    for (listener, app) in [(listener_a, app_a), (listener_b, app_b)] {
        let store = RedisSessionStore::connect(&redis_url(port), &namespace)
            .await
            .unwrap();
        let auth = Auth::builder(
            IssuerUrl::new(&issuer).unwrap(),
            ClientId::new("webapp").unwrap(),
            ClientSecret::new("webapp-secret").unwrap(),
            RedirectUri::new(&redirect).unwrap(),
        )
        .redis(store)
        .build()
        .await
        .unwrap();
        let router = app_router(&auth, &issuer);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        setups.push(Setup {
            issuer: Url::parse(&issuer).unwrap(),
            app: Url::parse(&app).unwrap(),
            auth,
        });
    }
    let b = setups.pop().unwrap();
    let a = setups.pop().unwrap();
    Some(Cluster {
        a,
        b,
        counts,
        port,
        namespace,
    })
}

impl Cluster {
    async fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(redis_url(self.port)).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg(format!("*{}*", self.namespace))
            .query_async(&mut conn)
            .await
            .unwrap()
    }
}

async fn body(b: &Browser, s: &Setup, path: &str) -> String {
    b.get(s.app.join(path).unwrap().as_str())
        .await
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_sessions_refresh_once_and_sign_out_together() {
    let Some(c) = cluster(Duration::from_secs(5)).await else {
        return;
    };
    let browser = Browser::new();
    // Sign in through A.
    let page = browser.sign_in(&c.a).await;
    assert!(page.contains("signed in as alice"), "{page}");
    let sid = browser.cookie(&c.a, authflow_axum::SESSION_COOKIE).unwrap();
    let token = body(&browser, &c.a, "/test/access-token").await;

    // B knows the session (the cookie of the host goes to both ports).
    assert_eq!(browser.whoami(&c.b).await, "alice");
    assert!(body(&browser, &c.b, "/me").await.starts_with("200 "));
    assert_eq!(body(&browser, &c.b, "/test/access-token").await, token);

    // Neither the session id, nor a token, nor the session id's text is in a key.
    let keys = c.keys().await;
    assert!(keys.len() >= 3, "{keys:?}");
    for k in &keys {
        assert!(!k.contains(&sid) && !k.contains(&token), "{k}");
    }

    // Past expiry, both instances hold a stale token in memory; requests spread over
    // both: one refresh at the provider, none refused (reuse would revoke the grant).
    assert_eq!(c.counts.refreshes.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(5300)).await;
    let started = Instant::now();
    let mut calls = Vec::new();
    for i in 0..24 {
        let s = if i % 2 == 0 { &c.a } else { &c.b };
        let url = s.app.join("/me").unwrap();
        let http = browser.http.clone();
        calls.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().text().await.unwrap()
        }));
    }
    for call in calls {
        let got = call.await.unwrap();
        assert!(got.starts_with("200 "), "{got}");
    }
    eprintln!("24 requests over two instances: {:?}", started.elapsed());
    assert_eq!(
        c.counts.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh at the provider"
    );
    assert_eq!(c.counts.refused_refreshes.load(Ordering::SeqCst), 0);
    let fresh_a = body(&browser, &c.a, "/test/access-token").await;
    let fresh_b = body(&browser, &c.b, "/test/access-token").await;
    assert_ne!(fresh_a, token, "a new access token");
    assert_eq!(fresh_a, fresh_b, "the rotated set is shared");
    // The grant is alive: the new token works at the API.
    let api = c.a.issuer.join("/api/me").unwrap();
    let direct = reqwest::Client::new();
    let status = direct
        .get(api.clone())
        .bearer_auth(&fresh_a)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    // Sign out on B: the session ends on A too, and the grant is revoked.
    let csrf = browser.csrf(&c.b).await;
    let resp = browser
        .http
        .post(c.b.app.join("/logout").unwrap())
        .header("origin", c.a.app.origin().ascii_serialization())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/");
    assert!(c.counts.revocations.load(Ordering::SeqCst) >= 1);
    let replay = Browser::new();
    replay
        .jar
        .add_cookie_str(&format!("authflow_session={sid}"), &c.a.app);
    assert_eq!(replay.whoami(&c.a).await, "anonymous");
    assert_eq!(replay.whoami(&c.b).await, "anonymous");
    assert_eq!(browser.whoami(&c.a).await, "anonymous");
    let status = direct
        .get(api)
        .bearer_auth(&fresh_a)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "revoked");
    let left: Vec<_> = c
        .keys()
        .await
        .into_iter()
        .filter(|k| k.ends_with(":tokens") || k.contains(":session:"))
        .collect();
    assert!(left.is_empty(), "tokens and session gone: {left:?}");
}

#[tokio::test]
async fn a_sign_in_started_on_one_instance_finishes_on_the_other() {
    let Some(c) = cluster(Duration::from_secs(3600)).await else {
        return;
    };
    let browser = Browser::new();
    // /login on B; the provider sends the browser back to the public callback, here A.
    let mut cb = c.b.app.join("/login?return_to=%2Fme").unwrap();
    for _ in 0..5 {
        let resp = browser.get(cb.as_str()).await;
        assert!(resp.status().is_redirection(), "{cb}: {}", resp.status());
        cb = cb.join(location(&resp)).unwrap();
        if cb.path() == "/callback" {
            break;
        }
    }
    assert_eq!(cb.origin(), c.a.app.origin(), "{cb}");
    let resp = browser.get(cb.as_str()).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/me");
    assert_eq!(browser.whoami(&c.b).await, "alice");
    // A callback is single-use across instances too.
    assert_eq!(browser.get(cb.as_str()).await.status(), 400);
}

#[tokio::test]
async fn the_session_store_creates_saves_loads_deletes_and_expires() {
    let Some(port) = redis_port() else {
        return;
    };
    let store = RedisSessionStore::connect(&redis_url(port), &namespace())
        .await
        .unwrap();
    let debug = format!("{store:?}");
    assert!(
        !debug.contains("redis://") && !debug.contains(&port.to_string()),
        "{debug}"
    );
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::seconds(60);
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: expiry,
    };
    record.data.insert("k".into(), serde_json::json!("v1"));
    store.create(&mut record).await.unwrap();
    let loaded = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(loaded.data["k"], "v1");
    assert!((loaded.expiry_date - expiry).abs() < time::Duration::milliseconds(2));

    // create never overwrites: a taken id gets a new one.
    let mut clash = Record {
        id: record.id,
        data: Default::default(),
        expiry_date: expiry,
    };
    store.create(&mut clash).await.unwrap();
    assert_ne!(clash.id, record.id);
    assert_eq!(
        store.load(&record.id).await.unwrap().unwrap().data["k"],
        "v1"
    );

    record.data.insert("k".into(), serde_json::json!("v2"));
    store.save(&record).await.unwrap();
    assert_eq!(
        store.load(&record.id).await.unwrap().unwrap().data["k"],
        "v2"
    );
    store.delete(&record.id).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
    // save does not bring a deleted session back.
    store.save(&record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());

    // Records expire in Redis.
    let mut short = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300),
    };
    store.create(&mut short).await.unwrap();
    assert!(store.load(&short.id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.load(&short.id).await.unwrap().is_none());
}

#[tokio::test]
async fn setup_errors_never_show_the_url() {
    let err = RedisSessionStore::connect("redis://:hunter2@127.0.0.1:1/", "ns")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = RedisSessionStore::connect("nope://:hunter2@x/", "ns")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    for bad in ["", "a{b}", "white space", "new\nline"] {
        assert!(
            RedisSessionStore::connect("redis://127.0.0.1:1/", bad)
                .await
                .is_err()
        );
    }
}
