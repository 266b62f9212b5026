//! Registered clients and users: what the builder and the config file declare, and the
//! hashed form the running provider keeps.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use authflow::types::{ClientId, ClientSecret, RedirectUri, ResourceIndicator, Scope};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::client_keys::{ClientKey, HmacSecret, parse_jwks};
use crate::hashing::{Digest, PasswordHash, sha256};

/// How a client authenticates where clients authenticate (token, PAR, revocation,
/// introspection, device authorization): RFC 7591 §2 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
    /// An HS256 JWT keyed with the client secret (RFC 7523). The provider then keeps the
    /// secret in clear in memory, which it does for no other method.
    ClientSecretJwt,
    /// A JWT signed with a key from the client's registered JWKS (RFC 7523).
    PrivateKeyJwt,
    /// A public client that only names itself.
    None,
}

impl TokenEndpointAuthMethod {
    /// The registered name, as in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

impl fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientKind {
    /// A native or browser app: no secret, PKCE required.
    Public,
    /// A server-side app or service with a secret.
    Confidential,
}

/// A grant a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4), confidential clients only.
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693), confidential
    /// clients only.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): an assertion signed
    /// with one of the client's registered keys names the user. Needs a JWKS.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
}

impl GrantType {
    /// The `grant_type` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => authflow::protocol::device::DEVICE_CODE_GRANT,
            GrantType::TokenExchange => TOKEN_EXCHANGE_GRANT,
            GrantType::JwtBearer => authflow::protocol::client_assertion::JWT_BEARER_GRANT,
        }
    }
}

/// The `grant_type` of RFC 8693 token exchange.
pub(crate) const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A client registration, as declared to the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientConfig {
    pub(crate) id: ClientId,
    pub(crate) kind: ClientKind,
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) redirect_uris: Vec<RedirectUri>,
    pub(crate) grants: Vec<GrantType>,
    pub(crate) scope: Scope,
    pub(crate) introspect_any: bool,
    pub(crate) resources: Vec<ResourceIndicator>,
    pub(crate) auth_method: Option<TokenEndpointAuthMethod>,
    pub(crate) jwks: Option<serde_json::Value>,
    pub(crate) require_par: bool,
    pub(crate) require_signed_request_object: bool,
    pub(crate) dpop_bound_access_tokens: bool,
}

impl ClientConfig {
    /// A public client (no secret) allowed the authorization code and refresh grants.
    pub fn public(id: ClientId) -> Self {
        Self {
            id,
            kind: ClientKind::Public,
            secret: None,
            redirect_uris: Vec::new(),
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Scope::empty(),
            introspect_any: false,
            resources: Vec::new(),
            auth_method: None,
            jwks: None,
            require_par: false,
            require_signed_request_object: false,
            dpop_bound_access_tokens: false,
        }
    }

    /// A confidential client without a secret that authenticates with `private_key_jwt`:
    /// give it keys with [`ClientConfig::jwks`].
    pub fn private_key_jwt(id: ClientId) -> Self {
        Self {
            kind: ClientKind::Confidential,
            auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            ..Self::public(id)
        }
    }

    /// The one way the client may authenticate (RFC 7591 `token_endpoint_auth_method`).
    /// Default: `none` for public clients, `client_secret_basic` or `client_secret_post`
    /// for confidential ones with a secret, `private_key_jwt` for confidential ones with
    /// only a JWKS. `client_secret_jwt` needs a secret of at least 32 bytes, which the
    /// provider then keeps in clear (HMAC needs it); every other secret is kept hashed.
    pub fn token_endpoint_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The client's public keys, a JWK set (`{"keys": [...]}`): for `private_key_jwt`,
    /// signed request objects (RFC 9101) and the JWT-bearer grant. Checked when the
    /// provider is built.
    pub fn jwks(mut self, jwks: serde_json::Value) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// `/authorize` refuses the client's requests unless pushed first (RFC 9126 §6).
    pub fn require_pushed_authorization_requests(mut self, yes: bool) -> Self {
        self.require_par = yes;
        self
    }

    /// `/authorize` and `/par` refuse the client's requests unless their parameters come
    /// in a signed request object (RFC 9101 §10.5). Needs a JWKS.
    pub fn require_signed_request_object(mut self, yes: bool) -> Self {
        self.require_signed_request_object = yes;
        self
    }

    /// The token endpoint refuses the client's requests without a DPoP proof
    /// (RFC 9449 §5.2).
    pub fn dpop_bound_access_tokens(mut self, yes: bool) -> Self {
        self.dpop_bound_access_tokens = yes;
        self
    }

    /// A confidential client allowed the authorization code and refresh grants.
    pub fn confidential(id: ClientId, secret: ClientSecret) -> Self {
        Self {
            kind: ClientKind::Confidential,
            secret: Some(secret),
            ..Self::public(id)
        }
    }

    /// Adds a registered redirect URI. Loopback `http` URIs match any port.
    pub fn redirect_uri(mut self, uri: RedirectUri) -> Self {
        self.redirect_uris.push(uri);
        self
    }

    /// Replaces the allowed grants.
    pub fn grants(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grants = grants.into_iter().collect();
        self
    }

    /// The scopes the client may ask for; also what it gets when it asks for none.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Marks the client as a resource server that may introspect any client's tokens
    /// (default: a client may only introspect its own). Needs a confidential client.
    pub fn introspect_any(mut self, yes: bool) -> Self {
        self.introspect_any = yes;
        self
    }

    /// Adds a resource (RFC 8707) the client may ask tokens for, with `resource` at the
    /// token endpoint (or `resource`/`audience` in a token exchange). Its access tokens
    /// then carry it as `aud`. Without one, `aud` is the provider's own resource (the
    /// issuer).
    pub fn resource(mut self, resource: ResourceIndicator) -> Self {
        self.resources.push(resource);
        self
    }

    /// The resources the client may ask tokens for.
    pub fn allowed_resources(&self) -> &[ResourceIndicator] {
        &self.resources
    }

    /// Whether the client may introspect any client's tokens.
    pub fn may_introspect_any(&self) -> bool {
        self.introspect_any
    }

    /// The client id.
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// The client secret, if any (for printing demo credentials).
    pub fn secret(&self) -> Option<&ClientSecret> {
        self.secret.as_ref()
    }

    /// Public or confidential.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> &[RedirectUri] {
        &self.redirect_uris
    }

    /// The allowed grants.
    pub fn allowed_grants(&self) -> &[GrantType] {
        &self.grants
    }

    /// The allowed scopes.
    pub fn allowed_scope(&self) -> &Scope {
        &self.scope
    }

    /// The authentication method set with
    /// [`ClientConfig::token_endpoint_auth_method`], if any.
    pub fn auth_method(&self) -> Option<TokenEndpointAuthMethod> {
        self.auth_method
    }
}

/// A user who can log in, as declared to the builder.
#[derive(Clone)]
#[must_use]
pub struct UserConfig {
    pub(crate) username: String,
    pub(crate) password: Zeroizing<String>,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
}

impl UserConfig {
    /// A user with a login name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Zeroizing::new(password.into()),
            name: None,
            email: None,
        }
    }

    /// The display name (`name` claim).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The e-mail address (`email` claim).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The login name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password (for printing demo credentials).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .field("email", &self.email)
            .finish()
    }
}

/// A registered client as the running provider keeps it: the secret only as a digest.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: ClientId,
    pub(crate) kind: ClientKind,
    pub(crate) secret_hash: Option<Digest>,
    pub(crate) redirect_uris: Vec<RedirectUri>,
    pub(crate) grants: Vec<GrantType>,
    pub(crate) scope: Scope,
    /// A resource server: may introspect every client's tokens.
    pub(crate) introspect_any: bool,
    /// Resources (RFC 8707) the client may ask tokens for, normalised.
    pub(crate) resources: Vec<String>,
    /// The one authentication method accepted; `None` for the default of confidential
    /// clients with a secret: `client_secret_basic` or `client_secret_post`.
    pub(crate) auth_method: Option<TokenEndpointAuthMethod>,
    /// The secret in clear, only for `client_secret_jwt` (HMAC needs it).
    pub(crate) hmac_secret: Option<HmacSecret>,
    /// The registered public keys.
    pub(crate) keys: Vec<ClientKey>,
    pub(crate) require_par: bool,
    pub(crate) require_signed_request_object: bool,
    pub(crate) dpop_bound_access_tokens: bool,
}

impl Client {
    pub(crate) fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }

    /// Whether the client may authenticate with `method`.
    pub(crate) fn accepts(&self, method: TokenEndpointAuthMethod) -> bool {
        use TokenEndpointAuthMethod::{ClientSecretBasic, ClientSecretPost};
        match self.auth_method {
            Some(m) => m == method,
            None => matches!(method, ClientSecretBasic | ClientSecretPost),
        }
    }

    /// How the client authenticates, for messages.
    pub(crate) fn auth_method_name(&self) -> &'static str {
        match self.auth_method {
            Some(m) => m.as_str(),
            None => "client_secret_basic or client_secret_post",
        }
    }

    /// Whether `target` (a normalised resource or a logical audience) is registered for
    /// the client.
    pub(crate) fn may_target(&self, target: &str) -> bool {
        self.resources.iter().any(|r| r == target)
    }
}

/// A user as the running provider keeps it.
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) username: String,
    pub(crate) password_hash: PasswordHash,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Two clients share an id.
    #[error("client `{0}` is declared twice")]
    DuplicateClient(String),
    /// Two users share a name.
    #[error("user `{0}` is declared twice")]
    DuplicateUser(String),
    /// A public client has a secret, or a confidential one has none.
    #[error("client `{id}`: {reason}")]
    Client {
        /// The client id.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A user name is empty or not printable.
    #[error("user names must be non-empty printable ASCII without spaces")]
    UserName,
    /// The client's JWKS cannot be used.
    #[error("client `{id}`: the JWKS {reason}")]
    Jwks {
        /// The client id.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Every client and user, immutable once the provider runs.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) clients: HashMap<String, Arc<Client>>,
    pub(crate) users: HashMap<String, User>,
}

impl Registry {
    /// Every audience an access token of this provider may carry besides the issuer:
    /// the resources registered for any client.
    pub(crate) fn resources(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .clients
            .values()
            .flat_map(|c| c.resources.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    pub(crate) fn add_client(&mut self, c: ClientConfig) -> Result<(), RegistrationError> {
        use TokenEndpointAuthMethod as M;
        let id = c.id.as_str().to_owned();
        let err = |reason| RegistrationError::Client {
            id: id.clone(),
            reason,
        };
        let keys = match &c.jwks {
            Some(set) => parse_jwks(set).map_err(|reason| RegistrationError::Jwks {
                id: id.clone(),
                reason,
            })?,
            None => Vec::new(),
        };
        // Confidential without a secret but with keys: private_key_jwt is the only choice.
        let auth_method = match (c.kind, c.auth_method) {
            (ClientKind::Public, None | Some(M::None)) => Some(M::None),
            (ClientKind::Public, Some(_)) => {
                return Err(err(
                    "a public client cannot authenticate (method must be none)",
                ));
            }
            (ClientKind::Confidential, None) if c.secret.is_none() && !keys.is_empty() => {
                Some(M::PrivateKeyJwt)
            }
            (ClientKind::Confidential, Some(M::None)) => {
                return Err(err("a confidential client must authenticate (method none)"));
            }
            (ClientKind::Confidential, m) => m,
        };
        match (c.kind, &c.secret, auth_method) {
            (ClientKind::Public, Some(_), _) => return Err(err("a public client has no secret")),
            (ClientKind::Confidential, _, Some(M::PrivateKeyJwt)) if keys.is_empty() => {
                return Err(err("private_key_jwt needs a JWKS"));
            }
            (ClientKind::Confidential, None, m) if m != Some(M::PrivateKeyJwt) => {
                return Err(err("a confidential client needs a secret"));
            }
            (_, Some(s), Some(M::ClientSecretJwt)) if s.secret().len() < 32 => {
                // RFC 7518 §3.2: an HS256 key of at least 256 bits.
                return Err(err("client_secret_jwt needs a secret of at least 32 bytes"));
            }
            _ => {}
        }
        if c.kind == ClientKind::Public && c.grants.contains(&GrantType::ClientCredentials) {
            return Err(err("client_credentials needs a confidential client"));
        }
        if c.kind == ClientKind::Public && c.grants.contains(&GrantType::TokenExchange) {
            return Err(err("token exchange needs a confidential client"));
        }
        if c.kind == ClientKind::Public && c.introspect_any {
            return Err(err("introspect_any needs a confidential client"));
        }
        if c.grants.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
            return Err(err("authorization_code needs at least one redirect URI"));
        }
        if c.grants.contains(&GrantType::JwtBearer) && keys.is_empty() {
            return Err(err("the jwt-bearer grant needs a JWKS"));
        }
        if c.require_signed_request_object && keys.is_empty() {
            return Err(err("require_signed_request_object needs a JWKS"));
        }
        if self.clients.contains_key(&id) {
            return Err(RegistrationError::DuplicateClient(id));
        }
        // Each secret is kept only in the form its method needs.
        let secret_bytes = || c.secret.as_ref().map(|s| s.secret().as_bytes());
        let (secret_hash, hmac_secret) = match auth_method {
            None | Some(M::ClientSecretBasic | M::ClientSecretPost) => {
                (secret_bytes().map(sha256), None)
            }
            Some(M::ClientSecretJwt) => (None, secret_bytes().map(HmacSecret::new)),
            _ => (None, None),
        };
        let client = Client {
            id: c.id.clone(),
            kind: c.kind,
            secret_hash,
            redirect_uris: c.redirect_uris,
            grants: c.grants,
            scope: c.scope,
            introspect_any: c.introspect_any,
            resources: c.resources.iter().map(|r| r.as_str().to_owned()).collect(),
            auth_method,
            hmac_secret,
            keys,
            require_par: c.require_par,
            require_signed_request_object: c.require_signed_request_object,
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
        };
        self.clients.insert(id, Arc::new(client));
        Ok(())
    }

    pub(crate) fn add_user(&mut self, u: UserConfig) -> Result<(), RegistrationError> {
        if u.username.is_empty() || !u.username.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RegistrationError::UserName);
        }
        if self.users.contains_key(&u.username) {
            return Err(RegistrationError::DuplicateUser(u.username));
        }
        // Made once per process, now rather than on the first unknown user's login (whose
        // answer would otherwise take longer than a known user's).
        PasswordHash::unknown_user();
        let user = User {
            username: u.username.clone(),
            password_hash: PasswordHash::new(&u.password),
            name: u.name,
            email: u.email,
        };
        self.users.insert(u.username, user);
        Ok(())
    }
}
