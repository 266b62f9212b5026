//! Dynamic client registration (RFC 7591) and its management (RFC 7592), and the
//! step-up resource `/api/admin`.

use authflow::types::AccessToken;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{self, Server, pkce};

const REDIRECT: &str = "http://127.0.0.1:43211/cb";

async fn open() -> Server {
    support::start(|b| {
        b.dynamic_registration(true)
            .auto_approve(Some("alice".into()))
    })
    .await
}

async fn register(s: &Server, body: &Value, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = s.http.post(s.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A code for `client_id` (auto-approve), then the token response.
async fn login(
    s: &Server,
    client_id: &str,
    scope: &str,
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let (verifier, challenge) = pkce();
    let q = s
        .authorize_redirect(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    let code = q.get("code").unwrap_or_else(|| panic!("no code: {q:?}"));
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    if basic.is_none() {
        form.push(("client_id", client_id));
    }
    let (status, _, body) = s.token(&form, basic).await;
    (status, body)
}

#[tokio::test]
async fn a_registered_client_logs_in_is_read_deleted_and_then_gone() {
    let s = open().await;
    let meta: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["registration_endpoint"], s.url("/register"));

    let (status, reg) = register(
        &s,
        &json!({
            "redirect_uris": [REDIRECT],
            "client_name": "Test App",
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid api:read",
            "not_a_known_field": true
        }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg.get("not_a_known_field").is_none(), "{reg}");

    let (status, tokens) = login(&s, id, "openid api:read", Some((id, secret))).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    let resp = s.api(reqwest::Method::GET, "/api/data", at).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The wrong secret is refused like any client's.
    let (status, _, _) = s
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            Some((id, "wrong")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let read = s.http.get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], id);
    assert_eq!(read["client_name"], "Test App");
    assert!(read.get("client_secret").is_none());
    let wrong = s.http.get(uri).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let del = s.http.delete(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    let again = s.http.get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let (verifier, challenge) = pkce();
    let _ = verifier;
    let resp = s
        .authorize(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "an error page");
    assert!(resp.headers().get("location").is_none());
    let (status, _, body) = s
        .token(&[("grant_type", "client_credentials")], Some((id, secret)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_public_native_app_registers_without_a_secret() {
    let s = open().await;
    let (status, reg) = register(
        &s,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]
        }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert!(reg.get("client_secret").is_none());
    let id = reg["client_id"].as_str().unwrap();
    let (status, tokens) = login(&s, id, "openid", None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn an_initial_access_token_is_required_when_configured() {
    let s = support::start(|b| {
        b.registration_initial_token(AccessToken::new("initial-secret").unwrap())
    })
    .await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    for token in [None, Some("wrong")] {
        let resp = s
            .http
            .post(s.url("/register"))
            .json(&body)
            .header(
                "authorization",
                token.map(|t| format!("Bearer {t}")).unwrap_or_default(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    let (status, reg) = register(&s, &body, Some("initial-secret")).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
}

#[tokio::test]
async fn registration_is_off_unless_turned_on() {
    let s = support::auto().await;
    let (status, _) = register(&s, &json!({"redirect_uris": [REDIRECT]}), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let meta: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn bad_metadata_gets_the_rfc_7591_errors() {
    let s = open().await;
    let cases = [
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"grant_types": ["authorization_code"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "not a list"}),
            "invalid_client_metadata",
        ),
    ];
    for (body, code) in cases {
        let (status, err) = register(&s, &body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["error"], code, "{body}: {err}");
        assert!(err["error_description"].is_string());
    }
    let big = json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(20_000)});
    let (status, err) = register(&s, &big, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
}

#[tokio::test]
async fn the_number_of_registered_clients_is_capped() {
    let s = support::start(|b| b.dynamic_registration(true).max_registered_clients(1)).await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let (status, _) = register(&s, &body, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = register(&s, &body, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{err}");
}

#[tokio::test]
async fn the_admin_resource_needs_a_step_up_to_api_admin() {
    let s = open().await;
    let prm: Value = s
        .http
        .get(s.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        prm["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("api:admin")),
        "{prm}"
    );
    let (_, reg) = register(
        &s,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "scope": "api:read api:admin"
        }),
        None,
    )
    .await;
    let id = reg["client_id"].as_str().unwrap();
    let (_, narrow) = login(&s, id, "api:read", None).await;
    let resp = s
        .api(
            reqwest::Method::GET,
            "/api/admin",
            narrow["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert!(challenge.contains(r#"scope="api:admin""#), "{challenge}");
    assert!(challenge.contains("resource_metadata="), "{challenge}");

    let (_, wide) = login(&s, id, "api:read api:admin", None).await;
    let resp = s
        .api(
            reqwest::Method::GET,
            "/api/admin",
            wide["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}
