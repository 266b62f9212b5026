//! Resource-driven login against real servers on 127.0.0.1: from a resource URL and its
//! 401 to protected-resource metadata (RFC 9728), the authorization server's metadata
//! (RFC 8414 / OpenID Connect, in the MCP order) and a registered client (RFC 7591,
//! RFC 7592). Each test starts small axum servers serving fixed documents and records
//! what they were asked.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authflow::client::{
    HttpClient, ReqwestClient, ResourceDiscoveryError, ResourceDiscoveryOptions,
    delete_client_registration, discover_authorization_server, discover_for_resource,
    discover_resource, read_client_registration, register_client,
};
use authflow::protocol::MAX_RESPONSE_BYTES;
use authflow::protocol::discovery::DiscoveryError;
use authflow::protocol::registration::{ClientMetadata, RegisteredClient, RegistrationRequest};
use authflow::protocol::resource_metadata::{MetadataSource, ResourceMetadataError};
use authflow::types::{AccessToken, IssuerUrl, RedirectUri};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::{Value, json};
use url::Url;

/// A canned answer.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// When set, the request must carry `Authorization: Bearer <this>`.
    bearer: Option<String>,
}

fn doc(value: Value) -> Reply {
    status_doc(200, value)
}

fn status_doc(status: u16, value: Value) -> Reply {
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        headers: vec![("content-type", "application/json".into())],
        body: value.to_string(),
        bearer: None,
    }
}

/// One request as a server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    authorization: Option<String>,
    body: Vec<u8>,
}

struct Shared {
    routes: Mutex<HashMap<String, Reply>>,
    seen: Mutex<Vec<Seen>>,
}

/// A server on `127.0.0.1:0` answering `"METHOD /path?query"` keys from a table; anything
/// else gets an HTML 404, as real sites do.
struct Site {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    /// Starts a site; `routes` gets the site's base URL (`http://127.0.0.1:PORT`).
    async fn start(routes: impl FnOnce(&str) -> Vec<(String, Reply)>) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            routes: Mutex::new(routes(&base).into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Site { base, shared, task }
    }

    /// Adds or replaces an answer, for servers that must know each other's URLs.
    fn route(&self, (key, reply): (String, Reply)) {
        self.shared.routes.lock().unwrap().insert(key, reply);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    shared.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.to_vec(),
    });
    let reply = shared
        .routes
        .lock()
        .unwrap()
        .get(&format!("{method} {path}"))
        .cloned();
    let Some(reply) = reply else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>not found</html>",
        )
            .into_response();
    };
    if let Some(token) = &reply.bearer
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Bearer error="invalid_token", error_description="unknown registration access token""#,
            )],
        )
            .into_response();
    }
    let mut resp = (reply.status, reply.body.clone()).into_response();
    for (name, value) in &reply.headers {
        resp.headers_mut().insert(*name, value.parse().unwrap());
    }
    resp
}

fn http() -> ReqwestClient {
    ReqwestClient::new().unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// RFC 8414 metadata for `issuer`, with a registration endpoint.
fn as_metadata(issuer: &str, base: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": true,
    })
}

/// An authorization server at its root issuer.
async fn authorization_server() -> Site {
    Site::start(|base| {
        vec![(
            "GET /.well-known/oauth-authorization-server".into(),
            doc(as_metadata(base, base)),
        )]
    })
    .await
}

/// A resource answering `GET /mcp` with a 401 whose challenge names `metadata_url`.
fn challenge_route(metadata_url: &str) -> (String, Reply) {
    (
        "GET /mcp".into(),
        Reply {
            status: StatusCode::UNAUTHORIZED,
            headers: vec![(
                "www-authenticate",
                format!(r#"Bearer realm="mcp", resource_metadata="{metadata_url}""#),
            )],
            body: String::new(),
            bearer: None,
        },
    )
}

fn prm(resource: &str, servers: &[&str]) -> Reply {
    doc(json!({
        "resource": resource,
        "authorization_servers": servers,
        "scopes_supported": ["files:read"],
        "bearer_methods_supported": ["header"],
    }))
}

/// What a user agent does first: call the resource, keep the 401's headers.
async fn probe(http: &dyn HttpClient, resource: &str) -> HeaderMap {
    let req = http::Request::get(resource).body(Vec::new()).unwrap();
    let resp = http.send(req, MAX_RESPONSE_BYTES).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    resp.headers().clone()
}

#[tokio::test]
async fn same_origin_challenge_leads_to_the_authorization_server() {
    let auth = authorization_server().await;
    let auth_base = auth.base.clone();
    let api = Site::start(|base| {
        let resource = format!("{base}/mcp");
        vec![
            challenge_route(&format!("{base}/meta/prm")),
            ("GET /meta/prm".into(), prm(&resource, &[&auth_base])),
        ]
    })
    .await;
    let http = http();
    let resource = api.url("/mcp");
    let challenge = probe(&http, &resource).await;
    let found = discover_for_resource(
        &http,
        &url(&resource),
        Some(&challenge),
        None,
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(found.resource.source, MetadataSource::Challenge);
    assert_eq!(found.resource.metadata_url.as_str(), api.url("/meta/prm"));
    assert_eq!(found.resource_indicator().unwrap().as_str(), resource);
    assert_eq!(found.issuer.as_issuer_str(), auth.base);
    assert!(found.supports_client_id_metadata_documents());
    assert_eq!(
        found.registration_endpoint().unwrap().as_str(),
        auth.url("/register")
    );
    // The named document only: no well-known guessing.
    assert_eq!(api.paths(), ["/mcp", "/meta/prm"]);
    assert_eq!(auth.paths(), ["/.well-known/oauth-authorization-server"]);
}

#[tokio::test]
async fn cross_origin_metadata_is_refused_until_allowed() {
    let auth = authorization_server().await;
    let api = Site::start(|_| Vec::new()).await;
    // Another port is another origin.
    let meta = Site::start(|_| Vec::new()).await;
    let resource = api.url("/mcp");
    api.route(challenge_route(&meta.url("/prm")));
    meta.route(("GET /prm".into(), prm(&resource, &[&auth.base])));

    let http = http();
    let challenge = probe(&http, &resource).await;
    let err = discover_resource(
        &http,
        &url(&resource),
        Some(&challenge),
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.cross_origin_metadata_url(),
        Some(meta.url("/prm").as_str())
    );
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(meta.seen().is_empty(), "the other origin was not contacted");
    // Its own origin was tried instead, in the RFC 9728 order.
    assert_eq!(
        api.paths(),
        [
            "/mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );

    // The user agreed: the same call with that URL allowed.
    let options = ResourceDiscoveryOptions::new().allow_metadata_url(url(&meta.url("/prm")));
    let found = discover_resource(&http, &url(&resource), Some(&challenge), &options)
        .await
        .unwrap();
    assert_eq!(found.source, MetadataSource::Challenge);
    assert_eq!(found.metadata.resource, resource);
    assert_eq!(meta.paths(), ["/prm"]);
    assert_eq!(api.paths().len(), 3, "no well-known guessing once allowed");

    // Allowed or not, a cross-origin document is held to RFC 9728 §3.3.
    meta.route(("GET /prm".into(), prm(&api.url("/other"), &[&auth.base])));
    let err = discover_resource(&http, &url(&resource), Some(&challenge), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ResourceDiscoveryError::ResourceMetadata {
                source: ResourceMetadataError::ResourceMismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn cross_origin_pointer_is_ignored_when_the_own_origin_has_metadata() {
    let auth = authorization_server().await;
    let meta = Site::start(|_| Vec::new()).await;
    let api = Site::start(|base| {
        vec![(
            "GET /.well-known/oauth-protected-resource".into(),
            prm(base, &[]),
        )]
    })
    .await;
    api.route(challenge_route(&meta.url("/prm")));
    meta.route(("GET /prm".into(), prm(&api.url("/mcp"), &[&auth.base])));
    let http = http();
    let resource = api.url("/mcp");
    let challenge = probe(&http, &resource).await;
    let found = discover_resource(
        &http,
        &url(&resource),
        Some(&challenge),
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(found.source, MetadataSource::Root);
    assert_eq!(
        found.metadata.resource, api.base,
        "the origin, as published"
    );
    assert_eq!(
        found.ignored_metadata_url.as_deref(),
        Some(meta.url("/prm").as_str())
    );
    assert!(
        found.metadata.authorization_servers.is_empty(),
        "the cross-origin list was not used"
    );
    assert!(meta.seen().is_empty());
}

#[tokio::test]
async fn unlisted_authorization_server_is_refused_before_contacting_it() {
    let listed = authorization_server().await;
    let other = authorization_server().await;
    let api = Site::start(|_| Vec::new()).await;
    let resource = api.url("/mcp");
    api.route((
        "GET /.well-known/oauth-protected-resource/mcp".into(),
        prm(&resource, &[&listed.base]),
    ));
    let http = http();
    let other_issuer = IssuerUrl::new(&other.base).unwrap();
    let err = discover_for_resource(
        &http,
        &url(&resource),
        None,
        Some(&other_issuer),
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap_err();
    match &err {
        ResourceDiscoveryError::IssuerNotListed { issuer, listed: l } => {
            assert_eq!(issuer, &other.base);
            assert_eq!(l, &[listed.base.as_str()]);
        }
        e => panic!("{e:?}"),
    }
    assert!(other.seen().is_empty(), "an unlisted server is never asked");
    assert!(listed.seen().is_empty());

    // Asking for the listed one by name works, and so does not asking at all.
    let listed_issuer = IssuerUrl::new(&listed.base).unwrap();
    for requested in [Some(&listed_issuer), None] {
        let found = discover_for_resource(
            &http,
            &url(&resource),
            None,
            requested,
            &ResourceDiscoveryOptions::new(),
        )
        .await
        .unwrap();
        assert_eq!(found.issuer, listed_issuer);
    }
}

#[tokio::test]
async fn path_inserted_metadata_comes_before_the_root() {
    let api = Site::start(|base| {
        vec![
            (
                "GET /.well-known/oauth-protected-resource/v1/mcp".into(),
                prm(&format!("{base}/v1/mcp"), &["https://as.example"]),
            ),
            (
                "GET /.well-known/oauth-protected-resource".into(),
                prm(base, &["https://root-as.example"]),
            ),
        ]
    })
    .await;
    let found = discover_resource(
        &http(),
        &url(&api.url("/v1/mcp")),
        None,
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(found.source, MetadataSource::PathInserted);
    assert_eq!(found.metadata.authorization_servers, ["https://as.example"]);
    assert_eq!(
        api.paths(),
        ["/.well-known/oauth-protected-resource/v1/mcp"]
    );
}

#[tokio::test]
async fn root_metadata_is_the_fallback_and_must_name_the_origin_or_the_resource() {
    let api = Site::start(|base| {
        vec![(
            "GET /.well-known/oauth-protected-resource".into(),
            prm(base, &["https://as.example"]),
        )]
    })
    .await;
    let http = http();
    let resource = url(&api.url("/v1/mcp"));
    let found = discover_resource(&http, &resource, None, &ResourceDiscoveryOptions::new())
        .await
        .unwrap();
    assert_eq!(found.source, MetadataSource::Root);
    assert_eq!(found.metadata.resource, api.base);
    assert_eq!(
        api.paths(),
        [
            "/.well-known/oauth-protected-resource/v1/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );

    // A root document about another path of the host does not describe this resource.
    api.route((
        "GET /.well-known/oauth-protected-resource".into(),
        prm(&api.url("/v2/mcp"), &["https://as.example"]),
    ));
    let err = discover_resource(&http, &resource, None, &ResourceDiscoveryOptions::new())
        .await
        .unwrap_err();
    match &err {
        ResourceDiscoveryError::ResourceMetadata {
            source: ResourceMetadataError::ResourceMismatch { found, .. },
            ..
        } => assert!(found.ends_with("/v2/mcp")),
        e => panic!("{e:?}"),
    }

    // Nothing anywhere: both URLs are named.
    let empty = Site::start(|_| Vec::new()).await;
    let err = discover_resource(
        &http,
        &url(&empty.url("/mcp")),
        None,
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ResourceDiscoveryError::NoResourceMetadata { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("/.well-known/oauth-protected-resource/mcp"),
        "{text}"
    );
    assert!(text.contains("404"), "{text}");
}

#[tokio::test]
async fn rfc8414_document_is_tried_first() {
    let auth = Site::start(|base| {
        let issuer = format!("{base}/tenant1");
        vec![
            (
                "GET /.well-known/oauth-authorization-server/tenant1".into(),
                doc(as_metadata(&issuer, base)),
            ),
            (
                "GET /tenant1/.well-known/openid-configuration".into(),
                doc(as_metadata(&issuer, base)),
            ),
        ]
    })
    .await;
    let issuer = IssuerUrl::new(&auth.url("/tenant1")).unwrap();
    let m = discover_authorization_server(&http(), &issuer)
        .await
        .unwrap();
    assert_eq!(m.issuer, auth.url("/tenant1"));
    assert_eq!(
        auth.paths(),
        ["/.well-known/oauth-authorization-server/tenant1"]
    );
}

#[tokio::test]
async fn openid_configuration_is_the_fallback_in_mcp_order() {
    let auth = Site::start(|base| {
        let issuer = format!("{base}/tenant1");
        vec![(
            "GET /tenant1/.well-known/openid-configuration".into(),
            doc(as_metadata(&issuer, base)),
        )]
    })
    .await;
    let issuer = IssuerUrl::new(&auth.url("/tenant1")).unwrap();
    let m = discover_authorization_server(&http(), &issuer)
        .await
        .unwrap();
    assert_eq!(m.issuer, auth.url("/tenant1"));
    assert_eq!(
        auth.paths(),
        [
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ]
    );

    // A root issuer has two URLs; with neither, both are named in the error.
    let empty = Site::start(|_| Vec::new()).await;
    let err = discover_authorization_server(&http(), &IssuerUrl::new(&empty.base).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ResourceDiscoveryError::NoServerMetadata { ref tried, .. } if tried.len() == 2),
        "{err:?}"
    );
    assert_eq!(
        empty.paths(),
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration"
        ]
    );
}

#[tokio::test]
async fn a_document_for_another_issuer_stops_discovery() {
    let auth = Site::start(|base| {
        vec![
            (
                "GET /.well-known/oauth-authorization-server/tenant1".into(),
                doc(as_metadata("https://evil.example/tenant1", base)),
            ),
            (
                "GET /tenant1/.well-known/openid-configuration".into(),
                doc(as_metadata(&format!("{base}/tenant1"), base)),
            ),
        ]
    })
    .await;
    let issuer = IssuerUrl::new(&auth.url("/tenant1")).unwrap();
    let err = discover_authorization_server(&http(), &issuer)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ResourceDiscoveryError::Discovery {
                source: DiscoveryError::IssuerMismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(auth.paths().len(), 1, "no fallback past a wrong issuer");
}

const SECRET: &str = "cs-9f8e7d6c5b4a";
const RAT: &str = "rat-1a2b3c4d5e6f";
const INITIAL: &str = "iat-0a9b8c7d";

/// An authorization server with open-by-token registration and RFC 7592 management.
async fn registering_server() -> Site {
    Site::start(|base| {
        let mut metadata = as_metadata(base, base);
        metadata["client_id_metadata_document_supported"] = false.into();
        let client = json!({
            "client_id": "dyn-client-1",
            "client_secret": SECRET,
            "client_id_issued_at": 1_700_000_000u64,
            "client_secret_expires_at": 0,
            "registration_access_token": RAT,
            "registration_client_uri": format!("{base}/register/dyn-client-1"),
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "authflow",
        });
        let mut read = client.clone();
        read.as_object_mut()
            .unwrap()
            .remove("registration_access_token");
        read["client_name"] = "authflow (renamed)".into();
        vec![
            (
                "GET /.well-known/oauth-authorization-server".into(),
                doc(metadata),
            ),
            (
                "POST /register".into(),
                Reply {
                    bearer: Some(INITIAL.into()),
                    ..status_doc(201, client)
                },
            ),
            (
                "GET /register/dyn-client-1".into(),
                Reply {
                    bearer: Some(RAT.into()),
                    ..doc(read)
                },
            ),
            (
                "DELETE /register/dyn-client-1".into(),
                Reply {
                    status: StatusCode::NO_CONTENT,
                    headers: Vec::new(),
                    body: String::new(),
                    bearer: Some(RAT.into()),
                },
            ),
        ]
    })
    .await
}

fn registration() -> RegistrationRequest {
    RegistrationRequest::new(
        ClientMetadata::native_app([RedirectUri::new("http://127.0.0.1/callback").unwrap()])
            .client_name("authflow"),
    )
}

#[tokio::test]
async fn registration_read_and_delete_round_trip() {
    let auth = registering_server().await;
    let api = Site::start(|_| Vec::new()).await;
    let resource = api.url("/mcp");
    api.route((
        "GET /.well-known/oauth-protected-resource/mcp".into(),
        prm(&resource, &[&auth.base]),
    ));
    let http = http();
    let found = discover_for_resource(
        &http,
        &url(&resource),
        None,
        None,
        &ResourceDiscoveryOptions::new(),
    )
    .await
    .unwrap();
    assert!(!found.supports_client_id_metadata_documents());
    let endpoint = found.registration_endpoint().unwrap();

    let request = registration().initial_access_token(AccessToken::new(INITIAL).unwrap());
    let client = register_client(&http, endpoint, &request).await.unwrap();
    assert_eq!(client.client_id.as_str(), "dyn-client-1");
    assert_eq!(client.client_secret.as_ref().unwrap().secret(), SECRET);
    assert_eq!(client.secret_expires_at(), None, "0 means never");
    assert!(client.credentials().is_some());
    let sent = auth
        .seen()
        .into_iter()
        .find(|s| s.method == Method::POST)
        .unwrap();
    assert_eq!(
        sent.authorization.as_deref(),
        Some(format!("Bearer {INITIAL}").as_str())
    );
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");

    // Kept as JSON by a CLI, secrets included; never in Debug.
    let stored = serde_json::to_string(&client).unwrap();
    let client: RegisteredClient = serde_json::from_str(&stored).unwrap();
    let dbg = format!("{client:?}");
    assert!(!dbg.contains(SECRET) && !dbg.contains(RAT), "{dbg}");

    let read = read_client_registration(&http, &client).await.unwrap();
    assert_eq!(
        read.metadata.client_name.as_deref(),
        Some("authflow (renamed)")
    );
    assert_eq!(
        read.registration_access_token, client.registration_access_token,
        "a read without a new token keeps the old one"
    );

    delete_client_registration(&http, &read).await.unwrap();
    let methods: Vec<_> = auth
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/register/"))
        .map(|s| (s.method, s.authorization))
        .collect();
    assert_eq!(
        methods,
        [
            (Method::GET, Some(format!("Bearer {RAT}"))),
            (Method::DELETE, Some(format!("Bearer {RAT}"))),
        ]
    );

    // A stale registration access token: the server's Bearer error, fields intact.
    let mut stale: Value = serde_json::from_str(&stored).unwrap();
    stale["registration_access_token"] = "rat-stale".into();
    let stale: RegisteredClient = serde_json::from_value(stale).unwrap();
    let err = delete_client_registration(&http, &stale).await.unwrap_err();
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.error, "invalid_token");
    assert_eq!(oauth.status, StatusCode::UNAUTHORIZED);
    assert!(!err.to_string().contains("rat-stale"), "{err}");
}

#[tokio::test]
async fn registration_errors_keep_the_oauth_fields_and_say_what_to_do() {
    let auth = Site::start(|_| {
        vec![(
            "POST /register".into(),
            status_doc(
                400,
                json!({
                    "error": "invalid_redirect_uri",
                    "error_description": "http://127.0.0.1/callback is not allowed here",
                    "error_uri": "https://as.example/docs/registration",
                }),
            ),
        )]
    })
    .await;
    let endpoint = authflow::types::EndpointUrl::new(&auth.url("/register")).unwrap();
    let err = register_client(&http(), &endpoint, &registration())
        .await
        .unwrap_err();
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.error, "invalid_redirect_uri");
    assert_eq!(
        oauth.error_description.as_deref(),
        Some("http://127.0.0.1/callback is not allowed here")
    );
    assert_eq!(
        oauth.error_uri.as_deref(),
        Some("https://as.example/docs/registration")
    );
    let text = err.to_string();
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("use one its policy allows"), "{text}");

    // Without RFC 7592 fields a registration cannot be managed.
    let bare: RegisteredClient = serde_json::from_value(json!({"client_id": "x"})).unwrap();
    let err = delete_client_registration(&http(), &bare)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ResourceDiscoveryError::NotManageable),
        "{err:?}"
    );
}
