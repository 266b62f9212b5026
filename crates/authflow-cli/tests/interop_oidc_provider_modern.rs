//! authflow's DPoP (RFC 9449), PAR (RFC 9126), JAR (RFC 9101) and JWT client
//! authentication (RFC 7523) against panva's oidc-provider, started from
//! `tests/interop/oidc-provider/server.mjs --modern` on 127.0.0.1:0 (once per test binary;
//! a second one with `--require-par` for the server-wide PAR requirement).
//!
//! The private_key_jwt keys are generated here with `SigningKey`; their public JWKS goes
//! to the server in a file (`--client-jwks`). The server demands a DPoP nonce on every
//! proof (`requireNonce`), at the token endpoint and at userinfo.
//!
//! Skips with a printed reason when `node` or the npm package (bench/oidc-provider, `npm ci`)
//! is missing, unless AUTHFLOW_REQUIRE_TOOLS is set (then it fails).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod interop;

use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use authflow::client::{OAuthClient, OAuthClientBuilder, ReqwestClient};
use authflow::jose::{JwsAlgorithm, JwsSigner, SigningKey};
use authflow::protocol::Credentials;
use authflow::protocol::dpop::{self, DpopProver};
use authflow::random::OsRandom;
use authflow::session::{AuthorizedClient, RefreshTokenProvider, TokenSet, TokenSource};
use authflow::types::{ClientId, ClientSecret, IssuerUrl, Scope};
use interop::*;
use url::Url;

/// Must match MODERN_JWT_SECRET in server.mjs.
const JWT_SECRET: &str = "modern-secret-jwt-secret-of-at-least-32-bytes";

/// The private_key_jwt keys the servers know (kid `es256`, `eddsa`).
struct Keys {
    es256: SigningKey,
    eddsa: SigningKey,
    /// Their public JWKS, for the servers.
    jwks: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let es256 = SigningKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_key_id("es256");
        let eddsa = SigningKey::generate(JwsAlgorithm::EdDSA)
            .unwrap()
            .with_key_id("eddsa");
        let jwks = serde_json::json!({ "keys": [
            es256.public_jwk().to_object(Some("es256"), Some(JwsAlgorithm::ES256)),
            eddsa.public_jwk().to_object(Some("eddsa"), Some(JwsAlgorithm::EdDSA)),
        ]});
        Keys {
            es256,
            eddsa,
            jwks: jwks.to_string(),
        }
    })
}

fn start(name: &str, extra: &[&str]) -> Result<ServerProcess, Missing> {
    if !has_tool("node") {
        return Err(Missing::new("node", "node is not installed"));
    }
    let package = repo().join("bench/oidc-provider/node_modules/oidc-provider/package.json");
    if !package.is_file() {
        return Err(Missing::new(
            "oidc-provider",
            "oidc-provider is not installed (npm ci in bench/oidc-provider)",
        ));
    }
    // The server reads the file before it prints `listening on`: then it can go.
    let jwks = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-jwks-{}.json", std::process::id()));
    std::fs::write(&jwks, &keys().jwks).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/interop/oidc-provider/server.mjs"))
        .args(["0", "--exit-on-stdin-close", "--modern", "--client-jwks"])
        .arg(&jwks)
        .args(extra);
    let server = ServerProcess::start(name, cmd);
    let _ = std::fs::remove_file(&jwks);
    Ok(server)
}

/// `--modern`: DPoP with nonces, PAR, request objects, the modern-* clients.
fn server() -> Option<&'static ServerProcess> {
    static SERVER: OnceLock<Result<ServerProcess, Missing>> = OnceLock::new();
    shared_server(&SERVER, || start("oidc-provider-modern", &[]))
}

/// `--modern --require-par`: the metadata says `require_pushed_authorization_requests`.
fn par_server() -> Option<&'static ServerProcess> {
    static SERVER: OnceLock<Result<ServerProcess, Missing>> = OnceLock::new();
    shared_server(&SERVER, || {
        start("oidc-provider-require-par", &["--require-par"])
    })
}

fn id(s: &str) -> ClientId {
    ClientId::new(s).unwrap()
}

fn signer(key: &SigningKey) -> Arc<dyn JwsSigner> {
    Arc::new(key.clone())
}

async fn discover_with(s: &ServerProcess, builder: OAuthClientBuilder) -> OAuthClient {
    builder
        .discover(&IssuerUrl::new(&s.issuer).unwrap())
        .await
        .unwrap()
}

/// The query parameter names of `url`, in order.
fn param_names(url: &Url) -> Vec<String> {
    url.query_pairs().map(|(k, _)| k.into_owned()).collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The claims of a compact JWS (not verified: only to look at what authflow signed).
fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("a compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The userinfo endpoint as a `GET` request.
fn userinfo_request(client: &OAuthClient) -> http::Request<Vec<u8>> {
    let url = client.endpoints().userinfo.as_ref().unwrap().as_str();
    http::Request::get(url).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn dpop_code_flow_refresh_and_userinfo_follow_the_server_nonce() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: DPoP code flow");
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::public(id("modern-dpop"))).dpop(key.clone()),
    )
    .await;
    let scope = "openid profile offline_access";
    let (tokens, pending, url) = started_code_flow(&client, scope).await;
    // The code is bound to the key (RFC 9449 §10) ...
    assert_eq!(
        param(&url, "dpop_jkt").as_deref(),
        Some(key.thumbprint()),
        "{url}"
    );
    // ... and the token endpoint (which demanded a nonce first) issued bound tokens.
    assert!(
        tokens.token_type.as_str().eq_ignore_ascii_case("dpop"),
        "token_type {:?}",
        tokens.token_type.as_str()
    );
    let rt = tokens
        .refresh_token
        .clone()
        .expect("offline_access consented");
    let claims = client
        .verify_id_token(
            tokens.id_token.as_ref().unwrap(),
            pending.nonce.as_ref(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");

    // A DPoP-bound token is refused as a bearer token.
    let err = client
        .userinfo(&tokens.access_token, None)
        .await
        .expect_err("a DPoP-bound access token used as a bearer token");
    assert_eq!(
        err.oauth().map(|e| e.error.as_str()),
        Some("invalid_token"),
        "{err:?}"
    );

    // The server demands a nonce at userinfo too: a proof without one gets
    // `use_dpop_nonce` and a `DPoP-Nonce` (so the call below succeeds only by following it).
    let userinfo = client
        .endpoints()
        .userinfo
        .as_ref()
        .unwrap()
        .as_url()
        .clone();
    let proof = DpopProver::new(key.clone())
        .proof(
            "GET",
            &userinfo,
            Some(tokens.access_token.secret()),
            None,
            SystemTime::now(),
            &mut OsRandom,
        )
        .unwrap();
    let resp = reqwest::Client::new()
        .get(userinfo.as_str())
        .header(
            "authorization",
            format!("DPoP {}", tokens.access_token.secret()),
        )
        .header("dpop", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key(dpop::DPOP_NONCE_HEADER));
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("use_dpop_nonce"), "{challenge}");

    // The refresh token is bound to the key too: another key is refused ...
    let other = DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap());
    let err = client
        .refresh_bound(&rt, None, Some(&other))
        .await
        .unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");

    // ... and through a token source and AuthorizedClient, the set's own key works: proofs
    // with `ath` and the server's nonce, a refresh that stays bound.
    let set = TokenSet::from_response(&tokens, &Scope::parse(scope).unwrap(), SystemTime::now())
        .with_dpop(client.dpop().cloned());
    assert!(set.is_dpop_bound());
    let source = TokenSource::builder()
        .initial(set)
        .provider(RefreshTokenProvider::new(client.clone()))
        .build();
    let api = AuthorizedClient::new(source, ReqwestClient::new().unwrap());
    let resp = api.send(userinfo_request(&client)).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        String::from_utf8_lossy(resp.body())
    );
    let info: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["name"], "Alice Example");

    let refreshed = api.source().force_refresh().await.unwrap();
    assert!(refreshed.is_dpop_bound(), "{:?}", refreshed.token_type);
    assert_ne!(
        refreshed.access_token.secret(),
        tokens.access_token.secret()
    );
    assert_ne!(
        refreshed.refresh_token.as_ref().unwrap().secret(),
        rt.secret(),
        "rotated"
    );
    let request = reqwest::Request::new(reqwest::Method::GET, userinfo.clone());
    let resp = api.execute(request).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        String::from_utf8_lossy(resp.body())
    );
    let info: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(info["sub"], "alice");
}

#[tokio::test]
async fn dpop_with_par_pushes_dpop_jkt() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: DPoP through PAR");
    let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::public(id("modern-dpop")))
            .dpop(key.clone())
            .pushed_authorization(true),
    )
    .await;
    let (tokens, _, url) = started_code_flow(&client, "openid").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    assert!(tokens.token_type.as_str().eq_ignore_ascii_case("dpop"));
    // The pushed `dpop_jkt` bound the code: redeeming it takes that key, which it did.
    let info =
        TokenSet::from_response(&tokens, &Scope::parse("openid").unwrap(), SystemTime::now())
            .with_dpop(client.dpop().cloned());
    let api = AuthorizedClient::new(TokenSource::fixed(info), ReqwestClient::new().unwrap());
    let resp = api.send(userinfo_request(&client)).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn par_required_by_the_client_registration() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: PAR required for the client");
    // `require_pushed_authorization_requests` is client metadata here, not in the server's
    // metadata: a client that does not push is refused at the authorization endpoint ...
    let plain = discover_with(
        s,
        OAuthClient::builder(Credentials::public(id("modern-par"))),
    )
    .await;
    let listener = loopback().await;
    let req = plain
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(Scope::parse("openid").unwrap());
    let (url, pending) = plain.start_authorization(&req).await.unwrap();
    assert!(param(&url, "request_uri").is_none(), "{url}");
    let err = follow(listener, url, &pending).await.authorization_error();
    assert_eq!(err.error, "invalid_request", "{err}");

    // ... and one configured to push gets through.
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::public(id("modern-par"))).pushed_authorization(true),
    )
    .await;
    let (tokens, pending, url) = started_code_flow(&client, "openid").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    let claims = client
        .verify_id_token(
            tokens.id_token.as_ref().unwrap(),
            pending.nonce.as_ref(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
}

#[tokio::test]
async fn par_required_by_the_server_metadata_is_used_without_asking() {
    let Some(s) = par_server() else { return };
    let _t = Timer::start("oidc-provider modern: PAR required by the server");
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::public(id("interop-public"))),
    )
    .await;
    assert!(client.metadata().unwrap().requires_pushed_authorization());
    // The server means it: a plain authorization URL is refused.
    let listener = loopback().await;
    let req = client
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(Scope::parse("openid").unwrap());
    let (url, pending) = req.build(&mut OsRandom).unwrap();
    let err = follow(listener, url, &pending).await.authorization_error();
    assert_eq!(err.error, "invalid_request", "{err}");
    // start_authorization pushes on its own.
    let (tokens, _, url) = started_code_flow(&client, "openid offline_access").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test]
async fn par_chosen_by_a_confidential_client() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: PAR chosen by the client");
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::secret_basic(
            id("interop-confidential"),
            ClientSecret::new("interop-confidential-secret").unwrap(),
        ))
        .pushed_authorization(true),
    )
    .await;
    assert!(!client.metadata().unwrap().requires_pushed_authorization());
    // Client authentication at the PAR endpoint (Basic), the code flow through it.
    let (tokens, _, url) = started_code_flow(&client, "openid offline_access").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    let request_uri = param(&url, "request_uri").unwrap();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{request_uri}"
    );
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.token_type.as_str().to_ascii_lowercase(), "bearer");
}

#[tokio::test]
async fn jar_by_value_is_required_and_accepted() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: JAR by value");
    let k = keys();
    let creds = || Credentials::private_key_jwt(id("modern-jar"), signer(&k.es256));
    // The client must sign its requests: a plain one is refused.
    let plain = discover_with(s, OAuthClient::builder(creds())).await;
    let listener = loopback().await;
    let req = plain
        .authorization_request(listener.redirect_uri().clone())
        .unwrap()
        .scope(Scope::parse("openid").unwrap());
    let (url, pending) = plain.start_authorization(&req).await.unwrap();
    let err = follow(listener, url, &pending).await.authorization_error();
    assert_eq!(err.error, "invalid_request", "{err}");

    let client = discover_with(
        s,
        OAuthClient::builder(creds()).request_object_signer(signer(&k.es256)),
    )
    .await;
    let (tokens, pending, url) = started_code_flow(&client, "openid offline_access").await;
    assert_eq!(param_names(&url), ["client_id", "request"], "{url}");
    let claims = jwt_claims(&param(&url, "request").unwrap());
    assert_eq!(claims["iss"], "modern-jar");
    assert_eq!(claims["aud"], s.issuer.as_str());
    assert_eq!(claims["code_challenge_method"], "S256");
    // The code went to the token endpoint with private_key_jwt (ES256).
    assert!(tokens.refresh_token.is_some());
    let id_claims = client
        .verify_id_token(
            tokens.id_token.as_ref().unwrap(),
            pending.nonce.as_ref(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(id_claims.aud, vec!["modern-jar".to_owned()]);
    let again = client
        .refresh(tokens.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap();
    assert_ne!(again.access_token.secret(), tokens.access_token.secret());
}

#[tokio::test]
async fn jar_inside_par() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: JAR inside PAR");
    let k = keys();
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::private_key_jwt(
            id("modern-jar"),
            signer(&k.es256),
        ))
        .request_object_signer(signer(&k.es256))
        .pushed_authorization(true),
    )
    .await;
    let (tokens, _, url) = started_code_flow(&client, "openid").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    assert!(tokens.id_token.is_some());
}

#[tokio::test]
async fn private_key_jwt_with_es256_and_eddsa() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: private_key_jwt");
    let k = keys();
    for (client_id, key) in [
        ("modern-pkjwt-es256", &k.es256),
        ("modern-pkjwt-eddsa", &k.eddsa),
    ] {
        // Each client is registered for one algorithm: nothing else gets through.
        let client = discover_with(
            s,
            OAuthClient::builder(Credentials::private_key_jwt(id(client_id), signer(key))),
        )
        .await;
        let tokens = client.client_credentials(None).await.unwrap();
        // Introspection authenticates the same way (a fresh assertion: jti is single-use).
        let info = client
            .introspect(tokens.access_token.secret(), None)
            .await
            .unwrap();
        assert!(info.active, "{client_id}");
        assert_eq!(info.client_id.as_deref(), Some(client_id));
        // The code flow and a refresh.
        let (tokens, _, _) = started_code_flow(&client, "openid offline_access").await;
        let again = client
            .refresh(tokens.refresh_token.as_ref().unwrap(), None)
            .await
            .unwrap();
        assert!(again.refresh_token.is_some(), "{client_id}");
    }
    // The token endpoint as `aud` (RFC 7523's other reading) is accepted too.
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::private_key_jwt(
            id("modern-pkjwt-es256"),
            signer(&k.es256),
        ))
        .assertion_audience(format!("{}/token", s.issuer)),
    )
    .await;
    assert_eq!(
        client.endpoints().token.as_ref().unwrap().as_str(),
        format!("{}/token", s.issuer)
    );
    client.client_credentials(None).await.unwrap();
}

#[tokio::test]
async fn client_secret_jwt() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: client_secret_jwt");
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::secret_jwt(
            id("modern-secret-jwt"),
            ClientSecret::new(JWT_SECRET).unwrap(),
        )),
    )
    .await;
    let tokens = client.client_credentials(None).await.unwrap();
    let info = client
        .introspect(tokens.access_token.secret(), None)
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("modern-secret-jwt"));
    let (tokens, _, _) = started_code_flow(&client, "openid offline_access").await;
    assert!(tokens.refresh_token.is_some());

    let wrong = discover_with(
        s,
        OAuthClient::builder(Credentials::secret_jwt(
            id("modern-secret-jwt"),
            ClientSecret::new(format!("{JWT_SECRET}!")).unwrap(),
        )),
    )
    .await;
    let err = wrong.client_credentials(None).await.unwrap_err();
    assert!(err.is_invalid_client(), "{err:?}");
}

#[tokio::test]
async fn private_key_jwt_with_a_wrong_key_is_invalid_client() {
    let Some(s) = server() else { return };
    let _t = Timer::start("oidc-provider modern: private_key_jwt, wrong key");
    // Same kid and algorithm as the registered key, another key pair.
    let impostor = SigningKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_key_id("es256");
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::private_key_jwt(
            id("modern-pkjwt-es256"),
            signer(&impostor),
        )),
    )
    .await;
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(err.is_invalid_client(), "{err:?}");
    let oauth = err.oauth().expect("the server's OAuth error, kept");
    assert_eq!(oauth.error, "invalid_client");
    assert!(
        oauth.error_description.is_some(),
        "oidc-provider sends a description: {oauth:?}"
    );
    assert!(err.to_string().contains("invalid_client"), "{err}");
    // The other registered key (EdDSA, another client) is no key for this client either.
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::private_key_jwt(
            id("modern-pkjwt-es256"),
            signer(&keys().eddsa),
        )),
    )
    .await;
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(err.is_invalid_client(), "{err:?}");
}

/// RFC 9101 §4: a request object's `aud` is the authorization server's issuer, whatever
/// `aud` the server wants in client assertions. `OAuthClient::start_authorization` signs
/// it with the assertion audience, so `.assertion_audience(token endpoint)` breaks JAR:
/// oidc-provider answers the PAR request with 400 `invalid_request_object` ("Request Object
/// claims are invalid"), and by value the user lands on an error sent to the registered
/// redirect URI.
#[tokio::test]
async fn request_object_aud_is_the_issuer_when_assertions_go_to_the_token_endpoint() {
    let Some(s) = server() else { return };
    let k = keys();
    let client = discover_with(
        s,
        OAuthClient::builder(Credentials::private_key_jwt(
            id("modern-jar"),
            signer(&k.es256),
        ))
        .request_object_signer(signer(&k.es256))
        .pushed_authorization(true)
        .assertion_audience(format!("{}/token", s.issuer)),
    )
    .await;
    let (tokens, _, url) = started_code_flow(&client, "openid").await;
    assert_eq!(param_names(&url), ["client_id", "request_uri"], "{url}");
    assert!(tokens.id_token.is_some());
}
