//! Step-up authorization: new tokens with a wider scope after a resource answered
//! `403 insufficient_scope` (RFC 6750 §3.1).

use super::error::SessionError;
use super::token_set::TokenSet;
use crate::client::BoxFuture;
use crate::types::Scope;

/// Gets tokens with a wider scope: a new authorization, usually with the user in a
/// browser, since a refresh cannot widen a grant (RFC 6749 §6).
///
/// Given to [`TokenSourceBuilder::step_up`](super::TokenSourceBuilder::step_up),
/// `AuthorizedClient` calls it at most once per request, when a resource answers
/// `403 insufficient_scope` with a `scope` the current tokens lack, and sends the request
/// again with the new tokens. A second refusal is
/// [`AuthorizedError::InsufficientScope`](super::AuthorizedError::InsufficientScope).
///
/// ```
/// use authflow::client::BoxFuture;
/// use authflow::session::{SessionError, StepUp, TokenSet};
/// use authflow::types::Scope;
///
/// struct AskAgain;
/// impl StepUp for AskAgain {
///     fn step_up<'a>(
///         &'a self,
///         _current: Option<&'a TokenSet>,
///         scope: &'a Scope,
///     ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
///         Box::pin(async move {
///             // Run the authorization code flow for `scope` here.
///             Err(SessionError::LoginRequired(format!("log in again with scope {scope}")))
///         })
///     }
/// }
/// ```
pub trait StepUp: Send + Sync + 'static {
    /// Tokens with at least `scope`: the union of the current set's scope and the one the
    /// resource asked for.
    fn step_up<'a>(
        &'a self,
        current: Option<&'a TokenSet>,
        scope: &'a Scope,
    ) -> BoxFuture<'a, Result<TokenSet, SessionError>>;
}

/// `current`'s scope with `required` added, in order, without repeats.
pub(super) fn union(current: Option<&Scope>, required: &Scope) -> Scope {
    let mut out = current.cloned().unwrap_or_default();
    for t in required.iter() {
        out.insert(t.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn union_keeps_order_and_drops_repeats() {
        let cur = Scope::parse("openid api:read").unwrap();
        let req = Scope::parse("api:read api:write").unwrap();
        assert_eq!(
            union(Some(&cur), &req).to_string(),
            "openid api:read api:write"
        );
        assert_eq!(union(None, &req).to_string(), "api:read api:write");
    }
}
