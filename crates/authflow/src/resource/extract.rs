//! The axum extractor.

use axum_core::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::rejection::{Refusal, Rejection, Scheme};
use super::server::{Principal, ResourceServer};

/// A request's validated access token: a bearer token, or a DPoP-bound token with a valid
/// proof when the server accepts DPoP. Use it as a handler argument; the router's state
/// must provide a [`ResourceServer`] (`FromRef`). Refused requests get the server's
/// challenges ([`Refusal`]).
#[derive(Debug, Clone)]
pub struct Bearer(pub Principal);

impl Bearer {
    /// `Ok` when the token carries `scope`; else the `insufficient_scope` rejection.
    pub fn require(&self, scope: &str) -> Result<(), Rejection> {
        self.0.require(scope)
    }

    /// The token's subject.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// Whether the token was DPoP-bound (and came with a valid proof of its key).
    pub fn is_dpop(&self) -> bool {
        self.0.is_dpop_bound()
    }

    /// The thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`).
    pub fn jkt(&self) -> Option<&str> {
        self.0.jkt.as_deref()
    }

    /// The scheme the token came with.
    pub fn scheme(&self) -> Scheme {
        self.0.scheme()
    }
}

impl<S> FromRequestParts<S> for Bearer
where
    ResourceServer: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let server = ResourceServer::from_ref(state);
        server
            .authenticate_request(&parts.method, &parts.uri, &parts.headers)
            .await
            .map(Bearer)
    }
}
