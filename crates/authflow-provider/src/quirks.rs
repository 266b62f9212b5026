//! Switches that make the provider behave like odd real providers, so that clients'
//! tolerance can be tested over a real socket. All off by default.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Deliberate deviations from the RFCs (see `provider-quirks.md`). All off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Quirks {
    /// Token endpoint errors come with `200 OK` (GitHub's OAuth apps do this).
    pub error_in_200: bool,
    /// Token endpoint answers (successes and errors) are `application/x-www-form-urlencoded`.
    pub form_encoded_token_response: bool,
    /// `expires_in` is sent as a JSON string (`"3600"`).
    pub expires_in_as_string: bool,
    /// No `iss` parameter on authorization responses (RFC 9207 not implemented).
    pub no_iss_on_redirect: bool,
    /// Refresh does not rotate: the response carries no new refresh token and the old one
    /// stays valid.
    pub no_refresh_rotation: bool,
    /// Protected-resource challenges use the scheme `bearer` in lower case.
    pub lowercase_bearer_challenge: bool,
    /// `token_type` is `bearer` instead of `Bearer`.
    pub lowercase_token_type: bool,
}

/// One quirk, by name, for `--quirk NAME` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Quirk {
    /// See [`Quirks::error_in_200`].
    ErrorIn200,
    /// See [`Quirks::form_encoded_token_response`].
    FormEncodedTokenResponse,
    /// See [`Quirks::expires_in_as_string`].
    ExpiresInAsString,
    /// See [`Quirks::no_iss_on_redirect`].
    NoIssOnRedirect,
    /// See [`Quirks::no_refresh_rotation`].
    NoRefreshRotation,
    /// See [`Quirks::lowercase_bearer_challenge`].
    LowercaseBearerChallenge,
    /// See [`Quirks::lowercase_token_type`].
    LowercaseTokenType,
}

impl Quirk {
    /// Every quirk, in documentation order.
    pub const ALL: [Quirk; 7] = [
        Quirk::ErrorIn200,
        Quirk::FormEncodedTokenResponse,
        Quirk::ExpiresInAsString,
        Quirk::NoIssOnRedirect,
        Quirk::NoRefreshRotation,
        Quirk::LowercaseBearerChallenge,
        Quirk::LowercaseTokenType,
    ];

    /// The name used in `[quirks]` and `--quirk` (snake_case; `-` is accepted for `_`).
    pub fn name(self) -> &'static str {
        match self {
            Quirk::ErrorIn200 => "error_in_200",
            Quirk::FormEncodedTokenResponse => "form_encoded_token_response",
            Quirk::ExpiresInAsString => "expires_in_as_string",
            Quirk::NoIssOnRedirect => "no_iss_on_redirect",
            Quirk::NoRefreshRotation => "no_refresh_rotation",
            Quirk::LowercaseBearerChallenge => "lowercase_bearer_challenge",
            Quirk::LowercaseTokenType => "lowercase_token_type",
        }
    }
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown quirk name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quirk `{0}`; known quirks: {known}", known = known_names())]
#[non_exhaustive]
pub struct UnknownQuirk(pub String);

fn known_names() -> String {
    Quirk::ALL.map(Quirk::name).join(", ")
}

impl FromStr for Quirk {
    type Err = UnknownQuirk;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().replace('-', "_").to_ascii_lowercase();
        Quirk::ALL
            .into_iter()
            .find(|q| q.name() == name)
            .ok_or_else(|| UnknownQuirk(s.to_owned()))
    }
}

impl Quirks {
    /// No quirks: the strict provider.
    pub fn none() -> Self {
        Self::default()
    }

    /// These quirks plus `quirk`.
    #[must_use]
    pub fn with(mut self, quirk: Quirk) -> Self {
        *self.flag(quirk) = true;
        self
    }

    /// Whether `quirk` is on.
    pub fn has(mut self, quirk: Quirk) -> bool {
        *self.flag(quirk)
    }

    fn flag(&mut self, quirk: Quirk) -> &mut bool {
        match quirk {
            Quirk::ErrorIn200 => &mut self.error_in_200,
            Quirk::FormEncodedTokenResponse => &mut self.form_encoded_token_response,
            Quirk::ExpiresInAsString => &mut self.expires_in_as_string,
            Quirk::NoIssOnRedirect => &mut self.no_iss_on_redirect,
            Quirk::NoRefreshRotation => &mut self.no_refresh_rotation,
            Quirk::LowercaseBearerChallenge => &mut self.lowercase_bearer_challenge,
            Quirk::LowercaseTokenType => &mut self.lowercase_token_type,
        }
    }

    /// The quirks that are on.
    pub fn enabled(self) -> impl Iterator<Item = Quirk> {
        Quirk::ALL.into_iter().filter(move |q| self.has(*q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_accept_dashes() {
        for q in Quirk::ALL {
            assert_eq!(q.name().parse::<Quirk>().unwrap(), q);
        }
        assert_eq!("error-in-200".parse::<Quirk>().unwrap(), Quirk::ErrorIn200);
        let err = "nope".parse::<Quirk>().unwrap_err().to_string();
        assert!(err.contains("no_iss_on_redirect"), "{err}");
    }

    #[test]
    fn with_and_enabled() {
        let q = Quirks::none().with(Quirk::NoIssOnRedirect);
        assert!(q.no_iss_on_redirect);
        assert_eq!(
            q.enabled().collect::<Vec<_>>(),
            vec![Quirk::NoIssOnRedirect]
        );
    }
}
