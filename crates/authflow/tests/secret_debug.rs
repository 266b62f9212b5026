//! Every secret-bearing type and every error that may meet a secret, printed with `{:?}`,
//! `{:#?}` and `{}`: the secret's value never shows. One table, one loop; a new type is one
//! more row.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime};

use authflow::client::{BoxFuture, HttpClient, HttpError, OAuthClient};
use authflow::protocol::token_request::Grant;
use authflow::protocol::{
    AuthorizationRequest, Credentials, PendingAuthorization, TokenRequest,
    device::parse_device_authorization, id_token::IdTokenExpectations,
    introspection::parse_introspection_response, token_response::parse_token_response,
};
use authflow::session::{FileStore, TokenSet};
use authflow::types::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfState, DeviceCode, EndpointUrl,
    IdToken, IssuerUrl, Nonce, PkceVerifier, RedirectUri, RefreshToken, Scope,
};
use bytes::Bytes;

/// Every secret in this file contains this; no output may.
const MARK: &str = "Zq7SECRETx9";

fn s(kind: &str) -> String {
    format!("{kind}-{MARK}")
}

/// A PKCE verifier (43+ unreserved characters) carrying the mark.
fn verifier() -> String {
    format!("{MARK}-{}", "v".repeat(40))
}

fn resp(status: u16, ct: &str, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn pending() -> PendingAuthorization {
    serde_json::from_value(serde_json::json!({
        "state": s("state"),
        "code_verifier": verifier(),
        "nonce": s("nonce"),
        "client_id": "cli",
        "redirect_uri": "http://127.0.0.1:4000/callback",
        "scope": "openid",
        "issuer": "https://as.example",
        "require_iss": true,
    }))
    .unwrap()
}

/// An HTTP client that answers every request with one canned response.
struct Canned(u16, &'static str, String);

impl HttpClient for Canned {
    fn send(
        &self,
        _request: http::Request<Vec<u8>>,
        _max_body: usize,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, HttpError>> {
        let r = resp(self.0, self.1, &self.2);
        Box::pin(async move { Ok(r) })
    }
}

fn client(answer: Canned) -> OAuthClient {
    OAuthClient::builder(Credentials::secret_basic(
        ClientId::new("cli").unwrap(),
        ClientSecret::new(s("client-secret")).unwrap(),
    ))
    .token_endpoint(EndpointUrl::new("https://as.example/token").unwrap())
    .issuer(IssuerUrl::new("https://as.example").unwrap())
    .http_client(answer)
    .build()
    .unwrap()
}

/// (what, Debug, pretty Debug, Display or "") for every row.
fn rows() -> Vec<(String, String, String, String)> {
    let mut rows = Vec::new();
    macro_rules! debug {
        ($what:expr, $v:expr) => {{
            let v = $v;
            rows.push((
                $what.to_string(),
                format!("{v:?}"),
                format!("{v:#?}"),
                String::new(),
            ));
        }};
    }
    macro_rules! both {
        ($what:expr, $v:expr) => {{
            let v = $v;
            rows.push((
                $what.to_string(),
                format!("{v:?}"),
                format!("{v:#?}"),
                format!("{v}"),
            ));
        }};
    }

    // The secret newtypes.
    both!("ClientSecret", ClientSecret::new(s("cs")).unwrap());
    both!("AccessToken", AccessToken::new(s("at")).unwrap());
    both!("RefreshToken", RefreshToken::new(s("rt")).unwrap());
    both!(
        "AuthorizationCode",
        AuthorizationCode::new(s("code")).unwrap()
    );
    both!("IdToken", IdToken::new(s("idt")).unwrap());
    both!("CsrfState", CsrfState::new(s("state")).unwrap());
    both!("Nonce", Nonce::new(s("nonce")).unwrap());
    both!("DeviceCode", DeviceCode::new(s("dc")).unwrap());
    both!("PkceVerifier", PkceVerifier::new(verifier()).unwrap());
    // Their constructors' errors, on values that are almost valid.
    both!(
        "AccessToken::new error",
        AccessToken::new(format!("{MARK}\n")).unwrap_err()
    );
    both!(
        "RefreshToken::new error",
        RefreshToken::new(format!("{MARK}\t")).unwrap_err()
    );
    both!(
        "PkceVerifier::new error",
        PkceVerifier::new(MARK).unwrap_err()
    );

    // Values that hold secrets.
    let body = serde_json::json!({
        "access_token": s("at"), "refresh_token": s("rt"), "id_token": s("idt"),
        "token_type": "Bearer", "expires_in": 60, "scope": "openid",
        "custom_secret": s("extra"),
    })
    .to_string();
    let t = parse_token_response(&resp(200, "application/json", &body), now()).unwrap();
    debug!("TokenResponse", &t);
    let set = TokenSet::from_response(&t, &Scope::parse("openid").unwrap(), now());
    debug!("TokenSet", &set);
    let p = pending();
    debug!("PendingAuthorization", &p);
    let creds = Credentials::secret_post(
        ClientId::new("cli").unwrap(),
        ClientSecret::new(s("cs")).unwrap(),
    );
    debug!("Credentials", &creds);
    debug!("ClientAuthentication", creds.authentication());
    let code_grant = p.exchange_grant(AuthorizationCode::new(s("code")).unwrap());
    debug!("Grant::AuthorizationCode", &code_grant);
    debug!(
        "Grant::RefreshToken",
        Grant::RefreshToken {
            refresh_token: RefreshToken::new(s("rt")).unwrap(),
            scope: None
        }
    );
    let endpoint = EndpointUrl::new("https://as.example/token").unwrap();
    debug!(
        "TokenRequest",
        TokenRequest::new(&endpoint, &creds, &code_grant)
    );
    let device = parse_device_authorization(&resp(
        200,
        "application/json",
        &format!(
            r#"{{"device_code":"{}","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device","expires_in":600}}"#,
            s("dc")
        ),
    ))
    .unwrap();
    debug!("DeviceAuthorization", &device);
    let intro = parse_introspection_response(&resp(
        200,
        "application/json",
        &format!(
            r#"{{"active":true,"sub":"alice","secret_ext":"{}"}}"#,
            s("ext")
        ),
    ))
    .unwrap();
    debug!("IntrospectionResponse", &intro);
    let (_, fresh) = AuthorizationRequest::new(
        EndpointUrl::new("https://as.example/authorize").unwrap(),
        ClientId::new("cli").unwrap(),
        RedirectUri::new("http://127.0.0.1/cb").unwrap(),
    )
    .build(&mut authflow::random::OsRandom)
    .unwrap();
    // (Its random secrets are checked in `generated_flow_secrets_never_print` below.)
    let _ = fresh;

    // Errors from bodies that hold secrets: malformed, wrong types, wrong content type.
    let bodies = [
        (
            "JSON cut short",
            "application/json",
            format!(r#"{{"access_token":"{MARK}" "#),
        ),
        ("JSON string", "application/json", format!(r#""{MARK}""#)),
        (
            "access_token number, refresh ok",
            "application/json",
            format!(r#"{{"access_token":5,"refresh_token":"{MARK}"}}"#),
        ),
        (
            "bad access_token",
            "application/json",
            format!(r#"{{"access_token":"{MARK}\n"}}"#),
        ),
        (
            "bad refresh_token",
            "application/json",
            format!(r#"{{"access_token":"a","refresh_token":"{MARK}\t"}}"#),
        ),
        (
            "bad expires_in",
            "application/json",
            format!(r#"{{"access_token":"{MARK}","expires_in":"{MARK}"}}"#),
        ),
        (
            "bad scope",
            "application/json",
            format!(r#"{{"access_token":"{MARK}","scope":"{MARK}\\\""}}"#),
        ),
        ("HTML 200", "text/html", format!("<p>{MARK}</p>")),
        ("image 200", "image/png", MARK.to_owned()),
        (
            "form, bad UTF-8 later",
            "application/x-www-form-urlencoded",
            format!("access_token={MARK}\n%ZZ"),
        ),
        ("500 HTML", "text/html", format!("<p>{MARK}</p>")),
    ];
    for (i, (what, ct, body)) in bodies.iter().enumerate() {
        let status = if i == bodies.len() - 1 { 500 } else { 200 };
        if let Err(e) = parse_token_response(&resp(status, ct, body), now()) {
            both!(format!("ResponseError ({what})"), e);
        }
        if let Err(e) = parse_introspection_response(&resp(status, ct, body)) {
            both!(format!("introspection ResponseError ({what})"), e);
        }
    }

    // Callback errors on redirects that carry secrets.
    let st = s("state");
    for q in [
        format!("code={MARK}&state=other-{MARK}"),
        format!("code={MARK}%0A&state={st}&iss=https%3A%2F%2Fas.example"),
        format!("code={MARK}&code=x&state={st}"),
        format!("code={MARK}&state={st}"),
        format!("code={MARK}&state={st}&iss=https%3A%2F%2Fevil.example"),
    ] {
        if let Err(e) = p.validate_query(&q) {
            both!(format!("CallbackError ({q})"), e);
        }
    }

    // ID token and JWT access token errors on tokens that carry the mark in every part.
    let b64 = |v: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
    };
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
    let issuer = IssuerUrl::new("https://as.example").unwrap();
    let cid = ClientId::new("cli").unwrap();
    for token in [
        format!("{MARK}.{MARK}.{MARK}"),
        format!(
            "{}.{}.{MARK}",
            b64(&format!(r#"{{"alg":"{MARK}"}}"#)),
            b64(MARK)
        ),
        format!(
            "{}.{}.{MARK}",
            b64(&format!(r#"{{"alg":"RS256","kid":"k","x":{MARK}}}"#)),
            b64(MARK)
        ),
        format!(
            "{}.{}.{MARK}",
            b64(r#"{"alg":"RS256"}"#),
            b64(&format!(r#"{{"sub":"{MARK}"}}"#))
        ),
    ] {
        let id = IdToken::new(token.clone()).unwrap();
        let e = authflow::protocol::id_token::validate_id_token(
            &id,
            &jwks,
            &IdTokenExpectations::new(&issuer, &cid, now()),
        )
        .unwrap_err();
        both!(format!("IdTokenError ({token})"), e);
        let aud = vec!["https://api".to_owned()];
        let e = authflow::protocol::access_token::validate_access_token(
            &token,
            &jwks,
            &authflow::protocol::access_token::AccessTokenExpectations::new(&issuer, &aud, now()),
        )
        .unwrap_err();
        both!(format!("AccessTokenError ({token})"), e);
    }

    // Store errors on a corrupt file full of secrets.
    let dir = std::env::temp_dir().join(format!("authflow-secret-debug-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    for (i, content) in [
        format!(r#"{{"version":1,"access_token":"{MARK}","#),
        format!(r#"{{"version":1,"access_token":5,"refresh_token":"{MARK}"}}"#),
        format!(
            r#"{{"version":1,"access_token":"{MARK}","token_type":"Bearer","expires_at":"{MARK}"}}"#
        ),
        format!(r#"{{"access_token":"{MARK}"}}"#),
    ]
    .iter()
    .enumerate()
    {
        let path = dir.join(format!("t{i}.json"));
        std::fs::write(&path, content).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = FileStore::new(&path).load_blocking().unwrap_err();
        both!(format!("StoreError ({content})"), e);
    }
    let _ = std::fs::remove_dir_all(&dir);

    // The async client's errors, from a server that answers with secrets in odd shapes.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (status, ct, body) in [
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{MARK}" "#),
        ),
        (
            400,
            "application/json",
            format!(r#"{{"error":"invalid_grant","x":"{MARK}"}}"#),
        ),
        (502, "text/html", format!("<p>{MARK}</p>")),
        (
            200,
            "application/json",
            format!(r#"{{"refresh_token":"{MARK}"}}"#),
        ),
    ] {
        let c = client(Canned(status, ct, body.clone()));
        let code = AuthorizationCode::new(s("code")).unwrap();
        let e = rt.block_on(c.exchange_code(&pending(), code)).unwrap_err();
        both!(format!("client::Error exchange_code ({body})"), e);
        let rt_token = RefreshToken::new(s("rt")).unwrap();
        let e = rt.block_on(c.refresh(&rt_token, None)).unwrap_err();
        both!(format!("client::Error refresh ({body})"), e);
    }
    rows
}

#[test]
fn debug_and_display_never_print_a_secret() {
    let rows = rows();
    assert!(rows.len() > 60, "only {} rows", rows.len());
    for (what, debug, pretty, display) in &rows {
        for (how, shown) in [("Debug", debug), ("{:#?}", pretty), ("Display", display)] {
            assert!(
                !shown.contains(MARK),
                "{what}: {how} shows a secret: {shown}"
            );
        }
    }
}

#[test]
fn generated_flow_secrets_never_print() {
    let (url, p) = AuthorizationRequest::new(
        EndpointUrl::new("https://as.example/authorize").unwrap(),
        ClientId::new("cli").unwrap(),
        RedirectUri::new("http://127.0.0.1/cb").unwrap(),
    )
    .scope(Scope::parse("openid").unwrap())
    .build(&mut authflow::random::OsRandom)
    .unwrap();
    let shown = format!("{p:?} {p:#?}");
    for secret in [
        p.state.secret(),
        p.code_verifier.secret(),
        p.nonce.as_ref().unwrap().secret(),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // The verifier never leaves in the authorization URL; only its challenge does.
    assert!(!url.as_str().contains(p.code_verifier.secret()));
}
