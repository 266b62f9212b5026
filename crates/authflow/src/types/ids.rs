use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::{InvalidValue, is_vschar};

/// An OAuth client identifier (RFC 6749 §2.2). Public, so it prints normally.
///
/// ```
/// let id = authflow::types::ClientId::new("my-cli").unwrap();
/// assert_eq!(id.as_str(), "my-cli");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id: non-empty, printable ASCII (`VSCHAR`).
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidValue> {
        let id = id.into();
        if id.is_empty() {
            return Err(InvalidValue::new("client id", "must not be empty"));
        }
        if !is_vschar(&id) {
            return Err(InvalidValue::new(
                "client id",
                "must be printable ASCII (RFC 6749 Appendix A.1)",
            ));
        }
        Ok(Self(id))
    }

    /// The identifier as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for ClientId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}
