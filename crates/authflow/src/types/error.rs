use std::fmt;

/// A value was rejected by a validating constructor.
///
/// The message names the kind of value and the rule it broke, never the value itself,
/// since the value may be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct InvalidValue {
    /// What was being built, e.g. `"redirect URI"`.
    pub kind: &'static str,
    /// Which rule it broke, e.g. `"must use https (http is allowed for loopback hosts only)"`.
    pub reason: String,
}

impl InvalidValue {
    pub(crate) fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.kind, self.reason)
    }
}
