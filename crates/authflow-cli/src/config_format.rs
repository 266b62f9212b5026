//! The `config.toml` format: profiles, parsed from text with no I/O.
//!
//! Self-contained (serde, toml, clap and authflow's types only) so that
//! `fuzz/fuzz_targets/cli_config.rs` compiles this very file and fuzzes what `authflow`
//! reads.

use std::collections::BTreeMap;

use authflow::types::ClientSecret;
use serde::{Deserialize, Serialize};

/// How the client authenticates at the token endpoint.
///
/// The short names of the first releases (`basic`, `post`, `none`) stay what is written;
/// the registered names (RFC 7591 §2) are read too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthMethod {
    /// `client_secret_basic`.
    #[serde(alias = "client_secret_basic")]
    #[value(alias = "client_secret_basic")]
    Basic,
    /// `client_secret_post`.
    #[serde(alias = "client_secret_post")]
    #[value(alias = "client_secret_post")]
    Post,
    /// A public client: no secret.
    None,
    /// `private_key_jwt` (RFC 7523): a JWT signed with the client key (--client-key).
    #[serde(rename = "private_key_jwt")]
    #[value(name = "private_key_jwt", alias = "private-key-jwt")]
    PrivateKeyJwt,
    /// `client_secret_jwt` (RFC 7523): a JWT signed (HS256) with the client secret.
    #[serde(rename = "client_secret_jwt")]
    #[value(name = "client_secret_jwt", alias = "client-secret-jwt")]
    ClientSecretJwt,
}

/// One profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revocation_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_method: Option<AuthMethod>,
    /// Discouraged (the file is 0600, but still): prefer the env or command forms.
    /// Read straight into the secret newtype: it never prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_secret: Option<ClientSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_secret_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_secret_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra_params: BTreeMap<String, String>,
    /// Bind new tokens to a DPoP key (RFC 9449) made for each login.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) dpop: bool,
    /// Push authorization requests (RFC 9126) even when the server does not require it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) par: bool,
    /// Send authorization requests as request objects signed with the client key
    /// (RFC 9101).
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) request_object: bool,
    /// The client's private key (PEM PKCS#8, P-256 or Ed25519): for `private_key_jwt` and
    /// request objects. A path, never the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_key: Option<String>,
    /// The `kid` to put in the headers of what the client key signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_key_id: Option<String>,
    /// The protected resource this profile was made for (`login --resource`, or `curl`
    /// on a `401`): its RFC 9728 `resource`, which `curl` matches URLs against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) protected_resource: Option<String>,
    /// The client was registered dynamically (RFC 7591): the registration, secrets
    /// included, is kept next to the tokens, not here.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) registered: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// Parses the file's text; the error starts with ` line N:` when toml knows where.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                let upto = text.get(..s.start).unwrap_or(text);
                upto.matches('\n').count() + 1
            });
            let at = line.map(|l| format!(" line {l}:")).unwrap_or_default();
            format!("{at} {}", e.message())
        })
    }

    /// The profile called `name`.
    pub(crate) fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }
}
