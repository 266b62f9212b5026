//! Attacks on sign-in and sign-out, over real sockets: a provider and an application on
//! ephemeral ports, browsers as reqwest clients with their own cookie jars.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use support::{Browser, Options, Setup, location, start};

async fn setup() -> Setup {
    start(Options::default()).await
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_and_keeps_tokens_off_the_browser() {
    let s = setup().await;
    let b = Browser::new();
    let (resp, visited) = b.follow(s.app.join("/me").unwrap().as_str()).await;
    assert_eq!(resp.status(), 200, "{visited:?}");
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("200 ") && body.contains("\"sub\":\"alice\""),
        "{body}"
    );
    assert!(
        visited[1].ends_with("/login?return_to=%2Fme"),
        "{visited:?}"
    );
    assert!(visited.last().unwrap().ends_with("/me"), "{visited:?}");

    // The browser holds an opaque session id and nothing else of the sign-in.
    let token = b
        .get(s.app.join("/test/access-token").unwrap().as_str())
        .await
        .text()
        .await
        .unwrap();
    let cookies = b.jar_header(&s);
    assert!(!cookies.contains(&token), "{cookies}");
    assert!(
        !cookies.contains(authflow_axum::FLOW_COOKIE),
        "flow cookie cleared: {cookies}"
    );
    let sid = b.cookie(&s, authflow_axum::SESSION_COOKIE).unwrap();
    assert_eq!(sid.len(), 22, "a 128-bit opaque id: {sid}");
}

#[tokio::test]
async fn cookies_are_httponly_samesite_lax_and_short_lived_for_the_flow() {
    let s = setup().await;
    let b = Browser::new();
    let resp = b.get(s.app.join("/login").unwrap().as_str()).await;
    let flow = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in [
        "authflow_login=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=600",
    ] {
        assert!(flow.contains(attr), "{flow}");
    }
    assert!(!flow.contains("Secure"), "plain http on loopback: {flow}");
    let provider_url = location(&resp).to_owned();
    assert!(provider_url.starts_with(s.issuer.as_str()));
    for p in [
        "state=",
        "code_challenge=",
        "code_challenge_method=S256",
        "nonce=",
    ] {
        assert!(provider_url.contains(p), "{provider_url}");
    }
    // The flow cookie carries no protocol value.
    let state = url::Url::parse(&provider_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert!(!flow.contains(&state));

    let cb = b.callback_url(&s, "/login").await;
    let resp = b.get(cb.as_str()).await;
    let set: Vec<_> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("authflow_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("authflow_login=;") && c.contains("Max-Age=0")),
        "{set:?}"
    );
}

#[tokio::test]
async fn forged_state_is_refused_and_the_real_callback_still_works() {
    let s = setup().await;
    let b = Browser::new();
    let cb = b.callback_url(&s, "/login").await;
    let mut forged = cb.clone();
    let pairs: Vec<(String, String)> = cb
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged-state-value-0123456789".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = b.get(forged.as_str()).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("state"));
    assert_eq!(b.whoami(&s).await, "anonymous");
    // Missing state too.
    let mut no_state = cb.clone();
    no_state.set_query(Some("code=abc"));
    assert_eq!(b.get(no_state.as_str()).await.status(), 400);
    // The forgery did not use up the real sign-in.
    let resp = b.get(cb.as_str()).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(b.whoami(&s).await, "alice");
}

#[tokio::test]
async fn a_callback_from_another_browser_is_refused_login_csrf() {
    let s = setup().await;
    let attacker = Browser::new();
    let victim = Browser::new();
    // The attacker starts a sign-in with their own account and hands the victim the
    // callback URL (an <img src>, a link...).
    let cb = attacker.callback_url(&s, "/login").await;
    let resp = victim.get(cb.as_str()).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(victim.whoami(&s).await, "anonymous");
    assert!(victim.cookie(&s, authflow_axum::SESSION_COOKIE).is_none());

    // Same when the victim has a sign-in of their own in progress.
    let own = victim.callback_url(&s, "/login").await;
    assert_eq!(victim.get(cb.as_str()).await.status(), 400);
    assert_eq!(victim.whoami(&s).await, "anonymous");
    // ...which still finishes normally.
    assert_eq!(victim.get(own.as_str()).await.status(), 303);
    assert_eq!(victim.whoami(&s).await, "alice");
}

#[tokio::test]
async fn a_replayed_callback_url_is_refused() {
    let s = setup().await;
    let b = Browser::new();
    let cb = b.callback_url(&s, "/login").await;
    assert_eq!(b.get(cb.as_str()).await.status(), 303);
    assert_eq!(b.whoami(&s).await, "alice");
    let sid = b.cookie(&s, authflow_axum::SESSION_COOKIE).unwrap();

    // Same browser, right away (back button, history, a proxy log).
    let resp = b.get(cb.as_str()).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("no sign-in is in progress")
    );
    // With a new sign-in in progress: the old state does not match it.
    let fresh = b.callback_url(&s, "/login").await;
    assert_eq!(b.get(cb.as_str()).await.status(), 400);
    // In another browser.
    assert_eq!(Browser::new().get(cb.as_str()).await.status(), 400);
    // Nothing changed for the signed-in session.
    assert_eq!(b.cookie(&s, authflow_axum::SESSION_COOKIE).unwrap(), sid);
    assert_eq!(b.whoami(&s).await, "alice");
    assert_eq!(b.get(fresh.as_str()).await.status(), 303);
}

#[tokio::test]
async fn return_to_off_site_lands_on_the_home_page() {
    let s = setup().await;
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "http://127.0.0.1:1/",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
    ] {
        let b = Browser::new();
        let login = format!(
            "/login?return_to={}",
            url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
        );
        let cb = b.callback_url(&s, &login).await;
        let resp = b.get(cb.as_str()).await;
        assert_eq!(resp.status(), 303, "{evil}");
        assert_eq!(location(&resp), "/", "{evil}");
    }
    // A same-origin one is honoured, absolute or not.
    let b = Browser::new();
    let target = format!("{}me?x=1", s.app);
    let login = format!(
        "/login?return_to={}",
        url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
    );
    let cb = b.callback_url(&s, &login).await;
    assert_eq!(location(&b.get(cb.as_str()).await), "/me?x=1");
}

#[tokio::test]
async fn the_layer_redirects_gets_and_refuses_other_methods() {
    let s = setup().await;
    let b = Browser::new();
    let resp = b.get(s.app.join("/me?tab=2").unwrap().as_str()).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?return_to=%2Fme%3Ftab%3D2");
    let resp = b
        .http
        .post(s.app.join("/me").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The extractor alone behaves the same.
    let resp = b
        .get(s.app.join("/test/access-token").unwrap().as_str())
        .await;
    assert_eq!(location(&resp), "/login?return_to=%2Ftest%2Faccess-token");
}

#[tokio::test]
async fn logout_by_get_or_without_the_csrf_token_changes_nothing() {
    let s = setup().await;
    let b = Browser::new();
    b.sign_in(&s).await;
    let logout = s.app.join("/logout").unwrap();

    assert_eq!(
        b.get(logout.as_str()).await.status(),
        405,
        "GET must not sign out"
    );
    assert_eq!(b.whoami(&s).await, "alice");

    let resp = b.http.post(logout.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 403, "no token");
    let resp = b
        .http
        .post(logout.clone())
        .form(&[("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "wrong token");
    let csrf = b.csrf(&s).await;
    let resp = b
        .http
        .post(logout.clone())
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "cross-origin, even with the token");
    assert_eq!(b.whoami(&s).await, "alice");
}

#[tokio::test]
async fn logout_revokes_at_the_provider_and_ends_the_session() {
    let s = setup().await;
    let b = Browser::new();
    b.sign_in(&s).await;
    let token = b
        .get(s.app.join("/test/access-token").unwrap().as_str())
        .await
        .text()
        .await
        .unwrap();
    let api = s.issuer.join("/api/me").unwrap();
    let direct = reqwest::Client::new();
    assert_eq!(
        direct
            .get(api.clone())
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let old_sid = b.cookie(&s, authflow_axum::SESSION_COOKIE).unwrap();

    let csrf = b.csrf(&s).await;
    let resp = b
        .http
        .post(s.app.join("/logout").unwrap())
        .header("origin", s.app.origin().ascii_serialization())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/");
    assert_eq!(b.whoami(&s).await, "anonymous");
    assert!(b.cookie(&s, authflow_axum::SESSION_COOKIE).is_none());
    assert_eq!(
        direct
            .get(api)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "revoked"
    );
    // A copy of the old session cookie is worth nothing.
    let copy = Browser::new();
    copy.jar
        .add_cookie_str(&format!("authflow_session={old_sid}"), &s.app);
    assert_eq!(copy.whoami(&s).await, "anonymous");
}

#[tokio::test]
async fn a_session_id_from_before_sign_in_is_useless_after_it_fixation() {
    let s = setup().await;
    let victim = Browser::new();
    assert_eq!(
        victim
            .get(s.app.join("/anon").unwrap().as_str())
            .await
            .status(),
        200
    );
    let planted = victim
        .cookie(&s, authflow_axum::SESSION_COOKIE)
        .expect("an anonymous session");
    // The attacker knows (or planted) that id.
    let attacker = Browser::new();
    attacker
        .jar
        .add_cookie_str(&format!("authflow_session={planted}"), &s.app);
    assert_eq!(attacker.whoami(&s).await, "anonymous");

    victim.sign_in(&s).await;
    assert_eq!(victim.whoami(&s).await, "alice");
    let after = victim.cookie(&s, authflow_axum::SESSION_COOKIE).unwrap();
    assert_ne!(after, planted, "the session id changes at sign-in");
    assert_eq!(attacker.whoami(&s).await, "anonymous");
}

#[tokio::test]
async fn the_token_source_refreshes_after_the_access_token_expires() {
    let s = start(Options {
        access_ttl: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let b = Browser::new();
    let body = b.sign_in(&s).await;
    assert!(body.contains("signed in as alice"), "{body}");
    let me = s.app.join("/me").unwrap();
    let first = b
        .get(s.app.join("/test/access-token").unwrap().as_str())
        .await
        .text()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Several requests at once: one refresh (a second use of the rotated refresh token
    // would make the provider revoke the whole grant).
    let (a, c) = tokio::join!(b.get(me.as_str()), b.get(me.as_str()));
    for r in [a, c] {
        let body = r.text().await.unwrap();
        assert!(body.starts_with("200 "), "{body}");
    }
    let second = b
        .get(s.app.join("/test/access-token").unwrap().as_str())
        .await
        .text()
        .await
        .unwrap();
    assert_ne!(first, second, "a new access token");
    assert!(
        b.get(me.as_str())
            .await
            .text()
            .await
            .unwrap()
            .starts_with("200 ")
    );
}

#[tokio::test]
async fn a_callback_naming_another_issuer_is_refused_mix_up() {
    let s = setup().await;
    let b = Browser::new();
    let cb = b.callback_url(&s, "/login").await;
    let pairs: Vec<(String, String)> = cb
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut evil = cb.clone();
    evil.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = b.get(evil.as_str()).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("mix-up"));
    assert_eq!(b.whoami(&s).await, "anonymous");
    // A mix-up is not a stray request: the sign-in is used up, the code never sent.
    assert_eq!(b.get(cb.as_str()).await.status(), 400);
    assert_eq!(b.whoami(&s).await, "anonymous");
}
