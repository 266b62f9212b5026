//! The loopback redirect listener over real sockets: one-shot, state-checked, and
//! unbothered by stray or hostile requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use authflow::flow::{FlowError, ListenerOptions, LoopbackListener};
use authflow::protocol::{AuthorizationRequest, CallbackError, PendingAuthorization};
use authflow::random::OsRandom;
use authflow::types::{ClientId, EndpointUrl, RedirectUri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listener() -> (LoopbackListener, PendingAuthorization) {
    let l = LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback").unwrap())
        .await
        .unwrap();
    let (_, pending) = AuthorizationRequest::new(
        EndpointUrl::new("https://as.example/authorize").unwrap(),
        ClientId::new("cli").unwrap(),
        l.redirect_uri().clone(),
    )
    .build(&mut OsRandom)
    .unwrap();
    (l, pending)
}

fn opts(timeout_ms: u64) -> ListenerOptions {
    ListenerOptions::default().timeout(Duration::from_millis(timeout_ms))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Sends raw bytes and returns whatever comes back (possibly nothing).
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn binds_an_ephemeral_port_on_127_0_0_1() {
    let (l, pending) = listener().await;
    let addr = l.local_addr().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    assert_eq!(
        l.redirect_uri().as_str(),
        format!("http://127.0.0.1:{}/callback", addr.port())
    );
    assert_eq!(pending.redirect_uri, *l.redirect_uri());
}

#[tokio::test]
async fn stray_requests_do_not_end_the_flow() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let addr = l.local_addr().unwrap();
    let state = pending.state.secret().to_owned();
    let wait = tokio::spawn(async move { l.wait(&pending, &opts(20_000)).await });

    let c = http();
    let origin = format!("http://{addr}");
    // The browser's favicon request, a scanner, a wrong method, a pre-connect.
    assert_eq!(
        c.get(format!("{origin}/favicon.ico"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(c.post(&base).send().await.unwrap().status(), 405);
    drop(TcpStream::connect(addr).await.unwrap());
    // Garbage and oversized heads get an HTTP error or a closed socket, nothing more.
    let garbage = raw(addr, b"\x16\x03\x01 definitely not http\r\n\r\n").await;
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );
    let huge = format!(
        "GET /callback HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let answer = raw(addr, huge.as_bytes()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    // DNS rebinding: a page on another name pointing at 127.0.0.1 sends its own Host.
    let rebound = raw(
        addr,
        format!(
            "GET /callback?code=x&state={state} HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n",
            addr.port()
        )
        .as_bytes(),
    )
    .await;
    assert!(rebound.starts_with("HTTP/1.1 400"), "{rebound}");
    // A redirect with another flow's state is shown a page and ignored.
    let forged = c
        .get(format!("{base}?code=evil&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(forged.text().await.unwrap().contains("does not belong"));
    assert!(!wait.is_finished());

    let ok = c
        .get(format!("{base}?code=the-code&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["referrer-policy"], "no-referrer");
    assert!(ok.text().await.unwrap().contains("close this tab"));
    let code = wait.await.unwrap().unwrap();
    assert_eq!(code.secret(), "the-code");
}

#[tokio::test]
async fn one_shot_a_second_redirect_is_not_accepted() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let state = pending.state.secret().to_owned();
    let wait = tokio::spawn(async move { l.wait(&pending, &opts(20_000)).await });
    let c = http();
    let url = format!("{base}?code=first&state={state}");
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(wait.await.unwrap().unwrap().secret(), "first");
    // The listener is gone: a replay finds nobody.
    let again = format!("{base}?code=second&state={state}");
    assert!(c.get(&again).send().await.is_err());
}

#[tokio::test]
async fn server_error_redirect_ends_the_flow_with_its_fields() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let state = pending.state.secret().to_owned();
    let wait = tokio::spawn(async move { l.wait(&pending, &opts(20_000)).await });
    let resp = http()
        .get(format!(
            "{base}?error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("&lt;b&gt;nope"),
        "server text is escaped: {page}"
    );
    match wait.await.unwrap() {
        Err(FlowError::Callback(CallbackError::Authorization(e))) => {
            assert_eq!(e.error, "access_denied");
            assert_eq!(e.error_description.as_deref(), Some("<b>nope</b>"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn slow_clients_do_not_block_the_real_redirect() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let addr = l.local_addr().unwrap();
    let state = pending.state.secret().to_owned();
    let mut o = opts(20_000);
    o.header_read_timeout = Duration::from_millis(500);
    let wait = tokio::spawn(async move { l.wait(&pending, &o).await });
    // Slowloris: half a request head, then silence, on more connections than the
    // listener serves at once (64): the real redirect waits its turn, it is not dropped.
    let mut slow = Vec::new();
    for _ in 0..80 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /callback HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let ok = http()
        .get(format!("{base}?code=c&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(wait.await.unwrap().unwrap().secret(), "c");
    drop(slow);
}

#[tokio::test]
async fn times_out_naming_the_redirect_uri() {
    let (l, pending) = listener().await;
    let uri = l.redirect_uri().to_string();
    match l.wait(&pending, &opts(200)).await {
        Err(e @ FlowError::Timeout { .. }) => assert!(e.to_string().contains(&uri), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_fixed_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let uri = RedirectUri::new(&format!("http://127.0.0.1:{port}/cb")).unwrap();
    match LoopbackListener::bind(&uri).await {
        Err(e @ FlowError::PortInUse { .. }) => {
            assert!(e.to_string().contains(&port.to_string()), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refuses_non_loopback_redirects() {
    let uri = RedirectUri::new("https://app.example/cb").unwrap();
    assert!(matches!(
        LoopbackListener::bind(&uri).await,
        Err(FlowError::NotLoopback(_))
    ));
}

/// A thousand junk connections: first opened and closed at once, then opened and left
/// idle. The listener takes a connection only with one of its 64 permits and waits for a
/// permit when all are held, so the idle ones queue in the kernel's backlog and are cut one
/// batch at a time by the head timeout; the real redirect, queued behind them, still lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_junk_connections_do_not_stop_the_real_redirect() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let addr = l.local_addr().unwrap();
    let state = pending.state.secret().to_owned();
    let mut o = opts(60_000);
    o.header_read_timeout = Duration::from_millis(200);
    let wait = tokio::spawn(async move { l.wait(&pending, &o).await });

    for _ in 0..1000 {
        drop(TcpStream::connect(addr).await.unwrap());
    }
    assert!(!wait.is_finished(), "connect+close ended the flow");
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let ok = tokio::time::timeout(
        Duration::from_secs(45),
        http().get(format!("{base}?code=c&state={state}")).send(),
    )
    .await
    .expect("the real redirect waited more than 45 s behind idle connections")
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(wait.await.unwrap().unwrap().secret(), "c");
    // 1000 idle / 64 permits × 200 ms ≈ 3 s; far less than the flow's own timeout.
    assert!(started.elapsed() < Duration::from_secs(45));
    drop(idle);
}

/// A CSRF-style request from another page in the same browser: a `fetch` or an `<img>`
/// with the attacker's own code and a guessed `state`, carrying the attacker's `Origin`.
/// It is answered (400, the "does not belong to this login" page), cannot end the flow,
/// and gets no CORS header, so the attacking page cannot read the answer either; a form
/// POST gets 405. The real redirect then completes.
#[tokio::test]
async fn a_cross_site_request_from_another_page_neither_ends_nor_reads_the_flow() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let state = pending.state.secret().to_owned();
    let wait = tokio::spawn(async move { l.wait(&pending, &opts(20_000)).await });
    let c = http();
    for guess in ["", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let r = c
            .get(format!("{base}?code=attacker-code&state={guess}"))
            .header("Origin", "https://evil.example")
            .header("Sec-Fetch-Site", "cross-site")
            .header("Sec-Fetch-Mode", "no-cors")
            .header("Referer", "https://evil.example/page")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "guess {guess:?}");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "a CORS header would let the attacking page read the answer"
        );
        assert!(r.text().await.unwrap().contains("does not belong"));
    }
    let post = c
        .post(&base)
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("code=attacker-code&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405, "a cross-site form post is refused");
    assert!(!wait.is_finished());
    let ok = c
        .get(format!("{base}?code=real&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(wait.await.unwrap().unwrap().secret(), "real");
}

/// Two valid-looking callbacks at once (a replayed redirect racing the real one): exactly
/// one is taken, and the code the flow returns is the one whose page said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_valid_callbacks_at_once_exactly_one_code_is_taken() {
    let (l, pending) = listener().await;
    let base = l.redirect_uri().as_str().to_owned();
    let state = pending.state.secret().to_owned();
    let wait = tokio::spawn(async move { l.wait(&pending, &opts(20_000)).await });
    let c = http();
    let (a, b) = tokio::join!(
        c.get(format!("{base}?code=first&state={state}")).send(),
        c.get(format!("{base}?code=second&state={state}")).send(),
    );
    let won: Vec<&str> = [("first", &a), ("second", &b)]
        .into_iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| r.status() == 200))
        .map(|(code, _)| code)
        .collect();
    assert_eq!(won.len(), 1, "{a:?} {b:?}");
    assert_eq!(wait.await.unwrap().unwrap().secret(), won[0]);
}
