//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1).
//!
//! A protected resource says why it refused a token in this header: `invalid_token` means
//! "refresh and retry once", `insufficient_scope` names the scope that is missing.
//!
//! ```
//! use authflow::protocol::www_authenticate::parse_challenges;
//! let c = parse_challenges(r#"Bearer realm="api", error="invalid_token", Basic realm="x""#).unwrap();
//! assert_eq!(c.len(), 2);
//! assert!(c[0].is_bearer());
//! assert_eq!(c[0].error(), Some("invalid_token"));
//! assert_eq!(c[1].realm(), Some("x"));
//! ```

use std::fmt;

use http::{HeaderMap, HeaderValue, StatusCode, header::WWW_AUTHENTICATE};

use super::BuildError;
use super::error::OAuthError;
use crate::types::{EndpointUrl, InvalidValue, Scope};

/// One authentication challenge: a scheme with either parameters or a `token68`.
///
/// Parameter names are kept lower-cased (they are case-insensitive), values unescaped.
/// [`Display`](fmt::Display) renders the challenge back as header text, every value quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

impl Challenge {
    /// A challenge with no parameters, e.g. `Bearer` (for servers and tests).
    pub fn new(scheme: &str) -> Result<Self, InvalidValue> {
        if scheme.is_empty() || !scheme.bytes().all(is_tchar) {
            return Err(InvalidValue::new(
                "authentication scheme",
                "must be a non-empty token (RFC 9110 §5.6.2)",
            ));
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            params: Vec::new(),
            token68: None,
        })
    }

    /// A challenge carrying a `token68` instead of parameters, e.g. `Negotiate abc==`.
    pub fn new_token68(scheme: &str, token68: &str) -> Result<Self, InvalidValue> {
        let mut c = Self::new(scheme)?;
        if !is_token68(token68) {
            return Err(InvalidValue::new(
                "token68",
                "must be base64-like characters followed by optional `=` (RFC 9110 §11.2)",
            ));
        }
        c.token68 = Some(token68.to_owned());
        Ok(c)
    }

    /// Adds a parameter. The name must be a token; the value may be any text without
    /// control characters (it is quoted when rendered).
    pub fn with_param(mut self, name: &str, value: &str) -> Result<Self, InvalidValue> {
        if self.token68.is_some() {
            return Err(InvalidValue::new(
                "challenge",
                "a challenge has either a token68 or parameters, not both",
            ));
        }
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(InvalidValue::new(
                "challenge parameter",
                "the name must be a non-empty token (RFC 9110 §5.6.2)",
            ));
        }
        if value.bytes().any(is_ctl) {
            return Err(InvalidValue::new(
                "challenge parameter",
                "the value must not hold control characters",
            ));
        }
        self.params
            .push((name.to_ascii_lowercase(), value.to_owned()));
        Ok(self)
    }

    /// The scheme as sent (`Bearer`, `bearer`, `DPoP`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the scheme is `name`, compared case-insensitively.
    pub fn is_scheme(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// Whether this is a `Bearer` challenge (any case).
    pub fn is_bearer(&self) -> bool {
        self.is_scheme("Bearer")
    }

    /// The first value of parameter `name` (case-insensitive). A repeated parameter is
    /// invalid; the first one wins so that a later one cannot override it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in order: lower-cased name, unescaped value.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `token68`, for schemes that use one (`Basic` never does in challenges, but
    /// `Negotiate` does).
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// `error` (RFC 6750 §3.1), e.g. `invalid_token`.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// `error_description`: the server's words, for people.
    pub fn error_description(&self) -> Option<&str> {
        self.param("error_description")
    }

    /// `error_uri`.
    pub fn error_uri(&self) -> Option<&str> {
        self.param("error_uri")
    }

    /// `scope`, parsed leniently (spaces or commas); `None` when absent or not valid scope
    /// tokens.
    pub fn scope(&self) -> Option<Scope> {
        self.param("scope")
            .and_then(|s| Scope::parse_lenient(s).ok())
    }

    /// `resource_metadata` (RFC 9728 §5.1): where the resource's metadata lives. The raw
    /// value; see [`resource_metadata_url`](Self::resource_metadata_url) for a checked URL.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.param("resource_metadata")
    }

    /// `resource_metadata` as an `https` (or loopback) URL.
    pub fn resource_metadata_url(&self) -> Result<Option<EndpointUrl>, InvalidValue> {
        self.resource_metadata().map(EndpointUrl::new).transpose()
    }

    /// The challenge as a header value, e.g. for a resource server's 401.
    pub fn to_header_value(&self) -> Result<HeaderValue, BuildError> {
        HeaderValue::try_from(self.to_string()).map_err(|_| BuildError::Header("www-authenticate"))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// A `WWW-Authenticate` value that does not follow RFC 9110 §11.6.1.
///
/// Names the byte offset and the rule, never the header's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("malformed WWW-Authenticate header at byte {position}: {reason}")]
pub struct ChallengeParseError {
    /// Byte offset into the header value where parsing stopped.
    pub position: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// Parses one `WWW-Authenticate` header value into its challenges.
///
/// Handles several challenges in one value, quoted strings with backslash escapes,
/// `token68`, empty list elements, any-case schemes and bare schemes. Unquoted parameter
/// values are accepted beyond the `token` grammar (e.g. a URL), as servers send them.
/// An empty value gives an empty list.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ChallengeParseError> {
    let mut p = Parser { s: value, pos: 0 };
    let mut out = Vec::new();
    loop {
        p.skip_separators();
        if p.at_end() {
            return Ok(out);
        }
        out.push(p.challenge()?);
    }
}

/// Every challenge from every `WWW-Authenticate` header, in order. A header value that
/// does not parse is skipped whole: a guess at its parts could pin a parameter on the
/// wrong challenge.
pub fn challenges_from_headers(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        // Non-UTF-8 (obs-text) bytes become U+FFFD rather than losing the whole header.
        .filter_map(|v| parse_challenges(&String::from_utf8_lossy(v.as_bytes())).ok())
        .flatten()
        .collect()
}

/// The error a `Bearer` challenge reports (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerError {
    /// `error`: `invalid_request`, `invalid_token`, `insufficient_scope` or another code.
    pub error: String,
    /// `error_description`, as sent.
    pub error_description: Option<String>,
    /// `error_uri`, as sent.
    pub error_uri: Option<String>,
    /// `scope`: for `insufficient_scope`, the scope the request needs.
    pub scope: Option<Scope>,
    /// `realm`.
    pub realm: Option<String>,
    /// `resource_metadata` (RFC 9728), unvalidated.
    pub resource_metadata: Option<String>,
}

impl BearerError {
    /// The error of a `Bearer` challenge; `None` for another scheme or a challenge without
    /// `error` (RFC 6750 §3.1: a request without a token gets no error code).
    pub fn from_challenge(c: &Challenge) -> Option<Self> {
        if !c.is_bearer() {
            return None;
        }
        Self::fields_of(c)
    }

    /// The error fields of any challenge (Bearer's and DPoP's have the same ones).
    fn fields_of(c: &Challenge) -> Option<Self> {
        Some(Self {
            error: c.error()?.to_owned(),
            error_description: c.error_description().map(str::to_owned),
            error_uri: c.error_uri().map(str::to_owned),
            scope: c.scope(),
            realm: c.realm().map(str::to_owned),
            resource_metadata: c.resource_metadata().map(str::to_owned),
        })
    }

    /// Whether the code is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.error == code
    }

    /// `invalid_token`: the token expired or was revoked; refresh once and retry.
    pub fn is_invalid_token(&self) -> bool {
        self.is("invalid_token")
    }

    /// `insufficient_scope`: [`scope`](Self::scope) names what the request needs.
    pub fn is_insufficient_scope(&self) -> bool {
        self.is("insufficient_scope")
    }

    /// As an [`OAuthError`] with the response's status, for display with a hint.
    pub fn to_oauth_error(&self, status: StatusCode) -> OAuthError {
        let mut e = OAuthError::new(status, self.error.clone());
        e.error_description = self.error_description.clone();
        e.error_uri = self.error_uri.clone();
        e
    }
}

/// The error of the first `Bearer` challenge that carries one, from all
/// `WWW-Authenticate` headers.
///
/// ```
/// use authflow::protocol::www_authenticate::bearer_error;
/// let mut h = http::HeaderMap::new();
/// h.insert("www-authenticate", r#"Bearer error="insufficient_scope", scope="repo""#.parse().unwrap());
/// let e = bearer_error(&h).unwrap();
/// assert!(e.is_insufficient_scope());
/// assert_eq!(e.scope.unwrap().to_string(), "repo");
/// ```
pub fn bearer_error(headers: &HeaderMap) -> Option<BearerError> {
    challenges_from_headers(headers)
        .iter()
        .find_map(BearerError::from_challenge)
}

/// The error of the first `DPoP` challenge with an error code (RFC 9449 §7.1): the same
/// fields as a Bearer one (`use_dpop_nonce`, `invalid_dpop_proof`, `invalid_token`, ...).
pub fn dpop_error(headers: &HeaderMap) -> Option<BearerError> {
    challenges_from_headers(headers)
        .iter()
        .filter(|c| c.is_scheme("dpop"))
        .find_map(BearerError::fields_of)
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(is_token68_char)
}

fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Unquoted values: `token`, widened to any visible ASCII but the list and quoting
/// delimiters, because servers send e.g. `resource_metadata=https://...` unquoted.
fn is_bare_value_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b',' | b'"' | b'\\')
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn err(&self, reason: &'static str) -> ChallengeParseError {
        ChallengeParseError {
            position: self.pos,
            reason,
        }
    }

    /// Advances over bytes matching `f`, returning the slice passed.
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII predicates are used, so the slice ends on a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    fn skip_ows(&mut self) -> usize {
        self.take_while(is_ows).len()
    }

    /// Whitespace and commas: list separators and empty list elements.
    fn skip_separators(&mut self) {
        self.take_while(|b| is_ows(b) || b == b',');
    }

    fn challenge(&mut self) -> Result<Challenge, ChallengeParseError> {
        let scheme = self.take_while(is_tchar);
        if scheme.is_empty() {
            return Err(self.err("expected an authentication scheme"));
        }
        let mut ch = Challenge {
            scheme: scheme.to_owned(),
            params: Vec::new(),
            token68: None,
        };
        let gap = self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(ch),
            Some(_) if gap == 0 => return Err(self.err("expected a space after the scheme")),
            Some(_) => {}
        }
        if let Some(t) = self.token68() {
            ch.token68 = Some(t.to_owned());
            return Ok(ch);
        }
        loop {
            let (name, value) = self.param()?;
            ch.params.push((name, value));
            self.skip_ows();
            match self.peek() {
                None => return Ok(ch),
                Some(b',') => {}
                Some(_) => return Err(self.err("expected `,` after a parameter value")),
            }
            self.skip_separators();
            // What follows a comma is a parameter only if it is `token BWS "="`; otherwise
            // it starts the next challenge.
            if self.at_end() || !self.param_follows() {
                return Ok(ch);
            }
        }
    }

    /// A `token68` that makes up the whole rest of the challenge, or nothing (and the
    /// position unchanged).
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let body = self.take_while(is_token68_char);
        if !body.is_empty() {
            self.take_while(|b| b == b'=');
            let end = self.pos;
            self.skip_ows();
            if matches!(self.peek(), None | Some(b',')) {
                return self.s.get(start..end);
            }
        }
        self.pos = start;
        None
    }

    fn param_follows(&mut self) -> bool {
        let start = self.pos;
        let name = self.take_while(is_tchar);
        self.skip_ows();
        let yes = !name.is_empty() && self.peek() == Some(b'=');
        self.pos = start;
        yes
    }

    fn param(&mut self) -> Result<(String, String), ChallengeParseError> {
        let name = self.take_while(is_tchar);
        if name.is_empty() {
            return Err(self.err("expected a parameter name"));
        }
        let name = name.to_ascii_lowercase();
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Err(self.err("expected `=` after a parameter name"));
        }
        self.pos += 1;
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            let v = self.take_while(is_bare_value_char);
            if v.is_empty() {
                return Err(self.err("expected a parameter value"));
            }
            v.to_owned()
        };
        Ok((name, value))
    }

    fn quoted_string(&mut self) -> Result<String, ChallengeParseError> {
        self.pos += 1; // the opening quote
        let start = self.pos;
        // Most values have no escapes: up to the closing quote, they are the value as is,
        // copied once.
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    let value = self.s.get(start..self.pos).unwrap_or("").to_owned();
                    self.pos += 1;
                    return Ok(value);
                }
                b'\\' => break,
                b if is_ctl(b) => return Err(self.err("control character in a quoted string")),
                _ => self.pos += 1,
            }
        }
        let mut out = self
            .s
            .as_bytes()
            .get(start..self.pos)
            .unwrap_or_default()
            .to_vec();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated quoted string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => match self.peek() {
                    Some(e) if !is_ctl(e) => {
                        out.push(e);
                        self.pos += 1;
                    }
                    Some(_) => return Err(self.err("control character in a quoted string")),
                    None => return Err(self.err("unterminated quoted string")),
                },
                b if is_ctl(b) => {
                    self.pos -= 1;
                    return Err(self.err("control character in a quoted string"));
                }
                b => out.push(b),
            }
        }
        // Only ASCII backslashes were removed from UTF-8 input, so this cannot fail.
        String::from_utf8(out).map_err(|_| self.err("quoted string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(s: &str) -> Challenge {
        let mut v = parse_challenges(s).unwrap();
        assert_eq!(v.len(), 1, "{s}: {v:?}");
        v.remove(0)
    }

    #[test]
    fn rfc6750_section3_examples() {
        let c = one(r#"Bearer realm="example""#);
        assert!(c.is_bearer());
        assert_eq!(c.realm(), Some("example"));
        assert_eq!(c.error(), None);

        let c = one(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(c.realm(), Some("example"));
        assert_eq!(c.error(), Some("invalid_token"));
        assert_eq!(c.error_description(), Some("The access token expired"));
    }

    #[test]
    fn rfc9110_two_challenges_with_escapes() {
        let v = parse_challenges(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].scheme(), "Newauth");
        assert_eq!(v[0].realm(), Some("apps"));
        assert_eq!(v[0].param("type"), Some("1"));
        assert_eq!(v[0].param("TITLE"), Some(r#"Login to "apps""#));
        assert_eq!(v[0].params().count(), 3);
        assert_eq!(v[1].scheme(), "Basic");
        assert_eq!(v[1].realm(), Some("simple"));
    }

    #[test]
    fn lowercase_scheme_and_unquoted_values() {
        let c = one("bearer error=invalid_token");
        assert!(c.is_bearer());
        assert_eq!(c.scheme(), "bearer");
        assert_eq!(c.error(), Some("invalid_token"));
        let c = one("BEARER Error = invalid_token");
        assert!(c.is_bearer());
        assert_eq!(c.error(), Some("invalid_token"));
    }

    #[test]
    fn bearer_then_dpop() {
        let v = parse_challenges(
            r#"Bearer realm="api", error="invalid_token", DPoP algs="ES256 PS256", error="use_dpop_nonce""#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert!(v[0].is_bearer());
        assert_eq!(v[0].error(), Some("invalid_token"));
        assert!(v[1].is_scheme("dpop"));
        assert_eq!(v[1].param("algs"), Some("ES256 PS256"));
        assert_eq!(v[1].error(), Some("use_dpop_nonce"));
    }

    #[test]
    fn token68_and_bare_schemes() {
        let c = one("Basic dXNlcjpwYXNz==");
        assert_eq!(c.token68(), Some("dXNlcjpwYXNz=="));
        assert_eq!(c.params().count(), 0);
        let v = parse_challenges("Negotiate a87421000492aa874209af8bc028, Bearer").unwrap();
        assert_eq!(v[0].token68(), Some("a87421000492aa874209af8bc028"));
        assert!(v[1].is_bearer() && v[1].params().count() == 0 && v[1].token68().is_none());
        let v = parse_challenges("Bearer, Basic ,Foo").unwrap();
        let schemes: Vec<_> = v.iter().map(Challenge::scheme).collect();
        assert_eq!(schemes, ["Bearer", "Basic", "Foo"]);
    }

    #[test]
    fn token68_before_params_challenge() {
        let v = parse_challenges(r#"Foo abc=, Bearer realm="r""#).unwrap();
        assert_eq!(v[0].token68(), Some("abc="));
        assert_eq!(v[1].realm(), Some("r"));
    }

    #[test]
    fn empty_list_elements_and_whitespace() {
        let v = parse_challenges(r#" , ,Bearer realm="a" ,, , error="x"  ,, Basic realm="b",  "#)
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].error(), Some("x"));
        assert_eq!(v[1].realm(), Some("b"));
        assert!(parse_challenges("").unwrap().is_empty());
        assert!(parse_challenges(" , ").unwrap().is_empty());
    }

    #[test]
    fn scope_and_resource_metadata() {
        let c = one(
            r#"Bearer error="insufficient_scope", scope="read write", resource_metadata="https://rs.example/.well-known/oauth-protected-resource""#,
        );
        let s = c.scope().unwrap();
        assert!(s.contains("read") && s.contains("write"));
        assert_eq!(
            c.resource_metadata_url().unwrap().unwrap().as_str(),
            "https://rs.example/.well-known/oauth-protected-resource"
        );
        let c = one("Bearer resource_metadata=http://rs.example/m");
        assert_eq!(c.resource_metadata(), Some("http://rs.example/m"));
        assert!(c.resource_metadata_url().is_err());
        assert_eq!(one(r#"Bearer scope="a,b""#).scope().unwrap().len(), 2);
        assert!(one("Bearer scope=\"caf\u{e9}\"").scope().is_none());
    }

    #[test]
    fn repeated_param_first_wins() {
        let c = one(r#"Bearer error="invalid_token", error="other""#);
        assert_eq!(c.error(), Some("invalid_token"));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        for bad in [
            r#"Bearer realm="unterminated"#,
            r#"Bearer realm="x\"#,
            "Bearer realm=x, error=",
            "Bearer a=b, c=, d=e",
            "Bearer a=b, c = ",
            r#"Bearer realm="a" error="b""#,
            r#"Bearer"x""#,
            "=Bearer",
            r#""quoted""#,
            "Bearer a=b c",
            "Bearer realm=\"a\u{1}b\"",
            "Bearer realm=\"a\\\u{7f}\"",
            "Bearer \u{e9}",
            "Bearer ===",
            "\u{e9}",
        ] {
            let r = parse_challenges(bad);
            assert!(r.is_err(), "{bad:?} gave {r:?}");
        }
        // By the grammar these are a token68, not a parameter without a value.
        assert_eq!(one("Bearer realm=").token68(), Some("realm="));
        let e = parse_challenges(r#"Bearer realm="sekrit"#).unwrap_err();
        assert!(!e.to_string().contains("sekrit"), "{e}");
        assert_eq!(e.position, 20);
    }

    #[test]
    fn non_ascii_in_quoted_strings_survives() {
        let c = one("Bearer error_description=\"d\u{e9}j\u{e0} vu \\\u{e9}\"");
        assert_eq!(c.error_description(), Some("d\u{e9}j\u{e0} vu \u{e9}"));
    }

    #[test]
    fn headers_skip_unparseable_values_and_keep_order() {
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="x""#),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="broken"#),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"bearer error="invalid_token", error_description="expired""#,
            ),
        );
        let all = challenges_from_headers(&h);
        assert_eq!(all.len(), 2);
        let e = bearer_error(&h).unwrap();
        assert!(e.is_invalid_token());
        assert_eq!(e.error_description.as_deref(), Some("expired"));
        let o = e.to_oauth_error(StatusCode::UNAUTHORIZED);
        assert!(o.to_string().contains("refresh"), "{o}");
        assert!(bearer_error(&HeaderMap::new()).is_none());
    }

    #[test]
    fn bearer_without_error_is_not_an_error() {
        let mut h = HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="api", Basic error="nope""#),
        );
        assert!(bearer_error(&h).is_none());
        assert_eq!(challenges_from_headers(&h).len(), 2);
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer realm="api", error="insufficient_scope", scope="repo admin:org""#,
            ),
        );
        let e = bearer_error(&h).unwrap();
        assert!(e.is_insufficient_scope());
        assert_eq!(e.scope.unwrap().to_string(), "repo admin:org");
        assert_eq!(e.realm.as_deref(), Some("api"));
    }

    #[test]
    fn builder_renders_and_escapes() {
        let c = Challenge::new("Bearer")
            .unwrap()
            .with_param("Realm", r#"a "b" \c"#)
            .unwrap()
            .with_param("error", "invalid_token")
            .unwrap();
        assert_eq!(
            c.to_string(),
            r#"Bearer realm="a \"b\" \\c", error="invalid_token""#
        );
        assert_eq!(one(&c.to_string()), c);
        assert!(c.to_header_value().is_ok());
        assert_eq!(
            Challenge::new_token68("Basic", "abc==")
                .unwrap()
                .to_string(),
            "Basic abc=="
        );
        assert!(Challenge::new("Bad scheme").is_err());
        assert!(Challenge::new("").is_err());
        assert!(Challenge::new_token68("Basic", "=abc").is_err());
        assert!(Challenge::new("B").unwrap().with_param("a b", "x").is_err());
        assert!(
            Challenge::new("B")
                .unwrap()
                .with_param("a", "x\ny")
                .is_err()
        );
        assert!(
            Challenge::new_token68("B", "x")
                .unwrap()
                .with_param("a", "b")
                .is_err()
        );
    }

    fn arb_challenge() -> impl Strategy<Value = Challenge> {
        let scheme = "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,10}";
        let params = proptest::collection::vec(
            ("[a-z][a-z0-9_.-]{0,10}", "[ -~\t\u{a0}-\u{2ff}]{0,20}"),
            0..5,
        );
        let token68 = "[A-Za-z0-9._~+/-]{1,20}={0,2}";
        prop_oneof![
            (scheme, params).prop_map(|(s, ps)| {
                let mut c = Challenge::new(&s).unwrap();
                for (n, v) in ps {
                    c = c.with_param(&n, &v).unwrap();
                }
                c
            }),
            (scheme, token68).prop_map(|(s, t)| Challenge::new_token68(&s, &t).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn render_parse_round_trip(challenges in proptest::collection::vec(arb_challenge(), 1..5)) {
            let text = challenges.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            let back = parse_challenges(&text).unwrap();
            prop_assert_eq!(back, challenges);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,60}") {
            let _ = parse_challenges(&s);
        }

        #[test]
        fn header_like_input_never_panics(s in r#"[A-Za-z=,"\\ \t=]{0,60}"#) {
            let _ = parse_challenges(&s);
        }
    }
}
