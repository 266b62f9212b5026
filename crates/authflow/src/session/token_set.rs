//! The tokens of one grant, as stores persist them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::protocol::TokenResponse;
use crate::protocol::dpop::DpopProver;
use crate::types::{AccessToken, IdToken, RefreshToken, Scope};

/// The format version written by this release; readers refuse newer ones.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// An access token with what came with it.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use authflow::session::TokenSet;
/// use authflow::types::AccessToken;
///
/// let now = SystemTime::now();
/// let set = TokenSet::new(AccessToken::new("at").unwrap())
///     .with_expiry(Some(now + Duration::from_secs(3600)));
/// assert!(!set.needs_refresh(now, Duration::from_secs(60)));
/// assert!(set.needs_refresh(now + Duration::from_secs(3590), Duration::from_secs(60)));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The format version.
    pub version: u32,
    /// The access token.
    pub access_token: AccessToken,
    /// `Bearer`, `DPoP`, ...
    pub token_type: String,
    /// When the access token expires, in seconds since the Unix epoch; `None` = unknown.
    #[serde(default, with = "unix_seconds")]
    pub expires_at: Option<SystemTime>,
    /// The refresh token, if any.
    #[serde(default)]
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// The ID token, if any.
    #[serde(default)]
    pub id_token: Option<IdToken>,
    /// When the tokens were obtained.
    #[serde(default, with = "unix_seconds")]
    pub obtained_at: Option<SystemTime>,
    /// The DPoP key the tokens are bound to (RFC 9449), kept with them so that a refresh
    /// and every request can prove possession. A secret, like the tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<DpopProver>,
}

impl TokenSet {
    /// A set holding only an access token of unknown lifetime.
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            version: FORMAT_VERSION,
            access_token,
            token_type: "Bearer".into(),
            expires_at: None,
            refresh_token: None,
            scope: None,
            id_token: None,
            obtained_at: None,
            dpop: None,
        }
    }

    /// Binds the set to a DPoP key: the key that obtained it.
    #[must_use]
    pub fn with_dpop(mut self, prover: Option<DpopProver>) -> Self {
        self.dpop = prover;
        self
    }

    /// Whether requests must carry `Authorization: DPoP` and a proof: the server issued a
    /// `DPoP` token and the key is here.
    pub fn is_dpop_bound(&self) -> bool {
        self.dpop.is_some() && self.token_type.eq_ignore_ascii_case("dpop")
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: Option<SystemTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: Option<RefreshToken>) -> Self {
        self.refresh_token = refresh_token;
        self
    }

    /// The tokens of a fresh grant. A response without `scope` means the requested scope.
    pub fn from_response(resp: &TokenResponse, requested: &Scope, now: SystemTime) -> Self {
        Self {
            version: FORMAT_VERSION,
            access_token: resp.access_token.clone(),
            token_type: resp.token_type.as_str().to_owned(),
            expires_at: resp.expires_at,
            refresh_token: resp.refresh_token.clone(),
            scope: Some(resp.granted_scope(requested)),
            id_token: resp.id_token.clone(),
            obtained_at: Some(now),
            dpop: None,
        }
    }

    /// The set after a refresh: the old refresh token stays when the server sent none,
    /// the old scope when it named none, the old ID token when it sent none.
    #[must_use]
    pub fn refreshed(&self, resp: &TokenResponse, now: SystemTime) -> Self {
        Self {
            version: FORMAT_VERSION,
            access_token: resp.access_token.clone(),
            token_type: resp.token_type.as_str().to_owned(),
            expires_at: resp.expires_at,
            refresh_token: resp
                .refresh_token
                .clone()
                .or_else(|| self.refresh_token.clone()),
            scope: resp.scope.clone().or_else(|| self.scope.clone()),
            id_token: resp.id_token.clone().or_else(|| self.id_token.clone()),
            obtained_at: Some(now),
            dpop: self.dpop.clone(),
        }
    }

    /// Whether the access token expires within `skew` of `now`. Unknown lifetimes never
    /// need a clock-driven refresh: a `401 invalid_token` tells.
    pub fn needs_refresh(&self, now: SystemTime, skew: Duration) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.checked_add(skew).unwrap_or(now))
    }

    /// How long before expiry to refresh: the smaller of 60 s and 10 % of the token's
    /// lifetime (60 s when the lifetime is unknown).
    pub fn refresh_skew(&self) -> Duration {
        const MAX: Duration = Duration::from_secs(60);
        match (self.obtained_at, self.expires_at) {
            (Some(from), Some(to)) => to
                .duration_since(from)
                .map(|life| (life / 10).min(MAX))
                .unwrap_or(MAX),
            _ => MAX,
        }
    }

    /// Whether the access token is past its expiry.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Time left before expiry, if known (zero when past).
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("dpop", &self.dpop.as_ref().map(DpopProver::thumbprint))
            .finish_non_exhaustive()
    }
}

/// `Option<SystemTime>` as whole seconds since the epoch.
mod unix_seconds {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let secs: Option<u64> = Option::deserialize(d)?;
        Ok(secs.and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::token_response::parse_token_response;

    fn response(body: &str, now: SystemTime) -> TokenResponse {
        let r = http::Response::builder()
            .header("content-type", "application/json")
            .body(bytes::Bytes::from(body.to_owned()))
            .unwrap();
        parse_token_response(&r, now).unwrap()
    }

    #[test]
    fn refresh_keeps_old_refresh_token_and_scope_when_absent() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let first = TokenSet::from_response(
            &response(
                r#"{"access_token":"a1","refresh_token":"r1","expires_in":60}"#,
                now,
            ),
            &Scope::parse("api:read").unwrap(),
            now,
        );
        assert_eq!(first.scope.as_ref().unwrap().to_string(), "api:read");
        let second = first.refreshed(
            &response(r#"{"access_token":"a2","expires_in":60}"#, now),
            now,
        );
        assert_eq!(second.access_token.secret(), "a2");
        assert_eq!(second.refresh_token.as_ref().unwrap().secret(), "r1");
        assert_eq!(second.scope, first.scope);
        let third = second.refreshed(
            &response(r#"{"access_token":"a3","refresh_token":"r2"}"#, now),
            now,
        );
        assert_eq!(
            third.refresh_token.unwrap().secret(),
            "r2",
            "rotated token wins"
        );
        assert_eq!(third.expires_at, None);
    }

    #[test]
    fn json_round_trip_and_debug_redaction() {
        let set = TokenSet::new(AccessToken::new("AT-SECRET").unwrap())
            .with_expiry(Some(UNIX_EPOCH + Duration::from_secs(42)))
            .with_refresh_token(Some(RefreshToken::new("RT-SECRET").unwrap()));
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("\"expires_at\":42"), "{json}");
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        let dbg = format!("{set:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }

    #[test]
    fn dpop_key_persists_and_survives_refresh() {
        use crate::jose::{JwsAlgorithm, SigningKey};
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let prover = DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap());
        let set = TokenSet::from_response(
            &response(
                r#"{"access_token":"a1","token_type":"DPoP","refresh_token":"r1"}"#,
                now,
            ),
            &Scope::empty(),
            now,
        )
        .with_dpop(Some(prover.clone()));
        assert!(set.is_dpop_bound());
        let json = serde_json::to_string(&set).unwrap();
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.dpop.as_ref().map(DpopProver::thumbprint),
            Some(prover.thumbprint())
        );
        let refreshed = back.refreshed(
            &response(r#"{"access_token":"a2","token_type":"DPoP"}"#, now),
            now,
        );
        assert!(
            refreshed.is_dpop_bound(),
            "a refresh stays bound to the same key"
        );
        assert!(!format!("{set:?}").contains("pkcs8"));
        // A set without a key serializes as before.
        let plain = serde_json::to_string(&TokenSet::new(AccessToken::new("a").unwrap())).unwrap();
        assert!(!plain.contains("dpop"));
    }

    #[test]
    fn unknown_lifetime_never_needs_a_clock_refresh() {
        let set = TokenSet::new(AccessToken::new("a").unwrap());
        assert!(!set.needs_refresh(SystemTime::now(), Duration::from_secs(3600)));
        assert!(!set.is_expired(SystemTime::now()));
    }
}
