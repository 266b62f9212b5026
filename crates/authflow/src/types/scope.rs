use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::InvalidValue;

/// One scope value (RFC 6749 §3.3: `1*( %x21 / %x23-5B / %x5D-7E )`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeToken(String);

impl ScopeToken {
    /// Validates one scope token.
    pub fn new(token: impl Into<String>) -> Result<Self, InvalidValue> {
        let token = token.into();
        if token.is_empty() {
            return Err(InvalidValue::new(
                "scope",
                "a scope token must not be empty",
            ));
        }
        if !token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(InvalidValue::new(
                "scope",
                "scope tokens use printable ASCII without space, '\"' or '\\' (RFC 6749 §3.3)",
            ));
        }
        Ok(Self(token))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ordered set of scope tokens, space-joined on the wire (RFC 6749 §3.3).
///
/// Order is kept as given (servers and users read it), duplicates are dropped.
///
/// ```
/// use authflow::types::Scope;
/// let s = Scope::parse("openid profile openid").unwrap();
/// assert_eq!(s.to_string(), "openid profile");
/// assert!(s.contains("profile"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(Vec<ScopeToken>);

impl Scope {
    /// An empty scope.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Parses a space-separated scope string strictly.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        s.split(' ')
            .filter(|t| !t.is_empty())
            .map(ScopeToken::new)
            .collect()
    }

    /// Parses what servers actually send: space- or comma-separated (some providers use
    /// commas), tolerating tabs and runs of separators.
    pub fn parse_lenient(s: &str) -> Result<Self, InvalidValue> {
        s.split([' ', ',', '\t'])
            .filter(|t| !t.is_empty())
            .map(ScopeToken::new)
            .collect()
    }

    /// Builds a scope from tokens.
    pub fn from_tokens<I, T>(tokens: I) -> Result<Self, InvalidValue>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        tokens
            .into_iter()
            .map(|t| ScopeToken::new(t.into()))
            .collect()
    }

    /// Adds a token if it is not there yet.
    pub fn insert(&mut self, token: ScopeToken) {
        if !self.0.contains(&token) {
            self.0.push(token);
        }
    }

    /// Whether the scope holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t.0 == token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.0.contains(t))
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &ScopeToken> {
        self.0.iter()
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<ScopeToken> for Scope {
    fn from_iter<I: IntoIterator<Item = ScopeToken>>(iter: I) -> Self {
        let mut scope = Scope::empty();
        for t in iter {
            scope.insert(t);
        }
        scope
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&t.0)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.to_string())
    }
}

impl std::str::FromStr for Scope {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads what [`Serialize`] wrote: space-separated, strictly. Not leniently: a comma is
/// a valid scope character (RFC 6749 §3.3), so `["a,b"]` from a server is one token and must
/// come back from a store as one token, not two.
impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_order_and_drops_duplicates() {
        let s = Scope::parse("b a b c").unwrap();
        assert_eq!(s.to_string(), "b a c");
        assert_eq!(s.len(), 3);
    }

    /// Found by fuzz/token_response: `"scope":["g,ist"]` was stored as `g,ist` and read
    /// back from the token store as the two scopes `g` and `ist`.
    #[test]
    fn scope_token_with_a_comma_survives_serde() {
        let s = Scope::from_tokens(["g,ist", "repo"]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Scope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s, "{json}");
        assert!(!back.contains("g"));
    }

    #[test]
    fn lenient_accepts_commas() {
        let s = Scope::parse_lenient("repo,user, gist").unwrap();
        assert_eq!(s.to_string(), "repo user gist");
        assert!(Scope::parse("repo,user").unwrap().contains("repo,user"));
    }

    #[test]
    fn rejects_quotes_and_backslashes() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn subset() {
        let small = Scope::parse("a").unwrap();
        let big = Scope::parse("a b").unwrap();
        assert!(small.is_subset_of(&big));
        assert!(!big.is_subset_of(&small));
        assert!(Scope::empty().is_subset_of(&small));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..8)) {
            let scope = Scope::from_tokens(tokens.clone()).unwrap();
            let back = Scope::parse(&scope.to_string()).unwrap();
            prop_assert_eq!(&back, &scope);
            for t in &tokens {
                prop_assert!(back.contains(t));
            }
        }
    }
}
