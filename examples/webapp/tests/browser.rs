//! A real headless Chromium, driven over WebDriver (chromedriver + fantoccini), signs in
//! to the example site through the provider's real login and consent pages, sees the API
//! data, outlives the access token (2 s) thanks to refresh, signs out, and is signed out.
//!
//! Skips with a printed reason when `chromium` or `chromedriver` is missing, unless
//! `AUTHFLOW_REQUIRE_TOOLS` is set (then it fails). Screenshots of the provider's login
//! page and of the signed-in page go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use authflow_axum::Auth;
use authflow_provider::{ClientConfig, Provider, UserConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser and its driver, or `None` (skip) when they are not installed.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_tool(&["chromium", "chromium-browser"]);
    let driver = find_tool(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let missing: Vec<&str> = [("chromium", c.is_none()), ("chromedriver", d.is_none())]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
            skip::skip(
                &missing.join("+"),
                &format!(
                    "{} not found (Debian: apt-get install chromium chromium-driver, or scripts/install-test-tools)",
                    missing.join(" and ")
                ),
            );
            None
        }
    }
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// chromedriver on a free port, killed when dropped.
async fn start_driver(driver: &Path) -> (Child, String) {
    let port = free_port().await;
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{url}/status")).send().await
            && r.status().is_success()
        {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not come up on {url}");
}

fn screenshots_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn connect(driver_url: &str, chromium: &Path, profile: &Path) -> Client {
    // With both ring and aws-lc-rs in the workspace, rustls cannot pick one by itself.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1000,800",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a WebDriver session")
}

/// The provider (login and consent pages, 2 s access tokens) and the example site.
async fn start_servers() -> (String, String) {
    let pl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", pl.local_addr().unwrap().port());
    let al = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://127.0.0.1:{}", al.local_addr().unwrap().port());
    let redirect = format!("{app}/callback");
    let provider = Provider::builder()
        .issuer(IssuerUrl::new(&issuer).unwrap())
        .client(
            ClientConfig::confidential(
                ClientId::new("demo-web").unwrap(),
                ClientSecret::new("demo-web-secret").unwrap(),
            )
            .redirect_uri(RedirectUri::new(&redirect).unwrap())
            .scope(Scope::parse("openid profile email offline_access api:read").unwrap()),
        )
        .user(
            UserConfig::new("alice", "alice-password")
                .name("Alice Example")
                .email("alice@example.test"),
        )
        .access_token_ttl(Duration::from_secs(2))
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(pl, provider.router()).await.unwrap() });
    let auth = Auth::builder(
        IssuerUrl::new(&issuer).unwrap(),
        ClientId::new("demo-web").unwrap(),
        ClientSecret::new("demo-web-secret").unwrap(),
        RedirectUri::new(&redirect).unwrap(),
    )
    .build()
    .await
    .unwrap();
    let api_me = url::Url::parse(&format!("{issuer}/api/me")).unwrap();
    tokio::spawn(async move { axum::serve(al, webapp::app(auth, api_me)).await.unwrap() });
    (issuer, app)
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_sees_api_data_outlives_the_access_token_and_signs_out() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let started = Instant::now();
    let (issuer, app) = start_servers().await;
    let (_driver, driver_url) = start_driver(&driver).await;
    let profile = std::env::temp_dir().join(format!("authflow-chromium-{}", std::process::id()));
    let c = connect(&driver_url, &chromium, &profile).await;
    let shots = screenshots_dir();

    let result = async {
        // Anonymous home page: "Sign in".
        c.goto(&app).await.unwrap();
        assert_eq!(text_of(&c, "#anonymous").await, "You are not signed in.");
        c.find(Locator::Id("sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // The provider's real login page.
        let username = c.wait().for_element(Locator::Id("username")).await.unwrap();
        assert!(c.current_url().await.unwrap().as_str().starts_with(&issuer));
        std::fs::write(
            shots.join("provider-login.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        username.send_keys("alice").await.unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys("alice-password")
            .await
            .unwrap();
        c.find(Locator::Css("button[value=login]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // Consent.
        c.wait()
            .for_element(Locator::Css("button[value=allow]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        // Back home, signed in.
        let who = text_of(&c, "#user").await;
        assert_eq!(who, "Signed in as Alice Example");
        assert!(c.current_url().await.unwrap().as_str().starts_with(&app));

        // The API's data, fetched server-side with the user's token.
        c.find(Locator::Id("profile"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(text_of(&c, "#api-sub").await, "alice");
        assert_eq!(text_of(&c, "#api-client_id").await, "demo-web");
        let exp1: u64 = text_of(&c, "#api-exp").await.parse().unwrap();
        std::fs::write(shots.join("signed-in.png"), c.screenshot().await.unwrap()).unwrap();

        // Past the access token's 2 s lifetime: still there, with a refreshed token.
        tokio::time::sleep(Duration::from_millis(2600)).await;
        c.refresh().await.unwrap();
        assert_eq!(text_of(&c, "#api-sub").await, "alice");
        let exp2: u64 = text_of(&c, "#api-exp").await.parse().unwrap();
        assert!(
            exp2 > exp1,
            "a new access token after expiry ({exp1} -> {exp2})"
        );

        // No token or protocol value in anything the page's scripts could read.
        let cookies = c.get_all_cookies().await.unwrap();
        let names: Vec<String> = cookies.iter().map(|k| k.name().to_owned()).collect();
        assert!(
            names.iter().any(|n| n == authflow_axum::SESSION_COOKIE),
            "{names:?}"
        );
        for k in &cookies {
            assert!(k.http_only().unwrap_or(false), "{} is HttpOnly", k.name());
        }

        // Sign out: a POST form with the CSRF token.
        c.find(Locator::Css("nav form button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(text_of(&c, "#anonymous").await, "You are not signed in.");
        // And really out: the profile page sends us to the provider's login again.
        c.goto(&format!("{app}/profile")).await.unwrap();
        c.wait().for_element(Locator::Id("username")).await.unwrap();
        assert!(
            c.current_url()
                .await
                .unwrap()
                .as_str()
                .starts_with(&format!("{issuer}/authorize"))
        );
    }
    .await;
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    eprintln!(
        "browser test: {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
    result
}
