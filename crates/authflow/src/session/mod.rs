//! Token sessions: what a program keeps between requests.
//!
//! - [`TokenSet`]: the tokens of one grant, in the form stores persist;
//! - [`TokenStore`]: where they live ([`MemoryStore`], [`FileStore`]);
//! - [`TokenSource`]: hands out valid access tokens, refreshing once however many ask.

mod authorized;
mod error;
mod file_store;
mod provider;
mod source;
mod store;
mod token_set;

pub use authorized::{AuthorizedClient, AuthorizedError, DEFAULT_MAX_RESOURCE_BODY, bearer_header};
pub use error::SessionError;
pub use provider::{
    ClientCredentialsProvider, RefreshTokenProvider, TokenProvider, refresh_token_set,
};
pub use source::{TokenSource, TokenSourceBuilder};

pub use file_store::FileStore;
pub use store::{MemoryStore, StoreError, StoreLock, TokenStore};
pub use token_set::TokenSet;
