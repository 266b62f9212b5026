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
//!   tower-sessions store through [`AuthBuilder::session_store`]; Redis for several
//!   instances with the `redis` feature (below).
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
//! ## Several instances: Redis (feature `redis`)
//!
//! By default sessions, sign-ins in progress and each login's tokens are kept in memory:
//! one process. Behind a load balancer, enable the `redis` feature and give every instance
//! the same Redis server and namespace:
//!
//! ```toml
//! authflow-axum = { version = "0.1", features = ["redis"] }
//! ```
//!
//! ```ignore
//! let redis = authflow_axum::RedisSessionStore::connect("redis://127.0.0.1:6379/", "my-app").await?;
//! let auth = Auth::builder(issuer, client_id, client_secret, redirect_uri)
//!     .redis(redis)
//!     .build()
//!     .await?;
//! ```
//!
//! - Sessions and sign-ins in progress go to `RedisSessionStore`, a tower-sessions store
//!   on the `redis` crate: a sign-in started on one instance can finish on another, and
//!   signing out on one ends the session on all. Keys hold a SHA-256 of the session id,
//!   never the id; records expire in Redis with the session.
//! - Each login's tokens go to authflow's `RedisStore` (one key set per login, named by a
//!   hash of a random server-side id). Its lock (expiry and fencing) makes a refresh run
//!   once across all instances: the others wait, then read the new tokens, so a rotated
//!   refresh token is never sent twice (servers with reuse detection would revoke the
//!   grant). The keys expire a session lifetime after the last refresh.
//! - Each instance keeps one Redis connection for sessions plus, while a login is active
//!   on it, one for that login's token store (`RedisStore` owns its connection); the
//!   instance drops those after 10 minutes unused once it holds more than 256.
//! - With [`AuthBuilder::session_store`] alone (any other store), tokens are kept in
//!   session records, with no refresh lock shared between processes: fine for one
//!   instance, not for several that refresh the same login.
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
#[cfg(feature = "redis")]
mod redis;
mod require_login;
pub mod return_to;
mod session;
mod store;

pub use auth::{Auth, AuthBuilder, FLOW_COOKIE, SESSION_COOKIE};
pub use error::{AuthError, SetupError};
pub use extract::{SignInRejection, SignedIn};
#[cfg(feature = "redis")]
pub use redis::RedisSessionStore;
pub use require_login::{RequireLogin, RequireLoginLayer};
pub use session::User;
pub use store::SharedStore;
