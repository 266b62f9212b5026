//! The embedded authorization server: axum routes over a `Mutex`-guarded store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use authflow::random::{OsRandom, RandomSource};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use url::Url;

use super::quirks::{authenticate, bad_request, broken_answer, invalid_client, token_response};
use super::{Quirks, Recorded};

/// A native app: no secret, loopback redirect on any port.
pub const PUBLIC_CLIENT: &str = "native-cli";
/// A web app with a secret full of characters that Basic encoding must escape.
pub const CONFIDENTIAL_CLIENT: &str = "web-app";
pub const CLIENT_SECRET: &str = "p:a%s+s&w=o/r d";
const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";
pub const WEB_REDIRECT: &str = "https://app.example/cb";
/// An access token inside the `invalid_json` quirk's broken body: must never be echoed.
pub const LEAKY_TOKEN: &str = "AT-inside-broken-json-0123456789";
pub(super) const ERROR_URI: &str = "https://docs.as.example/errors";
const DEFAULT_SCOPE: &str = "api:read";
pub(super) const LIFETIME: u64 = 3600;

pub(super) struct Client {
    pub(super) id: &'static str,
    pub(super) secret: Option<&'static str>,
    redirect_uri: &'static str,
}

const CLIENTS: &[Client] = &[
    Client {
        id: PUBLIC_CLIENT,
        secret: None,
        redirect_uri: LOOPBACK_REDIRECT,
    },
    Client {
        id: CONFIDENTIAL_CLIENT,
        secret: Some(CLIENT_SECRET),
        redirect_uri: WEB_REDIRECT,
    },
];

pub(super) fn find_client(id: &str) -> Option<&'static Client> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// Exact match, except that a loopback `http` redirect may use any port (RFC 8252 §7.3).
fn redirect_allowed(client: &Client, given: &str) -> bool {
    if given == client.redirect_uri {
        return true;
    }
    let (Ok(mut g), Ok(r)) = (Url::parse(given), Url::parse(client.redirect_uri)) else {
        return false;
    };
    let loopback = r.scheme() == "http" && r.host_str() == Some("127.0.0.1");
    loopback && g.set_port(None).is_ok() && g == r
}

pub(super) struct Shared {
    pub(super) base_url: String,
    pub(super) quirks: Mutex<Quirks>,
    store: Mutex<Store>,
}

#[derive(Default)]
pub(super) struct Store {
    pub(super) requests: Vec<Recorded>,
    /// Every code and token handed out.
    pub(super) issued: Vec<String>,
    pub(super) revoked: Vec<String>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    next_grant: u64,
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    used: bool,
    grant: u64,
}

/// An access or refresh token. `active` turns false on revocation, rotation or reuse.
struct Token {
    client_id: String,
    scope: String,
    grant: u64,
    active: bool,
}

impl Shared {
    pub(super) fn new(base_url: String, quirks: Quirks) -> Self {
        Self {
            base_url,
            quirks: Mutex::new(quirks),
            store: Mutex::new(Store::default()),
        }
    }

    pub(super) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap()
    }

    fn quirks(&self) -> Quirks {
        self.quirks.lock().unwrap().clone()
    }
}

impl Store {
    fn new_secret(&mut self, prefix: &str) -> String {
        let mut b = [0u8; 24];
        OsRandom.fill(&mut b);
        let s = format!(
            "{prefix}-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        );
        self.issued.push(s.clone());
        s
    }

    /// Ends every token of a grant (code replay, refresh token reuse).
    fn revoke_grant(&mut self, grant: u64) {
        for t in self.access.values_mut().chain(self.refresh.values_mut()) {
            if t.grant == grant {
                t.active = false;
            }
        }
    }
}

type AppState = State<Arc<Shared>>;

pub(super) fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/introspect", post(introspect))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Records every request, 404s included, before any handler runs.
async fn record(State(s): AppState, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let form = url::form_urlencoded::parse(&bytes).into_owned().collect();
    s.store().requests.push(Recorded {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        form,
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

// ---- discovery ----

fn metadata(s: &Shared, q: &Quirks) -> Map<String, Value> {
    let b = &s.base_url;
    let issuer = if q.wrong_issuer {
        "https://evil.example"
    } else {
        b
    };
    let auth_methods = if q.post_only {
        json!(["client_secret_post", "none"])
    } else {
        json!(["client_secret_basic", "client_secret_post", "none"])
    };
    let revocation = if q.insecure_endpoint_in_metadata {
        "http://as.example/revoke".to_owned()
    } else {
        format!("{b}/revoke")
    };
    let v = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "revocation_endpoint": revocation,
        "introspection_endpoint": format!("{b}/introspect"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": ["openid", "api:read", "api:write", "offline_access"],
        "authorization_response_iss_parameter_supported": !q.no_iss,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

async fn oauth_metadata(State(s): AppState) -> Response {
    let q = s.quirks();
    if q.no_oauth_metadata {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    axum::Json(metadata(&s, &q)).into_response()
}

async fn openid_configuration(State(s): AppState) -> Response {
    let q = s.quirks();
    let mut m = metadata(&s, &q);
    m.insert("subject_types_supported".into(), json!(["public"]));
    m.insert(
        "id_token_signing_alg_values_supported".into(),
        json!(["RS256"]),
    );
    m.insert("openid_document".into(), json!(true));
    axum::Json(m).into_response()
}

// ---- authorization endpoint ----

pub(super) fn params(raw: &[u8]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

/// The user sees an error page at the provider; nothing goes to the redirect URI.
fn error_page(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("authorization error: {msg}"),
    )
        .into_response()
}

async fn authorize(State(s): AppState, uri: Uri) -> Response {
    let q = s.quirks();
    let p = params(uri.query().unwrap_or("").as_bytes());
    let get = |k: &str| p.get(k).map(String::as_str);
    let Some(client) = get("client_id").and_then(find_client) else {
        return error_page("unknown client_id");
    };
    let Some(redirect) = get("redirect_uri").filter(|r| redirect_allowed(client, r)) else {
        return error_page("redirect_uri is not registered for this client");
    };
    let mut to = Url::parse(redirect).unwrap();
    {
        let mut pairs = to.query_pairs_mut();
        let mut fail = |code: &str, desc: &str| {
            pairs.append_pair("error", code);
            pairs.append_pair("error_description", desc);
        };
        if get("response_type") != Some("code") {
            fail("unsupported_response_type", "only response_type=code");
        } else if get("code_challenge_method") != Some("S256") || get("code_challenge").is_none() {
            fail("invalid_request", "PKCE with S256 is required");
        } else if get("state").is_none() {
            fail("invalid_request", "state is required");
        } else if q.deny {
            fail("access_denied", "the user declined");
        } else {
            let mut st = s.store();
            let code = st.new_secret("CODE");
            let grant = st.next_grant;
            st.next_grant += 1;
            st.codes.insert(
                code.clone(),
                CodeGrant {
                    client_id: client.id.to_owned(),
                    redirect_uri: redirect.to_owned(),
                    challenge: get("code_challenge").unwrap_or("").to_owned(),
                    scope: get("scope").unwrap_or(DEFAULT_SCOPE).to_owned(),
                    used: false,
                    grant,
                },
            );
            pairs.append_pair("code", &code);
        }
        if let Some(state) = get("state") {
            pairs.append_pair("state", state);
        }
        if q.wrong_iss_on_redirect {
            pairs.append_pair("iss", "https://evil.example");
        } else if !q.no_iss && !q.omit_iss_on_redirect {
            pairs.append_pair("iss", &s.base_url);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

// ---- token endpoint ----

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn token(State(s): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let q = s.quirks();
    if let Some(resp) = broken_answer(&s, &q).await {
        return resp;
    }
    let form = params(&body);
    let client = match authenticate(&q, &headers, &form) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let get = |k: &str| form.get(k).map(String::as_str);
    match get("grant_type") {
        Some("authorization_code") => code_grant(&s, &q, client, &form),
        Some("refresh_token") => refresh_grant(&s, &q, client, &form),
        Some("client_credentials") if client.secret.is_some() => {
            let mut st = s.store();
            let scope = get("scope").unwrap_or(DEFAULT_SCOPE).to_owned();
            let grant = st.next_grant;
            st.next_grant += 1;
            let at = issue(&mut st, "AT", client, &scope, grant);
            token_response(&q, &at, None, &scope)
        }
        Some("client_credentials") => bad_request(
            &q,
            "unauthorized_client",
            "public clients cannot use client_credentials",
        ),
        _ => bad_request(&q, "unsupported_grant_type", "grant type not supported"),
    }
}

fn issue(st: &mut Store, prefix: &str, client: &Client, scope: &str, grant: u64) -> String {
    let t = st.new_secret(prefix);
    let token = Token {
        client_id: client.id.to_owned(),
        scope: scope.to_owned(),
        grant,
        active: true,
    };
    let map = if prefix == "RT" {
        &mut st.refresh
    } else {
        &mut st.access
    };
    map.insert(t.clone(), token);
    t
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn code_grant(s: &Shared, q: &Quirks, client: &Client, form: &HashMap<String, String>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let mut st = s.store();
    let Some(c) = st.codes.get_mut(get("code")) else {
        return bad_request(q, "invalid_grant", "unknown authorization code");
    };
    if c.used {
        // A replayed code ends what it issued (RFC 6749 §4.1.2).
        let grant = c.grant;
        st.revoke_grant(grant);
        return bad_request(
            q,
            "invalid_grant",
            "the authorization code was already used",
        );
    }
    c.used = true;
    if c.client_id != client.id {
        return bad_request(q, "invalid_grant", "the code was issued to another client");
    }
    if c.redirect_uri != get("redirect_uri") {
        return bad_request(
            q,
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        );
    }
    if s256(get("code_verifier")) != c.challenge {
        return bad_request(q, "invalid_grant", "PKCE verification failed");
    }
    let (scope, grant) = (c.scope.clone(), c.grant);
    let at = issue(&mut st, "AT", client, &scope, grant);
    let rt = issue(&mut st, "RT", client, &scope, grant);
    token_response(q, &at, Some(&rt), &scope)
}

fn refresh_grant(
    s: &Shared,
    q: &Quirks,
    client: &Client,
    form: &HashMap<String, String>,
) -> Response {
    let mut st = s.store();
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let Some(rt) = st.refresh.get(&presented) else {
        return bad_request(q, "invalid_grant", "unknown refresh token");
    };
    if rt.client_id != client.id {
        return bad_request(
            q,
            "invalid_grant",
            "the refresh token was issued to another client",
        );
    }
    let (granted, grant) = (rt.scope.clone(), rt.grant);
    if !rt.active {
        // Reuse of a rotated token ends the whole grant (RFC 9700 §4.14).
        st.revoke_grant(grant);
        return bad_request(q, "invalid_grant", "the refresh token is no longer valid");
    }
    let scope = match form.get("scope") {
        None => granted,
        Some(asked) => {
            if !asked.split(' ').all(|t| granted.split(' ').any(|g| g == t)) {
                return bad_request(q, "invalid_scope", "broader than the original grant");
            }
            asked.clone()
        }
    };
    let at = issue(&mut st, "AT", client, &scope, grant);
    if q.no_refresh_rotation {
        return token_response(q, &at, None, &scope);
    }
    if let Some(old) = st.refresh.get_mut(&presented) {
        old.active = false;
    }
    let new_rt = issue(&mut st, "RT", client, &scope, grant);
    token_response(q, &at, Some(&new_rt), &scope)
}

// ---- revocation and introspection ----

async fn revoke(State(s): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let q = s.quirks();
    let form = params(&body);
    let client = match authenticate(&q, &headers, &form) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let mut st = s.store();
    let grant = st
        .refresh
        .get(&token)
        .or_else(|| st.access.get(&token))
        .filter(|t| t.client_id == client.id)
        .map(|t| t.grant);
    if let Some(g) = grant {
        if st.refresh.contains_key(&token) {
            // RFC 7009 §2.1: revoking a refresh token ends the access tokens of its grant.
            st.revoke_grant(g);
        } else if let Some(t) = st.access.get_mut(&token) {
            t.active = false;
        }
    }
    st.revoked.push(token);
    // 200 whether or not the token was known (RFC 7009 §2.2).
    StatusCode::OK.into_response()
}

async fn introspect(State(s): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let q = s.quirks();
    let form = params(&body);
    match authenticate(&q, &headers, &form) {
        Ok(c) if c.secret.is_some() => {}
        Ok(_) => return invalid_client(&q, "introspection needs a confidential client"),
        Err(resp) => return resp,
    }
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let st = s.store();
    let found = st.access.get(token).or_else(|| st.refresh.get(token));
    let body = match found.filter(|t| t.active) {
        Some(t) => json!({
            "active": true,
            "scope": t.scope,
            "client_id": t.client_id,
            "token_type": "Bearer",
            "exp": now_secs() + LIFETIME,
            "iat": now_secs(),
            "sub": "user-1",
            "iss": s.base_url,
        }),
        None => json!({ "active": false }),
    };
    axum::Json(body).into_response()
}
