//! What the session holds after sign-in: the user, the id of the server-side token
//! record, and the CSRF token for state-changing forms. Never a token.

use authflow::protocol::id_token::IdTokenClaims;
use serde::{Deserialize, Serialize};
use tower_sessions::session::Id;

use crate::auth::Auth;
use crate::csrf::random_token;

pub(crate) const LOGIN_KEY: &str = "authflow.login";

/// The signed-in user, from the verified ID token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// `sub`: the user's stable id at the issuer. Use it (with `issuer`) as the key.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `name`, when the provider sent it.
    pub name: Option<String>,
    /// `email`, when the provider sent it.
    pub email: Option<String>,
}

impl User {
    /// The user an ID token names.
    pub fn from_claims(claims: &IdTokenClaims) -> Self {
        Self {
            subject: claims.sub.clone(),
            issuer: claims.iss.clone(),
            name: claims.string("name").map(str::to_owned),
            email: claims.string("email").map(str::to_owned),
        }
    }

    /// The name to show: `name`, else `email`, else `sub`.
    ///
    /// ```
    /// # use authflow_axum::User;
    /// # fn show(user: &User) -> &str {
    /// user.display_name()
    /// # }
    /// ```
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.subject)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LoginRecord {
    /// The token record's id (as text: session data is JSON, which has no 128-bit ints).
    #[serde(with = "id_text")]
    pub(crate) tokens: Id,
    pub(crate) user: User,
    pub(crate) csrf: String,
}

impl LoginRecord {
    pub(crate) fn new(tokens: Id, user: User) -> Self {
        Self {
            tokens,
            user,
            csrf: random_token(),
        }
    }
}

mod id_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tower_sessions::session::Id;

    pub(super) fn serialize<S: Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|_| D::Error::custom("not a record id"))
    }
}

/// Forgets a login's tokens on this server, revoking them at the provider first when
/// `revoke` (refresh token first: at most servers that ends the whole grant).
pub(crate) async fn end_login(auth: &Auth, login: &LoginRecord, revoke: bool) {
    let i = &auth.inner;
    // A handle of its own (not the cached source's): with Redis, its unlocked clear takes
    // a new fence, so a refresh in flight elsewhere cannot write the tokens back.
    let store = match auth.login_store(login.tokens).await {
        Ok(store) => store,
        Err(e) => {
            tracing::warn!(error = %e, "could not reach the token store to end a login");
            auth.forget_source(login.tokens);
            return;
        }
    };
    if revoke {
        match store.load().await {
            Ok(Some(tokens)) => {
                if let Err(e) = i
                    .client
                    .revoke(Some(&tokens.access_token), tokens.refresh_token.as_ref())
                    .await
                {
                    tracing::warn!(error = %e, "revocation at the provider failed; tokens forgotten here anyway");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not read tokens to revoke them"),
        }
    }
    auth.forget_source(login.tokens);
    if let Err(e) = store.clear().await {
        tracing::warn!(error = %e, "could not delete the token record");
    }
}
