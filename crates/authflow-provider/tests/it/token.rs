use std::time::Duration;

use authflow::protocol::client_auth::basic_authorization;
use authflow::types::{ClientId, ClientSecret, Scope};
use authflow_provider::{ClientConfig, GrantType};
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{CLI_REDIRECT, auto, start};

fn claims(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let dec = |p: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let h = dec(parts.next().unwrap());
    let c = dec(parts.next().unwrap());
    (h, c)
}

#[tokio::test]
async fn code_exchange_issues_rfc9068_tokens_with_no_store() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("openid api:read offline_access").await;
    let (status, headers, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "authflow-cli"),
                ("code", &code),
                ("redirect_uri", CLI_REDIRECT),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "openid api:read offline_access");
    assert!(v["refresh_token"].is_string());
    let (h, c) = claims(v["access_token"].as_str().unwrap());
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "EdDSA");
    for claim in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "exp",
        "iat",
        "jti",
    ] {
        assert!(!c[claim].is_null(), "missing {claim}");
    }
    assert_eq!(c["iss"], s.base);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["client_id"], "authflow-cli");
    let (idh, id) = claims(v["id_token"].as_str().unwrap());
    assert_eq!(idh["typ"], "JWT");
    assert_eq!(id["aud"], "authflow-cli");
    assert!(id["auth_time"].is_u64() && id["at_hash"].is_string());
}

#[tokio::test]
async fn replayed_code_revokes_what_it_issued() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (status, first) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(
        s.api(Method::GET, "/api/data", at).await.status(),
        StatusCode::OK
    );
    let (status, again) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    let resp = s.api(Method::GET, "/api/data", at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(s.introspect(at).await["active"], false);
    let (status, v) = s
        .refresh_cli(first["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn wrong_or_missing_verifier_fails() {
    let s = auto().await;
    let (code, _) = s.cli_code("api:read").await;
    let (other, _) = crate::support::pkce();
    let (status, v) = s.exchange_cli(&code, &other).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // (That attempt did not consume the code: see
    // hardening::wrong_verifier_redirect_or_client_does_not_burn_the_code.)
    let (code, _) = s.cli_code("api:read").await;
    let (_, _, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "authflow-cli"),
                ("code", &code),
                ("redirect_uri", CLI_REDIRECT),
            ],
            None,
        )
        .await;
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn code_is_bound_to_redirect_uri_and_client() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, _, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "authflow-cli"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/callback"),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
    assert_eq!(v["error"], "invalid_grant");
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, _, v) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CLI_REDIRECT),
                ("code_verifier", &verifier),
            ],
            Some(("demo-web", "demo-web-secret")),
        )
        .await;
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_expire() {
    let s = start(|b| {
        b.auto_approve(Some("alice".into()))
            .code_ttl(Duration::from_secs(1))
    })
    .await;
    let (code, verifier) = s.cli_code("api:read").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        authflow_provider::Provider::builder()
            .issuer(authflow::types::IssuerUrl::new("http://127.0.0.1:1").unwrap())
            .code_ttl(Duration::from_secs(61))
            .build()
            .is_err(),
        "codes live at most 60 s"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_grant() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read api:write").await;
    let (_, t0) = s.exchange_cli(&code, &verifier).await;
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let (status, t1) = s.refresh_cli(rt0, None).await;
    assert_eq!(status, StatusCode::OK, "{t1}");
    assert_eq!(t1["scope"], "api:read api:write", "no scope = as granted");
    let rt1 = t1["refresh_token"].as_str().unwrap();
    assert_ne!(rt0, rt1);
    let (status, t2) = s.refresh_cli(rt1, Some("api:read")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t2["scope"], "api:read");
    let rt2 = t2["refresh_token"].as_str().unwrap();
    let (status, v) = s.refresh_cli(rt2, Some("api:read openid")).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // The refresh that asked too much did not consume rt2; narrowing does not shrink the grant.
    let (status, t3) = s.refresh_cli(rt2, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t3["scope"], "api:read api:write");
    // Reusing rt0 (rotated) revokes everything, the newest tokens included.
    let (status, v) = s.refresh_cli(rt0, None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = s
        .refresh_cli(t3["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let at = t3["access_token"].as_str().unwrap();
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn client_credentials() {
    let s = auto().await;
    let (status, v) = s.service_token(None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], "api:read api:write");
    assert!(v.get("refresh_token").is_none());
    let (_, c) = claims(v["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], "demo-service");
    let (status, v) = s.service_token(Some("api:read")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["scope"], "api:read");
    let (_, v) = s.service_token(Some("openid")).await;
    assert_eq!(v["error"], "invalid_scope");
    // Clients without the grant.
    let (_, _, v) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some(("demo-web", "demo-web-secret")),
        )
        .await;
    assert_eq!(v["error"], "unauthorized_client");
    let (_, _, v) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "authflow-cli"),
            ],
            None,
        )
        .await;
    assert_eq!(v["error"], "unauthorized_client");
    // client_secret_post works too.
    let (status, _, _) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "demo-service"),
                ("client_secret", "demo-service-secret"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn invalid_client_is_401_with_basic_challenge() {
    let s = auto().await;
    for creds in [("demo-service", "wrong"), ("nobody", "x")] {
        let (status, headers, v) = s
            .token(&[("grant_type", "client_credentials")], Some(creds))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(v["error"], "invalid_client");
        assert_eq!(headers["www-authenticate"], "Basic realm=\"authflow\"");
        assert_eq!(headers["cache-control"], "no-store");
    }
    // A confidential client may not skip authentication.
    let (status, _, v) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "demo-service"),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // Two methods at once.
    let (status, _, v) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", "demo-service-secret"),
            ],
            Some(("demo-service", "demo-service-secret")),
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // Garbage in the header.
    let resp = s
        .http
        .post(s.url("/token"))
        .header("authorization", "Basic !!!notbase64")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_before_base64() {
    let id = ClientId::new("svc:1").unwrap();
    let secret = ClientSecret::new("p%:+ x&y").unwrap();
    let client = ClientConfig::confidential(id.clone(), secret.clone())
        .grants([GrantType::ClientCredentials])
        .scope(Scope::parse("api:read").unwrap());
    let s = start(|b| b.client(client)).await;
    let header = basic_authorization(&id, &secret);
    let resp = s
        .http
        .post(s.url("/token"))
        .header("authorization", header.to_str().unwrap())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let s = auto().await;
    let basic = ("demo-service", "demo-service-secret");
    // Repeated parameter.
    let resp = s
        .http
        .post(s.url("/token"))
        .basic_auth(basic.0, Some(basic.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=api:read&scope=api:write")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    // Wrong and missing content types.
    for ct in [
        Some("application/json"),
        Some("text/plain"),
        Some("\u{1}garbage"),
        None,
    ] {
        let mut req = s
            .http
            .post(s.url("/token"))
            .basic_auth(basic.0, Some(basic.1));
        if let Some(ct) = ct {
            req = req.header("content-type", ct.replace('\u{1}', ""));
        }
        let resp = req
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{ct:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_request");
    }
    // Too large.
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(70 * 1024)
    );
    let resp = s
        .http
        .post(s.url("/token"))
        .basic_auth(basic.0, Some(basic.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    // Missing and unknown grant types.
    let (_, _, v) = s.token(&[("scope", "x")], Some(basic)).await;
    assert_eq!(v["error"], "invalid_request");
    let (_, _, v) = s.token(&[("grant_type", "password")], Some(basic)).await;
    assert_eq!(v["error"], "unsupported_grant_type");
    // Wrong method.
    let resp = s.http.get(s.url("/token")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test]
async fn oneshot_garbage_never_panics() {
    use tower::ServiceExt as _;
    let s = auto().await;
    let bodies: [&[u8]; 4] = [b"\xff\xfe\x00", b"%%%%&&&===", b"grant_type=%ZZ", b"=&=&="];
    for body in bodies {
        for path in [
            "/token",
            "/revoke",
            "/introspect",
            "/authorize/login",
            "/authorize/consent",
        ] {
            let req = http::Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header(
                    "authorization",
                    http::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap(),
                )
                .body(axum::body::Body::from(body.to_vec()))
                .unwrap();
            let resp = s.provider.router().oneshot(req).await.unwrap();
            assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        }
    }
}

#[tokio::test]
async fn revocation() {
    let s = auto().await;
    // Access token.
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let (status, _, _) = s
        .post_form(
            "/revoke",
            &[("token", at), ("client_id", "authflow-cli")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = s.refresh_cli(rt, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "revoking the access token leaves the grant"
    );
    // Refresh token: the whole grant.
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let (status, _, _) = s
        .post_form(
            "/revoke",
            &[
                ("token", rt),
                ("token_type_hint", "refresh_token"),
                ("client_id", "authflow-cli"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.refresh_cli(rt, None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Unknown token: 200; no token: invalid_request; another client's token: untouched.
    let (status, _, _) = s
        .post_form(
            "/revoke",
            &[("token", "nope"), ("client_id", "authflow-cli")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, v) = s
        .post_form("/revoke", &[("client_id", "authflow-cli")], None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (_, svc) = s.service_token(None).await;
    let svc_at = svc["access_token"].as_str().unwrap();
    s.post_form(
        "/revoke",
        &[("token", svc_at), ("client_id", "authflow-cli")],
        None,
    )
    .await;
    assert_eq!(
        s.api(Method::GET, "/api/me", svc_at).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn introspection_needs_an_authenticated_client() {
    let s = auto().await;
    let (_, svc) = s.service_token(Some("api:read")).await;
    let at = svc["access_token"].as_str().unwrap();
    let (status, headers, v) = s
        .post_form(
            "/introspect",
            &[("token", at), ("client_id", "authflow-cli")],
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(headers.contains_key("www-authenticate"));
    let v = s.introspect(at).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["scope"], "api:read");
    assert_eq!(v["client_id"], "demo-service");
    assert_eq!(s.introspect("garbage").await["active"], false);
    // Refresh tokens: only for their own client.
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(
        s.introspect(t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
}
