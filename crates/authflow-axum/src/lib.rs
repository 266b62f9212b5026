//! # authflow-axum
//!
//! "Sign in with ..." (OAuth 2.0 authorization code + PKCE, OpenID Connect) for axum
//! servers, built on [`authflow`]. The browser holds only opaque ids; `state`, the PKCE
//! verifier, the nonce, the return URL and every token stay on the server.
//!
//! - [`Auth::routes`]: `GET /login` (starts a sign-in bound to this browser by a
//!   short-lived HttpOnly SameSite=Lax cookie), `GET /callback` (checks `state` and `iss`,
//!   exchanges the code, verifies the ID token, rotates the session id, keeps the tokens
//!   server-side), `POST /logout` (CSRF-protected; revokes at the provider).
//! - [`SignedIn`]: the extractor with the user, a self-refreshing [`TokenSource`]
//!   (`authflow::session::TokenSource`) and an API client.
//! - [`RequireLoginLayer`]: sends anonymous requests to `/login` and back (same-origin
//!   return URLs only).
//! - [`Auth::session_layer`]: tower-sessions with a memory store by default; any
//!   tower-sessions store (e.g. Redis) through [`AuthBuilder::session_store`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri};
//! use authflow_axum::{Auth, SignedIn};
//! use axum::{Router, routing::get};
//!
//! let auth = Auth::builder(
//!     IssuerUrl::new("http://127.0.0.1:8080")?,
//!     ClientId::new("demo-web")?,
//!     ClientSecret::new("demo-web-secret")?,
//!     RedirectUri::new("http://127.0.0.1:3000/callback")?,
//! )
//! .build()
//! .await?;
//!
//! async fn home(user: Option<SignedIn>) -> String {
//!     match user {
//!         Some(u) => format!("hello {}", u.user().display_name()),
//!         None => "<a href=\"/login\">Sign in</a>".into(),
//!     }
//! }
//!
//! let app = Router::new()
//!     .route("/", get(home))
//!     .merge(auth.routes())
//!     .with_state(auth.clone())
//!     .layer(auth.session_layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! [`TokenSource`]: authflow::session::TokenSource

mod auth;
mod callback;
mod csrf;
mod error;
mod extract;
mod flow_cookie;
mod login;
mod logout;
pub mod page;
mod require_login;
pub mod return_to;
mod session;
mod store;

pub use auth::{Auth, AuthBuilder, FLOW_COOKIE, SESSION_COOKIE};
pub use error::{AuthError, SetupError};
pub use extract::{SignInRejection, SignedIn};
pub use require_login::{RequireLogin, RequireLoginLayer};
pub use session::User;
pub use store::SharedStore;
