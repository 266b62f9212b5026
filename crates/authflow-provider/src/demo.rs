//! The built-in demo setup, used when no configuration is given. Its secrets are public
//! demo values: fine to print, never fit for anything real.

use authflow::types::{ClientId, ClientSecret, RedirectUri, Scope};

use crate::registry::{ClientConfig, GrantType, UserConfig};

/// Every scope the demo setup knows.
pub const SCOPES: &str = "openid profile email offline_access api:read api:write";

/// The demo users: `alice` / `alice-password` and `bob` / `bob-password`.
pub fn users() -> Vec<UserConfig> {
    vec![
        UserConfig::new("alice", "alice-password")
            .name("Alice Example")
            .email("alice@example.test"),
        UserConfig::new("bob", "bob-password")
            .name("Bob Example")
            .email("bob@example.test"),
    ]
}

/// The demo clients:
/// - `authflow-cli`: public, redirect `http://127.0.0.1/callback` (any loopback port),
///   also allowed the device code grant (RFC 8628);
/// - `demo-web`: confidential (`demo-web-secret`), redirect `http://127.0.0.1:3000/callback`;
/// - `demo-service`: confidential (`demo-service-secret`), client credentials only.
pub fn clients() -> Vec<ClientConfig> {
    let mut out = Vec::new();
    let all = Scope::parse(SCOPES).ok();
    let api = Scope::parse("api:read api:write").ok();
    if let (Ok(id), Ok(uri), Some(scope)) = (
        ClientId::new("authflow-cli"),
        RedirectUri::new("http://127.0.0.1/callback"),
        all.clone(),
    ) {
        out.push(
            ClientConfig::public(id)
                .redirect_uri(uri)
                .grants([
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::DeviceCode,
                ])
                .scope(scope),
        );
    }
    if let (Ok(id), Ok(secret), Ok(uri), Some(scope)) = (
        ClientId::new("demo-web"),
        ClientSecret::new("demo-web-secret"),
        RedirectUri::new("http://127.0.0.1:3000/callback"),
        all,
    ) {
        out.push(
            ClientConfig::confidential(id, secret)
                .redirect_uri(uri)
                .scope(scope),
        );
    }
    if let (Ok(id), Ok(secret), Some(scope)) = (
        ClientId::new("demo-service"),
        ClientSecret::new("demo-service-secret"),
        api,
    ) {
        out.push(
            ClientConfig::confidential(id, secret)
                .grants([GrantType::ClientCredentials])
                .scope(scope),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_setup_is_complete() {
        assert_eq!(super::clients().len(), 3);
        assert_eq!(super::users().len(), 2);
    }
}
