//! Registered clients and users: what the builder and the config file declare, and the
//! hashed form the running provider keeps.

use std::collections::HashMap;
use std::fmt;

use authflow::types::{ClientId, ClientSecret, RedirectUri, ResourceIndicator, Scope};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::hashing::{Digest, PasswordHash, sha256};

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
        }
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
}

impl Client {
    pub(crate) fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
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
}

/// Every client and user, immutable once the provider runs.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) clients: HashMap<String, Client>,
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
        let id = c.id.as_str().to_owned();
        let err = |reason| RegistrationError::Client {
            id: id.clone(),
            reason,
        };
        match (c.kind, &c.secret) {
            (ClientKind::Public, Some(_)) => return Err(err("a public client has no secret")),
            (ClientKind::Confidential, None) => {
                return Err(err("a confidential client needs a secret"));
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
        if self.clients.contains_key(&id) {
            return Err(RegistrationError::DuplicateClient(id));
        }
        let client = Client {
            id: c.id.clone(),
            kind: c.kind,
            secret_hash: c.secret.as_ref().map(|s| sha256(s.secret().as_bytes())),
            redirect_uris: c.redirect_uris,
            grants: c.grants,
            scope: c.scope,
            introspect_any: c.introspect_any,
            resources: c.resources.iter().map(|r| r.as_str().to_owned()).collect(),
        };
        self.clients.insert(id, client);
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
