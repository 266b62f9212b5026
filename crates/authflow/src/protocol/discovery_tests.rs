use super::*;
use http::header;

fn issuer() -> IssuerUrl {
    IssuerUrl::new("https://server.example.com").unwrap()
}

fn resp(status: u16, ct: &str, body: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, ct)
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn json(body: &str) -> Response<Bytes> {
    resp(200, "application/json", body)
}

/// RFC 8414 §3.2's example, plus fields from OIDC Discovery and RFC 9207.
const RFC8414_EXAMPLE: &str = r#"{
    "issuer": "https://server.example.com",
    "authorization_endpoint": "https://server.example.com/authorize",
    "token_endpoint": "https://server.example.com/token",
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
    "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
    "userinfo_endpoint": "https://server.example.com/userinfo",
    "jwks_uri": "https://server.example.com/jwks.json",
    "registration_endpoint": "https://server.example.com/register",
    "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
    "response_types_supported": ["code", "code token"],
    "service_documentation": "http://server.example.com/service_documentation.html",
    "ui_locales_supported": ["en-US", "en-GB", "fr-FR"],
    "code_challenge_methods_supported": ["S256"],
    "authorization_response_iss_parameter_supported": true,
    "revocation_endpoint": "https://server.example.com/revoke",
    "introspection_endpoint": "https://server.example.com/introspect",
    "end_session_endpoint": null
}"#;

#[test]
fn parses_rfc8414_example() {
    let m = parse_metadata(&json(RFC8414_EXAMPLE), &issuer()).unwrap();
    assert_eq!(m.issuer, "https://server.example.com");
    assert_eq!(
        m.token_endpoint.as_str(),
        "https://server.example.com/token"
    );
    assert_eq!(
        m.authorization_endpoint.as_ref().unwrap().as_str(),
        "https://server.example.com/authorize"
    );
    assert_eq!(
        m.revocation_endpoint.as_ref().unwrap().as_str(),
        "https://server.example.com/revoke"
    );
    assert!(m.end_session_endpoint.is_none());
    assert!(m.authorization_response_iss_parameter_supported);
    assert!(m.supports_pkce_s256());
    assert!(m.supports_auth_method("private_key_jwt"));
    assert!(!m.supports_auth_method("client_secret_post"));
    assert_eq!(m.scopes_supported.as_ref().unwrap().len(), 6);
    // A plain-http documentation link is not an endpoint: kept as an extra, unchecked.
    assert!(m.extra.contains_key("service_documentation"));
    assert!(m.extra.contains_key("ui_locales_supported"));
    assert!(
        !m.extra.contains_key("issuer"),
        "known fields are not repeated"
    );
}

#[test]
fn issuer_mismatch_is_refused_and_says_what_to_do() {
    let body = RFC8414_EXAMPLE.replace(
        r#""issuer": "https://server.example.com""#,
        r#""issuer": "https://evil.example""#,
    );
    let e = parse_metadata(&json(&body), &issuer()).unwrap_err();
    assert!(
        matches!(&e, DiscoveryError::IssuerMismatch { expected, found }
            if expected == "https://server.example.com" && found == "https://evil.example"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("https://evil.example") && msg.contains("configure"),
        "{msg}"
    );
}

#[test]
fn issuer_is_compared_after_normalisation_only() {
    let slash = RFC8414_EXAMPLE.replace(
        r#""issuer": "https://server.example.com""#,
        r#""issuer": "https://server.example.com/""#,
    );
    assert!(parse_metadata(&json(&slash), &issuer()).is_ok());
    let tenant = IssuerUrl::new("https://server.example.com/t1").unwrap();
    assert!(matches!(
        parse_metadata(&json(RFC8414_EXAMPLE), &tenant),
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
}

#[test]
fn issuer_control_characters_do_not_reach_the_terminal() {
    let body =
        r#"{"issuer":"https://x.example/\u001b[31m","token_endpoint":"https://x.example/t"}"#;
    let e = parse_metadata(&json(body), &issuer()).unwrap_err();
    assert!(!e.to_string().contains('\u{1b}'), "{e}");
}

#[test]
fn missing_issuer_and_token_endpoint_are_named() {
    let e = parse_metadata(&json(r#"{"token_endpoint":"https://x/t"}"#), &issuer()).unwrap_err();
    assert_eq!(e, DiscoveryError::MissingField("issuer"));
    let e = parse_metadata(
        &json(r#"{"issuer":"https://server.example.com","authorization_endpoint":"https://server.example.com/a"}"#),
        &issuer(),
    )
    .unwrap_err();
    assert_eq!(e, DiscoveryError::MissingField("token_endpoint"));
    assert!(e.to_string().contains("token_endpoint"), "{e}");
}

#[test]
fn client_credentials_only_server_has_no_authorization_endpoint() {
    let m = parse_metadata(
        &json(r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","grant_types_supported":["client_credentials"]}"#),
        &issuer(),
    )
    .unwrap();
    assert!(m.authorization_endpoint.is_none());
    assert!(m.supports_grant("client_credentials"));
    assert!(!m.supports_grant("authorization_code"));
}

#[test]
fn plain_http_endpoint_is_an_error_naming_the_field() {
    let body = RFC8414_EXAMPLE.replace(
        "https://server.example.com/userinfo",
        "http://server.example.com/userinfo",
    );
    let e = parse_metadata(&json(&body), &issuer()).unwrap_err();
    assert!(
        matches!(
            &e,
            DiscoveryError::InvalidEndpoint {
                field: "userinfo_endpoint",
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("userinfo_endpoint") && msg.contains("https"),
        "{msg}"
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn loopback_server_may_use_http() {
    let i = IssuerUrl::new("http://127.0.0.1:8080").unwrap();
    let m = parse_metadata(
        &json(
            r#"{"issuer":"http://127.0.0.1:8080","token_endpoint":"http://127.0.0.1:8080/token"}"#,
        ),
        &i,
    )
    .unwrap();
    assert_eq!(m.token_endpoint.as_str(), "http://127.0.0.1:8080/token");
}

#[test]
fn rfc8414_defaults_when_lists_are_absent() {
    let m = ServerMetadata::new(&issuer(), EndpointUrl::new("https://a.example/t").unwrap());
    assert!(m.supports_auth_method("client_secret_basic"));
    assert!(!m.supports_auth_method("client_secret_post"));
    assert!(m.supports_grant("authorization_code"));
    assert!(m.supports_grant("implicit"));
    assert!(!m.supports_grant("refresh_token"));
    assert!(!m.supports_pkce_s256());
    assert!(!m.authorization_response_iss_parameter_supported);
}

#[test]
fn lenient_shapes_are_accepted() {
    let m = parse_metadata(
        &json(
            r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t",
            "code_challenge_methods_supported":"plain S256",
            "authorization_response_iss_parameter_supported":"true",
            "registration_endpoint":""}"#,
        ),
        &issuer(),
    )
    .unwrap();
    assert!(m.supports_pkce_s256());
    assert!(m.authorization_response_iss_parameter_supported);
    assert!(m.registration_endpoint.is_none());
}

#[test]
fn wrong_types_name_the_field() {
    for (body, field) in [
        (r#"{"issuer":1}"#, "issuer"),
        (
            r#"{"issuer":"https://server.example.com","token_endpoint":["x"]}"#,
            "token_endpoint",
        ),
        (
            r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","scopes_supported":[1]}"#,
            "scopes_supported",
        ),
        (
            r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t","authorization_response_iss_parameter_supported":1}"#,
            "authorization_response_iss_parameter_supported",
        ),
    ] {
        let e = parse_metadata(&json(body), &issuer()).unwrap_err();
        assert!(
            matches!(&e, DiscoveryError::InvalidField { field: f, .. } if *f == field),
            "{body}: {e:?}"
        );
    }
}

#[test]
fn response_problems_pass_through() {
    let e = parse_metadata(&resp(404, "text/html", "<h1>nope</h1>"), &issuer()).unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let e = parse_metadata(
        &resp(200, "application/x-www-form-urlencoded", "issuer=x"),
        &issuer(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DiscoveryError::Response(ResponseError::ContentType { .. })
        ),
        "{e:?}"
    );
    assert!(!e.is_not_found());
    let e = parse_metadata(&json("[1]"), &issuer()).unwrap_err();
    assert!(matches!(
        e,
        DiscoveryError::Response(ResponseError::Malformed { .. })
    ));
}

#[test]
fn serde_round_trip_keeps_everything() {
    let m = parse_metadata(&json(RFC8414_EXAMPLE), &issuer()).unwrap();
    let text = serde_json::to_string(&m).unwrap();
    let back: ServerMetadata = serde_json::from_str(&text).unwrap();
    assert_eq!(back, m);
    assert!(
        !text.contains("end_session_endpoint"),
        "absent fields stay absent"
    );
    // The cache path still refuses plain-http endpoints.
    let bad = text.replace(
        "https://server.example.com/token",
        "http://server.example.com/token",
    );
    assert!(serde_json::from_str::<ServerMetadata>(&bad).is_err());
}

#[test]
fn par_request_object_and_client_auth_fields_are_typed() {
    let m = parse_metadata(
        &json(
            r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t",
            "require_pushed_authorization_requests":true,
            "request_parameter_supported":false,
            "request_object_signing_alg_values_supported":["ES256","EdDSA"],
            "require_signed_request_object":"true",
            "token_endpoint_auth_signing_alg_values_supported":["ES256"],
            "tls_client_certificate_bound_access_tokens":true,
            "x_vendor":{"a":1}}"#,
        ),
        &issuer(),
    )
    .unwrap();
    assert!(m.require_pushed_authorization_requests && m.requires_pushed_authorization());
    assert_eq!(m.request_parameter_supported, Some(false));
    assert_eq!(
        m.request_object_signing_alg_values_supported.as_deref(),
        Some(&["ES256".to_owned(), "EdDSA".to_owned()][..])
    );
    assert!(m.require_signed_request_object);
    assert!(m.tls_client_certificate_bound_access_tokens);
    assert_eq!(
        m.token_endpoint_auth_signing_alg_values_supported
            .as_deref(),
        Some(&["ES256".to_owned()][..])
    );
    // Typed fields leave extra; unknown ones stay.
    assert_eq!(m.extra.keys().collect::<Vec<_>>(), ["x_vendor"]);
    let back: ServerMetadata = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn a_wrong_shape_in_a_reported_only_field_stays_in_extra() {
    // Before these fields were typed they sat in `extra` whatever their shape; a server
    // sending odd values there must not become unusable.
    let m = parse_metadata(
        &json(
            r#"{"issuer":"https://server.example.com","token_endpoint":"https://server.example.com/t",
            "require_pushed_authorization_requests":"yes",
            "request_object_signing_alg_values_supported":[1]}"#,
        ),
        &issuer(),
    )
    .unwrap();
    assert!(!m.requires_pushed_authorization());
    assert!(m.request_object_signing_alg_values_supported.is_none());
    assert_eq!(m.extra["require_pushed_authorization_requests"], "yes");
    assert_eq!(
        m.extra["request_object_signing_alg_values_supported"],
        serde_json::json!([1])
    );
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn lenient_read_keeps_what_parse_refuses_in_extra() {
    let doc = object(serde_json::json!({
        "issuer": "https://evil.example",
        "authorization_endpoint": "https://server.example.com/a",
        "token_endpoint": "https://server.example.com/t",
        "revocation_endpoint": "http://server.example.com/revoke",
        "jwks_uri": "not a url",
        "grant_types_supported": 7,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": "maybe",
    }));
    let m = read_metadata_lenient(doc.clone()).unwrap();
    assert_eq!(m.issuer, "https://evil.example", "no issuer comparison");
    assert!(m.revocation_endpoint.is_none() && m.jwks_uri.is_none());
    assert!(m.grant_types_supported.is_none());
    assert!(!m.authorization_response_iss_parameter_supported);
    for key in [
        "revocation_endpoint",
        "jwks_uri",
        "grant_types_supported",
        "authorization_response_iss_parameter_supported",
    ] {
        assert_eq!(m.extra.get(key), doc.get(key), "{key}");
    }
    assert!(m.supports_pkce_s256());
    assert!(m.authorization_endpoint.is_some());
    // The strict reader refuses the same document.
    let body = serde_json::to_string(&doc)
        .unwrap()
        .replace("evil.example", "server.example.com");
    assert!(parse_metadata(&json(&body), &issuer()).is_err());
}

#[test]
fn lenient_read_still_needs_an_issuer_and_a_token_endpoint() {
    let e = read_metadata_lenient(object(serde_json::json!({
        "issuer": "https://a.example", "token_endpoint": "http://a.example/t"
    })))
    .unwrap_err();
    assert!(
        matches!(
            e,
            DiscoveryError::InvalidEndpoint {
                field: "token_endpoint",
                ..
            }
        ),
        "{e:?}"
    );
    let e = read_metadata_lenient(object(serde_json::json!({"issuer": "https://a.example"})))
        .unwrap_err();
    assert_eq!(e, DiscoveryError::MissingField("token_endpoint"));
    let e = read_metadata_lenient(object(
        serde_json::json!({"token_endpoint": "https://a.example/t"}),
    ))
    .unwrap_err();
    assert_eq!(e, DiscoveryError::MissingField("issuer"));
}

#[test]
fn well_known_urls() {
    let i = IssuerUrl::new("https://as.example/realms/dev").unwrap();
    assert_eq!(
        oauth_metadata_url(&i).as_str(),
        "https://as.example/.well-known/oauth-authorization-server/realms/dev"
    );
    assert_eq!(
        openid_configuration_url(&i).as_str(),
        "https://as.example/realms/dev/.well-known/openid-configuration"
    );
}

#[test]
fn request_is_a_json_get_and_refuses_plain_http() {
    let url = Url::parse("https://as.example/.well-known/openid-configuration").unwrap();
    let req = metadata_request(&url).unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri(), url.as_str());
    assert_eq!(req.headers()[header::ACCEPT], "application/json");
    assert!(req.body().is_empty());
    let e = metadata_request(&Url::parse("http://as.example/x").unwrap()).unwrap_err();
    assert!(matches!(e, BuildError::Url { .. }), "{e:?}");
    assert!(metadata_request(&Url::parse("http://localhost:9/x").unwrap()).is_ok());
}
