//! The resource server side: validate the bearer tokens that reach your API.
//!
//! [`ResourceServer`] checks JWT access tokens offline (RFC 9068: the issuer's JWKS, `aud`,
//! `exp`, `typ`), or opaque tokens through introspection (RFC 7662), reuses either result
//! for a short while (a client sends the same token with every call), and turns every
//! failure into the right RFC 6750 challenge. With the `axum` integration,
//! handlers take a [`Bearer`] argument:
//!
//! ```no_run
//! use authflow::resource::{Bearer, ResourceServer};
//! use axum::{Router, routing::get};
//!
//! async fn me(bearer: Bearer) -> Result<String, authflow::resource::Rejection> {
//!     bearer.require("api:read")?;
//!     Ok(format!("hello {}", bearer.subject().unwrap_or("?")))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let api = ResourceServer::builder(
//!     authflow::types::IssuerUrl::new("https://as.example")?,
//!     "https://api.example",
//! )
//! .discover()
//! .await?;
//! let app: Router = Router::new().route("/me", get(me)).with_state(api);
//! # let _ = app; Ok(()) }
//! ```

mod extract;
mod rejection;
mod server;

pub use extract::Bearer;
pub use rejection::Rejection;
pub use server::{Principal, ResourceServer, ResourceServerBuilder};
