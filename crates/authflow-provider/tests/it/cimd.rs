//! Client ID metadata documents: served by a small axum server on 127.0.0.1:0, fetched by
//! the provider; and the SSRF fence when loopback is not allowed.

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{self, Server, pkce};

const REDIRECT: &str = "http://127.0.0.1:43212/cb";

/// The document server's base URL.
async fn documents() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = {
        let base = base.clone();
        move |path: &str, extra: Value| {
            let mut v = json!({
                "client_id": format!("{base}{path}"),
                "client_name": "CIMD App",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none",
            });
            if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                m.extend(e);
            }
            v
        }
    };
    let good = doc("/good.json", json!({}));
    let slow = doc("/slow.json", json!({}));
    let mismatch = doc(
        "/mismatch.json",
        json!({"client_id": "https://other.example/c.json"}),
    );
    let big = doc("/big.json", json!({"client_name": "x".repeat(6000)}));
    let app = Router::new()
        .route(
            "/good.json",
            get(move || async move {
                ([("cache-control", "max-age=600")], axum::Json(good)).into_response()
            }),
        )
        .route(
            "/slow.json",
            get(move || async move {
                tokio::time::sleep(Duration::from_secs(8)).await;
                axum::Json(slow)
            }),
        )
        .route(
            "/mismatch.json",
            get(move || async move { axum::Json(mismatch) }),
        )
        .route("/big.json", get(move || async move { axum::Json(big) }))
        .route(
            "/redirect.json",
            get(|| async { Redirect::temporary("/good.json") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    base
}

/// `/authorize` for `client_id`; the response, redirects not followed.
async fn authorize(s: &Server, client_id: &str, challenge: &str) -> reqwest::Response {
    s.authorize(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ])
    .await
}

/// An error page at the provider (never a redirect), with its text.
async fn refused(s: &Server, client_id: &str) -> String {
    let (_, challenge) = pkce();
    let resp = authorize(s, client_id, &challenge).await;
    assert!(
        resp.headers().get("location").is_none(),
        "{client_id}: no redirect to an unverified redirect_uri"
    );
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{client_id}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_client_id_url_document_is_fetched_and_its_client_logs_in() {
    let docs = documents().await;
    let s = support::start(|b| {
        b.allow_loopback_client_ids(true)
            .auto_approve(Some("alice".into()))
    })
    .await;
    let meta: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let id = format!("{docs}/good.json");
    let (verifier, challenge) = pkce();
    let resp = authorize(&s, &id, &challenge).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    let (status, _, tokens) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("code", &q["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let introspected = s.introspect(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(introspected["client_id"], id);
}

#[tokio::test]
async fn unusable_documents_get_an_error_page() {
    let docs = documents().await;
    let s = support::start(|b| b.allow_loopback_client_ids(true)).await;
    let page = refused(&s, &format!("{docs}/mismatch.json")).await;
    assert!(page.contains("fetched from"), "{page}");
    let page = refused(&s, &format!("{docs}/big.json")).await;
    assert!(page.contains("larger than 5120 bytes"), "{page}");
    let page = refused(&s, &format!("{docs}/redirect.json")).await;
    assert!(
        page.contains("HTTP 307"),
        "redirects are not followed: {page}"
    );
    let page = refused(&s, &format!("{docs}/missing.json")).await;
    assert!(page.contains("HTTP 404"), "{page}");
    let started = std::time::Instant::now();
    let page = refused(&s, &format!("{docs}/slow.json")).await;
    assert!(page.contains("did not arrive within 5 s"), "{page}");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn non_public_addresses_are_refused_without_loopback_allowed() {
    let docs = documents().await;
    let port = docs.rsplit(':').next().unwrap();
    let s = support::start(|b| b.client_id_metadata_documents(true)).await;
    for id in [
        format!("https://127.0.0.1:{port}/good.json"),
        format!("https://[::1]:{port}/good.json"),
        "https://10.0.0.1/client.json".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[fd00::1]/client.json".to_owned(),
        format!("https://localhost:{port}/good.json"),
    ] {
        let page = refused(&s, &id).await;
        assert!(page.contains("non-public address"), "{id}: {page}");
    }
    // Plain http is refused by the URL rules before any lookup.
    let page = refused(&s, &format!("{docs}/good.json")).await;
    assert!(page.contains("must use https"), "{page}");
}
