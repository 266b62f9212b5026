//! `authflow doctor` against the embedded provider (healthy) and against a server whose
//! metadata breaks RFC 9700 (implicit and password grants, plain http, no PKCE, an open
//! redirector).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

use authflow::types::IssuerUrl;
use authflow_provider::Provider;
use axum::Router;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde_json::json;

fn spawn(app: impl FnOnce(String) -> Router + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", l.local_addr().unwrap());
            let router = app(base.clone());
            tx.send(base).unwrap();
            axum::serve(l, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn doctor(issuer: &str) -> (i32, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_authflow"))
        .args(["doctor", "--json", issuer])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap_or(-1), v)
}

fn level(report: &serde_json::Value, check: &str) -> String {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| f["level"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_embedded_provider_is_healthy() {
    let issuer = spawn(|base| {
        Provider::builder()
            .demo()
            .issuer(IssuerUrl::new(&base).unwrap())
            .build()
            .unwrap()
            .router()
    });
    let (code, report) = doctor(&issuer);
    assert_eq!(code, 0, "{report}");
    for check in [
        "pkce",
        "iss",
        "implicit",
        "password",
        "https",
        "jwks",
        "open redirect",
        "token errors",
    ] {
        assert_eq!(level(&report, check), "ok", "{check}: {report}");
    }
}

#[test]
fn a_provider_breaking_rfc_9700_fails() {
    let issuer = spawn(|base| {
        let meta = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "revocation_endpoint": "http://as.example/revoke",
            "response_types_supported": ["code", "token"],
            "grant_types_supported": ["authorization_code", "implicit", "password"],
            "code_challenge_methods_supported": ["plain"],
        });
        Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || {
                    let m = meta.clone();
                    async move { axum::Json(m) }
                }),
            )
            // An open redirector: any client, any redirect_uri.
            .route(
                "/authorize",
                get(|q: axum::extract::RawQuery| async move {
                    let q = q.0.unwrap_or_default();
                    let to = url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "redirect_uri")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    Redirect::to(&format!("{to}?code=x")).into_response()
                }),
            )
    });
    let (code, report) = doctor(&issuer);
    assert_eq!(code, 1, "{report}");
    for check in ["implicit", "password", "pkce", "open redirect", "https"] {
        assert_eq!(
            level(&report, check).split(',').next_back().unwrap(),
            "FAIL",
            "{check}: {report}"
        );
    }
}
