use super::*;
use crate::protocol::ClientAuthentication;
use crate::types::Scope;

fn resp(status: u16, body: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn endpoint() -> EndpointUrl {
    EndpointUrl::new("https://as.example/register").unwrap()
}

fn metadata() -> ClientMetadata {
    ClientMetadata::native_app([RedirectUri::new("http://127.0.0.1/callback").unwrap()])
        .client_name("authflow test")
        .scope(&Scope::parse("read write").unwrap())
}

/// RFC 7591 §3.2.1's example response, with RFC 7592's management fields.
const REGISTERED: &str = r#"{
    "client_id": "s6BhdRkqt3",
    "client_secret": "cf136dc3c1fc93f31185e5885805d",
    "client_id_issued_at": 2893256800,
    "client_secret_expires_at": 2893276800,
    "registration_access_token": "reg-23410913-abewfq.123483",
    "registration_client_uri": "https://server.example.com/register/s6BhdRkqt3",
    "redirect_uris": ["https://client.example.org/callback", "https://client.example.org/callback2"],
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "client_secret_basic",
    "logo_uri": "https://client.example.org/logo.png",
    "jwks_uri": "https://client.example.org/my_public_keys.jwks",
    "example_extension_parameter": "example_value",
    "client_name#ja-Jpan-JP": "クライアント名"
}"#;

#[test]
fn request_is_a_json_post_with_the_initial_access_token() {
    let req = RegistrationRequest::new(metadata())
        .initial_access_token(AccessToken::new("iat-SECRET").unwrap())
        .build(&endpoint())
        .unwrap();
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.uri(), "https://as.example/register");
    assert_eq!(req.headers()[header::ACCEPT], "application/json");
    let auth = &req.headers()[header::AUTHORIZATION];
    assert_eq!(auth, "Bearer iat-SECRET");
    assert!(auth.is_sensitive());
    let body: Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "authflow test",
            "scope": "read write",
        })
    );
    let open = RegistrationRequest::new(metadata())
        .build(&endpoint())
        .unwrap();
    assert!(!open.headers().contains_key(header::AUTHORIZATION));
}

#[test]
fn extra_fields_cannot_shadow_typed_or_issued_ones() {
    let m = metadata()
        .with_extra("client_name#fr", "client de test".into())
        .unwrap();
    let req = RegistrationRequest::new(m).build(&endpoint()).unwrap();
    let body: Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(body["client_name#fr"], "client de test");
    for name in [
        "client_name",
        "client_secret",
        "registration_access_token",
        "",
    ] {
        assert!(
            matches!(
                metadata().with_extra(name, Value::Null),
                Err(BuildError::Parameter(_))
            ),
            "{name}"
        );
    }
    // Set behind the setter's back: the builder still refuses it.
    let mut m = metadata();
    m.extra.insert("redirect_uris".into(), Value::Null);
    assert!(RegistrationRequest::new(m).build(&endpoint()).is_err());
}

#[test]
fn jwks_and_jwks_uri_exclude_each_other() {
    let key = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "abc"});
    let Value::Object(key) = key else {
        unreachable!()
    };
    let m = metadata()
        .jwks_uri(&EndpointUrl::new("https://client.example/jwks").unwrap())
        .jwks([key]);
    assert!(m.jwks_uri.is_none());
    assert_eq!(m.jwks.as_ref().unwrap()["keys"][0]["crv"], "Ed25519");
    let m = m.jwks_uri(&EndpointUrl::new("https://client.example/jwks").unwrap());
    assert!(m.jwks.is_none());
}

#[test]
fn parses_rfc7591_response_and_keeps_unknown_fields() {
    let c = parse_registration_response(&resp(201, REGISTERED)).unwrap();
    assert_eq!(c.client_id.as_str(), "s6BhdRkqt3");
    assert_eq!(
        c.client_secret.as_ref().unwrap().secret(),
        "cf136dc3c1fc93f31185e5885805d"
    );
    assert_eq!(c.client_id_issued_at, Some(2893256800));
    assert_eq!(
        c.secret_expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(2893276800))
    );
    let (uri, token) = c.management().unwrap();
    assert_eq!(
        uri.as_str(),
        "https://server.example.com/register/s6BhdRkqt3"
    );
    assert_eq!(token.secret(), "reg-23410913-abewfq.123483");
    assert_eq!(c.metadata.redirect_uris.len(), 2);
    assert_eq!(
        c.metadata.extra["example_extension_parameter"],
        "example_value"
    );
    assert_eq!(c.metadata.extra["client_name#ja-Jpan-JP"], "クライアント名");
    assert!(matches!(
        c.credentials().unwrap().authentication(),
        ClientAuthentication::SecretBasic(_)
    ));
}

#[test]
fn debug_redacts_and_serialization_round_trips_with_secrets() {
    let c = parse_registration_response(&resp(201, REGISTERED)).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("cf136dc3"), "{dbg}");
    assert!(!dbg.contains("reg-23410913"), "{dbg}");
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains("cf136dc3c1fc93f31185e5885805d"),
        "persisted: {json}"
    );
    assert!(
        json.contains("reg-23410913-abewfq.123483"),
        "persisted: {json}"
    );
    let back: RegisteredClient = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    // The persisted form is the RFC 7591 form: it reads back through the parser too.
    assert_eq!(parse_registration_response(&resp(200, &json)).unwrap(), c);
}

#[test]
fn secret_expiry_zero_means_never() {
    let c = parse_registration_response(&resp(
        201,
        r#"{"client_id":"a","client_secret":"s","client_secret_expires_at":0}"#,
    ))
    .unwrap();
    assert_eq!(c.secret_expires_at(), None);
    assert!(!c.is_secret_expired(SystemTime::now()));
    let c = parse_registration_response(&resp(
        201,
        r#"{"client_id":"a","client_secret":"s","client_secret_expires_at":"100"}"#,
    ))
    .unwrap();
    assert!(c.is_secret_expired(UNIX_EPOCH + Duration::from_secs(100)));
    assert!(!c.is_secret_expired(UNIX_EPOCH + Duration::from_secs(99)));
}

#[test]
fn credentials_follow_the_registered_method() {
    let parse = |body: &str| parse_registration_response(&resp(201, body)).unwrap();
    let public = parse(r#"{"client_id":"a","token_endpoint_auth_method":"none"}"#);
    assert!(matches!(
        public.credentials().unwrap().authentication(),
        ClientAuthentication::None
    ));
    let post = parse(
        r#"{"client_id":"a","client_secret":"s","token_endpoint_auth_method":"client_secret_post"}"#,
    );
    assert!(matches!(
        post.credentials().unwrap().authentication(),
        ClientAuthentication::SecretPost(_)
    ));
    let jwt = parse(r#"{"client_id":"a","token_endpoint_auth_method":"private_key_jwt"}"#);
    assert!(jwt.credentials().is_none(), "needs the key");
    let missing = parse(r#"{"client_id":"a","token_endpoint_auth_method":"client_secret_basic"}"#);
    assert!(missing.credentials().is_none(), "no secret was issued");
    assert!(parse(r#"{"client_id":"a"}"#).management().is_none());
}

#[test]
fn rfc7591_errors_keep_their_fields() {
    let e = parse_registration_response(&resp(
        400,
        r#"{"error":"invalid_redirect_uri","error_description":"The redirection URI http://sketchy.example.com is not allowed by this server."}"#,
    ))
    .unwrap_err();
    let o = e.oauth().unwrap();
    assert_eq!(o.error, INVALID_REDIRECT_URI);
    assert_eq!(o.status, StatusCode::BAD_REQUEST);
    assert!(o.error_description.as_deref().unwrap().contains("sketchy"));
    assert!(registration_error_hint(o).unwrap().contains("redirect URI"));
    assert!(registration_error_hint(&OAuthError::new(StatusCode::BAD_REQUEST, "x")).is_none());
}

#[test]
fn malformed_responses_are_refused_without_echoing_secrets() {
    assert_eq!(
        parse_registration_response(&resp(201, r#"{"client_secret":"TOPSECRET"}"#)).unwrap_err(),
        ResponseError::MissingField("client_id")
    );
    let e = parse_registration_response(&resp(
        201,
        "{\"client_id\":\"a\",\"client_secret\":\"TOP\\nSECRET\"}",
    ))
    .unwrap_err();
    assert!(
        matches!(
            e,
            ResponseError::InvalidField {
                field: "client_secret",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("TOP"), "{e}");
    let e = parse_registration_response(&resp(
        201,
        r#"{"client_id":"a","registration_access_token":"t","registration_client_uri":"http://as.example/r/a"}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(
            e,
            ResponseError::InvalidField {
                field: "registration_client_uri",
                ..
            }
        ),
        "the token is never sent over plain http: {e:?}"
    );
    // Echoed metadata of an odd shape does not lose the registration.
    let c = parse_registration_response(&resp(
        201,
        r#"{"client_id":"a","redirect_uris":7,"client_id_issued_at":"soon"}"#,
    ))
    .unwrap();
    assert!(c.metadata.redirect_uris.is_empty());
    assert_eq!(c.metadata.extra["redirect_uris"], 7);
    assert_eq!(c.metadata.extra["client_id_issued_at"], "soon");
    // ... and such a registration, once stored, reads back.
    let stored = serde_json::to_string(&c).unwrap();
    assert_eq!(
        serde_json::from_str::<RegisteredClient>(&stored).unwrap(),
        c
    );
    assert!(serde_json::from_str::<RegisteredClient>(r#"{"client_secret":"s"}"#).is_err());
}

#[test]
fn read_and_delete_carry_the_registration_access_token() {
    let c = parse_registration_response(&resp(201, REGISTERED)).unwrap();
    let (uri, token) = c.management().unwrap();
    let read = read_request(uri, token).unwrap();
    assert_eq!(read.method(), Method::GET);
    assert_eq!(read.uri(), "https://server.example.com/register/s6BhdRkqt3");
    assert_eq!(
        read.headers()[header::AUTHORIZATION],
        "Bearer reg-23410913-abewfq.123483"
    );
    assert!(read.headers()[header::AUTHORIZATION].is_sensitive());
    let delete = delete_request(uri, token).unwrap();
    assert_eq!(delete.method(), Method::DELETE);
    assert!(delete.headers()[header::AUTHORIZATION].is_sensitive());
}

#[test]
fn management_answers() {
    let empty = |status: u16| {
        Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap()
    };
    assert!(parse_delete_response(&empty(204)).is_ok());
    let gone = Response::builder()
        .status(401)
        .header(
            header::WWW_AUTHENTICATE,
            r#"Bearer error="invalid_token", error_description="unknown client""#,
        )
        .body(Bytes::new())
        .unwrap();
    let e = parse_delete_response(&gone).unwrap_err();
    assert_eq!(e.oauth().unwrap().error, "invalid_token");
    assert_eq!(
        parse_registration_response(&gone)
            .unwrap_err()
            .oauth()
            .unwrap()
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        parse_delete_response(&empty(405)),
        Err(ResponseError::Status { status, .. }) if status == StatusCode::METHOD_NOT_ALLOWED
    ));
}

#[test]
fn a_read_without_credentials_keeps_the_previous_ones() {
    let first = parse_registration_response(&resp(201, REGISTERED)).unwrap();
    let read = parse_registration_response(&resp(
        200,
        r#"{"client_id":"s6BhdRkqt3","client_name":"renamed"}"#,
    ))
    .unwrap()
    .keeping_credentials_of(&first);
    assert_eq!(read.client_secret, first.client_secret);
    assert_eq!(
        read.client_secret_expires_at,
        first.client_secret_expires_at
    );
    assert_eq!(read.management(), first.management());
    assert_eq!(read.metadata.client_name.as_deref(), Some("renamed"));
}

#[test]
fn registration_access_token_is_redacted() {
    let t = RegistrationAccessToken::new("rat-VALUE").unwrap();
    assert_eq!(format!("{t:?}"), "RegistrationAccessToken(<redacted>)");
    assert_eq!(t.to_string(), "<redacted>");
    assert!(RegistrationAccessToken::new("").is_err());
    let e = RegistrationAccessToken::new("bad\nrat-VALUE").unwrap_err();
    assert!(!e.to_string().contains("rat-VALUE"));
    assert_eq!(serde_json::to_string(&t).unwrap(), "\"rat-VALUE\"");
}
