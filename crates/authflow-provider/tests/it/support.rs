use authflow::random::OsRandom;
use authflow::types::{ClientId, ClientSecret, IssuerUrl, PkceVerifier};
use authflow_provider::{ClientConfig, Provider, ProviderBuilder};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;

pub const CLI_REDIRECT: &str = "http://127.0.0.1:43210/callback";
/// A resource server registered on every test provider: it may introspect any token.
pub const RS: (&str, &str) = ("test-rs", "test-rs-secret");

/// Where a test pass keeps the providers' state.
// Each pass names one of them.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    /// A real Redis server, one namespace per provider (memory when redis-server is
    /// missing: the pass says so).
    Redis,
}

pub struct Server {
    pub base: String,
    pub provider: Provider,
    pub http: reqwest::Client,
}

/// `b` with this pass's store; on Redis, with the keys kept there (every instance of
/// one provider must share them).
async fn with_store(b: ProviderBuilder) -> ProviderBuilder {
    #[cfg(feature = "redis")]
    if crate::STORE == Store::Redis
        && let Some(store) = crate::redis_server::fresh_store("it").await
    {
        return b
            .signing_key(store.signing_key().await.unwrap())
            .id_token_key(store.id_token_key().await.unwrap())
            .redis_store(store);
    }
    b
}

/// Starts a demo provider (plus whatever `configure` adds) on 127.0.0.1:0, its state in
/// this pass's store.
pub async fn start(configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let rs = ClientConfig::confidential(
        ClientId::new(RS.0).unwrap(),
        ClientSecret::new(RS.1).unwrap(),
    )
    .grants([])
    .introspect_any(true);
    let builder = Provider::builder()
        .issuer(IssuerUrl::new(&base).unwrap())
        .demo()
        .client(rs);
    let builder = with_store(builder).await;
    let provider = configure(builder).build().unwrap();
    let router = provider.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server {
        base,
        provider,
        http,
    }
}

/// A demo provider that auto-approves as alice.
pub async fn auto() -> Server {
    start(|b| b.auto_approve(Some("alice".into()))).await
}

pub fn pkce() -> (String, String) {
    let v = PkceVerifier::generate(&mut OsRandom);
    (v.secret().to_owned(), v.s256_challenge())
}

pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET /authorize with these parameters; the response, redirects not followed.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        self.http.get(url).send().await.unwrap()
    }

    /// The Location of a redirect, as query parameters.
    pub async fn authorize_redirect(&self, params: &[(&str, &str)]) -> HashMap<String, String> {
        let resp = self.authorize(params).await;
        assert!(resp.status().is_redirection(), "status {}", resp.status());
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        query(&loc)
    }

    /// A code for the public CLI client (auto-approve), with its verifier.
    pub async fn cli_code(&self, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let q = self
            .authorize_redirect(&[
                ("response_type", "code"),
                ("client_id", "authflow-cli"),
                ("redirect_uri", CLI_REDIRECT),
                ("scope", scope),
                ("state", "st"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        (q["code"].clone(), verifier)
    }

    /// POST a form to an endpoint, with optional basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, json)
    }

    pub async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.post_form("/token", form, basic).await
    }

    /// Exchanges a CLI code; the token response JSON.
    pub async fn exchange_cli(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        let (s, _, v) = self
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "authflow-cli"),
                    ("code", code),
                    ("redirect_uri", CLI_REDIRECT),
                    ("code_verifier", verifier),
                ],
                None,
            )
            .await;
        (s, v)
    }

    pub async fn refresh_cli(&self, rt: &str, scope: Option<&str>) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", "authflow-cli"),
            ("refresh_token", rt),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let (s, _, v) = self.token(&form, None).await;
        (s, v)
    }

    pub async fn service_token(&self, scope: Option<&str>) -> (StatusCode, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let (s, _, v) = self
            .token(&form, Some(("demo-service", "demo-service-secret")))
            .await;
        (s, v)
    }

    /// GET a resource path with a bearer token.
    pub async fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let (s, _, v) = self
            .post_form("/introspect", &[("token", token)], Some(RS))
            .await;
        assert_eq!(s, StatusCode::OK);
        v
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh key with a `kid`, and the JWKS that publishes it.
pub fn client_key(
    alg: authflow::jose::JwsAlgorithm,
    kid: &str,
) -> (authflow::jose::SigningKey, Value) {
    let key = authflow::jose::SigningKey::generate(alg)
        .unwrap()
        .with_key_id(kid);
    let jwks = serde_json::json!({"keys": [key.public_jwk().to_object(Some(kid), Some(alg))]});
    (key, jwks)
}

/// A compact JWS over `claims` with `typ`, signed by `key`.
pub fn sign(key: &authflow::jose::SigningKey, typ: &str, claims: Value) -> String {
    authflow::jose::UnsignedJws::new(key, typ, claims)
        .sign_with(key)
        .unwrap()
}

/// The decoded claims of a JWT (no verification).
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

impl Server {
    /// POST a form with extra headers (a `DPoP` proof, say) and optional basic credentials.
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        headers: &[(&str, reqwest::header::HeaderValue)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        for (name, value) in headers {
            req = req.header(*name, value.clone());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let json = resp.json().await.unwrap_or(Value::Null);
        (status, headers, json)
    }
}
