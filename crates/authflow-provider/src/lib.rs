//! # authflow-provider
//!
//! A strict OAuth 2.0 authorization server and protected resource for development and
//! tests, built on axum. It follows the RFCs where they are strict: exact redirect URIs
//! (with the RFC 8252 §7.3 loopback port rule), PKCE `S256` required for public clients,
//! single-use short-lived codes, rotating refresh tokens with reuse detection, `iss` on
//! every authorization response (RFC 9207), RFC 9068 JWT access tokens signed with EdDSA,
//! OpenID Connect ID tokens signed with RS256. It also speaks the device authorization
//! grant (RFC 8628, with a `/device` verification page), token exchange (RFC 8693) and
//! resource indicators (RFC 8707), and validates its own `/api/*` tokens with
//! [`authflow::resource::ResourceServer`]. Clients may authenticate with
//! `private_key_jwt` or `client_secret_jwt` (RFC 7523), push their authorization requests
//! (PAR, RFC 9126), sign them (JAR, RFC 9101), and get DPoP-bound tokens (RFC 9449).
//! Clients may also register themselves (RFC 7591/7592, with
//! [`ProviderBuilder::dynamic_registration`]) or be client ID metadata documents fetched
//! from their `https` URL (with [`ProviderBuilder::client_id_metadata_documents`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use authflow::types::IssuerUrl;
//! use authflow_provider::Provider;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let issuer = IssuerUrl::new(&format!("http://{}", listener.local_addr()?))?;
//! let provider = Provider::builder().issuer(issuer).demo().build()?;
//! axum::serve(listener, provider.router()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! State (codes, grants, refresh tokens, logins, device and pushed requests) lives in the
//! process by default; with `ProviderBuilder::redis_store` (feature `redis`, on by
//! default) it lives in Redis, so that several instances share it and a restart keeps it.
//!
//! Without [`ProviderBuilder::auto_approve`], people log in and consent through small
//! server-rendered HTML pages (no JavaScript). With it, `/authorize` answers at once for
//! the given user (or the known user named by `login_hint`), which is what tests want.

mod authz_request;
mod builder;
mod cimd;
mod client_auth;
mod client_keys;
pub mod config;
pub mod demo;
mod device_store;
mod dpop;
mod dynamic_client;
mod endpoints;
mod errors;
mod form;
mod grant_store;
mod hashing;
mod jwt;
mod pages;
mod par_store;
mod provider;
mod quirks;
mod redirect;
mod registry;
mod replay;
mod request_object;
mod store;
mod time;
mod user_code;

pub use builder::{
    BuildError, DEFAULT_DEVICE_INTERVAL, DEFAULT_PAR_TTL, DEVICE_CODE_TTL, ProviderBuilder,
};
#[cfg(feature = "redis")]
pub use grant_store::RedisGrantStore;
pub use grant_store::{StoreError, StoreLocation};
pub use jwt::{IdTokenKey, KeyError, SigningKey};
pub use provider::Provider;
pub use quirks::{Quirk, Quirks};
pub use registry::{ClientConfig, ClientKind, GrantType, TokenEndpointAuthMethod, UserConfig};
