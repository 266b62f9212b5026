//! Pushed authorization requests (RFC 9126) and signed request objects (RFC 9101).

use std::time::Duration;

use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::types::{ClientId, RedirectUri, Scope};
use authflow_provider::ClientConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{CLI_REDIRECT, Server, client_key, jwt_claims, now, pkce, sign, start};

const WEB: (&str, &str) = ("demo-web", "demo-web-secret");
const WEB_REDIRECT: &str = "http://127.0.0.1:3000/callback";
const JAR_REDIRECT: &str = "https://jar.example/cb";

fn web_params(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "api:read"),
        ("state", "pushed-state"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn push(
    s: &Server,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let (status, headers, v) = s.post_form("/par", form, basic).await;
    if status == StatusCode::CREATED {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status, v)
}

async fn assert_error_page(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers().get("location").is_none(),
        "must never redirect"
    );
    resp.text().await.unwrap()
}

async fn auto_with(
    configure: impl FnOnce(authflow_provider::ProviderBuilder) -> authflow_provider::ProviderBuilder,
) -> Server {
    start(|b| configure(b.auto_approve(Some("alice".into())))).await
}

#[tokio::test]
async fn par_round_trip_then_the_request_uri_is_spent() {
    let s = auto_with(|b| b).await;
    let (verifier, challenge) = pkce();
    let (status, v) = push(&s, &web_params(&challenge), Some(WEB)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["expires_in"], 60);
    let uri = v["request_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    // Other query parameters are ignored: only the pushed ones count.
    let q = s
        .authorize_redirect(&[
            ("client_id", "demo-web"),
            ("request_uri", uri),
            ("state", "front"),
        ])
        .await;
    assert_eq!(q["state"], "pushed-state");
    let (status, _, tokens) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", &verifier),
            ],
            Some(WEB),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "api:read");
    let page = assert_error_page(
        s.authorize(&[("client_id", "demo-web"), ("request_uri", uri)])
            .await,
    )
    .await;
    assert!(page.contains("request_uri"), "{page}");
}

#[tokio::test]
async fn another_clients_request_uri_is_refused_and_left_for_its_owner() {
    let s = auto_with(|b| b).await;
    let (_, challenge) = pkce();
    let form = [
        ("client_id", "authflow-cli"),
        ("response_type", "code"),
        ("redirect_uri", CLI_REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let (status, v) = push(&s, &form, None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let uri = v["request_uri"].as_str().unwrap();
    assert_error_page(
        s.authorize(&[("client_id", "demo-web"), ("request_uri", uri)])
            .await,
    )
    .await;
    let q = s
        .authorize_redirect(&[("client_id", "authflow-cli"), ("request_uri", uri)])
        .await;
    assert!(q.contains_key("code"));
    // A request_uri that was never pushed.
    let fake = "urn:ietf:params:oauth:request_uri:made-up";
    assert_error_page(
        s.authorize(&[("client_id", "authflow-cli"), ("request_uri", fake)])
            .await,
    )
    .await;
}

#[tokio::test]
async fn an_expired_request_uri_is_refused() {
    let s = auto_with(|b| b.par_ttl(Duration::from_secs(1))).await;
    let (_, challenge) = pkce();
    let (status, v) = push(&s, &web_params(&challenge), Some(WEB)).await;
    assert_eq!(
        (status, v["expires_in"].as_u64()),
        (StatusCode::CREATED, Some(1))
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let uri = v["request_uri"].as_str().unwrap();
    assert_error_page(
        s.authorize(&[("client_id", "demo-web"), ("request_uri", uri)])
            .await,
    )
    .await;
}

#[tokio::test]
async fn par_validates_as_authorize_does() {
    let s = auto_with(|b| b).await;
    let (_, challenge) = pkce();
    let mut bad_redirect = web_params(&challenge);
    bad_redirect[1] = ("redirect_uri", "https://evil.example/cb");
    let (status, v) = push(&s, &bad_redirect, Some(WEB)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let no_pkce = [
        ("client_id", "authflow-cli"),
        ("response_type", "code"),
        ("redirect_uri", CLI_REDIRECT),
    ];
    let (status, v) = push(&s, &no_pkce, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error_description"].as_str().unwrap().contains("PKCE"),
        "{v}"
    );
    let mut wide = web_params(&challenge);
    wide[2] = ("scope", "admin");
    assert_eq!(push(&s, &wide, Some(WEB)).await.1["error"], "invalid_scope");
    let mut with_uri = web_params(&challenge);
    with_uri.push(("request_uri", "urn:ietf:params:oauth:request_uri:x"));
    assert_eq!(
        push(&s, &with_uri, Some(WEB)).await.0,
        StatusCode::BAD_REQUEST
    );
    // A confidential client must authenticate here as at the token endpoint.
    let mut unauthenticated = web_params(&challenge);
    unauthenticated.push(("client_id", "demo-web"));
    assert_eq!(
        push(&s, &unauthenticated, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        push(&s, &web_params(&challenge), Some(("demo-web", "wrong")))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn required_par_refuses_front_channel_requests() {
    let (_, challenge) = pkce();
    let front = [
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", CLI_REDIRECT),
        ("state", "st"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    // For every client.
    let s = auto_with(|b| b.require_pushed_authorization_requests(true)).await;
    let q = s.authorize_redirect(&front).await;
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("code"));
    let (status, v) = push(&s, &front, None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let uri = v["request_uri"].as_str().unwrap();
    let q = s
        .authorize_redirect(&[("client_id", "authflow-cli"), ("request_uri", uri)])
        .await;
    assert!(q.contains_key("code"), "{q:?}");
    let meta: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    // For one client only.
    let strict = ClientConfig::public(ClientId::new("strict").unwrap())
        .redirect_uri(RedirectUri::new(CLI_REDIRECT).unwrap())
        .require_pushed_authorization_requests(true);
    let s = auto_with(|b| b.client(strict)).await;
    let mut strict_front = front.to_vec();
    strict_front[1] = ("client_id", "strict");
    assert_eq!(
        s.authorize_redirect(&strict_front).await["error"],
        "invalid_request"
    );
    assert!(
        s.authorize_redirect(&front).await.contains_key("code"),
        "others are free"
    );
}

/// A provider with `jar-app` (public, ES256 key `k1`) and `jar-strict` (must sign).
async fn jar_server() -> (Server, SigningKey) {
    let (key, jwks) = client_key(JwsAlgorithm::ES256, "k1");
    let scope = Scope::parse("openid api:read api:write").unwrap();
    let app = |id: &str| {
        ClientConfig::public(ClientId::new(id).unwrap())
            .redirect_uri(RedirectUri::new(JAR_REDIRECT).unwrap())
            .scope(scope.clone())
            .jwks(jwks.clone())
    };
    let s = auto_with(|b| {
        b.client(app("jar-app"))
            .client(app("jar-strict").require_signed_request_object(true))
    })
    .await;
    (s, key)
}

fn request_claims(s: &Server, client: &str, challenge: &str) -> Value {
    let now = now();
    json!({
        "iss": client,
        "aud": s.base,
        "client_id": client,
        "exp": now + 60,
        "iat": now,
        "response_type": "code",
        "redirect_uri": JAR_REDIRECT,
        "scope": "api:read",
        "state": "signed-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
}

#[tokio::test]
async fn a_signed_request_object_is_the_only_source_of_parameters() {
    let (s, key) = jar_server().await;
    let (verifier, challenge) = pkce();
    let jwt = sign(
        &key,
        "oauth-authz-req+jwt",
        request_claims(&s, "jar-app", &challenge),
    );
    let q = s
        .authorize_redirect(&[
            ("client_id", "jar-app"),
            ("request", &jwt),
            ("state", "outer-state"),
            ("scope", "api:write"),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .await;
    assert_eq!(q["state"], "signed-state", "outer parameters are ignored");
    let (status, _, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "jar-app"),
                ("code", &q["code"]),
                ("redirect_uri", JAR_REDIRECT),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], "api:read");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["scope"],
        "api:read"
    );
}

#[tokio::test]
async fn request_objects_that_do_not_verify_are_error_pages() {
    let (s, key) = jar_server().await;
    let (_, challenge) = pkce();
    let good = request_claims(&s, "jar-app", &challenge);
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let other = SigningKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_key_id("k1");
    let mut mismatched = good.clone();
    mismatched["client_id"] = "authflow-cli".into();
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = "https://other-issuer.example".into();
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut far_exp = good.clone();
    far_exp["exp"] = (now() + 86_400).into();
    let cases = [
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good)),
        ),
        (
            "wrong signature",
            sign(&other, "oauth-authz-req+jwt", good.clone()),
        ),
        (
            "client_id mismatch",
            sign(&key, "oauth-authz-req+jwt", mismatched),
        ),
        ("wrong aud", sign(&key, "oauth-authz-req+jwt", wrong_aud)),
        ("no exp", sign(&key, "oauth-authz-req+jwt", no_exp)),
        ("exp too far", sign(&key, "oauth-authz-req+jwt", far_exp)),
        ("dpop typ", sign(&key, "dpop+jwt", good.clone())),
        (
            "HS256",
            format!(
                "{}.{}.c2ln",
                b64(&json!({"alg": "HS256", "typ": "JWT"})),
                b64(&good)
            ),
        ),
    ];
    for (what, jwt) in cases {
        let resp = s
            .authorize(&[("client_id", "jar-app"), ("request", &jwt)])
            .await;
        let page = assert_error_page(resp).await;
        assert!(page.contains("invalid_request_object"), "{what}: {page}");
    }
    // The same refusals at /par are JSON.
    let jwt = sign(&other, "oauth-authz-req+jwt", good);
    let (status, v) = push(&s, &[("client_id", "jar-app"), ("request", &jwt)], None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request_object"))
    );
}

#[tokio::test]
async fn signed_requests_can_be_required_and_pushed() {
    let (s, key) = jar_server().await;
    let (_, challenge) = pkce();
    let plain = [
        ("client_id", "jar-strict"),
        ("response_type", "code"),
        ("redirect_uri", JAR_REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let q = s.authorize_redirect(&plain).await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(push(&s, &plain, None).await.0, StatusCode::BAD_REQUEST);
    let jwt = sign(&key, "JWT", request_claims(&s, "jar-strict", &challenge));
    let (status, v) = push(&s, &[("client_id", "jar-strict"), ("request", &jwt)], None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let uri = v["request_uri"].as_str().unwrap();
    let q = s
        .authorize_redirect(&[("client_id", "jar-strict"), ("request_uri", uri)])
        .await;
    assert_eq!(q["state"], "signed-state");
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn metadata_announces_par_jar_dpop_and_jwt_client_auth() {
    let s = start(|b| b).await;
    let meta: Value = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["pushed_authorization_request_endpoint"], s.url("/par"));
    assert_eq!(meta["require_pushed_authorization_requests"], false);
    assert_eq!(meta["request_parameter_supported"], true);
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    let has = |field: &str, value: &str| {
        meta[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} missing"))
            .iter()
            .any(|v| v == value)
    };
    for field in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        assert!(
            has(field, "private_key_jwt") && has(field, "client_secret_jwt"),
            "{field}"
        );
    }
    assert!(!has(
        "introspection_endpoint_auth_methods_supported",
        "none"
    ));
    assert!(has(
        "token_endpoint_auth_signing_alg_values_supported",
        "ES256"
    ));
    assert!(has(
        "token_endpoint_auth_signing_alg_values_supported",
        "HS256"
    ));
    assert!(has("request_object_signing_alg_values_supported", "PS256"));
    assert!(!has("request_object_signing_alg_values_supported", "HS256"));
    assert!(!has("request_object_signing_alg_values_supported", "none"));
    assert!(has(
        "grant_types_supported",
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ));
}
