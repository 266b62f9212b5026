//! [`SignedIn`]: the extractor that gives a handler the signed-in user and their tokens.

use authflow::session::{AuthorizedClient, TokenSource};
use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{Method, StatusCode, Uri};
use tower_sessions::Session;

use crate::auth::Auth;
use crate::error::AuthError;
use crate::return_to::same_origin_path;
use crate::session::{LOGIN_KEY, LoginRecord, User};

/// The signed-in user of this request, with a [`TokenSource`] that refreshes on its own.
///
/// As an extractor it requires sign-in: a `GET` without it is sent to `/login` and back;
/// other methods get `401`. `Option<SignedIn>` never rejects.
///
/// ```
/// use authflow_axum::SignedIn;
///
/// async fn me(user: SignedIn) -> Result<String, String> {
///     let resp = user
///         .api()
///         .send(http::Request::get("http://127.0.0.1:8080/api/me").body(Vec::new()).unwrap())
///         .await
///         .map_err(|e| e.to_string())?;
///     Ok(format!("{}: {}", user.user().display_name(), String::from_utf8_lossy(resp.body())))
/// }
/// ```
#[derive(Clone)]
pub struct SignedIn {
    auth: Auth,
    user: User,
    csrf: String,
    source: TokenSource,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// Who is signed in.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// This login's tokens: `token().await` hands out a valid access token, refreshing
    /// ahead of expiry, once for all concurrent requests of this login in this process
    /// (and, with `AuthBuilder::redis`, in every instance sharing the Redis server).
    pub fn token_source(&self) -> &TokenSource {
        &self.source
    }

    /// An HTTP client that calls APIs as this user (bearer header; on `401 invalid_token`
    /// it refreshes once and retries).
    pub fn api(&self) -> AuthorizedClient {
        self.auth.api_client(self.source.clone())
    }

    /// The session's CSRF token, for the sign-out form (and any form of your own):
    /// `<form method="post" action="/logout"><input type="hidden" name="csrf" value="...">`.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// Whether `given` is this session's CSRF token (constant-time).
    pub fn csrf_matches(&self, given: &str) -> bool {
        crate::csrf::tokens_match(given, &self.csrf)
    }

    /// A sign-out button: a `POST` form with the CSRF token.
    pub fn logout_form(&self) -> String {
        format!(
            "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<button type=\"submit\">Sign out</button></form>",
            crate::page::escape(self.auth.logout_path()),
            crate::page::escape(&self.csrf)
        )
    }
}

/// Why a request has no [`SignedIn`] user.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignInRejection {
    /// Nobody is signed in (or the sign-in ended): `GET`s go to this login URL.
    LoginRequired {
        /// `/login?return_to=...` (same-origin path).
        login_url: String,
        /// Whether to redirect (`GET`/`HEAD`) rather than answer `401`.
        redirect: bool,
    },
    /// The session layer is missing or its store failed.
    Session(AuthError),
}

impl IntoResponse for SignInRejection {
    fn into_response(self) -> Response {
        match self {
            Self::LoginRequired {
                login_url,
                redirect: true,
            } => Redirect::to(&login_url).into_response(),
            Self::LoginRequired { .. } => {
                (StatusCode::UNAUTHORIZED, "sign in first").into_response()
            }
            Self::Session(e) => e.into_response(),
        }
    }
}

/// The signed-in user of a request that went through the session layer, if any.
pub(crate) async fn current(auth: &Auth, session: &Session) -> Result<Option<SignedIn>, AuthError> {
    let Some(login) = session.get::<LoginRecord>(LOGIN_KEY).await? else {
        return Ok(None);
    };
    match auth.token_source(login.tokens).await? {
        Some(source) => Ok(Some(SignedIn {
            auth: auth.clone(),
            user: login.user,
            csrf: login.csrf,
            source,
        })),
        None => {
            // The tokens are gone (expired, refresh refused, signed out elsewhere).
            auth.forget_source(login.tokens);
            session.remove_value(LOGIN_KEY).await?;
            Ok(None)
        }
    }
}

pub(crate) fn login_required(auth: &Auth, method: &Method, uri: &Uri) -> SignInRejection {
    let here = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let back = same_origin_path(here, &auth.inner.origin).unwrap_or_else(|| "/".into());
    SignInRejection::LoginRequired {
        login_url: auth.login_url_for(&back),
        redirect: matches!(*method, Method::GET | Method::HEAD),
    }
}

fn session_of(parts: &Parts) -> Result<Session, SignInRejection> {
    parts.extensions.get::<Session>().cloned().ok_or_else(|| {
        SignInRejection::Session(AuthError::Session(
            "no session: wrap the application in `auth.session_layer()`".into(),
        ))
    })
}

impl<S> FromRequestParts<S> for SignedIn
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = SignInRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        let session = session_of(parts)?;
        current(&auth, &session)
            .await
            .map_err(SignInRejection::Session)?
            .ok_or_else(|| login_required(&auth, &parts.method, &parts.uri))
    }
}

impl<S> OptionalFromRequestParts<S> for SignedIn
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = SignInRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = Auth::from_ref(state);
        let session = session_of(parts)?;
        current(&auth, &session)
            .await
            .map_err(SignInRejection::Session)
    }
}
