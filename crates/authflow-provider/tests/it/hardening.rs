//! Regression tests for the security review's findings, each over a real socket.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{self, CLI_REDIRECT, auto, pkce};

const SERVICE: (&str, &str) = ("demo-service", "demo-service-secret");

fn authorize_query(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", CLI_REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn encode(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn raw_token(s: &support::Server, body: String) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(s.url("/token"))
        .basic_auth(SERVICE.0, Some(SERVICE.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn raw_authorize(s: &support::Server, query: &str) -> reqwest::Response {
    s.http
        .get(format!("{}/authorize?{query}", s.base))
        .send()
        .await
        .unwrap()
}

async fn assert_error_page(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none(), "never redirected");
    resp.text().await.unwrap()
}

// Finding 1: duplicate detection was quadratic in the number of parameters.
#[tokio::test]
async fn too_many_parameters_are_refused_in_bodies_and_queries() {
    let s = auto().await;
    // 17k distinct names fill a 64 KiB body; refused after the 65th.
    let mut body = String::from("grant_type=client_credentials");
    let mut i = 0;
    while body.len() < 63 * 1024 {
        body.push_str(&format!("&{i:x}"));
        i += 1;
    }
    let started = std::time::Instant::now();
    let (status, v) = raw_token(&s, body).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // 64 parameters are fine, 65 are not.
    let pad: Vec<String> = (0..62).map(|i| format!("x{i}=1")).collect();
    let body = format!(
        "grant_type=client_credentials&scope=api:read&{}",
        pad.join("&")
    );
    assert_eq!(raw_token(&s, body.clone()).await.0, StatusCode::OK);
    let (status, v) = raw_token(&s, format!("{body}&one=more")).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // The same cap on /authorize queries: an error page, not a redirect.
    let (_, ch) = pkce();
    let query = format!(
        "{}&{}&state=s",
        encode(&authorize_query(&ch)),
        pad.join("&")
    );
    assert_error_page(raw_authorize(&s, &query).await).await;
}

// Finding 1: parameters were percent-decoded lossily (U+FFFD for invalid UTF-8).
#[tokio::test]
async fn invalid_utf8_parameters_are_refused_and_state_comes_back_byte_identical() {
    let s = auto().await;
    let (status, v) = raw_token(
        &s,
        "grant_type=client_credentials&scope=api%3Aread%FF".into(),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (_, ch) = pkce();
    let query = format!("{}&state=ab%FFcd", encode(&authorize_query(&ch)));
    let body = assert_error_page(raw_authorize(&s, &query).await).await;
    assert!(body.contains("UTF-8"), "{body}");
    // A valid non-ASCII state round-trips exactly.
    let state = "\u{e9}t\u{e9} \u{2713}+&=%41";
    let mut p = authorize_query(&ch);
    p.push(("state", state));
    let q = s.authorize_redirect(&p).await;
    assert_eq!(q["state"], state);
    assert!(q.contains_key("code"));
}

// Finding 2: `state` and `nonce` of any length were stored with logins and codes.
#[tokio::test]
async fn overlong_state_and_nonce_are_refused() {
    for s in [auto().await, support::start(|b| b).await] {
        let (_, ch) = pkce();
        let long = "s".repeat(513);
        let mut p = authorize_query(&ch);
        p.push(("state", &long));
        let body = assert_error_page(s.authorize(&p).await).await;
        assert!(body.contains("512"), "{body}");
        let mut p = authorize_query(&ch);
        p.push(("state", "st"));
        p.push(("nonce", &long));
        let q = s.authorize_redirect(&p).await;
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["state"], "st");
        // 512 bytes each are fine.
        let max = "n".repeat(512);
        let mut p = authorize_query(&ch);
        p.push(("state", &max));
        p.push(("nonce", &max));
        let resp = s.authorize(&p).await;
        assert!(
            resp.status() == StatusCode::OK || resp.status() == StatusCode::FOUND,
            "{}",
            resp.status()
        );
    }
}

// Finding 3: rotated refresh tokens piled up in the grant; reuse detection must survive
// the restructuring, also after a long chain of rotations.
#[tokio::test]
async fn long_refresh_chains_keep_reuse_detection() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, t) = s.exchange_cli(&code, &verifier).await;
    let mut rts = vec![t["refresh_token"].as_str().unwrap().to_owned()];
    let mut last = t;
    for _ in 0..40 {
        let (status, t) = s.refresh_cli(rts.last().unwrap(), None).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        rts.push(t["refresh_token"].as_str().unwrap().to_owned());
        last = t;
    }
    // Reusing a recently rotated token revokes the grant, newest tokens included.
    let (status, v) = s.refresh_cli(&rts[rts.len() - 3], None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = s.refresh_cli(rts.last().unwrap(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let at = last["access_token"].as_str().unwrap();
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

// Finding 4: the code was consumed before its bindings were checked, so one wrong
// attempt burned it and the genuine exchange got "already used; tokens revoked".
#[tokio::test]
async fn wrong_verifier_redirect_or_client_does_not_burn_the_code() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (other, _) = pkce();
    let wrong_attempts: [Vec<(&str, &str)>; 4] = [
        vec![
            ("code_verifier", &other),
            ("redirect_uri", CLI_REDIRECT),
            ("client_id", "authflow-cli"),
        ],
        vec![
            ("code_verifier", "not a verifier"),
            ("redirect_uri", CLI_REDIRECT),
            ("client_id", "authflow-cli"),
        ],
        vec![
            ("redirect_uri", CLI_REDIRECT),
            ("client_id", "authflow-cli"),
        ],
        vec![
            ("code_verifier", &verifier),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("client_id", "authflow-cli"),
        ],
    ];
    for extra in wrong_attempts {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(extra);
        let (status, _, v) = s.token(&form, None).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        assert!(
            !v["error_description"]
                .as_str()
                .unwrap()
                .contains("already used"),
            "{v}"
        );
    }
    // Another (authenticated) client.
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
    // The genuine exchange still works...
    let (status, t) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    // ...and a real replay still revokes what it issued.
    let (_, v) = s.exchange_cli(&code, &verifier).await;
    assert!(
        v["error_description"].as_str().unwrap().contains("revoked"),
        "{v}"
    );
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        s.api(Method::GET, "/api/me", at).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

// Finding 5: ID tokens were EdDSA only; OIDC Discovery §3 makes RS256 mandatory.
#[tokio::test]
async fn id_tokens_are_rs256_with_a_sha256_at_hash() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let s = auto().await;
    let (code, verifier) = s.cli_code("openid api:read").await;
    let (status, t) = s.exchange_cli(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let id_token = t["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(s.provider.id_token_key().kid()));
    let jwks: jsonwebtoken::jwk::JwkSet = s
        .http
        .get(s.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks.find(s.provider.id_token_key().kid()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["authflow-cli"]);
    v.set_issuer(&[&s.base]);
    let claims = jsonwebtoken::decode::<Value>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    let digest = sha2::Sha256::digest(t["access_token"].as_str().unwrap().as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(claims["at_hash"], expected);
    // Access tokens stay EdDSA.
    let header = jsonwebtoken::decode_header(t["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
}

// Finding 6: a non-Bearer Authorization header got 400 invalid_request; RFC 6750 §3.1
// says a request without a bearer token gets a bare 401 challenge. Two Authorization
// headers got a bare 401; they are a malformed request.
#[tokio::test]
async fn non_bearer_authorization_gets_a_bare_401_and_two_headers_get_400() {
    use authflow::protocol::www_authenticate::parse_challenges;
    let s = auto().await;
    for value in ["Basic YTpi", "basic", "Digest username=\"a\"", "DPoP abc"] {
        let resp = s
            .http
            .get(s.url("/api/me"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{value}");
        let h = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let c = parse_challenges(&h).unwrap().remove(0);
        assert_eq!(c.scheme(), "Bearer");
        assert_eq!(c.param("realm"), Some("authflow"));
        assert_eq!(
            c.error(),
            None,
            "{value}: no error code without a bearer token"
        );
    }
    let (_, v) = s.service_token(None).await;
    let at = v["access_token"].as_str().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.append("authorization", format!("Bearer {at}").parse().unwrap());
    headers.append("authorization", "Basic YTpi".parse().unwrap());
    let resp = s
        .http
        .get(s.url("/api/me"))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let h = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        parse_challenges(&h).unwrap()[0].error(),
        Some("invalid_request")
    );
    // JSON error bodies carry no `"scope": null`.
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body.get("scope").is_none(), "{body}");
    let resp = s.api(Method::GET, "/api/me", "garbage").await;
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("scope").is_none(), "{body}");
    // insufficient_scope still names the scope.
    let (_, v) = s.service_token(Some("api:read")).await;
    let resp = s
        .api(
            Method::POST,
            "/api/data",
            v["access_token"].as_str().unwrap(),
        )
        .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "api:write");
}

// Finding 8: any confidential client could introspect every other client's tokens.
#[tokio::test]
async fn introspection_is_limited_to_own_tokens_unless_introspect_any() {
    let s = auto().await;
    let (code, verifier) = s.cli_code("api:read").await;
    let (_, user) = s.exchange_cli(&code, &verifier).await;
    let user_at = user["access_token"].as_str().unwrap();
    let (_, svc) = s.service_token(None).await;
    let svc_at = svc["access_token"].as_str().unwrap();
    let introspect = |token: &str, creds: (&'static str, &'static str)| {
        let form = [("token", token.to_owned())];
        let s = &s;
        async move {
            let resp = s
                .http
                .post(s.url("/introspect"))
                .basic_auth(creds.0, Some(creds.1))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };
    let web = ("demo-web", "demo-web-secret");
    // Another client's tokens: inactive, nothing else.
    for token in [user_at, svc_at] {
        assert_eq!(
            introspect(token, web).await,
            serde_json::json!({"active": false})
        );
    }
    assert_eq!(
        introspect(user_at, SERVICE).await,
        serde_json::json!({"active": false})
    );
    // Its own token: active.
    let v = introspect(svc_at, SERVICE).await;
    assert_eq!(
        (v["active"].as_bool(), v["client_id"].as_str()),
        (Some(true), Some("demo-service"))
    );
    // A resource server (introspect_any) sees every client's access tokens.
    for token in [user_at, svc_at] {
        assert_eq!(introspect(token, support::RS).await["active"], true);
    }
}

// Finding 9: `POST /authorize` was 405; OIDC Core §3.1.2.1 says servers MUST accept it.
#[tokio::test]
async fn post_authorize_is_accepted_like_get() {
    let s = auto().await;
    let (verifier, ch) = pkce();
    let mut p = authorize_query(&ch);
    p.push(("state", "posted"));
    p.push(("scope", "api:read"));
    let resp = s
        .http
        .post(s.url("/authorize"))
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let q = support::query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(
        (q["state"].as_str(), q["iss"].as_str()),
        ("posted", s.base.as_str())
    );
    let (status, t) = s.exchange_cli(&q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    // The same checks as GET: a bad redirect URI is a page, never a redirect.
    let mut bad = authorize_query(&ch);
    bad[2] = ("redirect_uri", "https://evil.example/callback");
    let resp = s
        .http
        .post(s.url("/authorize"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    // Not a form, or parameters in both query and body: refused with a page.
    let resp = s
        .http
        .post(s.url("/authorize"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    let resp = s
        .http
        .post(format!("{}/authorize?client_id=authflow-cli", s.base))
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    // With login pages, POST shows the login form.
    let s = support::start(|b| b).await;
    let resp = s
        .http
        .post(s.url("/authorize"))
        .form(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("name=\"csrf\""));
}
