use reqwest::StatusCode;

use crate::support::{self, CLI_REDIRECT, auto, pkce, start};

fn base_params(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", CLI_REDIRECT),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn assert_error_page(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers().get("location").is_none(),
        "must never redirect"
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    resp.text().await.unwrap()
}

#[tokio::test]
async fn success_redirect_carries_code_state_and_iss() {
    let s = auto().await;
    let (_, ch) = pkce();
    let q = s.authorize_redirect(&base_params(&ch)).await;
    assert!(q.contains_key("code"));
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], s.base);
}

#[tokio::test]
async fn redirect_mismatch_is_an_error_page_not_a_redirect() {
    let s = auto().await;
    let (_, ch) = pkce();
    for bad in [
        "http://127.0.0.1:43210/other",
        "http://localhost:43210/callback",
        "https://evil.example/callback",
        "http://127.0.0.1:43210/callback?x=1",
    ] {
        let mut p = base_params(&ch);
        p[2] = ("redirect_uri", bad);
        let body = assert_error_page(s.authorize(&p).await).await;
        assert!(body.contains("redirect URI"), "{bad}: {body}");
    }
    // Confidential web client: the loopback port rule is for native apps; exact match.
    let p = [
        ("response_type", "code"),
        ("client_id", "demo-web"),
        ("redirect_uri", "http://127.0.0.1:3001/callback"),
    ];
    assert_error_page(s.authorize(&p).await).await;
}

#[tokio::test]
async fn loopback_redirect_accepts_any_port() {
    let s = auto().await;
    let (_, ch) = pkce();
    for uri in [
        "http://127.0.0.1:1/callback",
        "http://127.0.0.1:65535/callback",
        "http://127.0.0.1/callback",
    ] {
        let mut p = base_params(&ch);
        p[2] = ("redirect_uri", uri);
        let resp = s.authorize(&p).await;
        let loc = resp.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with(uri), "{loc}");
    }
}

#[tokio::test]
async fn unknown_client_and_repeated_parameters_are_pages() {
    let s = auto().await;
    let (_, ch) = pkce();
    let mut p = base_params(&ch);
    p[1] = ("client_id", "nobody");
    assert_error_page(s.authorize(&p).await).await;
    let mut p = base_params(&ch);
    p.push(("state", "again"));
    let body = assert_error_page(s.authorize(&p).await).await;
    assert!(body.contains("state"));
}

#[tokio::test]
async fn pkce_is_required_and_plain_refused() {
    let s = auto().await;
    let no_pkce = [
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", CLI_REDIRECT),
        ("state", "s1"),
    ];
    let q = s.authorize_redirect(&no_pkce).await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "s1");
    assert_eq!(q["iss"], s.base, "iss on error redirects too");
    let (_, ch) = pkce();
    let mut p = base_params(&ch);
    p[5] = ("code_challenge_method", "plain");
    assert_eq!(s.authorize_redirect(&p).await["error"], "invalid_request");
    let mut p = base_params(&ch);
    p.pop();
    let q = s.authorize_redirect(&p).await;
    assert_eq!(
        q["error"], "invalid_request",
        "a missing method means plain"
    );
    let mut p = base_params("short");
    p[4] = ("code_challenge", "short");
    assert_eq!(s.authorize_redirect(&p).await["error"], "invalid_request");
}

#[tokio::test]
async fn bad_response_type_and_scope_redirect_with_errors() {
    let s = auto().await;
    let (_, ch) = pkce();
    let mut p = base_params(&ch);
    p[0] = ("response_type", "token");
    assert_eq!(
        s.authorize_redirect(&p).await["error"],
        "unsupported_response_type"
    );
    let mut p = base_params(&ch);
    p.push(("scope", "openid admin"));
    assert_eq!(s.authorize_redirect(&p).await["error"], "invalid_scope");
}

#[tokio::test]
async fn auto_approve_honours_login_hint() {
    let s = auto().await;
    let (verifier, ch) = pkce();
    let mut p = base_params(&ch);
    p.push(("login_hint", "bob"));
    p.push(("scope", "openid"));
    let q = s.authorize_redirect(&p).await;
    let (status, tok) = s.exchange_cli(&q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    let me = s
        .api(
            reqwest::Method::GET,
            "/api/me",
            tok["access_token"].as_str().unwrap(),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(me["sub"], "bob");
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

struct LoginPage {
    pending: String,
    csrf: String,
    cookie: String,
}

async fn open_login(s: &support::Server, ch: &str) -> LoginPage {
    let resp = s.authorize(&base_params(ch)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
    assert!(!html.contains("<script"), "no JavaScript");
    LoginPage {
        pending: hidden(&html, "pending"),
        csrf: hidden(&html, "csrf"),
        cookie,
    }
}

async fn post_page<K: serde::Serialize, V: serde::Serialize>(
    s: &support::Server,
    path: &str,
    cookie: Option<&str>,
    form: &[(K, V)],
) -> reqwest::Response {
    let mut req = s.http.post(s.url(path)).form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn login_and_consent_pages_issue_a_code() {
    let s = start(|b| b).await;
    let (verifier, ch) = pkce();
    let page = open_login(&s, &ch).await;
    let login = |user: &'static str, pw: &'static str| {
        [
            ("pending", page.pending.clone()),
            ("csrf", page.csrf.clone()),
            ("username", user.to_owned()),
            ("password", pw.to_owned()),
            ("action", "login".to_owned()),
        ]
    };
    let post_login = |cookie: Option<&'static str>, user, pw| {
        let form = login(user, pw);
        let cookie = cookie.map(|_| page.cookie.clone());
        let s = &s;
        async move { post_page(s, "/authorize/login", cookie.as_deref(), &form).await }
    };
    // No cookie: the CSRF check fails.
    let resp = post_login(None, "alice", "alice-password").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Wrong password: the form again.
    let resp = post_login(Some(""), "alice", "wrong").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Wrong user name or password")
    );
    // Right password: the consent page.
    let resp = post_login(Some(""), "alice", "alice-password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Allow") && html.contains("alice"));
    let csrf = hidden(&html, "csrf");
    let resp = post_page(
        &s,
        "/authorize/consent",
        Some(&page.cookie),
        &[
            ("pending", page.pending.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], s.base);
    let (status, _) = s.exchange_cli(&q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK);
    // The pending login is finished: posting again is refused.
    let resp = post_page(
        &s,
        "/authorize/consent",
        Some(&page.cookie),
        &[
            ("pending", page.pending.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deny_and_cancel_redirect_with_access_denied() {
    let s = start(|b| b).await;
    let (_, ch) = pkce();
    let page = open_login(&s, &ch).await;
    let resp = post_page(
        &s,
        "/authorize/login",
        Some(&page.cookie),
        &[
            ("pending", page.pending.as_str()),
            ("csrf", page.csrf.as_str()),
            ("action", "cancel"),
        ],
    )
    .await;
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["iss"], s.base);

    let page = open_login(&s, &ch).await;
    let resp = post_page(
        &s,
        "/authorize/login",
        Some(&page.cookie),
        &[
            ("pending", page.pending.as_str()),
            ("csrf", page.csrf.as_str()),
            ("username", "bob"),
            ("password", "bob-password"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post_page(
        &s,
        "/authorize/consent",
        Some(&page.cookie),
        &[
            ("pending", page.pending.as_str()),
            ("csrf", page.csrf.as_str()),
            ("decision", "deny"),
        ],
    )
    .await;
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz");
}

#[tokio::test]
async fn discovery_documents() {
    let s = auto().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let v: serde_json::Value = s
            .http
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["issuer"], s.base);
        assert_eq!(
            v["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(v["authorization_response_iss_parameter_supported"], true);
        assert_eq!(v["token_endpoint"], format!("{}/token", s.base));
        assert_eq!(
            v["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256", "EdDSA"]),
            "{path}: OIDC Discovery §3 makes RS256 mandatory"
        );
    }
    let v: serde_json::Value = s
        .http
        .get(s.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["resource"], s.base);
    assert_eq!(v["authorization_servers"][0], s.base);
    let jwks: serde_json::Value = s
        .http
        .get(s.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["kid"], s.provider.signing_key().kid());
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks["keys"][1]["kty"], "RSA");
    assert_eq!(jwks["keys"][1]["alg"], "RS256");
    assert_eq!(jwks["keys"][1]["kid"], s.provider.id_token_key().kid());
    assert_ne!(jwks["keys"][0]["kid"], jwks["keys"][1]["kid"]);
}

// Security review, finding 7: a pending login allowed unlimited password attempts.
#[tokio::test]
async fn login_ends_after_five_wrong_passwords() {
    let s = start(|b| b).await;
    let (_, ch) = pkce();
    let page = open_login(&s, &ch).await;
    let attempt = |pw: &'static str| {
        let form = [
            ("pending", page.pending.clone()),
            ("csrf", page.csrf.clone()),
            ("username", "alice".to_owned()),
            ("password", pw.to_owned()),
            ("action", "login".to_owned()),
        ];
        let (s, cookie) = (&s, page.cookie.clone());
        async move { post_page(s, "/authorize/login", Some(&cookie), &form).await }
    };
    for _ in 0..4 {
        assert_eq!(attempt("wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    // The fifth failure ends the login: back to the application with access_denied.
    let resp = attempt("wrong").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz");
    // Even the right password is refused now: the user starts again from the client.
    let resp = attempt("alice-password").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    // A successful login does not use up an attempt.
    let page = open_login(&s, &ch).await;
    for pw in [
        "wrong",
        "wrong",
        "wrong",
        "wrong",
        "alice-password",
        "alice-password",
    ] {
        let resp = post_page(
            &s,
            "/authorize/login",
            Some(&page.cookie),
            &[
                ("pending", page.pending.as_str()),
                ("csrf", page.csrf.as_str()),
                ("username", "alice"),
                ("password", pw),
            ],
        )
        .await;
        let expected = if pw == "wrong" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(resp.status(), expected);
    }
}
