//! [`RequireLoginLayer`]: sends requests without a signed-in user to `/login` and back.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_sessions::Session;

use crate::auth::Auth;
use crate::error::AuthError;
use crate::extract::{SignInRejection, current, login_required};

/// Requires a signed-in user on every route it wraps: `GET`/`HEAD` without one are
/// redirected to `/login?return_to=<this path>` (same-origin, so never an open
/// redirect), other methods get `401`. Must sit inside [`Auth::session_layer`].
///
/// ```
/// # fn app(auth: authflow_axum::Auth) -> axum::Router {
/// use authflow_axum::RequireLoginLayer;
/// use axum::{Router, routing::get};
///
/// Router::new()
///     .route("/account", get(|| async { "private" }))
///     .route_layer(RequireLoginLayer::new(&auth))   // only the routes above
///     .route("/", get(|| async { "public" }))
///     .merge(auth.routes())
///     .layer(auth.session_layer())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RequireLoginLayer {
    auth: Auth,
}

impl RequireLoginLayer {
    /// A layer for this [`Auth`].
    pub fn new(auth: &Auth) -> Self {
        Self { auth: auth.clone() }
    }
}

impl<S> Layer<S> for RequireLoginLayer {
    type Service = RequireLogin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireLogin {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service made by [`RequireLoginLayer`].
#[derive(Clone, Debug)]
pub struct RequireLogin<S> {
    inner: S,
    auth: Auth,
}

impl<S> Service<Request> for RequireLogin<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service that was polled ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            let Some(session) = req.extensions().get::<Session>().cloned() else {
                return Ok(AuthError::Session(
                    "no session: wrap the application in `auth.session_layer()`".into(),
                )
                .into_response());
            };
            match current(&auth, &session).await {
                Ok(Some(_)) => inner.call(req).await,
                Ok(None) => Ok(login_required(&auth, req.method(), req.uri()).into_response()),
                Err(e) => Ok(SignInRejection::Session(e).into_response()),
            }
        })
    }
}
