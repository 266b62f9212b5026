//! The device grant's polling against a real server on 127.0.0.1:0 that answers
//! `authorization_pending`, `slow_down`, then tokens (or `access_denied`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use authflow::client::{Endpoints, OAuthClient};
use authflow::protocol::Credentials;
use authflow::types::{ClientId, EndpointUrl};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::{Value, json};

#[derive(Clone)]
struct S {
    polls: Arc<AtomicUsize>,
    script: &'static [&'static str],
    times: Arc<std::sync::Mutex<Vec<Instant>>>,
}

async fn start(script: &'static [&'static str]) -> (OAuthClient, S) {
    let s = S {
        polls: Arc::new(AtomicUsize::new(0)),
        script,
        times: Arc::new(std::sync::Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route(
            "/device",
            post(|| async {
                Json(json!({"device_code":"dc-1","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device","expires_in":60,"interval":1}))
            }),
        )
        .route(
            "/token",
            post(|State(s): State<S>, Form(f): Form<Vec<(String, String)>>| async move {
                assert!(f.contains(&("grant_type".into(), "urn:ietf:params:oauth:grant-type:device_code".into())));
                assert!(f.contains(&("device_code".into(), "dc-1".into())));
                s.times.lock().unwrap().push(Instant::now());
                let n = s.polls.fetch_add(1, Ordering::SeqCst);
                match s.script.get(n).copied().unwrap_or("ok") {
                    "ok" => (StatusCode::OK, Json(json!({"access_token":"at","token_type":"Bearer","expires_in":60}))),
                    err => (StatusCode::BAD_REQUEST, Json::<Value>(json!({"error": err}))),
                }
            }),
        )
        .with_state(s.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let mut e = Endpoints::default();
    e.token = Some(EndpointUrl::new(&format!("{base}/token")).unwrap());
    e.device_authorization = Some(EndpointUrl::new(&format!("{base}/device")).unwrap());
    let client = OAuthClient::builder(Credentials::public(ClientId::new("tv").unwrap()))
        .endpoints(e)
        .build()
        .unwrap();
    (client, s)
}

#[tokio::test]
async fn polls_through_pending_until_tokens() {
    let (client, s) = start(&["authorization_pending", "authorization_pending"]).await;
    let mut d = client.device_authorization(None).await.unwrap();
    assert_eq!(d.user_code, "ABCD-EFGH");
    assert_eq!(d.interval, Duration::from_secs(1));
    d.interval = Duration::from_millis(50);
    let t = client.poll_device_token(&d).await.unwrap();
    assert_eq!(t.access_token.secret(), "at");
    assert_eq!(s.polls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn slow_down_adds_five_seconds() {
    let (client, s) = start(&["slow_down"]).await;
    let mut d = client.device_authorization(None).await.unwrap();
    d.interval = Duration::from_millis(50);
    let started = Instant::now();
    client.poll_device_token(&d).await.unwrap();
    let times = s.times.lock().unwrap().clone();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_secs(5),
        "{:?}",
        times[1] - times[0]
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn access_denied_and_expired_token_end_the_flow() {
    for code in ["access_denied", "expired_token"] {
        let script: &'static [&'static str] = if code == "access_denied" {
            &["authorization_pending", "access_denied"]
        } else {
            &["expired_token"]
        };
        let (client, _) = start(script).await;
        let mut d = client.device_authorization(None).await.unwrap();
        d.interval = Duration::from_millis(20);
        let e = client.poll_device_token(&d).await.unwrap_err();
        assert_eq!(e.oauth().unwrap().error, code);
    }
}
