use bytes::Bytes;
use http::{Method, Response, header};
use serde_json::{Value, json};

use super::*;
use crate::protocol::discovery::read_metadata_lenient;

fn meta(doc: Value) -> ServerMetadata {
    match doc {
        Value::Object(m) => read_metadata_lenient(m).unwrap(),
        other => panic!("not an object: {other}"),
    }
}

/// A server as RFC 9700 wants it, much like the embedded provider's metadata.
fn good() -> Value {
    json!({
        "issuer": "https://as.example",
        "authorization_endpoint": "https://as.example/authorize",
        "token_endpoint": "https://as.example/token",
        "jwks_uri": "https://as.example/jwks",
        "revocation_endpoint": "https://as.example/revoke",
        "introspection_endpoint": "https://as.example/introspect",
        "device_authorization_endpoint": "https://as.example/device",
        "pushed_authorization_request_endpoint": "https://as.example/par",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA"],
        "authorization_response_iss_parameter_supported": true,
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["ES256"],
    })
}

/// `good()` with `changes` applied; a `null` removes the field.
fn with(changes: Value) -> ServerMetadata {
    let mut doc = good();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            doc.as_object_mut().unwrap().remove(k);
        } else {
            doc[k] = v.clone();
        }
    }
    meta(doc)
}

fn find(findings: &[Finding], kind: FindingKind) -> &Finding {
    findings
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} finding in {findings:#?}"))
}

/// (severity, message) of the one finding of `kind`.
fn of(m: &ServerMetadata, kind: FindingKind) -> (Severity, String) {
    let findings = audit(m);
    assert_eq!(
        findings.iter().filter(|f| f.kind == kind).count(),
        1,
        "{findings:#?}"
    );
    let f = find(&findings, kind);
    (f.severity, f.message.clone())
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Bytes> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

#[test]
fn a_good_server_has_no_warning_or_failure() {
    let findings = audit(&meta(good()));
    let bad: Vec<_> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warn)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    for kind in [
        FindingKind::Https,
        FindingKind::Pkce,
        FindingKind::Iss,
        FindingKind::Implicit,
        FindingKind::Password,
        FindingKind::StrongClientAuth,
        FindingKind::IdTokenAlgs,
        FindingKind::Revocation,
        FindingKind::Introspection,
        FindingKind::DeviceFlow,
        FindingKind::Dpop,
        FindingKind::Par,
        FindingKind::RequestObjects,
        FindingKind::JwtClientAuth,
    ] {
        assert_eq!(find(&findings, kind).severity, Severity::Ok, "{kind:?}");
    }
    // Keys are not fetched by `audit`: the finding says where they are.
    let jwks = find(&findings, FindingKind::Jwks);
    assert_eq!(jwks.severity, Severity::Info);
    assert!(jwks.message.contains("https://as.example/jwks"), "{jwks:?}");
    // No probe answers, no probe findings.
    assert!(
        !findings
            .iter()
            .any(|f| matches!(f.kind, FindingKind::TokenErrors | FindingKind::OpenRedirect))
    );
}

#[test]
fn findings_come_in_the_doctors_order() {
    let kinds: Vec<&str> = audit(&meta(good())).iter().map(|f| f.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "https",
            "pkce",
            "iss",
            "implicit",
            "password",
            "client auth",
            "strong client auth",
            "refresh tokens",
            "jwks",
            "id token algs",
            "revocation",
            "introspection",
            "device flow",
            "DPoP",
            "PAR",
            "request objects",
            "JWT client auth",
        ]
    );
}

#[test]
fn implicit_grant_offered_fails() {
    for changes in [
        json!({"response_types_supported": ["code", "token"]}),
        json!({"response_types_supported": ["code", "id_token token"]}),
        json!({"grant_types_supported": ["authorization_code", "implicit"]}),
    ] {
        let (severity, message) = of(&with(changes.clone()), FindingKind::Implicit);
        assert_eq!(severity, Severity::Fail, "{changes}");
        assert_eq!(message, "the implicit grant is offered");
    }
    // `id_token` alone carries no access token in the URL.
    let (severity, _) = of(
        &with(json!({"response_types_supported": ["code", "id_token"]})),
        FindingKind::Implicit,
    );
    assert_eq!(severity, Severity::Ok);
}

#[test]
fn password_grant_offered_fails() {
    let m = with(json!({"grant_types_supported": ["authorization_code", "password"]}));
    assert_eq!(of(&m, FindingKind::Password).0, Severity::Fail);
}

#[test]
fn pkce_s256_plain_missing_and_absent() {
    let cases = [
        (json!(["S256"]), Severity::Ok, "S256 advertised"),
        (
            json!(["plain", "S256"]),
            Severity::Warn,
            "S256 and plain advertised",
        ),
        (
            json!(["plain"]),
            Severity::Fail,
            "S256 not advertised (plain)",
        ),
        (
            json!([]),
            Severity::Warn,
            "code_challenge_methods_supported missing",
        ),
        (
            Value::Null,
            Severity::Warn,
            "code_challenge_methods_supported missing",
        ),
    ];
    for (methods, severity, message) in cases {
        let m = with(json!({ "code_challenge_methods_supported": methods }));
        assert_eq!(
            of(&m, FindingKind::Pkce),
            (severity, message.to_owned()),
            "{methods}"
        );
    }
}

#[test]
fn no_iss_in_authorization_responses_warns() {
    let m = with(json!({"authorization_response_iss_parameter_supported": null}));
    let (severity, message) = of(&m, FindingKind::Iss);
    assert_eq!(severity, Severity::Warn);
    assert_eq!(message, "no iss on authorization responses");
}

#[test]
fn plain_http_endpoints_fail_and_are_named() {
    // What `read_metadata_lenient` refused stays in extra, where the check finds it.
    let m = with(json!({
        "revocation_endpoint": "http://as.example/revoke",
        "x_custom_uri": "http://as.example/custom",
        "service_documentation": "http://as.example/docs",
        "op_policy_uri": "http://127.0.0.1:8080/policy",
    }));
    let (severity, message) = of(&m, FindingKind::Https);
    assert_eq!(severity, Severity::Fail);
    // Sorted; neither the documentation link nor the loopback URL counts.
    assert_eq!(message, "plain http: revocation_endpoint, x_custom_uri");
    // A refused endpoint is still advertised.
    assert_eq!(
        of(&m, FindingKind::Revocation),
        (Severity::Ok, "supported".to_owned())
    );
}

#[test]
fn loopback_http_is_fine() {
    let doc = serde_json::to_string(&good())
        .unwrap()
        .replace("https://as.example", "http://127.0.0.1:8080");
    let m = meta(serde_json::from_str(&doc).unwrap());
    assert_eq!(of(&m, FindingKind::Https).0, Severity::Ok);
}

#[test]
fn jwks_uri_absent_or_unusable() {
    let m = with(json!({"jwks_uri": null}));
    assert_eq!(
        of(&m, FindingKind::Jwks),
        (Severity::Info, "no jwks_uri".to_owned())
    );
    let m = with(json!({"jwks_uri": "http://as.example/jwks"}));
    assert_eq!(
        of(&m, FindingKind::Jwks),
        (
            Severity::Fail,
            "jwks_uri is not a usable URL: http://as.example/jwks".to_owned()
        )
    );
    assert!(probes(&m).jwks.is_none());
}

#[test]
fn id_token_algorithms() {
    let cases = [
        (json!(["RS256", "none"]), Severity::Fail),
        (json!(["ES256"]), Severity::Warn),
        (json!(["RS256"]), Severity::Ok),
    ];
    for (algs, severity) in cases {
        let m = with(json!({ "id_token_signing_alg_values_supported": algs }));
        assert_eq!(of(&m, FindingKind::IdTokenAlgs).0, severity, "{algs}");
    }
    // Not an OpenID provider: nothing to say.
    let m = with(json!({"id_token_signing_alg_values_supported": null}));
    assert!(!audit(&m).iter().any(|f| f.kind == FindingKind::IdTokenAlgs));
}

#[test]
fn client_authentication_and_refresh_tokens() {
    let m = with(json!({"token_endpoint_auth_methods_supported": null}));
    assert_eq!(
        of(&m, FindingKind::ClientAuth),
        (
            Severity::Info,
            "not listed (client_secret_basic by default)".to_owned()
        )
    );
    assert!(
        !audit(&m)
            .iter()
            .any(|f| f.kind == FindingKind::StrongClientAuth)
    );
    assert_eq!(
        of(&with(json!({})), FindingKind::RefreshTokens).1,
        "issued; sender-constraining (DPoP or mTLS) available"
    );
    let m = with(json!({"dpop_signing_alg_values_supported": null}));
    assert_eq!(
        of(&m, FindingKind::RefreshTokens).1,
        "issued; no sender-constraining advertised"
    );
    let m = with(json!({
        "dpop_signing_alg_values_supported": null,
        "tls_client_certificate_bound_access_tokens": true,
    }));
    assert_eq!(
        of(&m, FindingKind::RefreshTokens).1,
        "issued; sender-constraining (DPoP or mTLS) available"
    );
    let m = with(json!({"grant_types_supported": ["client_credentials"]}));
    assert!(
        !audit(&m)
            .iter()
            .any(|f| f.kind == FindingKind::RefreshTokens)
    );
}

#[test]
fn optional_endpoints_absent_are_information() {
    let m = with(json!({
        "revocation_endpoint": null,
        "introspection_endpoint": null,
        "device_authorization_endpoint": null,
    }));
    for kind in [
        FindingKind::Revocation,
        FindingKind::Introspection,
        FindingKind::DeviceFlow,
    ] {
        assert_eq!(
            of(&m, kind),
            (Severity::Info, "not advertised".to_owned()),
            "{kind:?}"
        );
    }
}

#[test]
fn dpop_algorithms() {
    let m = with(json!({"dpop_signing_alg_values_supported": []}));
    assert_eq!(of(&m, FindingKind::Dpop).0, Severity::Warn);
    let m = with(json!({"dpop_signing_alg_values_supported": ["RS256"]}));
    let (severity, message) = of(&m, FindingKind::Dpop);
    assert_eq!(severity, Severity::Warn);
    assert!(message.contains("not ES256"), "{message}");
    let m = with(json!({"dpop_signing_alg_values_supported": null}));
    assert_eq!(of(&m, FindingKind::Dpop).0, Severity::Info);
}

#[test]
fn par_required_without_an_endpoint_fails() {
    let m = with(json!({
        "pushed_authorization_request_endpoint": null,
        "require_pushed_authorization_requests": true,
    }));
    assert_eq!(of(&m, FindingKind::Par).0, Severity::Fail);
    let m = with(json!({"require_pushed_authorization_requests": true}));
    let (severity, message) = of(&m, FindingKind::Par);
    assert_eq!(severity, Severity::Ok);
    assert!(
        message.contains("https://as.example/par") && message.contains("required for every"),
        "{message}"
    );
}

#[test]
fn request_objects_and_jwt_client_auth_need_an_algorithm_authflow_signs_with() {
    let m = with(json!({
        "request_object_signing_alg_values_supported": ["RS256"],
        "require_signed_request_object": true,
    }));
    let (severity, message) = of(&m, FindingKind::RequestObjects);
    assert_eq!(severity, Severity::Warn);
    assert!(
        message.contains("algs RS256") && message.contains("signed request objects required"),
        "{message}"
    );
    let m = with(json!({
        "request_parameter_supported": null,
        "request_object_signing_alg_values_supported": null,
    }));
    assert_eq!(
        of(&m, FindingKind::RequestObjects),
        (Severity::Info, "not advertised".to_owned())
    );

    let m = with(json!({"token_endpoint_auth_signing_alg_values_supported": ["RS256"]}));
    let (severity, message) = of(&m, FindingKind::JwtClientAuth);
    assert_eq!(severity, Severity::Warn);
    assert!(
        message.starts_with("private_key_jwt; algs RS256"),
        "{message}"
    );
    // client_secret_jwt alone signs with the shared secret: any HMAC algorithm will do.
    let m = with(json!({
        "token_endpoint_auth_methods_supported": ["client_secret_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["HS256"],
    }));
    assert_eq!(
        of(&m, FindingKind::JwtClientAuth),
        (Severity::Ok, "client_secret_jwt; algs HS256".to_owned())
    );
}

#[test]
fn probes_are_credential_free_requests_to_the_advertised_endpoints() {
    let p = probes(&meta(good()));
    let jwks = p.jwks.unwrap();
    assert_eq!(jwks.method(), Method::GET);
    assert_eq!(jwks.uri(), "https://as.example/jwks");

    let token = p.token_error.unwrap();
    assert_eq!(token.method(), Method::POST);
    assert_eq!(token.uri(), "https://as.example/token");
    assert_eq!(
        token.headers()[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        token.body().as_slice(),
        b"grant_type=client_credentials&client_id=authflow-doctor-probe"
    );
    assert!(!token.headers().contains_key(header::AUTHORIZATION));

    let authorize = p.open_redirect.unwrap();
    assert_eq!(authorize.method(), Method::GET);
    let url = url::Url::parse(&authorize.uri().to_string()).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("response_type", "code"),
            ("client_id", PROBE_CLIENT_ID),
            ("redirect_uri", PROBE_REDIRECT_URI),
            ("state", "probe"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert!(PROBE_REDIRECT_URI.starts_with(probe::PROBE_ORIGIN));

    let p = probes(&with(
        json!({"authorization_endpoint": null, "jwks_uri": null}),
    ));
    assert!(p.open_redirect.is_none() && p.jwks.is_none() && p.token_error.is_some());
}

fn with_answers(answers: ProbeAnswers<'_>) -> Vec<Finding> {
    audit_with_probes(&meta(good()), &answers)
}

#[test]
fn jwks_answers() {
    let keys = resp(
        200,
        &[],
        r#"{"keys":[{"kty":"RSA","alg":"RS256"},{"kty":"OKP"},{"alg":"x"}]}"#,
    );
    let mut a = ProbeAnswers {
        jwks: Answer::Response(&keys),
        ..Default::default()
    };
    let f = with_answers(a);
    let jwks = find(&f, FindingKind::Jwks);
    assert_eq!(jwks.severity, Severity::Ok);
    assert_eq!(jwks.message, "3 key(s): RSA/RS256 OKP/- ?/x");

    let empty = resp(200, &[], r#"{"keys":[]}"#);
    a.jwks = Answer::Response(&empty);
    assert_eq!(
        find(&with_answers(a), FindingKind::Jwks).severity,
        Severity::Fail
    );
    let html = resp(200, &[], "<html>");
    a.jwks = Answer::Response(&html);
    assert_eq!(
        find(&with_answers(a), FindingKind::Jwks).message,
        "0 key(s): "
    );
    let missing = resp(404, &[], "");
    a.jwks = Answer::Response(&missing);
    let f = with_answers(a);
    let jwks = find(&f, FindingKind::Jwks);
    assert_eq!(
        (jwks.severity, jwks.message.as_str()),
        (Severity::Fail, "jwks_uri answered 404 Not Found")
    );
    a.jwks = Answer::NoAnswer;
    assert_eq!(
        find(&with_answers(a), FindingKind::Jwks).message,
        "jwks_uri answered nothing"
    );
}

#[test]
fn token_error_answers() {
    let cases = [
        (
            resp(401, &[], r#"{"error":"invalid_client"}"#),
            Severity::Ok,
            "unknown client → HTTP 401 `invalid_client`",
        ),
        (
            resp(200, &[], r#"{"access_token":"x"}"#),
            Severity::Warn,
            "unknown client → HTTP 200, no OAuth error",
        ),
        (
            resp(500, &[], r#"{"error":"server_error"}"#),
            Severity::Warn,
            "unknown client → HTTP 500 `server_error`",
        ),
    ];
    for (r, severity, message) in &cases {
        let a = ProbeAnswers {
            token_error: Answer::Response(r),
            ..Default::default()
        };
        let f = with_answers(a);
        let t = find(&f, FindingKind::TokenErrors);
        assert_eq!((t.severity, t.message.as_str()), (*severity, *message));
    }
    let a = ProbeAnswers {
        token_error: Answer::NoAnswer,
        ..Default::default()
    };
    assert!(
        !with_answers(a)
            .iter()
            .any(|f| f.kind == FindingKind::TokenErrors)
    );
}

#[test]
fn open_redirect_answers() {
    let open = resp(
        302,
        &[(
            "location",
            "https://doctor.invalid/callback?code=x&state=probe",
        )],
        "",
    );
    let a = ProbeAnswers {
        open_redirect: Answer::Response(&open),
        ..Default::default()
    };
    let f = with_answers(a);
    let o = find(&f, FindingKind::OpenRedirect);
    assert_eq!(o.severity, Severity::Fail);
    // The last finding: the probes come after the metadata checks.
    assert_eq!(f.last().map(|f| f.kind), Some(FindingKind::OpenRedirect));

    for r in [
        resp(400, &[], "unknown client"),
        resp(302, &[("location", "https://as.example/error")], ""),
        resp(200, &[("location", "https://doctor.invalid/callback")], ""),
    ] {
        let a = ProbeAnswers {
            open_redirect: Answer::Response(&r),
            ..Default::default()
        };
        let f = with_answers(a);
        let o = find(&f, FindingKind::OpenRedirect);
        assert_eq!(o.severity, Severity::Ok, "{r:?}");
        assert_eq!(
            o.message,
            format!(
                "unknown client → HTTP {}, no redirect to it",
                r.status().as_u16()
            )
        );
    }
}

#[test]
fn severities_are_ordered_and_kinds_named() {
    assert!(Severity::Ok < Severity::Info);
    assert!(Severity::Info < Severity::Warn);
    assert!(Severity::Warn < Severity::Fail);
    assert_eq!(FindingKind::OpenRedirect.name(), "open redirect");
    assert_eq!(FindingKind::JwtClientAuth.name(), "JWT client auth");
}
