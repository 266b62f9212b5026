use super::*;
use http::header;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn json(body: &str) -> Response<Bytes> {
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn urls(resource: &str) -> Vec<(String, MetadataSource)> {
    well_known_locations(&url(resource))
        .unwrap()
        .into_iter()
        .map(|l| (l.url().to_string(), l.source()))
        .collect()
}

/// RFC 9728 §3.2's example.
const RFC9728_EXAMPLE: &str = r#"{
    "resource": "https://resource.example.com",
    "authorization_servers": ["https://as1.example.com", "https://as2.example.net"],
    "bearer_methods_supported": ["header", "body"],
    "scopes_supported": ["profile", "email", "phone"],
    "resource_documentation": "https://resource.example.com/resource_documentation.html",
    "dpop_signing_alg_values_supported": ["ES256"],
    "dpop_bound_access_tokens_required": true,
    "resource_name#fr": "Ressource"
}"#;

#[test]
fn well_known_urls_insert_before_path_and_keep_query() {
    assert_eq!(
        urls("https://resource.example.com/resource1"),
        [
            (
                "https://resource.example.com/.well-known/oauth-protected-resource/resource1"
                    .into(),
                MetadataSource::PathInserted
            ),
            (
                "https://resource.example.com/.well-known/oauth-protected-resource".into(),
                MetadataSource::Root
            ),
        ]
    );
    assert_eq!(
        urls("https://r.example:8443/a/b/?tenant=1")[0].0,
        "https://r.example:8443/.well-known/oauth-protected-resource/a/b/?tenant=1"
    );
    // No path: only the root URL, and the trailing slash after the host is dropped.
    for bare in ["https://r.example", "https://r.example/"] {
        assert_eq!(
            urls(bare),
            [(
                "https://r.example/.well-known/oauth-protected-resource".into(),
                MetadataSource::Root
            )]
        );
    }
    assert!(well_known_locations(&url("http://r.example/api")).is_err());
    assert!(well_known_locations(&url("http://127.0.0.1:9/api")).is_ok());
    assert!(well_known_locations(&url("https://r.example/api#x")).is_err());
}

#[test]
fn parses_rfc9728_example_at_root() {
    let loc = well_known_locations(&url("https://resource.example.com")).unwrap();
    let m = parse_resource_metadata(&json(RFC9728_EXAMPLE), &loc[0]).unwrap();
    assert_eq!(m.resource, "https://resource.example.com", "kept as sent");
    assert_eq!(m.issuers().len(), 2);
    assert!(m.lists_authorization_server(&IssuerUrl::new("https://as2.example.net/").unwrap()));
    assert!(!m.lists_authorization_server(&IssuerUrl::new("https://as3.example.net").unwrap()));
    assert_eq!(
        m.bearer_methods_supported.as_deref().unwrap(),
        ["header", "body"]
    );
    assert!(m.dpop_bound_access_tokens_required);
    assert_eq!(m.extra["resource_name#fr"], "Ressource");
    assert_eq!(
        m.resource_indicator().unwrap().as_str(),
        "https://resource.example.com/"
    );
    // Round trip through the published form.
    let back: ProtectedResourceMetadata =
        serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn resource_must_match_the_location() {
    let resource = url("https://api.example/v1/mcp");
    let locs = well_known_locations(&resource).unwrap();
    let doc = |r: &str| {
        json(&format!(
            r#"{{"resource":"{r}","authorization_servers":["https://as.example"]}}"#
        ))
    };
    // Path-inserted: only the resource itself, normalised.
    assert!(parse_resource_metadata(&doc("https://API.example:443/v1/./mcp"), &locs[0]).is_ok());
    assert!(parse_resource_metadata(&doc("https://api.example/v1/%6Dcp"), &locs[0]).is_ok());
    for other in [
        "https://api.example/v1",
        "https://api.example/v1/mcp/",
        "https://api.example",
        "https://evil.example/v1/mcp",
        "http://api.example/v1/mcp",
    ] {
        let e = parse_resource_metadata(&doc(other), &locs[0]).unwrap_err();
        assert!(
            matches!(e, ResourceMetadataError::ResourceMismatch { .. }),
            "{other}: {e:?}"
        );
    }
    // Root: the origin (RFC 9728 §3.3) or exactly the requested resource.
    assert!(parse_resource_metadata(&doc("https://api.example"), &locs[1]).is_ok());
    assert!(parse_resource_metadata(&doc("https://api.example/"), &locs[1]).is_ok());
    assert!(parse_resource_metadata(&doc("https://api.example/v1/mcp"), &locs[1]).is_ok());
    assert!(parse_resource_metadata(&doc("https://api.example/v2/mcp"), &locs[1]).is_err());
    // A challenge's document names the URL requested.
    let c = challenge_location(
        &resource,
        "https://api.example/meta",
        OriginPolicy::SameOrigin,
    )
    .unwrap();
    assert!(parse_resource_metadata(&doc("https://api.example/v1/mcp"), &c).is_ok());
    let e = parse_resource_metadata(&doc("https://api.example"), &c).unwrap_err();
    assert!(e.to_string().contains("https://api.example/v1/mcp"), "{e}");
}

#[test]
fn percent_encoding_is_normalised_but_reserved_bytes_stay_encoded() {
    assert!(same_resource(
        &url("https://a.example/%7euser"),
        &url("https://a.example/~user")
    ));
    assert!(same_resource(
        &url("https://a.example/a%2fb"),
        &url("https://a.example/a%2Fb")
    ));
    assert!(!same_resource(
        &url("https://a.example/a%2Fb"),
        &url("https://a.example/a/b")
    ));
    assert!(!same_resource(
        &url("https://a.example/?q=1"),
        &url("https://a.example/")
    ));
    assert_eq!(
        normalize_resource(&url("HTTPS://A.example:443/x?%7e=%3d#f")),
        "https://a.example/x?~=%3D"
    );
}

#[test]
fn challenge_metadata_url_must_be_same_origin_unless_allowed() {
    let resource = url("https://api.example/mcp");
    let far = "https://metadata.example/.well-known/oauth-protected-resource";
    let e = challenge_location(&resource, far, OriginPolicy::SameOrigin).unwrap_err();
    assert_eq!(
        e,
        ResourceMetadataError::CrossOrigin {
            resource_origin: "https://api.example".into(),
            metadata_url: far.into(),
        }
    );
    assert!(e.to_string().contains("trust"), "{e}");
    let loc = challenge_location(&resource, far, OriginPolicy::AllowCrossOrigin).unwrap();
    assert_eq!(loc.source(), MetadataSource::Challenge);
    assert_eq!(loc.expected_resources(), std::slice::from_ref(&resource));
    // Another port or scheme is another origin.
    assert!(
        challenge_location(
            &resource,
            "https://api.example:8443/m",
            OriginPolicy::SameOrigin
        )
        .is_err()
    );
    assert!(
        challenge_location(
            &resource,
            "https://api.example:443/m",
            OriginPolicy::SameOrigin
        )
        .is_ok()
    );
    // Never plain http, even when allowed.
    let e = challenge_location(
        &resource,
        "http://api.example/m",
        OriginPolicy::AllowCrossOrigin,
    )
    .unwrap_err();
    assert!(
        matches!(e, ResourceMetadataError::InvalidMetadataUrl { .. }),
        "{e:?}"
    );
}

#[test]
fn metadata_url_comes_from_the_bearer_challenge_first() {
    let mut h = HeaderMap::new();
    h.append(
        header::WWW_AUTHENTICATE,
        r#"DPoP algs="ES256", resource_metadata="https://x.example/dpop""#
            .parse()
            .unwrap(),
    );
    assert_eq!(
        resource_metadata_from_headers(&h).as_deref(),
        Some("https://x.example/dpop")
    );
    h.append(
        header::WWW_AUTHENTICATE,
        r#"Bearer realm="x", resource_metadata="https://x.example/bearer""#
            .parse()
            .unwrap(),
    );
    assert_eq!(
        resource_metadata_from_headers(&h).as_deref(),
        Some("https://x.example/bearer")
    );
    assert_eq!(resource_metadata_from_headers(&HeaderMap::new()), None);
}

#[test]
fn request_is_a_json_get_over_https_or_loopback() {
    let loc = &well_known_locations(&url("https://api.example/mcp")).unwrap()[0];
    let req = resource_metadata_request(loc).unwrap();
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.headers()[header::ACCEPT], "application/json");
    assert_eq!(
        req.uri(),
        "https://api.example/.well-known/oauth-protected-resource/mcp"
    );
}

#[test]
fn invalid_documents_are_refused_by_field() {
    let loc = &well_known_locations(&url("https://api.example")).unwrap()[0];
    let err = |body: &str| parse_resource_metadata(&json(body), loc).unwrap_err();
    assert_eq!(err("{}"), ResourceMetadataError::MissingField("resource"));
    assert!(matches!(
        err(r#"{"resource":"https://api.example","authorization_servers":["http://as.example"]}"#),
        ResourceMetadataError::InvalidField {
            field: "authorization_servers",
            ..
        }
    ));
    assert!(matches!(
        err(
            r#"{"resource":"https://api.example","authorization_servers":"https://as.example?x=1"}"#
        ),
        ResourceMetadataError::InvalidField {
            field: "authorization_servers",
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"resource":"https://api.example","jwks_uri":"http://api.example/jwks"}"#),
        ResourceMetadataError::InvalidField {
            field: "jwks_uri",
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"resource":"https://api.example","scopes_supported":[1]}"#),
        ResourceMetadataError::InvalidField {
            field: "scopes_supported",
            ..
        }
    ));
    let not_found = Response::builder()
        .status(404)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Bytes::from_static(b"<html>nope</html>"))
        .unwrap();
    let e = parse_resource_metadata(&not_found, loc).unwrap_err();
    assert!(e.is_not_found() && e.is_no_document(), "{e:?}");
    let big = format!(
        r#"{{"resource":"https://api.example","x":"{}"}}"#,
        "a".repeat(super::super::MAX_RESPONSE_BYTES)
    );
    assert!(matches!(
        parse_resource_metadata(&json(&big), loc),
        Err(ResourceMetadataError::Response(
            ResponseError::TooLarge { .. }
        ))
    ));
}

#[test]
fn loopback_resources_work_for_development() {
    let resource = url("http://127.0.0.1:8080/mcp");
    let locs = well_known_locations(&resource).unwrap();
    let m = parse_resource_metadata(
        &json(r#"{"resource":"http://127.0.0.1:8080/mcp","authorization_servers":["http://127.0.0.1:9000"]}"#),
        &locs[0],
    )
    .unwrap();
    assert_eq!(m.issuers()[0].as_issuer_str(), "http://127.0.0.1:9000");
    assert!(
        read_resource_metadata(match serde_json::json!({"resource":"http://r.example/"}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        })
        .is_err()
    );
}

#[test]
fn scope_comes_from_the_challenge_then_the_metadata() {
    let mut m = ProtectedResourceMetadata::new("https://api.example/mcp");
    assert_eq!(scope_to_request(None, &m), None);
    m.scopes_supported = Some(vec!["files:read".into(), "files:write".into()]);
    assert_eq!(
        scope_to_request(None, &m).unwrap().to_string(),
        "files:read files:write"
    );
    let mut h = HeaderMap::new();
    h.insert(
        header::WWW_AUTHENTICATE,
        r#"Bearer scope="files:read", resource_metadata="https://api.example/m""#
            .parse()
            .unwrap(),
    );
    assert_eq!(
        scope_to_request(Some(&h), &m).unwrap().to_string(),
        "files:read"
    );
    m.scopes_supported = Some(vec!["bad scope\"".into()]);
    assert_eq!(
        scope_to_request(None, &m),
        None,
        "an unusable list is not sent"
    );
}

#[test]
fn a_pointer_to_the_root_document_accepts_the_origin_as_the_resource() {
    let requested = url("https://api.example/v1/me");
    let doc =
        r#"{"resource":"https://api.example","authorization_servers":["https://as.example"]}"#;
    let loc = challenge_location(
        &requested,
        "https://api.example/.well-known/oauth-protected-resource",
        OriginPolicy::SameOrigin,
    )
    .unwrap();
    assert!(parse_resource_metadata(&json(doc), &loc).is_ok());

    // Path-inserted: the identifier is the path after the suffix, and it must cover the
    // request at a segment boundary.
    let loc = challenge_location(
        &requested,
        "https://api.example/.well-known/oauth-protected-resource/v1",
        OriginPolicy::SameOrigin,
    )
    .unwrap();
    let doc_v1 =
        r#"{"resource":"https://api.example/v1","authorization_servers":["https://as.example"]}"#;
    assert!(parse_resource_metadata(&json(doc_v1), &loc).is_ok());
    let loc = challenge_location(
        &url("https://api.example/v10/me"),
        "https://api.example/.well-known/oauth-protected-resource/v1",
        OriginPolicy::SameOrigin,
    )
    .unwrap();
    assert!(matches!(
        parse_resource_metadata(&json(doc_v1), &loc),
        Err(ResourceMetadataError::ResourceMismatch { .. })
    ));
    // A pointer that is no well-known URL: only the requested URL itself.
    let loc = challenge_location(
        &requested,
        "https://api.example/meta.json",
        OriginPolicy::SameOrigin,
    )
    .unwrap();
    assert!(parse_resource_metadata(&json(doc), &loc).is_err());
}

#[test]
fn an_error_status_is_no_document_whatever_its_body() {
    let loc = &well_known_locations(&url("https://api.example/v1")).unwrap()[0];
    let mut resp = json(r#"{"error":"invalid_request","error_description":"no such path"}"#);
    *resp.status_mut() = StatusCode::NOT_FOUND;
    let err = parse_resource_metadata(&resp, loc).unwrap_err();
    assert!(err.is_no_document() && err.is_not_found(), "{err:?}");
}
