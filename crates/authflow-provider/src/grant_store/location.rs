//! [`StoreLocation`]: where a provider keeps its state, as a command line or a
//! configuration file names it.

use std::fmt;
use std::str::FromStr;

use super::StoreError;

/// Where a provider keeps its state: `memory` (the default: this process only, lost on
/// exit) or a Redis server, `redis://[:password@]host[:port][/db]`, shared by every
/// instance pointed at it. `Debug` and `Display` never show a password.
///
/// ```
/// use authflow_provider::StoreLocation;
/// let at: StoreLocation = "redis://:s3cret@127.0.0.1:6379/2".parse()?;
/// assert_eq!(at.to_string(), "redis://:***@127.0.0.1:6379/2");
/// assert_eq!("memory".parse::<StoreLocation>()?, StoreLocation::Memory);
/// # Ok::<(), authflow_provider::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreLocation {
    /// In this process.
    #[default]
    Memory,
    /// A Redis server (the URL as given; it may hold a password).
    Redis(String),
}

impl StoreLocation {
    /// Connects to the Redis server named here, keeping the state of the provider named
    /// `namespace` (its issuer, say); `None` for [`StoreLocation::Memory`].
    #[cfg(feature = "redis")]
    pub async fn connect(
        &self,
        namespace: &str,
    ) -> Result<Option<super::RedisGrantStore>, StoreError> {
        match self {
            Self::Memory => Ok(None),
            Self::Redis(url) => super::RedisGrantStore::connect(url, namespace)
                .await
                .map(Some),
        }
    }
}

impl FromStr for StoreLocation {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        let url = url::Url::parse(s).map_err(|_| {
            StoreError::Location("expected `memory` or redis://HOST[:PORT][/DB]".into())
        })?;
        match url.scheme() {
            "redis" if cfg!(feature = "redis") => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(StoreError::Location("the Redis URL has no host".into()));
                }
                let db = url.path().trim_start_matches('/');
                if !db.is_empty() && db.parse::<u16>().is_err() {
                    return Err(StoreError::Location(
                        "the Redis URL's path must be a database number, e.g. redis://127.0.0.1:6379/0"
                            .into(),
                    ));
                }
                Ok(Self::Redis(s.to_owned()))
            }
            "redis" => Err(StoreError::Location(
                "this build has no Redis support (authflow-provider feature `redis`)".into(),
            )),
            "rediss" => Err(StoreError::Location(
                "Redis over TLS (rediss://) is not supported; use redis:// on a trusted network"
                    .into(),
            )),
            _ => Err(StoreError::Location(
                "expected `memory` or redis://HOST[:PORT][/DB]".into(),
            )),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Redis(raw) => match url::Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    f.write_str(url.as_str())
                }
                Err(_) => f.write_str("redis://(invalid)"),
            },
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

impl<'de> serde::Deserialize<'de> for StoreLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_memory_and_redis_and_hides_passwords() {
        assert_eq!(
            "memory".parse::<StoreLocation>().unwrap(),
            StoreLocation::Memory
        );
        let at: StoreLocation = "redis://user:pw-Zq7@10.0.0.5:6380/3".parse().unwrap();
        assert_eq!(at.to_string(), "redis://user:***@10.0.0.5:6380/3");
        assert!(!format!("{at:?}").contains("pw-Zq7"));
        for bad in [
            "",
            "redis",
            "rediss://127.0.0.1/0",
            "http://127.0.0.1/",
            "redis://127.0.0.1/notanumber",
        ] {
            let e = bad.parse::<StoreLocation>().unwrap_err();
            assert!(matches!(e, StoreError::Location(_)), "{bad}: {e}");
        }
    }
}
