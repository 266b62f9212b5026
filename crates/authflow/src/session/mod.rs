//! Token sessions: what a program keeps between requests.
//!
//! - [`TokenSet`]: the tokens of one grant, in the form stores persist;
//! - [`TokenStore`]: where they live ([`MemoryStore`], [`FileStore`], and behind features
//!   `RedisStore` and `KeyringStore`);
//! - [`TokenSource`]: hands out valid access tokens ([`TokenGuard`]), refreshing once
//!   however many ask;
//! - [`AuthorizedClient`], and `BearerMiddleware` behind the `reqwest-middleware` feature:
//!   calls to protected resources with those tokens.

mod authorized;
mod dpop_ahead;
mod dpop_requests;
mod error;
mod file_store;
#[cfg(feature = "keyring")]
mod keyring_store;
mod login;
#[cfg(feature = "reqwest-middleware")]
mod middleware;
mod provider;
#[cfg(feature = "redis")]
mod redis_store;
mod source;
mod step_up;
mod store;
mod token_guard;
mod token_set;

pub use authorized::{AuthorizedClient, AuthorizedError, DEFAULT_MAX_RESOURCE_BODY, bearer_header};
pub use error::SessionError;
pub use login::Login;
pub use provider::{
    ClientCredentialsProvider, RefreshTokenProvider, TokenProvider, refresh_token_set,
    refresh_token_set_for,
};
pub use source::{TokenSource, TokenSourceBuilder};
pub use step_up::StepUp;

pub use file_store::FileStore;
#[cfg(feature = "keyring")]
pub use keyring_store::KeyringStore;
#[cfg(feature = "reqwest-middleware")]
pub use middleware::BearerMiddleware;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use store::{MemoryStore, StoreError, StoreLock, TokenStore};
pub use token_guard::TokenGuard;
pub use token_set::TokenSet;
