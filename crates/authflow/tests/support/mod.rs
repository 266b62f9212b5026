//! Test support: an in-process authorization server on `127.0.0.1:0` that can be switched
//! into the odd behaviours of real providers (see provider-quirks.md), and helpers to
//! drive `OAuthClient` against it over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

mod quirks;
mod server;

use std::fmt;
use std::sync::Arc;

use authflow::client::{Endpoints, OAuthClient, ReqwestClient};
use authflow::protocol::{Credentials, PendingAuthorization};
use authflow::random::OsRandom;
use authflow::types::{ClientId, ClientSecret, EndpointUrl, IssuerUrl, RedirectUri, Scope};
use http::{HeaderMap, Method};
use url::Url;

// Not every test binary uses every re-export.
#[allow(unused_imports)]
pub use quirks::{Quirks, SLOW_ANSWER};
pub use server::{CLIENT_SECRET, CONFIDENTIAL_CLIENT, LEAKY_TOKEN, PUBLIC_CLIENT, WEB_REDIRECT};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The body read as a form (empty when it is not one).
    pub form: Vec<(String, String)>,
}

impl Recorded {
    /// The only value of a form parameter; panics when it repeats.
    pub fn param(&self, name: &str) -> Option<&str> {
        let mut it = self.form.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        assert!(it.next().is_none(), "`{name}` sent more than once");
        first
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// How the client authenticated: `client_secret_basic`, `client_secret_post` or `none`.
    pub fn auth_method(&self) -> &'static str {
        if self.headers.contains_key(http::header::AUTHORIZATION) {
            "client_secret_basic"
        } else if self.param("client_secret").is_some() {
            "client_secret_post"
        } else {
            "none"
        }
    }
}

/// A running test server. The server task ends with the test's runtime.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The issuer (equal to `base_url`).
    pub issuer: IssuerUrl,
    shared: Arc<server::Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves the embedded provider with `quirks`.
    pub async fn start(quirks: Quirks) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = format!("http://{addr}");
        let shared = Arc::new(server::Shared::new(base_url.clone(), quirks));
        let app = server::app(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            issuer: IssuerUrl::new(&base_url).unwrap(),
            base_url,
            shared,
            task,
        }
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn endpoint(&self, path: &str) -> EndpointUrl {
        EndpointUrl::new(&self.url(path)).unwrap()
    }

    /// Every endpoint, configured by hand (no metadata, so no hint about auth methods).
    pub fn endpoints(&self) -> Endpoints {
        let mut e = Endpoints::default();
        e.authorization = Some(self.endpoint("/authorize"));
        e.token = Some(self.endpoint("/token"));
        e.revocation = Some(self.endpoint("/revoke"));
        e.introspection = Some(self.endpoint("/introspect"));
        e
    }

    /// A client configured by hand with the default `ReqwestClient`.
    pub fn manual_client(&self, credentials: Credentials) -> OAuthClient {
        OAuthClient::builder(credentials)
            .endpoints(self.endpoints())
            .issuer(self.issuer.clone())
            .build()
            .unwrap()
    }

    /// A hand-configured client whose requests time out after `timeout`.
    pub fn client_with_timeout(
        &self,
        credentials: Credentials,
        timeout: std::time::Duration,
    ) -> OAuthClient {
        let http = ReqwestClient::builder().timeout(timeout).build().unwrap();
        OAuthClient::builder(credentials)
            .endpoints(self.endpoints())
            .issuer(self.issuer.clone())
            .http_client(http)
            .build()
            .unwrap()
    }

    /// A client built by discovery with the default `ReqwestClient`.
    pub async fn discover(&self, credentials: Credentials) -> OAuthClient {
        OAuthClient::builder(credentials)
            .discover(&self.issuer)
            .await
            .unwrap()
    }

    /// Switches behaviours while the server runs.
    pub fn set_quirks(&self, quirks: Quirks) {
        *self.shared.quirks.lock().unwrap() = quirks;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.store().requests.clone()
    }

    /// The requests received at `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.shared.store().requests.clear();
    }

    /// Every code and token the server handed out, for the "no secret in errors" checks.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.shared.store().issued.clone()
    }

    /// The tokens revoked at `/revoke`, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.shared.store().revoked.clone()
    }
}

pub fn public_credentials() -> Credentials {
    Credentials::public(ClientId::new(PUBLIC_CLIENT).unwrap())
}

pub fn basic_credentials() -> Credentials {
    Credentials::secret_basic(
        ClientId::new(CONFIDENTIAL_CLIENT).unwrap(),
        ClientSecret::new(CLIENT_SECRET).unwrap(),
    )
}

pub fn post_credentials() -> Credentials {
    Credentials::secret_post(
        ClientId::new(CONFIDENTIAL_CLIENT).unwrap(),
        ClientSecret::new(CLIENT_SECRET).unwrap(),
    )
}

/// A loopback redirect on a port that differs from the registration's (none): the server
/// must accept any port (RFC 8252 §7.3). Nothing listens there; tests never follow it.
pub fn loopback_redirect() -> RedirectUri {
    RedirectUri::new("http://127.0.0.1:49213/callback").unwrap()
}

/// The redirect URI registered for `client_id`'s flows in these tests.
pub fn redirect_for(credentials: &Credentials) -> RedirectUri {
    if credentials.client_id().as_str() == PUBLIC_CLIENT {
        loopback_redirect()
    } else {
        RedirectUri::new(WEB_REDIRECT).unwrap()
    }
}

/// What a browser does with the authorization URL, minus the user: a GET without
/// following redirects. Returns the status and the `Location` header, if any.
pub async fn visit(url: &Url) -> (http::StatusCode, Option<Url>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(url.as_str()).send().await.unwrap();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| Url::parse(v.to_str().unwrap()).unwrap());
    (resp.status(), location)
}

/// Starts a login with `client` and returns the pending flow and the redirect the server
/// sent the browser to.
pub async fn authorize(
    client: &OAuthClient,
    redirect: RedirectUri,
    scope: &str,
) -> (PendingAuthorization, Url) {
    let (url, pending) = client
        .authorization_request(redirect)
        .unwrap()
        .scope(Scope::parse(scope).unwrap())
        .build(&mut OsRandom)
        .unwrap();
    let (status, location) = visit(&url).await;
    assert_eq!(
        status,
        http::StatusCode::FOUND,
        "authorization endpoint status"
    );
    (pending, location.expect("a Location header"))
}

/// The value of query parameter `name` on `url`.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Asserts that neither `Display` nor `Debug` of `err` holds any of `secrets` (nor the
/// client secret, raw or form-encoded), and returns the `Display` text.
pub fn assert_no_secrets<E: fmt::Display + fmt::Debug>(err: &E, secrets: &[String]) -> String {
    let shown = format!("{err} || {err:?}");
    let encoded: String = url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect();
    let mut all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    all.extend([CLIENT_SECRET, encoded.as_str(), LEAKY_TOKEN]);
    for s in all {
        assert!(!s.is_empty());
        assert!(
            !shown.contains(s),
            "error text leaks a secret ({s}): {shown}"
        );
    }
    err.to_string()
}

/// The PKCE verifier and state of a pending flow, as strings for [`assert_no_secrets`].
pub fn pending_secrets(p: &PendingAuthorization) -> Vec<String> {
    vec![
        p.code_verifier.secret().to_owned(),
        p.state.secret().to_owned(),
    ]
}
