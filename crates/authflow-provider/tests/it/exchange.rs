//! RFC 8693 token exchange and RFC 8707 resource indicators at `/token`.

use authflow::types::{ClientId, ClientSecret, ResourceIndicator, Scope};
use authflow_provider::{ClientConfig, GrantType};
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{RS, Server, start};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const DOWNSTREAM: &str = "https://downstream.example/";
pub const GATEWAY: (&str, &str) = ("gateway", "gateway-secret");

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// A demo provider (auto-approve as alice) with `gateway`: confidential, token exchange
/// and client credentials, allowed the downstream resource.
pub async fn provider() -> Server {
    let gateway = ClientConfig::confidential(
        ClientId::new(GATEWAY.0).unwrap(),
        ClientSecret::new(GATEWAY.1).unwrap(),
    )
    .grants([GrantType::TokenExchange, GrantType::ClientCredentials])
    .scope(Scope::parse("api:read").unwrap())
    .resource(ResourceIndicator::new(DOWNSTREAM).unwrap());
    start(|b| b.client(gateway).auto_approve(Some("alice".into()))).await
}

/// alice's access token for the CLI client, with its refresh token.
async fn user_token(s: &Server, scope: &str) -> (String, String) {
    let (code, verifier) = s.cli_code(scope).await;
    let (status, t) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn exchange(s: &Server, extra: &[(&str, &str)], who: (&str, &str)) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", EXCHANGE)];
    form.extend_from_slice(extra);
    let (status, _, v) = s.token(&form, Some(who)).await;
    (status, v)
}

#[track_caller]
fn assert_error(got: &(StatusCode, Value), code: &str) {
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert_eq!(got.1["error"], code, "{}", got.1);
}

#[tokio::test]
async fn exchange_issues_a_narrower_token_for_a_registered_audience() {
    let s = provider().await;
    let (subject, _) = user_token(&s, "api:read api:write").await;
    let (status, t) = exchange(
        &s,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS),
            ("audience", DOWNSTREAM),
            ("scope", "api:read"),
        ],
        GATEWAY,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["issued_token_type"], ACCESS);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "api:read");
    assert!(t["refresh_token"].is_null());
    let at = t["access_token"].as_str().unwrap();
    let c = claims(at);
    assert_eq!(c["aud"], DOWNSTREAM);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["client_id"], "gateway");
    assert!(c["exp"].as_u64().unwrap() <= claims(&subject)["exp"].as_u64().unwrap());
    // Meant for the downstream API, not for the provider's own resource...
    let resp = s.api(Method::GET, "/api/me", at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // ...which can check it by introspection.
    let info = s.introspect(at).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["aud"], DOWNSTREAM);
    assert_eq!(info["sub"], "alice");
    // `resource` names the same target.
    let (status, t) = exchange(
        &s,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS),
            ("resource", "https://downstream.example"),
        ],
        GATEWAY,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        DOWNSTREAM
    );
    assert_eq!(
        t["scope"], "api:read api:write",
        "the subject's scope by default"
    );
}

#[tokio::test]
async fn exchange_without_target_is_for_the_provider_and_dies_with_the_grant() {
    let s = provider().await;
    let (subject, rt) = user_token(&s, "api:read").await;
    let (status, t) = exchange(
        &s,
        &[("subject_token", &subject), ("subject_token_type", ACCESS)],
        GATEWAY,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&at)["aud"], s.base);
    let resp = s.api(Method::GET, "/api/data", &at).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Revoking alice's grant (through its refresh token) revokes the exchanged token.
    let (status, _, _) = s
        .post_form(
            "/revoke",
            &[("token", rt.as_str()), ("client_id", "authflow-cli")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = s.api(Method::GET, "/api/data", &at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // And the revoked subject token can no longer be exchanged.
    assert_error(
        &exchange(
            &s,
            &[("subject_token", &subject), ("subject_token_type", ACCESS)],
            GATEWAY,
        )
        .await,
        "invalid_request",
    );
}

#[tokio::test]
async fn exchange_errors_follow_rfc8693() {
    let s = provider().await;
    let (subject, _) = user_token(&s, "api:read").await;
    let st = subject.as_str();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("subject_token_type", ACCESS)], "invalid_request"),
        (vec![("subject_token", st)], "invalid_request"),
        (
            vec![("subject_token", "garbage"), ("subject_token_type", ACCESS)],
            "invalid_request",
        ),
        (
            vec![
                ("subject_token", st),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("subject_token", st),
                ("subject_token_type", ACCESS),
                ("actor_token", st),
                ("actor_token_type", ACCESS),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("subject_token", st),
                ("subject_token_type", ACCESS),
                ("audience", "https://elsewhere.example/"),
            ],
            "invalid_target",
        ),
        (
            vec![
                ("subject_token", st),
                ("subject_token_type", ACCESS),
                ("resource", "not a uri"),
            ],
            "invalid_target",
        ),
        (
            vec![
                ("subject_token", st),
                ("subject_token_type", ACCESS),
                ("resource", DOWNSTREAM),
                ("audience", "other"),
            ],
            "invalid_target",
        ),
        (
            vec![
                ("subject_token", st),
                ("subject_token_type", ACCESS),
                ("scope", "api:read api:write"),
            ],
            "invalid_scope",
        ),
    ];
    for (form, code) in cases {
        let got = exchange(&s, &form, GATEWAY).await;
        assert_error(&got, code);
        assert!(!got.1.to_string().contains(st), "the token is never echoed");
    }
    // Clients without the grant, and public clients.
    let form = [("subject_token", st), ("subject_token_type", ACCESS)];
    assert_error(
        &exchange(&s, &form, ("demo-service", "demo-service-secret")).await,
        "unauthorized_client",
    );
    let mut public = vec![("grant_type", EXCHANGE), ("client_id", "authflow-cli")];
    public.extend_from_slice(&form);
    let (status, _, v) = s.token(&public, None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
}

#[test]
fn token_exchange_needs_a_confidential_client() {
    let c = ClientConfig::public(ClientId::new("p").unwrap()).grants([GrantType::TokenExchange]);
    let err = authflow_provider::Provider::builder()
        .issuer(authflow::types::IssuerUrl::new("http://127.0.0.1:1").unwrap())
        .client(c)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("confidential"), "{err}");
}

#[tokio::test]
async fn resource_indicators_set_the_audience_at_the_token_endpoint() {
    let s = provider().await;
    let cc = |resource: Option<&'static str>| {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        let s = &s;
        async move {
            let (status, _, v) = s.token(&form, Some(GATEWAY)).await;
            (status, v)
        }
    };
    let (status, t) = cc(Some("https://downstream.example")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["aud"], DOWNSTREAM);
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED,
        "a token for another resource is refused here"
    );
    let (status, t) = cc(None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(claims(t["access_token"].as_str().unwrap())["aud"], s.base);
    let issuer: &'static str = Box::leak(s.base.clone().into_boxed_str());
    let (status, t) = cc(Some(issuer)).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(claims(t["access_token"].as_str().unwrap())["aud"], s.base);
    assert_error(
        &cc(Some("https://elsewhere.example/")).await,
        "invalid_target",
    );
    assert_error(
        &cc(Some("https://downstream.example/#frag")).await,
        "invalid_target",
    );
    // A user token for the CLI client: no resource registered, so only the default.
    let (code, verifier) = s.cli_code("api:read").await;
    let (status, _, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "authflow-cli"),
                ("code", &code),
                ("redirect_uri", crate::support::CLI_REDIRECT),
                ("code_verifier", &verifier),
                ("resource", DOWNSTREAM),
            ],
            None,
        )
        .await;
    assert_error(&(status, v), "invalid_target");
    // The code was not consumed by the refused request.
    let (status, t) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t}");
}

#[tokio::test]
async fn tokens_for_other_resources_can_be_revoked_and_introspected() {
    let s = provider().await;
    let (status, _, t) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", DOWNSTREAM),
            ],
            Some(GATEWAY),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(s.introspect(at).await["active"], true);
    let (status, _, _) = s
        .post_form("/revoke", &[("token", at)], Some(GATEWAY))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.introspect(at).await["active"], false);
    let _ = RS;
}
