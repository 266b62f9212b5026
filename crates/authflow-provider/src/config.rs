//! The provider's TOML configuration file.
//!
//! ```toml
//! issuer = "http://127.0.0.1:8080"   # optional; the command line may set it
//! access_token_ttl = "10m"            # humantime durations: 5s, 10m, 1h, 7d
//! refresh_token_ttl = "7d"
//! code_ttl = "60s"                    # at most 60 s
//! auto_approve = "alice"              # optional: skip login and consent
//! demo = false                        # also load the built-in demo clients and users
//! dpop_nonce = false                  # DPoP proofs need a server nonce (RFC 9449 §8)
//! require_pushed_authorization_requests = false  # /authorize only after /par (RFC 9126)
//! store = "redis://127.0.0.1:6379/0"  # default "memory"; see `StoreLocation` (read by
//!                                     # `authflow serve`, which connects before building)
//! registration_initial_token = "s3cret"  # /register (RFC 7591) needs this bearer token;
//!                                     # without it registration is open (dev mode)
//! allow_loopback_client_ids = false   # also fetch http://127.0.0.1:PORT/... client ID
//!                                     # metadata documents (tests; never when shared)
//!
//! [[clients]]
//! id = "my-app"
//! type = "confidential"               # or "public" (no secret, PKCE required)
//! secret = "change-me"
//! redirect_uris = ["http://127.0.0.1/callback"]
//! grants = ["authorization_code", "refresh_token", "client_credentials",
//!           "urn:ietf:params:oauth:grant-type:device_code",
//!           "urn:ietf:params:oauth:grant-type:token-exchange"]
//! scopes = ["openid", "profile", "api:read"]
//! resources = ["https://api.example.test/"]  # RFC 8707 resources (access token `aud`)
//! introspect_any = false              # true: a resource server that may introspect
//!                                     # every client's tokens (default: only its own)
//!
//! [[clients]]
//! id = "signed-app"
//! type = "confidential"               # no secret: it authenticates with its keys
//! token_endpoint_auth_method = "private_key_jwt"  # or client_secret_basic (default with
//!                                     # a secret), client_secret_post, client_secret_jwt
//! jwks_file = "signed-app.jwks.json"  # public keys; relative to this file. Or inline:
//!                                     # jwks = '{"keys": [...]}' (JSON text or a table)
//! redirect_uris = ["https://app.example/cb"]
//! require_pushed_authorization_requests = true  # this client only through /par
//! require_signed_request_object = true          # parameters only in a `request` JWT
//! dpop_bound_access_tokens = true               # DPoP proof required at /token
//!
//! # client_secret_jwt: the secret (at least 32 bytes) is kept in clear in memory, since
//! # HMAC needs it; with any other method only its SHA-256 digest is kept.
//! [[clients]]
//! id = "hmac-app"
//! type = "confidential"
//! secret = "a-shared-secret-of-at-least-32-bytes"
//! token_endpoint_auth_method = "client_secret_jwt"
//! grants = ["client_credentials"]
//!
//! [[users]]
//! username = "carol"
//! password = "carol-password"
//! name = "Carol Example"
//! email = "carol@example.test"
//!
//! [quirks]
//! error_in_200 = true
//! ```
//!
//! Errors name the line: syntax and type errors through the `toml` crate's spans, and
//! registration errors (a public client with a secret, a duplicate id) through the span
//! of the offending entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use authflow::types::{
    AccessToken, ClientId, ClientSecret, IssuerUrl, RedirectUri, ResourceIndicator, Scope,
};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::builder::ProviderBuilder;
use crate::grant_store::StoreLocation;
use crate::quirks::Quirks;
use crate::registry::{
    ClientConfig, ClientKind, GrantType, Registry, TokenEndpointAuthMethod, UserConfig,
};

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Syntax or type error; the message names line and column.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: String,
        /// The `toml` crate's message, with line, column and the line itself.
        message: String,
    },
    /// A declaration that parses but makes no sense.
    #[error("{path}, line {line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line of the offending entry.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A parsed configuration: what to give the [`ProviderBuilder`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// The issuer, if the file sets one.
    pub issuer: Option<IssuerUrl>,
    /// Access token lifetime.
    pub access_token_ttl: Option<Duration>,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Option<Duration>,
    /// Authorization code lifetime.
    pub code_ttl: Option<Duration>,
    /// Auto-approve as this user.
    pub auto_approve: Option<String>,
    /// Clients.
    pub clients: Vec<ClientConfig>,
    /// Users.
    pub users: Vec<UserConfig>,
    /// Quirks.
    pub quirks: Quirks,
    /// DPoP proofs need a server nonce.
    pub dpop_nonce: bool,
    /// `/authorize` accepts only pushed requests, for every client.
    pub require_pushed_authorization_requests: bool,
    /// Where to keep the provider's state, if the file says. [`apply`](Self::apply)
    /// leaves it out: connecting is async, so the caller connects
    /// (`StoreLocation::connect`, feature `redis`) and gives the builder the store.
    pub store: Option<StoreLocation>,
    /// The initial access token `/register` requires (RFC 7591 §3), if any.
    pub registration_initial_token: Option<AccessToken>,
    /// Client ID metadata documents may be fetched from loopback `http` URLs.
    pub allow_loopback_client_ids: bool,
}

impl ProviderConfig {
    /// The built-in demo setup (see [`crate::demo`]).
    pub fn demo() -> Self {
        Self {
            clients: crate::demo::clients(),
            users: crate::demo::users(),
            ..Self::default()
        }
    }

    /// Reads and checks a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse_in(&text, &path.display().to_string(), path.parent())
    }

    /// Parses and checks TOML text; `path` only names the source in errors. A relative
    /// `jwks_file` is read relative to the current directory.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        Self::parse_in(text, path, None)
    }

    fn parse_in(text: &str, path: &str, dir: Option<&Path>) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |span: std::ops::Range<usize>, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        let mut out = if file.demo {
            Self::demo()
        } else {
            Self::default()
        };
        let mut check = Registry::default();
        for c in out.clients.iter().cloned() {
            check
                .add_client(c)
                .map_err(|e| invalid(0..0, e.to_string()))?;
        }
        for entry in file.clients {
            let span = entry.id.span();
            let id = entry.id.into_inner();
            let keyed = entry.jwks.is_some() || entry.jwks_file.is_some();
            let mut c = match (entry.kind, entry.secret) {
                (ClientKind::Confidential, Some(secret)) => ClientConfig::confidential(id, secret),
                (ClientKind::Public, None) => ClientConfig::public(id),
                (ClientKind::Public, Some(_)) => {
                    return Err(invalid(span, "a public client has no secret".into()));
                }
                // Without a secret, a confidential client authenticates with its keys.
                (_, None) if keyed => ClientConfig::private_key_jwt(id),
                (_, None) => {
                    return Err(invalid(
                        span,
                        "a confidential client needs a secret (or a jwks for private_key_jwt)"
                            .into(),
                    ));
                }
            };
            for uri in entry.redirect_uris {
                c = c.redirect_uri(uri);
            }
            if let Some(grants) = entry.grants {
                c = c.grants(grants);
            }
            c = c.scope(entry.scopes).introspect_any(entry.introspect_any);
            for r in entry.resources {
                c = c.resource(r);
            }
            if let Some(m) = entry.token_endpoint_auth_method {
                c = c.token_endpoint_auth_method(m);
            }
            let jwks = match (entry.jwks, entry.jwks_file) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        span,
                        "give either jwks or jwks_file, not both".into(),
                    ));
                }
                (Some(inline), None) => {
                    Some(jwks_value(inline).map_err(|m| invalid(span.clone(), m))?)
                }
                (None, Some(file)) => {
                    let fspan = file.span();
                    let file = file.into_inner();
                    let file = match dir {
                        Some(d) if file.is_relative() => d.join(file),
                        _ => file,
                    };
                    let text = std::fs::read_to_string(&file).map_err(|e| {
                        invalid(
                            fspan.clone(),
                            format!("cannot read jwks_file {}: {e}", file.display()),
                        )
                    })?;
                    Some(
                        jwks_value(serde_json::Value::String(text))
                            .map_err(|m| invalid(fspan, m))?,
                    )
                }
                (None, None) => None,
            };
            if let Some(jwks) = jwks {
                c = c.jwks(jwks);
            }
            c = c
                .require_pushed_authorization_requests(entry.require_pushed_authorization_requests)
                .require_signed_request_object(entry.require_signed_request_object)
                .dpop_bound_access_tokens(entry.dpop_bound_access_tokens);
            check
                .add_client(c.clone())
                .map_err(|e| invalid(span.clone(), e.to_string()))?;
            out.clients.push(c);
        }
        for entry in file.users {
            let span = entry.username.span();
            let mut u = UserConfig::new(entry.username.into_inner(), entry.password);
            if let Some(n) = entry.name {
                u = u.name(n);
            }
            if let Some(e) = entry.email {
                u = u.email(e);
            }
            check
                .add_user(u.clone())
                .map_err(|e| invalid(span, e.to_string()))?;
            out.users.push(u);
        }
        if let Some(auto) = file
            .auto_approve
            .as_ref()
            .filter(|a| !check.users.contains_key(a.get_ref()))
        {
            return Err(invalid(
                auto.span(),
                format!(
                    "auto_approve names `{}`, who is not a declared user",
                    auto.get_ref()
                ),
            ));
        }
        out.issuer = file.issuer;
        out.access_token_ttl = file.access_token_ttl.map(|d| d.0);
        out.refresh_token_ttl = file.refresh_token_ttl.map(|d| d.0);
        out.code_ttl = file.code_ttl.map(|d| d.0);
        out.auto_approve = file.auto_approve.map(Spanned::into_inner);
        out.quirks = file.quirks;
        out.dpop_nonce = file.dpop_nonce;
        out.require_pushed_authorization_requests = file.require_pushed_authorization_requests;
        out.store = file
            .store
            .map(|s| {
                let span = s.span();
                s.into_inner()
                    .parse::<StoreLocation>()
                    .map_err(|e| invalid(span, e.to_string()))
            })
            .transpose()?;
        out.allow_loopback_client_ids = file.allow_loopback_client_ids;
        out.registration_initial_token = file
            .registration_initial_token
            .map(|t| {
                let span = t.span();
                AccessToken::new(t.into_inner()).map_err(|_| {
                    invalid(
                        span,
                        "registration_initial_token must be printable ASCII".to_owned(),
                    )
                })
            })
            .transpose()?;
        Ok(out)
    }

    /// Applies the configuration to a builder (clients, users, lifetimes, quirks, and
    /// the issuer and auto-approve user when set).
    pub fn apply(self, mut b: ProviderBuilder) -> ProviderBuilder {
        if let Some(i) = self.issuer {
            b = b.issuer(i);
        }
        if let Some(t) = self.access_token_ttl {
            b = b.access_token_ttl(t);
        }
        if let Some(t) = self.refresh_token_ttl {
            b = b.refresh_token_ttl(t);
        }
        if let Some(t) = self.code_ttl {
            b = b.code_ttl(t);
        }
        if self.auto_approve.is_some() {
            b = b.auto_approve(self.auto_approve);
        }
        for c in self.clients {
            b = b.client(c);
        }
        for u in self.users {
            b = b.user(u);
        }
        // The switches only turn things on: a flag may have done so already.
        if self.dpop_nonce {
            b = b.dpop_nonce(true);
        }
        if self.require_pushed_authorization_requests {
            b = b.require_pushed_authorization_requests(true);
        }
        if self.allow_loopback_client_ids {
            b = b.allow_loopback_client_ids(true);
        }
        if let Some(t) = self.registration_initial_token {
            b = b.registration_initial_token(t);
        }
        b.quirks(self.quirks)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// A humantime duration (`5s`, `10m`, `1h 30m`, `7d`).
#[derive(Debug, Clone, Copy)]
struct Ttl(Duration);

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Ttl).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration `{s}`: {e} (e.g. 30s, 10m, 1h)"))
        })
    }
}

/// A JWKS given inline: JSON text, or a TOML table of the same shape.
fn jwks_value(v: serde_json::Value) -> Result<serde_json::Value, String> {
    match v {
        serde_json::Value::String(text) => {
            serde_json::from_str(&text).map_err(|e| format!("the jwks is not valid JSON: {e}"))
        }
        other => Ok(other),
    }
}

fn scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
    let tokens = Vec::<String>::deserialize(d)?;
    Scope::from_tokens(tokens).map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    issuer: Option<IssuerUrl>,
    access_token_ttl: Option<Ttl>,
    refresh_token_ttl: Option<Ttl>,
    code_ttl: Option<Ttl>,
    auto_approve: Option<Spanned<String>>,
    #[serde(default)]
    demo: bool,
    #[serde(default)]
    clients: Vec<ClientEntry>,
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    quirks: Quirks,
    #[serde(default)]
    dpop_nonce: bool,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    /// Checked after parsing, so that an error names the line but never shows it (the URL
    /// may hold a password).
    store: Option<Spanned<String>>,
    registration_initial_token: Option<Spanned<String>>,
    #[serde(default)]
    allow_loopback_client_ids: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    id: Spanned<ClientId>,
    #[serde(rename = "type")]
    kind: ClientKind,
    secret: Option<ClientSecret>,
    #[serde(default)]
    redirect_uris: Vec<RedirectUri>,
    grants: Option<Vec<GrantType>>,
    #[serde(default = "Scope::empty", deserialize_with = "scope_list")]
    scopes: Scope,
    #[serde(default)]
    introspect_any: bool,
    #[serde(default)]
    resources: Vec<ResourceIndicator>,
    token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    jwks: Option<serde_json::Value>,
    jwks_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    #[serde(default)]
    require_signed_request_object: bool,
    #[serde(default)]
    dpop_bound_access_tokens: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    username: Spanned<String>,
    password: String,
    name: Option<String>,
    email: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = r#"
issuer = "http://127.0.0.1:9999"
access_token_ttl = "5s"
auto_approve = "carol"

[[clients]]
id = "app"
type = "confidential"
secret = "s"
redirect_uris = ["http://127.0.0.1/cb"]
grants = ["authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange"]
scopes = ["openid", "api:read"]
introspect_any = true
resources = ["https://api.example.test/"]

[[users]]
username = "carol"
password = "pw"

[quirks]
no_iss_on_redirect = true
"#;

    #[test]
    fn parses_a_full_file() {
        let c = ProviderConfig::parse(GOOD, "p.toml").unwrap();
        assert_eq!(c.access_token_ttl, Some(Duration::from_secs(5)));
        assert_eq!(c.clients.len(), 1);
        assert_eq!(
            c.clients[0].allowed_grants(),
            [
                GrantType::AuthorizationCode,
                GrantType::ClientCredentials,
                GrantType::DeviceCode,
                GrantType::TokenExchange
            ]
        );
        assert_eq!(
            c.clients[0].allowed_resources()[0].as_str(),
            "https://api.example.test/"
        );
        assert!(c.clients[0].allowed_scope().contains("api:read"));
        assert!(c.clients[0].may_introspect_any());
        assert_eq!(c.users.len(), 1);
        assert!(c.quirks.no_iss_on_redirect);
        assert!(Provider::builder_from(c).build().is_ok());
    }

    use crate::Provider;
    impl Provider {
        fn builder_from(c: ProviderConfig) -> ProviderBuilder {
            c.apply(Provider::builder())
        }
    }

    #[test]
    fn type_errors_name_the_line() {
        let bad = GOOD.replace(
            r#"redirect_uris = ["http://127.0.0.1/cb"]"#,
            r#"redirect_uris = ["http://evil.example/cb"]"#,
        );
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 10"), "{e}");
        let bad = GOOD.replace(
            r#"access_token_ttl = "5s""#,
            r#"access_token_ttl = "5 parsecs""#,
        );
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("duration"), "{e}");
        let e = ProviderConfig::parse("[quirks]\nnope = true\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn keys_methods_and_switches() {
        use authflow::jose::{JwsAlgorithm, SigningKey};
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let jwks = serde_json::json!({"keys": [key.public_jwk().to_object(Some("k1"), None)]});
        let dir = std::env::temp_dir().join(format!("authflow-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keys.json"), jwks.to_string()).unwrap();
        let text = format!(
            r#"issuer = "http://127.0.0.1:9999"
dpop_nonce = true
require_pushed_authorization_requests = true

[[clients]]
id = "inline"
type = "confidential"
jwks = '{jwks}'
grants = ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
dpop_bound_access_tokens = true

[[clients]]
id = "file"
type = "public"
jwks_file = "keys.json"
redirect_uris = ["http://127.0.0.1/cb"]
require_signed_request_object = true
require_pushed_authorization_requests = true

[[clients]]
id = "hmac"
type = "confidential"
secret = "0123456789abcdef0123456789abcdef"
token_endpoint_auth_method = "client_secret_jwt"
grants = ["client_credentials"]
"#
        );
        let path = dir.join("p.toml");
        std::fs::write(&path, &text).unwrap();
        let c = ProviderConfig::from_file(&path).unwrap();
        assert!(c.dpop_nonce && c.require_pushed_authorization_requests);
        assert_eq!(c.store, None);
        let built = Provider::builder_from(ProviderConfig::from_file(&path).unwrap()).build();
        assert!(built.is_ok(), "{:?}", built.err());
        assert_eq!(
            c.clients[0].auth_method(),
            Some(TokenEndpointAuthMethod::PrivateKeyJwt)
        );
        assert!(c.clients[0].jwks.is_some() && c.clients[0].dpop_bound_access_tokens);
        assert!(c.clients[1].jwks.is_some() && c.clients[1].require_signed_request_object);
        assert_eq!(
            c.clients[2].auth_method(),
            Some(TokenEndpointAuthMethod::ClientSecretJwt)
        );
        // Relative to the current directory when only text is parsed: not found here.
        let e = ProviderConfig::parse(&text, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 15") && e.contains("jwks_file"), "{e}");
        let short = text.replace("0123456789abcdef0123456789abcdef", "short");
        let path = dir.join("short.toml");
        std::fs::write(&path, short).unwrap();
        let e = ProviderConfig::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("line 21") && e.contains("32 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_store_key_names_a_location() {
        let text = format!("store = \"redis://:pw@127.0.0.1:6379/1\"\n{GOOD}");
        let c = ProviderConfig::parse(&text, "p.toml").unwrap();
        assert_eq!(
            c.store.as_ref().map(ToString::to_string).as_deref(),
            Some("redis://:***@127.0.0.1:6379/1")
        );
        assert!(
            !format!("{c:?}").contains(":pw@"),
            "the password stays out of Debug"
        );
        let bad = format!("store = \"rediss://:pw-Zq7@h/0\"\n{GOOD}");
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("TLS"), "{e}");
        assert!(!e.contains("pw-Zq7"), "{e}");
    }

    #[test]
    fn the_registration_token_is_read_and_kept_out_of_debug() {
        let text = format!("registration_initial_token = \"iat-Zq7\"\n{GOOD}");
        let c = ProviderConfig::parse(&text, "p.toml").unwrap();
        assert_eq!(
            c.registration_initial_token.as_ref().map(|t| t.secret()),
            Some("iat-Zq7")
        );
        assert!(!format!("{c:?}").contains("iat-Zq7"));
        assert!(!c.allow_loopback_client_ids);
        let text = format!("allow_loopback_client_ids = true\n{GOOD}");
        assert!(
            ProviderConfig::parse(&text, "p.toml")
                .unwrap()
                .allow_loopback_client_ids
        );
        let bad = format!("registration_initial_token = \"bell\\u0007\"\n{GOOD}");
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && !e.contains("bell"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_line() {
        let bad = GOOD.replace(r#"type = "confidential""#, r#"type = "public""#);
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7") && e.contains("public client"), "{e}");
        let bad = GOOD.replace(r#"auto_approve = "carol""#, r#"auto_approve = "mallory""#);
        let e = ProviderConfig::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("mallory"), "{e}");
    }
}
