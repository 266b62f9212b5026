//! Checking the authorization response on the redirect (RFC 6749 §4.1.2, RFC 9207,
//! RFC 9700 §4.7).

use std::fmt;

use url::Url;

use super::authorization::PendingAuthorization;
use crate::types::{AuthorizationCode, CsrfState};

/// An `error=` redirect from the authorization server (RFC 6749 §4.1.2.1), fields intact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationError {
    /// `error`, e.g. `access_denied`.
    pub error: String,
    /// `error_description`, when sent.
    pub error_description: Option<String>,
    /// `error_uri`, when sent.
    pub error_uri: Option<String>,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let printable = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(500)
                .collect()
        };
        write!(
            f,
            "the authorization server answered `{}`",
            printable(&self.error)
        )?;
        if let Some(d) = &self.error_description {
            write!(f, ": {}", printable(d))?;
        }
        if let Some(u) = &self.error_uri {
            write!(f, " (see {})", printable(u))?;
        }
        if self.error == "access_denied" {
            f.write_str("; the request was declined at the authorization server")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthorizationError {}

/// Why a redirect was not accepted. None of these ever lets the code be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The server sent an error instead of a code.
    #[error(transparent)]
    Authorization(AuthorizationError),
    /// No `state` came back.
    #[error("the redirect carries no `state`; it was not sent by this login and is ignored")]
    MissingState,
    /// `state` differs from the one sent: a forged or stale redirect (CSRF).
    #[error(
        "the redirect's `state` does not match this login (a stale tab or a forged request); start the login again"
    )]
    StateMismatch,
    /// Neither `code` nor `error` was present.
    #[error("the redirect carries neither `code` nor `error`")]
    MissingCode,
    /// A parameter appeared more than once (RFC 6749 §3.1).
    #[error("the redirect repeats the `{0}` parameter")]
    DuplicateParameter(&'static str),
    /// The server promised `iss` (RFC 9207) but the redirect lacks it.
    #[error(
        "the redirect carries no `iss` although the server announces it (RFC 9207); refusing a possible mix-up"
    )]
    MissingIssuer,
    /// `iss` names another issuer than the one the request went to: a mix-up attack.
    #[error(
        "the redirect's `iss` is `{found}` but the login went to `{expected}` (mix-up); refusing the code"
    )]
    IssuerMismatch {
        /// The issuer the request went to.
        expected: String,
        /// The issuer the redirect names.
        found: String,
    },
    /// The redirect arrived at another path than the redirect URI's.
    #[error("the redirect arrived at `{found}` but the redirect URI's path is `{expected}`")]
    WrongPath {
        /// The redirect URI's path.
        expected: String,
        /// The path the request used.
        found: String,
    },
    /// The code is not a valid authorization code.
    #[error("the redirect's `code` is malformed")]
    MalformedCode,
}

impl CallbackError {
    /// Whether this redirect is certainly not the answer to this login (missing or wrong
    /// `state`): a listener should ignore it and keep waiting rather than end the flow.
    pub fn is_unrelated(&self) -> bool {
        matches!(self, Self::MissingState | Self::StateMismatch)
    }
}

impl PendingAuthorization {
    /// Checks a full redirect URL: path against the redirect URI, then the query as
    /// [`validate_query`](Self::validate_query) does.
    pub fn validate_callback(&self, callback: &Url) -> Result<AuthorizationCode, CallbackError> {
        let expected = self.redirect_uri.as_url().path();
        if callback.path() != expected {
            return Err(CallbackError::WrongPath {
                expected: expected.to_owned(),
                found: callback.path().to_owned(),
            });
        }
        self.validate_query(callback.query().unwrap_or(""))
    }

    /// Checks the redirect's query: `state` (constant-time), then `iss` (RFC 9207), then
    /// either `error` or `code`.
    ///
    /// ```
    /// # use authflow::protocol::AuthorizationRequest;
    /// # use authflow::random::OsRandom;
    /// # use authflow::types::*;
    /// # let (_, pending) = AuthorizationRequest::new(
    /// #     EndpointUrl::new("https://as.example/authorize").unwrap(),
    /// #     ClientId::new("c").unwrap(),
    /// #     RedirectUri::new("http://127.0.0.1/cb").unwrap(),
    /// # ).build(&mut OsRandom).unwrap();
    /// let query = format!("code=abc&state={}", pending.state.secret());
    /// let code = pending.validate_query(&query).unwrap();
    /// assert_eq!(code.secret(), "abc");
    /// assert!(pending.validate_query("code=abc&state=forged").is_err());
    /// ```
    pub fn validate_query(&self, query: &str) -> Result<AuthorizationCode, CallbackError> {
        let q = Query::parse(query);

        // State first: a redirect that is not ours (no state, a foreign one, or several)
        // is unrelated and must not end the flow or reveal anything else.
        let state = match q.state.as_slice() {
            [] => return Err(CallbackError::MissingState),
            [one] => one,
            _ => return Err(CallbackError::StateMismatch),
        };
        let matches = CsrfState::new(state.as_str()).is_ok_and(|s| s == self.state);
        if !matches {
            return Err(CallbackError::StateMismatch);
        }

        let code = q.single("code", &q.code)?;
        let iss = q.single("iss", &q.iss)?;
        let error = q.single("error", &q.error)?;
        let error_description = q.single("error_description", &q.error_description)?;
        let error_uri = q.single("error_uri", &q.error_uri)?;

        if let Some(expected) = &self.issuer {
            match iss {
                Some(found) if !expected.matches(found) => {
                    return Err(CallbackError::IssuerMismatch {
                        expected: expected.as_issuer_str().to_owned(),
                        found: found.to_owned(),
                    });
                }
                None if self.require_iss => return Err(CallbackError::MissingIssuer),
                _ => {}
            }
        }

        if let Some(error) = error {
            return Err(CallbackError::Authorization(AuthorizationError {
                error: error.to_owned(),
                error_description: error_description.map(str::to_owned),
                error_uri: error_uri.map(str::to_owned),
            }));
        }
        let code = code.ok_or(CallbackError::MissingCode)?;
        AuthorizationCode::new(code).map_err(|_| CallbackError::MalformedCode)
    }
}

/// Every value of the parameters that matter, in order.
#[derive(Default)]
struct Query {
    code: Vec<String>,
    state: Vec<String>,
    iss: Vec<String>,
    error: Vec<String>,
    error_description: Vec<String>,
    error_uri: Vec<String>,
}

impl Query {
    fn parse(query: &str) -> Self {
        let mut q = Query::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "code" => &mut q.code,
                "state" => &mut q.state,
                "iss" => &mut q.iss,
                "error" => &mut q.error,
                "error_description" => &mut q.error_description,
                "error_uri" => &mut q.error_uri,
                _ => continue,
            };
            slot.push(v.into_owned());
        }
        q
    }

    /// At most one value (RFC 6749 §3.1: parameters must not repeat).
    fn single<'a>(
        &self,
        name: &'static str,
        values: &'a [String],
    ) -> Result<Option<&'a str>, CallbackError> {
        match values {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(CallbackError::DuplicateParameter(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AuthorizationRequest;
    use crate::random::OsRandom;
    use crate::types::{ClientId, EndpointUrl, IssuerUrl, RedirectUri};

    fn pending(issuer: Option<(&str, bool)>) -> PendingAuthorization {
        let mut r = AuthorizationRequest::new(
            EndpointUrl::new("https://as.example/authorize").unwrap(),
            ClientId::new("c").unwrap(),
            RedirectUri::new("http://127.0.0.1:4000/callback").unwrap(),
        );
        if let Some((i, req)) = issuer {
            r = r.issuer(IssuerUrl::new(i).unwrap(), req);
        }
        r.build(&mut OsRandom).unwrap().1
    }

    #[test]
    fn accepts_matching_state() {
        let p = pending(None);
        let url = Url::parse(&format!(
            "http://127.0.0.1:4000/callback?code=xyz&state={}",
            p.state.secret()
        ))
        .unwrap();
        assert_eq!(p.validate_callback(&url).unwrap().secret(), "xyz");
    }

    #[test]
    fn state_is_checked_before_anything_else() {
        let p = pending(None);
        assert_eq!(
            p.validate_query("code=x").unwrap_err(),
            CallbackError::MissingState
        );
        assert_eq!(
            p.validate_query("code=x&state=nope").unwrap_err(),
            CallbackError::StateMismatch
        );
        // An error redirect with a forged state is not reported as the server's error.
        assert_eq!(
            p.validate_query("error=access_denied&state=nope")
                .unwrap_err(),
            CallbackError::StateMismatch
        );
        assert!(CallbackError::StateMismatch.is_unrelated());
    }

    #[test]
    fn error_redirect_surfaces_fields() {
        let p = pending(None);
        let q = format!(
            "error=access_denied&error_description=User+said+no&error_uri=https%3A%2F%2Fas.example%2Fe&state={}",
            p.state.secret()
        );
        match p.validate_query(&q).unwrap_err() {
            CallbackError::Authorization(e) => {
                assert_eq!(e.error, "access_denied");
                assert_eq!(e.error_description.as_deref(), Some("User said no"));
                assert_eq!(e.error_uri.as_deref(), Some("https://as.example/e"));
                assert!(e.to_string().contains("User said no"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn iss_rules_rfc9207() {
        let s = |p: &PendingAuthorization| p.state.secret().to_owned();
        let p = pending(Some(("https://as.example", true)));
        let ok = format!("code=c&state={}&iss=https%3A%2F%2Fas.example", s(&p));
        assert!(p.validate_query(&ok).is_ok());
        let missing = format!("code=c&state={}", s(&p));
        assert_eq!(
            p.validate_query(&missing).unwrap_err(),
            CallbackError::MissingIssuer
        );
        let evil = format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", s(&p));
        assert!(matches!(
            p.validate_query(&evil).unwrap_err(),
            CallbackError::IssuerMismatch { .. }
        ));
        // Not announced: absence is fine, a wrong value still is not.
        let p = pending(Some(("https://as.example", false)));
        assert!(p.validate_query(&format!("code=c&state={}", s(&p))).is_ok());
        let evil = format!("code=c&state={}&iss=https%3A%2F%2Fevil.example", s(&p));
        assert!(p.validate_query(&evil).is_err());
    }

    #[test]
    fn duplicates_and_wrong_paths_are_refused() {
        let p = pending(None);
        let q = format!("code=a&code=b&state={}", p.state.secret());
        assert_eq!(
            p.validate_query(&q).unwrap_err(),
            CallbackError::DuplicateParameter("code")
        );
        let url = Url::parse(&format!(
            "http://127.0.0.1:4000/other?code=a&state={}",
            p.state.secret()
        ))
        .unwrap();
        assert!(matches!(
            p.validate_callback(&url),
            Err(CallbackError::WrongPath { .. })
        ));
        let q = format!("state={}", p.state.secret());
        assert_eq!(
            p.validate_query(&q).unwrap_err(),
            CallbackError::MissingCode
        );
    }
}
