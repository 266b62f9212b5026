//! Requests to loopback hosts bypass a proxy from the environment: a proxy would reach its
//! own loopback, and a bearer token sent there over plain http would leave the machine.
//!
//! The environment is process-wide, so the check runs in a child process of this test
//! binary with `HTTP_PROXY` set (no `set_var` in a threaded test harness).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authflow::client::{HttpClient, ReqwestClient};

/// A "proxy" that counts the connections it gets and answers 502 to each.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            // The request head first (a GET without a body fits one read), then the answer.
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head).await;
            let _ = s
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (addr, hits)
}

async fn api() -> String {
    let app = axum::Router::new().route("/me", axum::routing::get(|| async { "direct" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://127.0.0.1:{port}/me")
}

#[test]
fn loopback_requests_bypass_the_environment_proxy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (proxy, hits) = rt.block_on(counting_listener());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child", "--nocapture"])
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run: {text}"
    );
    // The child's plain reqwest client went through the proxy (so the setting took
    // effect); authflow's did not.
    assert_eq!(hits.load(Ordering::SeqCst), 1, "{text}");
}

/// Runs in the child, with `HTTP_PROXY` pointing at the counting listener.
#[tokio::test]
#[ignore = "run by loopback_requests_bypass_the_environment_proxy with HTTP_PROXY set"]
async fn child() {
    if std::env::var_os("HTTP_PROXY").is_none() {
        // Run directly (`--ignored`): there is no proxy to bypass.
        eprintln!(
            "child: HTTP_PROXY is not set; run loopback_requests_bypass_the_environment_proxy"
        );
        return;
    }
    let url = api().await;
    let req = || http::Request::get(&url).body(Vec::new()).unwrap();
    let resp = ReqwestClient::new()
        .unwrap()
        .send(req(), 1024)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), b"direct");
    // A request built with reqwest (`AuthorizedClient::execute`) takes the same way.
    let built = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
    let resp = ReqwestClient::new()
        .unwrap()
        .send_reqwest(built, 1024)
        .await
        .unwrap();
    assert_eq!(resp.body().as_ref(), b"direct");
    // Control: reqwest with its default (system) proxies sends it to the proxy.
    let status = reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 502);
}
