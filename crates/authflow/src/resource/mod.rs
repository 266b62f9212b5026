//! The resource server side: validate the access tokens that reach your API.
//!
//! [`ResourceServer`] checks JWT access tokens offline (RFC 9068: the issuer's JWKS, `aud`,
//! `exp`, `typ`), or opaque tokens through introspection (RFC 7662), reuses either result
//! for a short while (a client sends the same token with every call), and turns every
//! failure into the right RFC 6750 challenge. With [`DpopConfig`] it also accepts
//! DPoP-bound tokens (RFC 9449) with their proofs, detects replayed proofs
//! ([`ReplayCache`]: in memory, or `RedisReplayCache` with the `redis` feature), and
//! never accepts a bound token as a bearer token. With the `axum` integration, handlers
//! take a [`Bearer`] argument:
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

mod dpop;
mod extract;
mod rejection;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;
mod server;

pub use dpop::DpopConfig;
pub use extract::Bearer;
pub use rejection::{Refusal, Rejection, Scheme};
pub use replay::{DEFAULT_REPLAY_CAPACITY, MemoryReplayCache, ProofId, ReplayCache, ReplayError};
#[cfg(feature = "redis")]
pub use replay_redis::RedisReplayCache;
pub use server::{Principal, ResourceServer, ResourceServerBuilder};
