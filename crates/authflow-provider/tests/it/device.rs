//! RFC 8628 device authorization grant: `/device_authorization`, the `/device` page
//! (auto-approve and the login/consent pages), and polling at `/token`.

use std::time::Duration;

use authflow::types::ClientId;
use authflow_provider::{ClientConfig, GrantType};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Server, start};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A provider with a 1 s polling interval; auto-approving as alice when `auto`.
async fn provider(auto: bool) -> Server {
    start(|b| {
        let b = b.device_interval(Duration::from_secs(1));
        if auto {
            b.auto_approve(Some("alice".into()))
        } else {
            b
        }
    })
    .await
}

async fn authorize_device(s: &Server, scope: &str) -> Value {
    let (status, headers, v) = s
        .post_form(
            "/device_authorization",
            &[("client_id", "authflow-cli"), ("scope", scope)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(headers["cache-control"], "no-store");
    v
}

async fn poll(s: &Server, device_code: &str) -> (StatusCode, Value) {
    let (status, _, v) = s
        .token(
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", "authflow-cli"),
                ("device_code", device_code),
            ],
            None,
        )
        .await;
    (status, v)
}

#[track_caller]
fn assert_error(got: &(StatusCode, Value), code: &str) {
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert_eq!(got.1["error"], code, "{}", got.1);
}

fn is_user_code(c: &str) -> bool {
    let alphabet = "BCDFGHJKLMNPQRSTVWXZ";
    c.len() == 9
        && c.char_indices().all(|(i, ch)| {
            if i == 4 {
                ch == '-'
            } else {
                alphabet.contains(ch)
            }
        })
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn cookie_of(resp: &reqwest::Response) -> String {
    let c = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    c.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn device_authorization_response_follows_rfc8628() {
    let s = provider(true).await;
    let v = authorize_device(&s, "openid api:read").await;
    let user_code = v["user_code"].as_str().unwrap();
    assert!(is_user_code(user_code), "{user_code}");
    assert_eq!(v["verification_uri"], s.url("/device"));
    assert_eq!(
        v["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", s.base)
    );
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["interval"], 1);
    let dc = v["device_code"].as_str().unwrap();
    assert!(dc.len() >= 43 && !dc.contains(user_code));
    let other = authorize_device(&s, "api:read").await;
    assert_ne!(other["user_code"], v["user_code"]);
    assert_ne!(other["device_code"], v["device_code"]);
}

#[tokio::test]
async fn device_authorization_checks_client_and_scope() {
    let s = provider(true).await;
    let form = |c: &'static str, scope: &'static str| vec![("client_id", c), ("scope", scope)];
    let (status, _, v) = s
        .post_form(
            "/device_authorization",
            &form("authflow-cli", "api:read admin"),
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // demo-web is not allowed the device grant.
    let (status, _, v) = s
        .post_form(
            "/device_authorization",
            &[("scope", "openid")],
            Some(("demo-web", "demo-web-secret")),
        )
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    // A confidential client must authenticate, as at /token.
    let (status, headers, v) = s
        .post_form("/device_authorization", &form("demo-web", "openid"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "invalid_client");
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, v) = s
        .post_form("/device_authorization", &form("nobody", "openid"), None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let resp = s
        .http
        .get(s.url("/device_authorization"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn polling_pending_slow_down_then_tokens_once() {
    let s = provider(true).await;
    let v = authorize_device(&s, "openid api:read offline_access").await;
    let dc = v["device_code"].as_str().unwrap();
    assert_error(&poll(&s, dc).await, "authorization_pending");
    assert_error(&poll(&s, dc).await, "slow_down");
    // Auto-approve: opening verification_uri_complete approves at once.
    let resp = s
        .http
        .get(v["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Device connected"));
    // A decision is reported at once, however fast the client polls.
    let (status, t) = poll(&s, dc).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["scope"], "openid api:read offline_access");
    assert!(t["refresh_token"].is_string() && t["id_token"].is_string());
    let me: Value = s
        .api(Method::GET, "/api/me", t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["client_id"], "authflow-cli");
    // Single use.
    assert_error(&poll(&s, dc).await, "invalid_grant");
    // The refresh token works like any other.
    let (status, r) = s
        .refresh_cli(t["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    // The user code is spent too.
    let resp = s
        .http
        .get(v["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn slow_down_lengthens_the_interval_by_five_seconds() {
    let s = provider(false).await;
    let v = authorize_device(&s, "api:read").await;
    let dc = v["device_code"].as_str().unwrap();
    assert_error(&poll(&s, dc).await, "authorization_pending");
    assert_error(&poll(&s, dc).await, "slow_down");
    // The interval is now 6 s: 1.2 s later is still too fast.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_error(&poll(&s, dc).await, "slow_down");
}

#[tokio::test]
async fn unknown_or_foreign_device_codes_are_invalid_grant() {
    let tv = ClientConfig::public(ClientId::new("tv").unwrap()).grants([GrantType::DeviceCode]);
    let s = start(|b| b.client(tv).auto_approve(Some("alice".into()))).await;
    assert_error(&poll(&s, "not-a-device-code").await, "invalid_grant");
    let v = authorize_device(&s, "api:read").await;
    let dc = v["device_code"].as_str().unwrap();
    // Another client may not poll with it.
    let (status, _, e) = s
        .token(
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", "tv"),
                ("device_code", dc),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A client without the grant is told so.
    let (status, _, e) = s
        .token(
            &[("grant_type", DEVICE_GRANT), ("device_code", dc)],
            Some(("demo-web", "demo-web-secret")),
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (status, _, e) = s
        .token(
            &[("grant_type", DEVICE_GRANT), ("client_id", "authflow-cli")],
            None,
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

/// Enters the code on the `/device` form; the response (the login page, normally).
async fn enter_code(s: &Server, typed: &str) -> reqwest::Response {
    let resp = s.http.get(s.url("/device")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = cookie_of(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
    assert!(!html.contains("<script"));
    let csrf = hidden(&html, "csrf");
    // Without the cookie: the CSRF check fails.
    let resp = s
        .http
        .post(s.url("/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", typed)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    s.http
        .post(s.url("/device"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("user_code", typed)])
        .send()
        .await
        .unwrap()
}

/// Logs in as bob from the login page and answers the consent page with `decision`.
async fn login_and_decide(s: &Server, login_page: reqwest::Response, decision: &str) -> String {
    assert_eq!(login_page.status(), StatusCode::OK);
    let cookie = cookie_of(&login_page);
    let html = login_page.text().await.unwrap();
    let (pending, csrf) = (hidden(&html, "pending"), hidden(&html, "csrf"));
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let req = s
            .http
            .post(s.url(path))
            .header("cookie", &cookie)
            .form(&form);
        async move { req.send().await.unwrap() }
    };
    let consent = post(
        "/authorize/login",
        vec![
            ("pending", pending.clone()),
            ("csrf", csrf.clone()),
            ("username", "bob".into()),
            ("password", "bob-password".into()),
            ("action", "login".into()),
        ],
    )
    .await;
    assert_eq!(consent.status(), StatusCode::OK);
    assert!(consent.text().await.unwrap().contains("api:read"));
    let done = post(
        "/authorize/consent",
        vec![
            ("pending", pending),
            ("csrf", csrf),
            ("decision", decision.into()),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK, "no redirect for a device");
    assert!(!done.headers().contains_key("location"));
    done.text().await.unwrap()
}

#[tokio::test]
async fn the_device_page_signs_in_through_login_and_consent() {
    let s = provider(false).await;
    let v = authorize_device(&s, "api:read").await;
    let dc = v["device_code"].as_str().unwrap();
    // A wrong code is shown the form again.
    let resp = enter_code(&s, "BCDF-GHJK").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("not valid"));
    // Case and dash do not matter.
    let typed = v["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let login = enter_code(&s, &typed).await;
    let html = login_and_decide(&s, login, "allow").await;
    assert!(html.contains("Device connected"), "{html}");
    let (status, t) = poll(&s, dc).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let me: Value = s
        .api(Method::GET, "/api/me", t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "bob");
}

#[tokio::test]
async fn denying_on_the_consent_page_is_access_denied() {
    let s = provider(false).await;
    let v = authorize_device(&s, "api:read").await;
    let dc = v["device_code"].as_str().unwrap();
    let login = enter_code(&s, v["user_code"].as_str().unwrap()).await;
    let html = login_and_decide(&s, login, "deny").await;
    assert!(html.contains("Access denied"), "{html}");
    assert_error(&poll(&s, dc).await, "access_denied");
    assert_error(&poll(&s, dc).await, "access_denied");
}

#[tokio::test]
async fn cancelling_the_login_is_access_denied() {
    let s = provider(false).await;
    let v = authorize_device(&s, "api:read").await;
    let dc = v["device_code"].as_str().unwrap();
    let login = enter_code(&s, v["user_code"].as_str().unwrap()).await;
    let cookie = cookie_of(&login);
    let html = login.text().await.unwrap();
    let resp = s
        .http
        .post(s.url("/authorize/login"))
        .header("cookie", &cookie)
        .form(&[
            ("pending", hidden(&html, "pending")),
            ("csrf", hidden(&html, "csrf")),
            ("action", "cancel".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(&poll(&s, dc).await, "access_denied");
}

#[tokio::test]
async fn discovery_advertises_the_device_endpoint_and_grant() {
    let s = provider(true).await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let v: Value = s
            .http
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            v["device_authorization_endpoint"],
            s.url("/device_authorization")
        );
        let grants = v["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&DEVICE_GRANT.into()), "{path}");
        assert!(
            grants.contains(&"urn:ietf:params:oauth:grant-type:token-exchange".into()),
            "{path}"
        );
    }
}
