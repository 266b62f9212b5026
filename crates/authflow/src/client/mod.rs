//! The async layer: sends the protocol's requests through an [`HttpClient`].

mod device;
mod error;
mod http;
mod oauth_client;
mod oidc;
#[cfg(feature = "reqwest")]
mod reqwest_client;

pub use error::Error;
pub use http::{BoxFuture, HttpClient, HttpError};
pub use oauth_client::{Endpoints, OAuthClient, OAuthClientBuilder, ensure_secure_url};
#[cfg(feature = "reqwest")]
pub(crate) use reqwest_client::copy_request;
#[cfg(feature = "reqwest-middleware")]
pub(crate) use reqwest_client::into_http_response;
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, ReqwestClientBuilder};
