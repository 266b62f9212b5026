//! A real provider and a real application, each on its own ephemeral port, and browsers
//! made of reqwest clients with cookie jars.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri, Scope};
use authflow_axum::{Auth, RequireLoginLayer, SignedIn};
use authflow_provider::{ClientConfig, Provider, UserConfig};
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use tokio::net::TcpListener;
use tower_sessions::Session;
use url::Url;

pub struct Setup {
    pub issuer: Url,
    pub app: Url,
    pub auth: Auth,
}

pub struct Options {
    pub auto_approve: bool,
    pub access_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auto_approve: true,
            access_ttl: Duration::from_secs(3600),
        }
    }
}

/// Starts the provider and the application; both run until the test's runtime ends.
pub async fn start(opts: Options) -> Setup {
    let provider_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "http://127.0.0.1:{}",
        provider_listener.local_addr().unwrap().port()
    );
    let app_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!(
        "http://127.0.0.1:{}",
        app_listener.local_addr().unwrap().port()
    );
    let redirect = format!("{app}/callback");

    let provider = provider(&issuer, &redirect, &opts);
    tokio::spawn(async move {
        axum::serve(provider_listener, provider.router())
            .await
            .unwrap()
    });

    let auth = Auth::builder(
        IssuerUrl::new(&issuer).unwrap(),
        ClientId::new("webapp").unwrap(),
        ClientSecret::new("webapp-secret").unwrap(),
        RedirectUri::new(&redirect).unwrap(),
    )
    .build()
    .await
    .unwrap();
    let router = app_router(&auth, &issuer);
    tokio::spawn(async move { axum::serve(app_listener, router).await.unwrap() });
    Setup {
        issuer: Url::parse(&issuer).unwrap(),
        app: Url::parse(&app).unwrap(),
        auth,
    }
}

/// The provider: client `webapp` with this redirect URI, user alice.
pub fn provider(issuer: &str, redirect: &str, opts: &Options) -> Provider {
    let mut builder = Provider::builder()
        .issuer(IssuerUrl::new(issuer).unwrap())
        .client(
            ClientConfig::confidential(
                ClientId::new("webapp").unwrap(),
                ClientSecret::new("webapp-secret").unwrap(),
            )
            .redirect_uri(RedirectUri::new(redirect).unwrap())
            .scope(Scope::parse("openid profile email offline_access api:read").unwrap()),
        )
        .user(
            UserConfig::new("alice", "alice-password")
                .name("Alice Example")
                .email("alice@example.test"),
        )
        .access_token_ttl(opts.access_ttl);
    if opts.auto_approve {
        builder = builder.auto_approve(Some("alice".into()));
    }
    builder.build().unwrap()
}

/// The application under test: a home page, a protected page calling the provider's
/// API, and two test-only helpers.
pub fn app_router(auth: &Auth, issuer: &str) -> Router {
    let api = format!("{issuer}/api/me");
    Router::new()
        .route(
            "/me",
            get(move |user: SignedIn| async move {
                let req = http::Request::get(&api).body(Vec::new()).unwrap();
                match user.api().send(req).await {
                    Ok(resp) => format!(
                        "{} {}",
                        resp.status().as_u16(),
                        String::from_utf8_lossy(resp.body())
                    ),
                    Err(e) => format!("error {e}"),
                }
            })
            .post(|_: SignedIn| async { "posted" }),
        )
        .route_layer(RequireLoginLayer::new(auth))
        .route(
            "/",
            get(|user: Option<SignedIn>| async move {
                Html(match user {
                    Some(u) => format!(
                        "<p>signed in as {}</p>{}",
                        u.user().subject,
                        u.logout_form()
                    ),
                    None => "<a href=\"/login\">Sign in</a>".to_owned(),
                })
            }),
        )
        .route(
            "/whoami",
            get(|user: Option<SignedIn>| async move {
                user.map(|u| u.user().subject.clone())
                    .unwrap_or_else(|| "anonymous".into())
            }),
        )
        // A page that gives anonymous visitors a session (theme preference, cart...).
        .route(
            "/anon",
            get(|session: Session| async move {
                session.insert("theme", "dark").await.unwrap();
                "ok"
            }),
        )
        // Test only: lets a test check the provider revoked the token.
        .route(
            "/test/access-token",
            get(|user: SignedIn| async move {
                user.token_source()
                    .token()
                    .await
                    .unwrap()
                    .access_token
                    .secret()
                    .to_owned()
            }),
        )
        .merge(auth.routes())
        .with_state(auth.clone())
        .layer(auth.session_layer())
}

/// A browser: its own cookie jar, no automatic redirects.
#[derive(Clone)]
pub struct Browser {
    pub jar: Arc<Jar>,
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        Self { jar, http }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Follows redirects like a browser, up to 10; returns the last response and every
    /// URL visited.
    pub async fn follow(&self, start: &str) -> (reqwest::Response, Vec<String>) {
        let mut url = Url::parse(start).unwrap();
        let mut seen = vec![url.to_string()];
        for _ in 0..10 {
            let resp = self.http.get(url.clone()).send().await.unwrap();
            if !resp.status().is_redirection() {
                return (resp, seen);
            }
            url = url.join(location(&resp)).unwrap();
            seen.push(url.to_string());
        }
        panic!("too many redirects: {seen:?}");
    }

    /// Runs `/login?...` up to the provider's redirect back, and returns the callback URL
    /// without visiting it.
    pub async fn callback_url(&self, s: &Setup, login: &str) -> Url {
        let mut url = s.app.join(login).unwrap();
        for _ in 0..5 {
            let resp = self.http.get(url.clone()).send().await.unwrap();
            assert!(resp.status().is_redirection(), "{url}: {}", resp.status());
            url = url.join(location(&resp)).unwrap();
            if url.origin() == s.app.origin() && url.path() == "/callback" {
                return url;
            }
        }
        panic!("never came back to the callback");
    }

    pub async fn whoami(&self, s: &Setup) -> String {
        self.get(s.app.join("/whoami").unwrap().as_str())
            .await
            .text()
            .await
            .unwrap()
    }

    /// The value of a cookie the application set, if any.
    pub fn cookie(&self, s: &Setup, name: &str) -> Option<String> {
        let header = self.jar.cookies(&s.app)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Signs in (auto-approving provider) and returns the final page's body.
    pub async fn sign_in(&self, s: &Setup) -> String {
        let (resp, _) = self.follow(s.app.join("/login").unwrap().as_str()).await;
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// The CSRF token from the sign-out form on the home page.
    pub async fn csrf(&self, s: &Setup) -> String {
        let html = self.get(s.app.as_str()).await.text().await.unwrap();
        let at = html
            .find("name=\"csrf\" value=\"")
            .expect("a sign-out form")
            + 19;
        html[at..].split('"').next().unwrap().to_owned()
    }
}

pub fn location(resp: &reqwest::Response) -> &str {
    resp.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
}

impl Browser {
    /// The `Cookie` header this browser sends to the application.
    pub fn jar_header(&self, s: &Setup) -> String {
        self.jar
            .cookies(&s.app)
            .map(|h| h.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}
