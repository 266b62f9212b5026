//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3).

use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, header};

use super::BuildError;
use super::client_assertion::JWT_BEARER_ASSERTION_TYPE;
use super::form::Form;
use crate::jose::JwsSigner;
use crate::types::{Assertion, ClientId, ClientSecret};

/// How the client proves who it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// A public client: only `client_id` is sent (RFC 6749 §2.1; native and browser apps).
    None,
    /// `client_secret_basic`: HTTP Basic with id and secret form-urlencoded first
    /// (RFC 6749 §2.3.1).
    SecretBasic(ClientSecret),
    /// `client_secret_post`: id and secret in the form body.
    SecretPost(ClientSecret),
    /// `private_key_jwt` (RFC 7523 §2.2): a JWT signed by the client's key, which may live
    /// outside the process (see [`JwsSigner`]). The client layer signs a fresh assertion
    /// for every request.
    PrivateKeyJwt(Arc<dyn JwsSigner>),
    /// `client_secret_jwt`: a JWT signed with HS256 under the client secret.
    SecretJwt(ClientSecret),
    /// An assertion already signed for one request, with the method that made it:
    /// what [`PrivateKeyJwt`](Self::PrivateKeyJwt) and [`SecretJwt`](Self::SecretJwt)
    /// become right before a request is built.
    Assertion {
        /// `private_key_jwt` or `client_secret_jwt`.
        method: &'static str,
        /// The signed JWT.
        assertion: Assertion,
    },
}

impl PartialEq for ClientAuthentication {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::None, Self::None) => true,
            (Self::SecretBasic(a), Self::SecretBasic(b))
            | (Self::SecretPost(a), Self::SecretPost(b))
            | (Self::SecretJwt(a), Self::SecretJwt(b)) => a == b,
            (Self::PrivateKeyJwt(a), Self::PrivateKeyJwt(b)) => Arc::ptr_eq(a, b),
            (
                Self::Assertion {
                    method: m1,
                    assertion: a1,
                },
                Self::Assertion {
                    method: m2,
                    assertion: a2,
                },
            ) => m1 == m2 && a1 == a2,
            _ => false,
        }
    }
}

impl Eq for ClientAuthentication {}

impl ClientAuthentication {
    /// The method's registered name (RFC 7591 §2), as discovery metadata lists it.
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SecretBasic(_) => "client_secret_basic",
            Self::SecretPost(_) => "client_secret_post",
            Self::PrivateKeyJwt(_) => "private_key_jwt",
            Self::SecretJwt(_) => "client_secret_jwt",
            Self::Assertion { method, .. } => method,
        }
    }

    /// Whether requests need a freshly signed assertion first.
    pub fn needs_assertion(&self) -> bool {
        matches!(self, Self::PrivateKeyJwt(_) | Self::SecretJwt(_))
    }
}

/// A client's identity and how it authenticates.
///
/// ```
/// use authflow::protocol::Credentials;
/// use authflow::types::{ClientId, ClientSecret};
/// let creds = Credentials::secret_basic(
///     ClientId::new("app").unwrap(),
///     ClientSecret::new("s:e%c+r=e/t").unwrap(),
/// );
/// assert_eq!(creds.authentication().method_name(), "client_secret_basic");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    client_id: ClientId,
    auth: ClientAuthentication,
}

impl Credentials {
    /// Any identity and method.
    pub fn new(client_id: ClientId, auth: ClientAuthentication) -> Self {
        Self { client_id, auth }
    }

    /// A public client (no secret).
    pub fn public(client_id: ClientId) -> Self {
        Self::new(client_id, ClientAuthentication::None)
    }

    /// A confidential client using `client_secret_basic`.
    pub fn secret_basic(client_id: ClientId, secret: ClientSecret) -> Self {
        Self::new(client_id, ClientAuthentication::SecretBasic(secret))
    }

    /// A confidential client using `client_secret_post`.
    pub fn secret_post(client_id: ClientId, secret: ClientSecret) -> Self {
        Self::new(client_id, ClientAuthentication::SecretPost(secret))
    }

    /// A confidential client using `private_key_jwt` with `signer` (a
    /// [`SigningKey`](crate::jose::SigningKey) or a key outside the process).
    pub fn private_key_jwt(client_id: ClientId, signer: Arc<dyn JwsSigner>) -> Self {
        Self::new(client_id, ClientAuthentication::PrivateKeyJwt(signer))
    }

    /// A confidential client using `client_secret_jwt`.
    pub fn secret_jwt(client_id: ClientId, secret: ClientSecret) -> Self {
        Self::new(client_id, ClientAuthentication::SecretJwt(secret))
    }

    /// For the JWT methods, these credentials with a freshly signed assertion for one
    /// request to a server whose `aud` is `audience` (its issuer, or its token endpoint
    /// when no issuer is known); other methods come back unchanged.
    pub async fn with_fresh_assertion(
        &self,
        audience: &str,
        now: std::time::SystemTime,
        rng: &mut (dyn crate::random::RandomSource + Send),
    ) -> Result<Self, crate::jose::SignError> {
        use super::client_assertion::{assertion_claims, secret_jwt};
        let assertion = match &self.auth {
            ClientAuthentication::SecretJwt(secret) => {
                secret_jwt(&self.client_id, secret, audience, now, rng)
                    .map_err(|e| crate::jose::SignError::new(e.to_string()))?
            }
            ClientAuthentication::PrivateKeyJwt(signer) => {
                let claims = assertion_claims(&self.client_id, audience, now, rng);
                let jws = crate::jose::UnsignedJws::new(signer.as_ref(), "JWT", claims);
                let jwt = crate::jose::sign_jws(signer.as_ref(), jws).await?;
                Assertion::new(jwt).map_err(|e| crate::jose::SignError::new(e.to_string()))?
            }
            _ => return Ok(self.clone()),
        };
        Ok(self.with_authentication(ClientAuthentication::Assertion {
            method: self.auth.method_name(),
            assertion,
        }))
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The authentication method.
    pub fn authentication(&self) -> &ClientAuthentication {
        &self.auth
    }

    /// The same identity with another method: for the fallback from basic to post when a
    /// server answers `invalid_client`.
    #[must_use]
    pub fn with_authentication(&self, auth: ClientAuthentication) -> Self {
        Self::new(self.client_id.clone(), auth)
    }

    /// Adds the `Authorization` header or form fields for this method. The JWT methods
    /// must have been turned into [`ClientAuthentication::Assertion`] first.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, form: &mut Form) -> Result<(), BuildError> {
        match &self.auth {
            ClientAuthentication::None => form.push("client_id", self.client_id.as_str()),
            ClientAuthentication::SecretPost(secret) => {
                form.push("client_id", self.client_id.as_str());
                form.push("client_secret", secret.secret());
            }
            ClientAuthentication::SecretBasic(secret) => {
                let value = basic_authorization(&self.client_id, secret);
                headers.insert(header::AUTHORIZATION, value);
            }
            ClientAuthentication::Assertion { assertion, .. } => {
                // `client_id` is optional with an assertion (RFC 7523 §3) but many servers
                // look the client up by it first.
                form.push("client_id", self.client_id.as_str());
                form.push("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
                form.push("client_assertion", assertion.secret());
            }
            ClientAuthentication::PrivateKeyJwt(_) | ClientAuthentication::SecretJwt(_) => {
                return Err(BuildError::Unsigned(self.auth.method_name()));
            }
        }
        Ok(())
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive (RFC 6749 §2.3.1).
///
/// A space is sent as `%20`, not `+`: both decode to a space under form-decoding, and
/// servers that only percent-decode (Authlib, among others) read `+` as a plus sign.
pub fn basic_authorization(id: &ClientId, secret: &ClientSecret) -> HeaderValue {
    let encode = |s: &str| {
        // byte_serialize writes a literal `+` as `%2B`, so every `+` it emits is a space.
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let mut raw = zeroize::Zeroizing::new(format!(
        "{}:{}",
        encode(id.as_str()),
        encode(secret.secret())
    ));
    let b64 =
        zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()));
    raw.clear();
    let mut value = HeaderValue::try_from(format!("Basic {}", b64.as_str()))
        // Base64 output is always a valid header value.
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// Decodes `Basic` credentials as RFC 6749 §2.3.1 asks (base64, then form-urldecode each
/// half). For servers: the development provider and test servers.
pub fn decode_basic_authorization(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    // Form-decoding: `+` is a space and `%XX` a byte. A raw `&` or `=` (from clients that
    // skip the encoding) stays as it is rather than cutting the value short.
    let decode = |s: &str| -> Option<String> {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }

    #[test]
    fn basic_form_encodes_before_base64() {
        // RFC 6749 §2.3.1: ':' in the id and '%', '+', ' ' in the secret are encoded first.
        let v = basic_authorization(&id("a:b"), &ClientSecret::new("p%+ x").unwrap());
        assert!(v.is_sensitive());
        let s = v.to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(s.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a%3Ab:p%25%2B%20x");
        // Both kinds of server decoder read it back: form-decoding and percent-only.
        assert_eq!(
            decode_basic_authorization(s),
            Some(("a:b".to_owned(), "p%+ x".to_owned()))
        );
    }

    #[test]
    fn public_and_post_put_fields_in_the_form() {
        let mut h = HeaderMap::new();
        let mut f = Form::new();
        Credentials::public(id("cli"))
            .apply(&mut h, &mut f)
            .unwrap();
        assert!(h.is_empty());
        assert_eq!(String::from_utf8(f.encode()).unwrap(), "client_id=cli");
        let mut f = Form::new();
        Credentials::secret_post(id("c"), ClientSecret::new("s&=").unwrap())
            .apply(&mut h, &mut f)
            .unwrap();
        assert_eq!(
            String::from_utf8(f.encode()).unwrap(),
            "client_id=c&client_secret=s%26%3D"
        );
    }

    #[tokio::test]
    async fn jwt_methods_sign_a_fresh_assertion_per_request() {
        use crate::jose::{CompactJws, JwsAlgorithm, SigningKey};
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let creds = Credentials::private_key_jwt(id("app"), Arc::new(key.clone()));
        let mut h = HeaderMap::new();
        assert_eq!(
            creds.apply(&mut h, &mut Form::new()),
            Err(BuildError::Unsigned("private_key_jwt"))
        );
        let now = std::time::SystemTime::now();
        let mut rng = crate::random::OsRandom;
        let a = creds
            .with_fresh_assertion("https://as.example", now, &mut rng)
            .await
            .unwrap();
        let b = creds
            .with_fresh_assertion("https://as.example", now, &mut rng)
            .await
            .unwrap();
        assert_ne!(a, b, "a new jti each time");
        assert_eq!(a.authentication().method_name(), "private_key_jwt");
        let mut f = Form::new();
        a.apply(&mut h, &mut f).unwrap();
        let body = String::from_utf8(f.encode()).unwrap();
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(fields.contains(&(
            "client_assertion_type".into(),
            JWT_BEARER_ASSERTION_TYPE.into()
        )));
        let jwt = &fields
            .iter()
            .find(|(k, _)| k == "client_assertion")
            .unwrap()
            .1;
        let parsed = CompactJws::parse(jwt).unwrap();
        assert!(parsed.verify(key.public_jwk()));
        assert_eq!(parsed.claim_str("aud"), Some("https://as.example"));
        assert!(
            !format!("{a:?}").contains(jwt.as_str()),
            "Debug hides the assertion"
        );

        let secret = Credentials::secret_jwt(
            id("app"),
            ClientSecret::new("s3cret-s3cret-s3cret-s3cret-s3cret").unwrap(),
        );
        let signed = secret
            .with_fresh_assertion("https://as.example/token", now, &mut rng)
            .await
            .unwrap();
        assert_eq!(signed.authentication().method_name(), "client_secret_jwt");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::secret_basic(id("c"), ClientSecret::new("hunter2").unwrap());
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn decoding_keeps_raw_ampersands_and_equals() {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.encode("app:a&b=c%2Bd+e");
        let (id, secret) = decode_basic_authorization(&format!("Basic {raw}")).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("app", "a&b=c+d e"));
    }

    proptest! {
        #[test]
        fn basic_round_trip(idv in "[ -~]{1,40}", secret in "[ -~]{1,60}") {
            let v = basic_authorization(&id(&idv), &ClientSecret::new(secret.clone()).unwrap());
            let (i, s) = decode_basic_authorization(v.to_str().unwrap()).unwrap();
            prop_assert_eq!(i, idv);
            prop_assert_eq!(s, secret);
        }
    }
}
