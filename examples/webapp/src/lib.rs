//! The example site: a home page with "Sign in", a profile page with the user's data from
//! the provider's protected API (`/api/me`), and "Sign out".
//!
//! ```no_run
//! # async fn run(auth: authflow_axum::Auth) -> Result<(), Box<dyn std::error::Error>> {
//! let app = webapp::app(auth, url::Url::parse("http://127.0.0.1:8080/api/me")?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use authflow_axum::page::escape;
use authflow_axum::{Auth, RequireLoginLayer, SignedIn};
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use url::Url;

/// What the pages need.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Sign-in.
    pub auth: Auth,
    /// The provider's protected API endpoint that describes the token's user.
    pub api_me: Url,
}

impl axum::extract::FromRef<AppState> for Auth {
    fn from_ref(s: &AppState) -> Auth {
        s.auth.clone()
    }
}

/// The whole site, session layer included.
pub fn app(auth: Auth, api_me: Url) -> Router {
    let state = AppState {
        auth: auth.clone(),
        api_me,
    };
    Router::new()
        .route("/profile", get(profile))
        .route_layer(RequireLoginLayer::new(&auth))
        .route("/", get(home))
        .merge(auth.routes())
        .with_state(state)
        .layer(auth.session_layer())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}\
nav{{display:flex;gap:1rem;align-items:center}}nav form{{margin:0}}\
td,th{{text-align:left;padding:.3rem .8rem .3rem 0}}code{{word-break:break-all}}</style></head>\
<body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
}

fn nav(user: &SignedIn) -> String {
    format!(
        "<nav><span id=\"user\">Signed in as <strong>{}</strong></span><a href=\"/\">Home</a>\
<a id=\"profile\" href=\"/profile\">Your data</a>{}</nav>",
        escape(user.user().display_name()),
        user.logout_form()
    )
}

async fn home(State(s): State<AppState>, user: Option<SignedIn>) -> Html<String> {
    match user {
        Some(u) => page(
            "authflow web app",
            &format!(
                "{}<p>Welcome, {}. <a href=\"/profile\">See what the API knows about you</a>.</p>",
                nav(&u),
                escape(u.user().display_name())
            ),
        ),
        None => page(
            "authflow web app",
            &format!(
                "<p id=\"anonymous\">You are not signed in.</p>\
<p><a id=\"sign-in\" href=\"{}\">Sign in</a></p>",
                escape(s.auth.login_path())
            ),
        ),
    }
}

async fn profile(State(s): State<AppState>, user: SignedIn) -> Html<String> {
    let request = http::Request::get(s.api_me.as_str()).body(Vec::new());
    let result = match request {
        Ok(r) => user.api().send(r).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let data = match result {
        Ok(resp) if resp.status().is_success() => {
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(resp.body())
            {
                Ok(fields) => {
                    let rows: String = fields
                        .iter()
                        .map(|(k, v)| {
                            let v = v
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string());
                            format!(
                                "<tr><th>{}</th><td id=\"api-{}\">{}</td></tr>",
                                escape(k),
                                escape(k),
                                escape(&v)
                            )
                        })
                        .collect();
                    format!("<table id=\"api-data\">{rows}</table>")
                }
                Err(_) => {
                    "<p class=\"error\">The API answered with something that is not JSON.</p>"
                        .into()
                }
            }
        }
        Ok(resp) => format!("<p class=\"error\">The API answered {}.</p>", resp.status()),
        Err(e) => format!("<p class=\"error\">{}</p>", escape(&e)),
    };
    page(
        "Your data",
        &format!(
            "{}<p>From <code>{}</code>, called with your access token (kept on the server, \
refreshed when it expires):</p>{data}",
            nav(&user),
            escape(s.api_me.as_str())
        ),
    )
}
