//! The axum extractor.

use axum_core::extract::{FromRef, FromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::rejection::Rejection;
use super::server::{Principal, ResourceServer};

/// A request's validated bearer token. Use it as a handler argument; the router's state
/// must provide a [`ResourceServer`] (`FromRef`). Refused requests get the RFC 6750
/// challenge of the server's realm.
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
}

/// A rejection rendered with the resource server's realm and metadata URL.
#[derive(Debug)]
pub struct BearerRejection {
    rejection: Rejection,
    realm: String,
    resource_metadata: Option<String>,
}

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        self.rejection
            .to_response(&self.realm, self.resource_metadata.as_deref())
    }
}

impl<S> FromRequestParts<S> for Bearer
where
    ResourceServer: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let server = ResourceServer::from_ref(state);
        server
            .authenticate(&parts.headers)
            .await
            .map(Bearer)
            .map_err(|rejection| BearerRejection {
                rejection,
                realm: server.realm().to_owned(),
                resource_metadata: server.resource_metadata().map(str::to_owned),
            })
    }
}
