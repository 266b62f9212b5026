//! The provider under hostile input, over a real socket: every endpoint × malformed method,
//! content type, encoding, duplicate parameters, oversized body, unknown client, wrong
//! secret, replayed or expired code, mismatched redirect or verifier. Each answer must be
//! the right 4xx (or an error redirect to the registered URI), never a 5xx, and never echo
//! a secret it was sent or an internal detail.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use authflow::random::OsRandom;
use authflow::types::{IssuerUrl, PkceVerifier};
use authflow_provider::Provider;
use base64::Engine as _;
use reqwest::Method;

/// In every secret this test sends; no answer may contain it.
const MARK: &str = "Zq7SECRETx9";
const REDIRECT: &str = "http://127.0.0.1:43210/callback";
/// RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 8628 codes the provider may answer with.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "insufficient_scope",
    "unsupported_token_type",
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_target",
    "not_found",
];
/// Signs of an internal error leaking out.
const INTERNALS: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    ".rs:",
    "src/",
    "Error {",
    "Some(",
];

#[derive(Clone)]
struct Server {
    base: String,
    http: reqwest::Client,
}

async fn start(code_ttl: Duration) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::builder()
        .issuer(IssuerUrl::new(&base).unwrap())
        .demo()
        .auto_approve(Some("alice".into()))
        .code_ttl(code_ttl)
        .build()
        .unwrap();
    let router = provider.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    Server { base, http }
}

/// A fresh code for authflow-cli and its verifier.
async fn code(s: &Server) -> (String, String) {
    let v = PkceVerifier::generate(&mut OsRandom);
    let challenge = v.s256_challenge();
    let resp = s
        .http
        .get(format!(
            "{}/authorize?{}",
            s.base,
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("response_type", "code"),
                    ("client_id", "authflow-cli"),
                    ("redirect_uri", REDIRECT),
                    ("scope", "openid api:read offline_access"),
                    ("state", "st"),
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S256"),
                ])
                .finish()
        ))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&loc).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {loc}"));
    (code, v.secret().to_owned())
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// One hostile request and the statuses that are right for it.
struct Case {
    name: String,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    authorization: Option<String>,
    body: Vec<u8>,
    expect: &'static [u16],
}

fn case(
    name: impl Into<String>,
    method: Method,
    path: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    expect: &'static [u16],
) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.to_owned(),
        content_type,
        authorization: None,
        body: body.into(),
        expect,
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
/// A bad body: what it is, its content type, the bytes, the right statuses.
type BodyCase = (&'static str, Option<&'static str>, Vec<u8>, &'static [u16]);
/// (code, verifier, wrong verifier) -> (code, verifier, redirect URI, client) to send.
type MakeExchange = fn(&str, &str, &str) -> (String, String, &'static str, &'static str);
/// Endpoints that take an OAuth form POST and answer in RFC 6749 §5.2 JSON.
const FORM_ENDPOINTS: &[&str] = &["/token", "/revoke", "/introspect", "/device_authorization"];

/// The generic matrix: every endpoint × bad method, and every form endpoint × bad body.
fn matrix() -> Vec<Case> {
    let mut cases = Vec::new();
    let all = [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        "/jwks",
        "/authorize",
        "/authorize/login",
        "/authorize/consent",
        "/device_authorization",
        "/device",
        "/token",
        "/revoke",
        "/introspect",
        "/userinfo",
        "/api/me",
        "/api/data",
        "/no-such-endpoint",
    ];
    for path in all {
        for m in ["PUT", "DELETE", "PATCH", "TRACE", "BREW"] {
            cases.push(case(
                format!("{m} {path}"),
                Method::from_bytes(m.as_bytes()).unwrap(),
                path,
                None,
                Vec::new(),
                &[404, 405],
            ));
        }
    }
    for path in FORM_ENDPOINTS {
        cases.push(case(
            format!("GET {path}"),
            Method::GET,
            path,
            None,
            "",
            &[405],
        ));
        let bodies: [BodyCase; 13] = [
            ("JSON body", Some("application/json"), format!(r#"{{"client_id":"authflow-cli","token":"{MARK}"}}"#).into_bytes(), &[400, 415]),
            ("text/plain body", Some("text/plain"), format!("client_id=authflow-cli&token={MARK}").into_bytes(), &[400, 415]),
            ("multipart body", Some("multipart/form-data; boundary=x"), format!("--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{MARK}\r\n--x--\r\n").into_bytes(), &[400, 415]),
            ("no content type", None, format!("client_id=authflow-cli&token={MARK}").into_bytes(), &[400, 415]),
            ("empty form", FORM, Vec::new(), &[400, 401]),
            // Invalid escapes stay literal (WHATWG urlencoded): the endpoint's ordinary answer,
            // e.g. 200 from /revoke for an unknown token (RFC 7009 §2.2).
            ("bad percent-encoding", FORM, format!("client_id=authflow-cli&token={MARK}%ZZ&grant_type=%").into_bytes(), &[200, 400, 401]),
            ("not UTF-8", FORM, format!("client_id=authflow-cli%FF&token={MARK}").into_bytes(), &[400]),
            ("raw binary", FORM, b"\x00\xff\xfe\x01=\x02".to_vec(), &[400]),
            ("duplicate client_id", FORM, format!("client_id=authflow-cli&client_id=demo-web&token={MARK}&grant_type=refresh_token&refresh_token={MARK}").into_bytes(), &[400]),
            ("duplicate grant_type", FORM, format!("grant_type=client_credentials&grant_type=refresh_token&client_id=authflow-cli&token={MARK}").into_bytes(), &[400]),
            ("100 parameters", FORM, (0..100).map(|i| format!("p{i}={MARK}")).collect::<Vec<_>>().join("&").into_bytes(), &[400]),
            ("65 KiB body", FORM, format!("client_id=authflow-cli&token={MARK}{}", "a".repeat(65 << 10)).into_bytes(), &[413]),
            ("2 MB body", FORM, format!("client_id=authflow-cli&token={MARK}{}", "a".repeat(2 << 20)).into_bytes(), &[400, 413]),
        ];
        for (what, ct, body, expect) in bodies {
            cases.push(case(
                format!("POST {path}: {what}"),
                Method::POST,
                path,
                ct,
                body,
                expect,
            ));
        }
        let auths: [(&str, String, &'static [u16]); 5] = [
            (
                "unknown client (Basic)",
                basic("no-such-client", MARK),
                &[401],
            ),
            ("wrong secret (Basic)", basic("demo-service", MARK), &[401]),
            (
                "Basic without a colon",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(MARK)
                ),
                &[400, 401],
            ),
            ("Basic not base64", format!("Basic !!{MARK}!!"), &[400, 401]),
            (
                "Bearer at a client endpoint",
                format!("Bearer {MARK}"),
                &[400, 401],
            ),
        ];
        for (what, auth, expect) in auths {
            let mut c = case(
                format!("POST {path}: {what}"),
                Method::POST,
                path,
                FORM,
                format!("grant_type=client_credentials&token={MARK}"),
                expect,
            );
            c.authorization = Some(auth);
            cases.push(c);
        }
        let mut both = case(
            format!("POST {path}: secret in header and body"),
            Method::POST,
            path,
            FORM,
            format!(
                "grant_type=client_credentials&client_id=demo-service&client_secret={MARK}&token=t"
            ),
            &[400, 401],
        );
        both.authorization = Some(basic("demo-service", "demo-service-secret"));
        cases.push(both);
        cases.push(case(
            format!("POST {path}: unknown client (post)"),
            Method::POST,
            path,
            FORM,
            format!("grant_type=client_credentials&client_id=no-such-client&client_secret={MARK}&token=t"),
            &[400, 401],
        ));
    }
    // The resource side and userinfo: tokens that are not tokens, or in the wrong place.
    for path in ["/userinfo", "/api/me", "/api/data"] {
        let bad: [(&str, Option<String>, String); 5] = [
            ("no token", None, String::new()),
            (
                "garbage bearer",
                Some(format!("Bearer {MARK}")),
                String::new(),
            ),
            (
                "JWT-shaped bearer",
                Some(format!("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.{MARK}")),
                String::new(),
            ),
            (
                "two schemes",
                Some(format!("Bearer {MARK}, Bearer {MARK}")),
                String::new(),
            ),
            ("token in the query", None, format!("?access_token={MARK}")),
        ];
        for (what, auth, query) in bad {
            let mut c = case(
                format!("GET {path}: {what}"),
                Method::GET,
                &format!("{path}{query}"),
                None,
                Vec::new(),
                &[400, 401],
            );
            c.authorization = auth;
            cases.push(c);
        }
    }
    // The authorization endpoint: a bad client or redirect is never redirected to.
    let q = |extra: &str| {
        format!(
            "/authorize?response_type=code&client_id=authflow-cli&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}"
        )
    };
    for (what, path) in [
        ("unknown client", "/authorize?response_type=code&client_id=no-such-client&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s".to_owned()),
        ("foreign redirect", q("&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")),
        ("redirect on another path", q("&redirect_uri=http%3A%2F%2F127.0.0.1%3A43210%2Fevil")),
        ("redirect with userinfo", q("&redirect_uri=http%3A%2F%2Fevil%40127.0.0.1%3A43210%2Fcallback")),
        ("redirect twice", q("&redirect_uri=http%3A%2F%2F127.0.0.1%3A43210%2Fcallback&redirect_uri=https%3A%2F%2Fevil.example%2F")),
        ("not UTF-8", q("&redirect_uri=http%3A%2F%2F127.0.0.1%3A43210%2Fcallback%FF")),
    ] {
        cases.push(case(format!("GET {what}"), Method::GET, &path, None, Vec::new(), &[400]));
    }
    cases.push(case(
        "POST /authorize/login without a pending login",
        Method::POST,
        "/authorize/login",
        FORM,
        format!("id=nope&csrf=x&username=alice&password={MARK}"),
        &[400, 403, 404],
    ));
    cases.push(case(
        "POST /authorize/consent without a pending login",
        Method::POST,
        "/authorize/consent",
        FORM,
        "id=nope&csrf=x&approve=yes",
        &[400, 403, 404],
    ));
    cases.push(case(
        "POST /device with a made-up user code",
        Method::POST,
        "/device",
        FORM,
        format!("user_code=ZZZZ-ZZZZ&username=alice&password={MARK}"),
        &[200, 400, 403, 404],
    ));
    cases
}

/// The connection was closed under a request body being written (broken pipe or reset):
/// not a refused connection, nor one closed before any answer for another reason.
fn write_cut_short(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = s.source();
    }
    false
}

/// Sends `c`; checks the answer; returns (status, body).
async fn run(s: &Server, c: &Case) -> (u16, String) {
    let mut req = s
        .http
        .request(c.method.clone(), format!("{}{}", s.base, c.path));
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    if let Some(a) = &c.authorization {
        req = req.header("authorization", a);
    }
    if !c.body.is_empty() {
        req = req.body(c.body.clone());
    }
    let resp = match req.send().await {
        Ok(resp) => resp,
        // The provider refuses an oversized body from its Content-Length, answers 413
        // without reading it, and closes. A client still writing megabytes may get the
        // reset before the answer (the HTTP/1.1 race nginx's lingering close works
        // around): a refusal all the same. The 65 KiB case checks the 413 itself.
        Err(e) if c.body.len() > 1 << 20 && c.expect.contains(&413) && write_cut_short(&e) => {
            return (413, String::new());
        }
        Err(e) => panic!("{}: no answer: {e}", c.name),
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    let name = &c.name;
    assert!(status < 500, "{name}: {status} {body}");
    assert!(
        c.expect.contains(&status),
        "{name}: {status}, expected one of {:?}: {body}",
        c.expect
    );
    assert!(
        !body.contains(MARK),
        "{name}: the answer echoes a secret: {body}"
    );
    for h in headers.values() {
        assert!(
            !h.to_str().unwrap_or("").contains(MARK),
            "{name}: a header echoes a secret: {h:?}"
        );
    }
    for word in INTERNALS {
        assert!(
            !body.contains(word),
            "{name}: internal detail `{word}` in {body}"
        );
    }
    let path = c.path.split('?').next().unwrap_or("");
    if FORM_ENDPOINTS.contains(&path) && (400..500).contains(&status) {
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{name}: not an RFC 6749 §5.2 JSON error: {body}"));
        let code = json["error"].as_str().unwrap_or_default();
        assert!(OAUTH_ERRORS.contains(&code), "{name}: error code {code:?}");
        if status == 401
            && c.authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Basic"))
        {
            assert!(
                headers.contains_key("www-authenticate"),
                "{name}: 401 invalid_client without WWW-Authenticate"
            );
        }
    }
    if (300..400).contains(&status) {
        let loc = headers["location"].to_str().unwrap();
        assert!(loc.starts_with(REDIRECT), "{name}: redirected to {loc}");
    }
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_hostile_requests_with_a_clean_4xx() {
    let s = start(Duration::from_secs(60)).await;
    let cases = matrix();
    assert!(cases.len() > 150, "only {} cases", cases.len());
    // Every case runs (on its own task, so that one failure does not hide the others).
    let mut failures = Vec::new();
    for c in cases {
        let s = s.clone();
        if let Err(e) = tokio::spawn(async move { run(&s, &c).await }).await {
            failures.push(format!("{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The provider is still well after all that.
    let (code, verifier) = code(&s).await;
    let ok = s
        .http
        .post(format!("{}/token", s.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "authflow-cli"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// The code exchange's own rules, each on a fresh code: every mismatch is `invalid_grant`
/// (or `invalid_request` for a missing parameter), and a replayed code is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_exchange_mismatches_and_replays_are_invalid_grant() {
    let s = start(Duration::from_secs(60)).await;
    let exchange = |code: String,
                    verifier: String,
                    redirect: &'static str,
                    client: &'static str| {
        case(
            "",
            Method::POST,
            "/token",
            FORM,
            format!(
                "grant_type=authorization_code&client_id={client}&code={code}&redirect_uri={}&code_verifier={verifier}",
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
            ),
            &[400],
        )
    };
    let wrong_verifier = format!("{MARK}{}", "w".repeat(40));
    let table: [(&str, MakeExchange); 7] = [
        ("wrong verifier", |c, _, w| {
            (c.into(), w.into(), REDIRECT, "authflow-cli")
        }),
        ("no verifier", |c, _, _| {
            (c.into(), String::new(), REDIRECT, "authflow-cli")
        }),
        ("redirect on another port", |c, v, _| {
            (
                c.into(),
                v.into(),
                "http://127.0.0.1:43211/callback",
                "authflow-cli",
            )
        }),
        ("redirect on another path", |c, v, _| {
            (
                c.into(),
                v.into(),
                "http://127.0.0.1:43210/other",
                "authflow-cli",
            )
        }),
        ("another client", |c, v, _| {
            (c.into(), v.into(), REDIRECT, "demo-web")
        }),
        ("made-up code", |_, v, _| {
            (format!("{MARK}-code"), v.into(), REDIRECT, "authflow-cli")
        }),
        ("unknown client", |c, v, _| {
            (c.into(), v.into(), REDIRECT, "no-such-client")
        }),
    ];
    for (what, make) in table {
        let (code, verifier) = code(&s).await;
        let (c, v, r, client) = make(&code, &verifier, &wrong_verifier);
        let mut k = exchange(c, v, r, client);
        k.name = format!("code exchange: {what}");
        k.expect = &[400, 401];
        let (status, body) = run(&s, &k).await;
        let err: serde_json::Value = serde_json::from_str(&body).unwrap();
        let expected: &[&str] = match what {
            "unknown client" | "another client" => {
                &["invalid_client", "invalid_grant", "unauthorized_client"]
            }
            "no verifier" => &["invalid_request", "invalid_grant"],
            _ => &["invalid_grant"],
        };
        assert!(
            expected.contains(&err["error"].as_str().unwrap_or_default()),
            "{what}: {status} {body}"
        );
        assert!(!body.contains(&code), "{what}: the code is echoed: {body}");
        assert!(
            !body.contains(&verifier),
            "{what}: the verifier is echoed: {body}"
        );
    }

    // Replay: the first exchange works, the second is invalid_grant.
    let (code, verifier) = code(&s).await;
    let mut k = exchange(code.clone(), verifier.clone(), REDIRECT, "authflow-cli");
    k.name = "first exchange".into();
    k.expect = &[200];
    run(&s, &k).await;
    k.name = "replayed code".into();
    k.expect = &[400];
    let (_, body) = run(&s, &k).await;
    assert!(body.contains("invalid_grant"), "{body}");
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let s = start(Duration::from_secs(1)).await;
    let (code, verifier) = code(&s).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let k = case(
        "expired code",
        Method::POST,
        "/token",
        FORM,
        format!(
            "grant_type=authorization_code&client_id=authflow-cli&code={code}&redirect_uri={}&code_verifier={verifier}",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        ),
        &[400],
    );
    let (_, body) = run(&s, &k).await;
    assert!(body.contains("invalid_grant"), "{body}");
}
