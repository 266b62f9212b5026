//! A real browser through `authflow login`: `$BROWSER` is a script that hands the URL to
//! the test, which drives headless Chromium (chromedriver + fantoccini) through the real
//! login and consent pages of the embedded provider, and through the login form of
//! oidc-provider (tests/interop/oidc-provider/server.mjs --login-form). The browser lands
//! on the CLI's loopback listener; the CLI stores the tokens.
//!
//! Screenshots go to `target/screenshots/`: the provider's login page and the listener's
//! success page. Skips with a printed reason when chromium, chromedriver or (for the
//! second test) node and oidc-provider are missing, unless AUTHFLOW_REQUIRE_TOOLS is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authflow::types::IssuerUrl;
use authflow_provider::Provider;
use fantoccini::{Client, ClientBuilder, Locator};
use interop::*;

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    match (
        find_tool(&["chromium", "chromium-browser"]),
        find_tool(&["chromedriver"]),
    ) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => skip(
            "chromium",
            "chromium or chromedriver is not installed (scripts/install-test-tools installs them)",
        ),
    }
}

/// chromedriver on a free port, killed on drop, and a WebDriver session on a fresh profile.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    profile: PathBuf,
}

impl Browser {
    async fn start(chromium: &Path, driver: &Path) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !http
            .get(format!("{url}/status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // With both ring and aws-lc-rs in the workspace, rustls cannot pick one by itself.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "authflow-interop-chromium-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
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
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a WebDriver session");
        Self {
            client,
            _driver: child,
            profile,
        }
    }

    async fn close(self) {
        let _ = self.client.close().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn screenshots() -> PathBuf {
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `authflow login` in the background with `$BROWSER` writing the URL to a file; returns
/// the child and the authorization URL it asked to open.
#[allow(clippy::zombie_processes)] // returned to the caller, which waits in `finish`
async fn start_login(env: &CliEnv, args: &[&str]) -> (std::process::Child, String) {
    let mut child = env
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = env.home.join("browser-url");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(url) = std::fs::read_to_string(&file)
            && url.ends_with('\n')
        {
            return (child, url.trim().to_owned());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("authflow login opened no URL: {}", text(&out.stderr));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn url_catcher() -> CliEnv {
    CliEnv::new(
        "printf '%s\\n' \"$1\" > \"$AUTHFLOW_HOME/browser-url.tmp\" && mv \"$AUTHFLOW_HOME/browser-url.tmp\" \"$AUTHFLOW_HOME/browser-url\"",
    )
}

async fn fill_login(c: &Client, user: &str, password: &str) {
    let username = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("username"))
        .await
        .unwrap();
    username.send_keys(user).await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("button[value=login]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the listener's success page, saves it, and for the CLI to exit 0.
async fn finish(c: &Client, child: std::process::Child, shot: &str) {
    let h1 = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("h1"))
        .await
        .unwrap();
    // The page may navigate between finding the element and reading it (stale element):
    // then the loop below reads the new page's h1.
    let mut title = h1.text().await.unwrap_or_default();
    // The provider's pages also have an h1: wait until the listener's page is shown.
    let deadline = Instant::now() + Duration::from_secs(15);
    while title != "Signed in" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(h) = c.find(Locator::Css("h1")).await {
            title = h.text().await.unwrap_or_default();
        }
    }
    let at = c.current_url().await.unwrap();
    assert_eq!(title, "Signed in", "at {at}");
    assert_eq!(at.host_str(), Some("127.0.0.1"));
    assert_eq!(at.path(), "/callback");
    std::fs::write(screenshots().join(shot), c.screenshot().await.unwrap()).unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    ok(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_through_the_embedded_providers_pages() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let _t = Timer::start("browser: embedded provider");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    // The demo setup without auto-approve: the real login and consent pages.
    let provider = Provider::builder()
        .demo()
        .issuer(IssuerUrl::new(&issuer).unwrap())
        .build()
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, provider.router()).await.unwrap() });

    let browser = Browser::start(&chromium, &driver).await;
    let c = &browser.client;
    let env = url_catcher();
    let (child, url) = start_login(
        &env,
        &[
            "login",
            "--issuer",
            &issuer,
            "--client-id",
            "authflow-cli",
            "--scope",
            "openid profile offline_access",
            "--timeout",
            "60s",
        ],
    )
    .await;
    c.goto(&url).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("username"))
        .await
        .unwrap();
    std::fs::write(
        screenshots().join("interop-provider-login.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    fill_login(c, "alice", "alice-password").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    finish(c, child, "interop-listener-success.png").await;
    let status: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["status", "--json"]))).unwrap();
    assert_eq!(status["user"], "alice");
    assert_eq!(status["refresh_token"], true);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_through_oidc_providers_login_form() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    if !has_tool("node") {
        skip::<()>("node", "node is not installed");
        return;
    }
    if !repo()
        .join("bench/oidc-provider/node_modules/oidc-provider/package.json")
        .is_file()
    {
        skip::<()>(
            "oidc-provider",
            "oidc-provider is not installed (npm ci in bench/oidc-provider)",
        );
        return;
    }
    let _t = Timer::start("browser: oidc-provider");
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/interop/oidc-provider/server.mjs"))
        .args(["0", "--login-form", "--exit-on-stdin-close"]);
    let server = ServerProcess::start("oidc-provider", cmd);

    let browser = Browser::start(&chromium, &driver).await;
    let c = &browser.client;
    let env = url_catcher();
    let (child, url) = start_login(
        &env,
        &[
            "login",
            "--issuer",
            &server.issuer,
            "--client-id",
            "interop-public",
            "--scope",
            "openid profile offline_access",
            "--timeout",
            "60s",
        ],
    )
    .await;
    c.goto(&url).await.unwrap();
    fill_login(c, "alice", "alice-password").await;
    finish(c, child, "interop-oidc-provider-listener-success.png").await;
    let status: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["status", "--json"]))).unwrap();
    assert_eq!(status["user"], "alice");
    assert_eq!(status["refresh_token"], true);
    browser.close().await;
}
