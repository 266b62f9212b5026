use super::*;
use crate::types::IssuerUrl;
use http::header;

const ID: &str = "https://app.example/oauth/client.json";

fn id() -> ClientIdUrl {
    ClientIdUrl::new(ID).unwrap()
}

fn resp(status: u16, ct: Option<&str>, body: &str) -> Response<Bytes> {
    let mut b = Response::builder().status(status);
    if let Some(ct) = ct {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Bytes::from(body.to_owned())).unwrap()
}

fn parse(body: &str) -> Result<ClientIdMetadataDocument, ClientIdMetadataError> {
    parse_client_id_metadata_document(&resp(200, Some("application/json"), body), &id())
}

fn doc(extra: &str) -> String {
    format!(
        r#"{{"client_id":"{ID}","client_name":"App","redirect_uris":["http://127.0.0.1/cb"]{extra}}}"#
    )
}

#[test]
fn client_id_url_rules() {
    for ok in [
        ID,
        "https://app.example/",
        "https://app.example:8443/c",
        "https://app.example/c?v=1",
        "https://app.example/a.b/..c/c.json",
    ] {
        assert!(is_client_id_url(ok), "{ok}");
    }
    for (bad, why) in [
        ("http://app.example/c", "https"),
        ("https://app.example", "path"),
        ("https://app.example?x", "path"),
        ("https://app.example/a/../c", "`..`"),
        ("https://app.example/./c", "`.`"),
        ("https://app.example/a/%2e%2E/c", "`..`"),
        ("https://app.example/c#frag", "fragment"),
        ("https://u:p@app.example/c", "user"),
        ("https://app.example/c d", "spaces"),
        ("app.example/c", "absolute"),
        ("", "ASCII"),
    ] {
        let e = ClientIdUrl::new(bad).unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    // Kept as given: simple string comparison.
    let u = ClientIdUrl::new("https://App.example:443/c").unwrap();
    assert_eq!(u.as_str(), "https://App.example:443/c");
    assert_eq!(u.client_id().as_str(), "https://App.example:443/c");
    assert_ne!(u, ClientIdUrl::new("https://app.example/c").unwrap());
    // Loopback http only by request.
    assert!(ClientIdUrl::new("http://127.0.0.1:8080/c").is_err());
    assert!(
        ClientIdUrl::with_rules(
            "http://127.0.0.1:8080/c",
            ClientIdUrlRules::AllowLoopbackHttp
        )
        .is_ok()
    );
    assert!(
        ClientIdUrl::with_rules("http://app.example/c", ClientIdUrlRules::AllowLoopbackHttp)
            .is_err()
    );
}

#[test]
fn public_document_builds_and_parses_back() {
    let built = ClientIdMetadataDocument::public(
        id(),
        "App",
        [RedirectUri::new("http://127.0.0.1/cb").unwrap()],
    );
    let json = built.to_json().unwrap();
    let parsed = parse(std::str::from_utf8(&json).unwrap()).unwrap();
    assert_eq!(parsed, built);
    assert_eq!(parsed.auth_method(), "none");
    assert_eq!(parsed.metadata.response_types, ["code"]);
}

#[test]
fn private_key_jwt_document_needs_public_keys() {
    let key = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"});
    let Value::Object(key) = key else {
        unreachable!()
    };
    let redirect = || [RedirectUri::new("https://app.example/cb").unwrap()];
    let d = ClientIdMetadataDocument::private_key_jwt(
        id(),
        "App",
        redirect(),
        ClientKeys::Jwks(vec![key.clone()]),
    );
    let json = d.to_json().unwrap();
    let back = parse(std::str::from_utf8(&json).unwrap()).unwrap();
    assert_eq!(back.auth_method(), "private_key_jwt");
    let d = ClientIdMetadataDocument::private_key_jwt(
        id(),
        "App",
        redirect(),
        ClientKeys::JwksUri(EndpointUrl::new("https://app.example/jwks.json").unwrap()),
    );
    assert!(d.to_json().is_ok());
    let mut private = key;
    private.insert("d".into(), "PRIVATE-PART".into());
    let d = ClientIdMetadataDocument::private_key_jwt(
        id(),
        "App",
        redirect(),
        ClientKeys::Jwks(vec![private]),
    );
    assert_eq!(
        d.to_json().unwrap_err(),
        ClientIdMetadataError::PrivateKeyMaterial
    );
    assert!(matches!(
        parse(&doc(r#","token_endpoint_auth_method":"private_key_jwt""#)),
        Err(ClientIdMetadataError::InvalidField {
            field: "token_endpoint_auth_method",
            ..
        })
    ));
    assert!(matches!(
        parse(&doc(
            r#","jwks":{"keys":[]},"jwks_uri":"https://app.example/j""#
        )),
        Err(ClientIdMetadataError::InvalidField { field: "jwks", .. })
    ));
}

#[test]
fn client_id_must_equal_the_fetched_url_exactly() {
    assert!(parse(&doc("")).is_ok());
    let other = r#"{"client_id":"https://app.example:443/oauth/client.json","redirect_uris":["http://127.0.0.1/cb"]}"#;
    let e = parse(other).unwrap_err();
    assert!(
        matches!(e, ClientIdMetadataError::ClientIdMismatch { .. }),
        "{e:?}"
    );
    assert_eq!(e.to_oauth_error().error, "invalid_client");
    assert_eq!(
        parse(r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#).unwrap_err(),
        ClientIdMetadataError::MissingField("client_id")
    );
}

#[test]
fn shared_secrets_are_refused() {
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
    ] {
        let e = parse(&doc(&format!(
            r#","token_endpoint_auth_method":"{method}""#
        )))
        .unwrap_err();
        assert!(
            matches!(e, ClientIdMetadataError::SharedSecretMethod { .. }),
            "{method}: {e:?}"
        );
    }
    let e = parse(&doc(r#","client_secret":"hunter2-SECRET""#)).unwrap_err();
    assert_eq!(
        e,
        ClientIdMetadataError::SharedSecret {
            field: "client_secret"
        }
    );
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(matches!(
        parse(&doc(r#","client_secret_expires_at":0"#)),
        Err(ClientIdMetadataError::SharedSecret { .. })
    ));
}

#[test]
fn redirect_uris_are_required_for_redirect_grants() {
    let no_redirect = format!(r#"{{"client_id":"{ID}"}}"#);
    let e = parse(&no_redirect).unwrap_err();
    assert_eq!(e, ClientIdMetadataError::MissingField("redirect_uris"));
    assert_eq!(e.to_oauth_error().error, "invalid_request");
    let machine = format!(r#"{{"client_id":"{ID}","grant_types":["client_credentials"]}}"#);
    assert!(parse(&machine).is_ok());
    assert!(matches!(
        parse(&format!(
            r#"{{"client_id":"{ID}","redirect_uris":["http://app.example/cb"]}}"#
        )),
        Err(ClientIdMetadataError::InvalidField {
            field: "redirect_uris",
            ..
        })
    ));
    assert!(matches!(
        parse(&format!(
            r#"{{"client_id":"{ID}","redirect_uris":"not-a-list"}}"#
        )),
        Err(ClientIdMetadataError::InvalidField {
            field: "redirect_uris",
            ..
        })
    ));
}

#[test]
fn fetch_answers_other_than_a_small_json_200_are_refused() {
    let body = doc("");
    let e = parse_client_id_metadata_document(&resp(302, None, ""), &id()).unwrap_err();
    assert_eq!(
        e,
        ClientIdMetadataError::Status {
            status: StatusCode::FOUND
        }
    );
    let e = parse_client_id_metadata_document(&resp(201, Some("application/json"), &body), &id())
        .unwrap_err();
    assert!(matches!(e, ClientIdMetadataError::Status { .. }));
    let big = doc(&format!(r#","x":"{}""#, "a".repeat(MAX_DOCUMENT_BYTES)));
    assert_eq!(
        parse(&big).unwrap_err(),
        ClientIdMetadataError::TooLarge {
            limit: MAX_DOCUMENT_BYTES
        }
    );
    let e =
        parse_client_id_metadata_document(&resp(200, Some("text/html"), &body), &id()).unwrap_err();
    assert!(matches!(
        e,
        ClientIdMetadataError::Response(ResponseError::ContentType { .. })
    ));
    assert!(
        parse_client_id_metadata_document(
            &resp(
                200,
                Some("application/client-metadata+json; charset=utf-8"),
                &body
            ),
            &id()
        )
        .is_ok()
    );
    assert!(matches!(
        parse("[1]"),
        Err(ClientIdMetadataError::Response(
            ResponseError::Malformed { .. }
        ))
    ));
}

#[test]
fn request_is_a_json_get_of_the_client_id() {
    let req = client_id_metadata_request(&id()).unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri(), ID);
    assert_eq!(req.headers()[header::ACCEPT], "application/json");
}

#[test]
fn server_support_is_a_json_true() {
    let issuer = IssuerUrl::new("https://as.example").unwrap();
    let mut m = ServerMetadata::new(
        &issuer,
        EndpointUrl::new("https://as.example/token").unwrap(),
    );
    assert!(!supports_client_id_metadata_documents(&m));
    m.extra.insert(SUPPORTED_FIELD.into(), "true".into());
    assert!(
        !supports_client_id_metadata_documents(&m),
        "a string is not the boolean"
    );
    m.extra.insert(SUPPORTED_FIELD.into(), true.into());
    assert!(supports_client_id_metadata_documents(&m));
}
