//! Token endpoint requests (RFC 6749 §4.1.3, §4.4.2, §6; RFC 7636 §4.5; RFC 8707).

use http::{HeaderMap, Request};

use super::BuildError;
use super::client_auth::Credentials;
use super::form::{Form, check_extra, post_form};
use crate::types::{
    AccessToken, AuthorizationCode, DeviceCode, EndpointUrl, PkceVerifier, RedirectUri,
    RefreshToken, ResourceIndicator, Scope,
};

/// The `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The token type URI of an access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the client trades for tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Grant {
    /// `authorization_code` with its PKCE verifier and the exact redirect URI used in the
    /// authorization request.
    AuthorizationCode {
        /// The code from the callback.
        code: AuthorizationCode,
        /// The redirect URI, exactly as sent in the authorization request.
        redirect_uri: RedirectUri,
        /// The PKCE verifier whose challenge was sent.
        code_verifier: PkceVerifier,
    },
    /// `refresh_token`, optionally asking for a narrower scope.
    RefreshToken {
        /// The refresh token.
        refresh_token: RefreshToken,
        /// A narrower scope; `None` means "as originally granted".
        scope: Option<Scope>,
    },
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials {
        /// The scope asked for; `None` lets the server pick its default.
        scope: Option<Scope>,
    },
    /// The device grant's poll (RFC 8628 §3.4).
    DeviceCode {
        /// The device code from the device authorization response.
        device_code: DeviceCode,
    },
    /// The JWT-bearer grant (RFC 7523 §2.1): a JWT from a trusted issuer, traded for tokens.
    JwtBearer {
        /// The signed JWT.
        assertion: crate::types::Assertion,
        /// The scope asked for, if any.
        scope: Option<Scope>,
    },
    /// Token exchange (RFC 8693 §2.1).
    TokenExchange {
        /// The token to exchange.
        subject_token: AccessToken,
        /// Its type URI, e.g. `urn:ietf:params:oauth:token-type:access_token`.
        subject_token_type: String,
        /// The type asked for, if any.
        requested_token_type: Option<String>,
        /// The logical audience, if any.
        audience: Option<String>,
        /// The scope asked for, if any.
        scope: Option<Scope>,
    },
}

impl Grant {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
            Self::DeviceCode { .. } => super::device::DEVICE_CODE_GRANT,
            Self::TokenExchange { .. } => TOKEN_EXCHANGE_GRANT,
            Self::JwtBearer { .. } => super::client_assertion::JWT_BEARER_GRANT,
        }
    }

    /// The scope this grant asks for, if it names one.
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Self::RefreshToken { scope, .. }
            | Self::ClientCredentials { scope }
            | Self::TokenExchange { scope, .. }
            | Self::JwtBearer { scope, .. } => scope.as_ref(),
            Self::AuthorizationCode { .. } | Self::DeviceCode { .. } => None,
        }
    }
}

/// A token request, ready to be turned into an [`http::Request`].
///
/// ```
/// use authflow::protocol::{Credentials, Grant, TokenRequest};
/// use authflow::types::{ClientId, ClientSecret, EndpointUrl, Scope};
///
/// let endpoint = EndpointUrl::new("https://as.example/token").unwrap();
/// let creds = Credentials::secret_basic(
///     ClientId::new("svc").unwrap(),
///     ClientSecret::new("secret").unwrap(),
/// );
/// let grant = Grant::ClientCredentials { scope: Some(Scope::parse("api:read").unwrap()) };
/// let req = TokenRequest::new(&endpoint, &creds, &grant).build().unwrap();
/// assert_eq!(req.method(), http::Method::POST);
/// assert_eq!(req.body(), b"grant_type=client_credentials&scope=api%3Aread");
/// ```
#[derive(Clone)]
#[must_use]
pub struct TokenRequest<'a> {
    endpoint: &'a EndpointUrl,
    credentials: &'a Credentials,
    grant: &'a Grant,
    resources: Vec<ResourceIndicator>,
    extra: Vec<(String, String)>,
}

impl std::fmt::Debug for TokenRequest<'_> {
    // Extra parameters may be secrets (assertions, subject tokens): names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("endpoint", self.endpoint)
            .field("credentials", self.credentials)
            .field("grant", self.grant)
            .field("resources", &self.resources)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> TokenRequest<'a> {
    /// A request for `grant` at `endpoint`, authenticated with `credentials`.
    pub fn new(endpoint: &'a EndpointUrl, credentials: &'a Credentials, grant: &'a Grant) -> Self {
        Self {
            endpoint,
            credentials,
            grant,
            resources: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Adds a `resource` indicator (RFC 8707); may be called several times.
    pub fn resource(mut self, resource: ResourceIndicator) -> Self {
        self.resources.push(resource);
        self
    }

    /// Adds `resource` indicators.
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceIndicator>) -> Self {
        self.resources.extend(resources);
        self
    }

    /// Adds a provider-specific parameter (e.g. `audience`). Names the protocol sets
    /// itself are refused at [`build`](Self::build).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Builds `POST {endpoint}` with a form body, `Accept: application/json` and client
    /// authentication.
    pub fn build(&self) -> Result<Request<Vec<u8>>, BuildError> {
        let mut form = Form::new();
        form.push("grant_type", self.grant.grant_type());
        match self.grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                form.push("code", code.secret());
                form.push("redirect_uri", redirect_uri.as_str());
                form.push("code_verifier", code_verifier.secret());
            }
            Grant::RefreshToken {
                refresh_token,
                scope,
            } => {
                form.push("refresh_token", refresh_token.secret());
                push_scope(&mut form, scope.as_ref());
            }
            Grant::ClientCredentials { scope } => push_scope(&mut form, scope.as_ref()),
            Grant::DeviceCode { device_code } => form.push("device_code", device_code.secret()),
            Grant::JwtBearer { assertion, scope } => {
                form.push("assertion", assertion.secret());
                push_scope(&mut form, scope.as_ref());
            }
            Grant::TokenExchange {
                subject_token,
                subject_token_type,
                requested_token_type,
                audience,
                scope,
            } => {
                form.push("subject_token", subject_token.secret());
                form.push("subject_token_type", subject_token_type.as_str());
                if let Some(t) = requested_token_type {
                    form.push("requested_token_type", t.as_str());
                }
                if let Some(a) = audience {
                    form.push("audience", a.as_str());
                }
                push_scope(&mut form, scope.as_ref());
            }
        }
        for r in &self.resources {
            form.push("resource", r.as_str());
        }
        for (k, v) in &self.extra {
            check_extra(k)?;
            if k == "resource" || form.contains(k) {
                return Err(BuildError::Parameter(k.clone()));
            }
            form.push(k.as_str(), v.as_str());
        }
        let mut headers = HeaderMap::new();
        self.credentials.apply(&mut headers, &mut form)?;
        post_form(self.endpoint.as_url(), headers, &form)
    }
}

fn push_scope(form: &mut Form, scope: Option<&Scope>) {
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        form.push("scope", scope.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, ClientSecret};
    use http::header;

    fn endpoint() -> EndpointUrl {
        EndpointUrl::new("https://as.example/oauth/token?tenant=t1").unwrap()
    }

    fn body(req: &Request<Vec<u8>>) -> Vec<(String, String)> {
        url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect()
    }

    #[test]
    fn code_exchange_sends_verifier_and_exact_redirect() {
        let creds = Credentials::public(ClientId::new("cli").unwrap());
        let grant = Grant::AuthorizationCode {
            code: AuthorizationCode::new("c0de").unwrap(),
            redirect_uri: RedirectUri::new("http://127.0.0.1:5555/cb").unwrap(),
            code_verifier: PkceVerifier::new("v".repeat(43)).unwrap(),
        };
        let e = endpoint();
        let req = TokenRequest::new(&e, &creds, &grant).build().unwrap();
        assert_eq!(req.uri(), "https://as.example/oauth/token?tenant=t1");
        assert_eq!(
            req.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.headers()[header::ACCEPT], "application/json");
        let b = body(&req);
        let get = |k: &str| b.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some("authorization_code"));
        assert_eq!(get("code"), Some("c0de"));
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:5555/cb"));
        assert_eq!(get("code_verifier").map(str::len), Some(43));
        assert_eq!(get("client_id"), Some("cli"));
    }

    #[test]
    fn refresh_with_basic_auth_keeps_secret_out_of_body() {
        let creds = Credentials::secret_basic(
            ClientId::new("app").unwrap(),
            ClientSecret::new("topsecret").unwrap(),
        );
        let grant = Grant::RefreshToken {
            refresh_token: RefreshToken::new("rt").unwrap(),
            scope: Some(Scope::parse("a b").unwrap()),
        };
        let e = endpoint();
        let req = TokenRequest::new(&e, &creds, &grant).build().unwrap();
        assert!(req.headers()[header::AUTHORIZATION].is_sensitive());
        let b = String::from_utf8(req.body().clone()).unwrap();
        assert_eq!(b, "grant_type=refresh_token&refresh_token=rt&scope=a+b");
        assert!(!format!("{req:?}").contains("topsecret"));
    }

    #[test]
    fn device_and_token_exchange_grants() {
        let creds = Credentials::public(ClientId::new("c").unwrap());
        let e = endpoint();
        let g = Grant::DeviceCode {
            device_code: crate::types::DeviceCode::new("dc").unwrap(),
        };
        let b = body(&TokenRequest::new(&e, &creds, &g).build().unwrap());
        assert!(b.contains(&(
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:device_code".into()
        )));
        assert!(b.contains(&("device_code".into(), "dc".into())));
        let g = Grant::TokenExchange {
            subject_token: AccessToken::new("st").unwrap(),
            subject_token_type: ACCESS_TOKEN_TYPE.into(),
            requested_token_type: None,
            audience: Some("https://downstream".into()),
            scope: None,
        };
        let req = TokenRequest::new(&e, &creds, &g).build().unwrap();
        let b = body(&req);
        assert!(b.contains(&("grant_type".into(), TOKEN_EXCHANGE_GRANT.into())));
        assert!(b.contains(&("subject_token".into(), "st".into())));
        assert!(b.contains(&("audience".into(), "https://downstream".into())));
        assert!(
            !format!("{g:?}").contains("\"st\""),
            "Debug hides the subject token"
        );
    }

    #[test]
    fn jwt_bearer_grant_sends_the_assertion() {
        let creds = Credentials::public(ClientId::new("c").unwrap());
        let e = endpoint();
        let g = Grant::JwtBearer {
            assertion: crate::types::Assertion::new("eyJ.eyJ.sig").unwrap(),
            scope: Some(Scope::parse("api").unwrap()),
        };
        let b = body(&TokenRequest::new(&e, &creds, &g).build().unwrap());
        assert!(b.contains(&(
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )));
        assert!(b.contains(&("assertion".into(), "eyJ.eyJ.sig".into())));
        assert!(
            !format!("{g:?}").contains("eyJ.eyJ"),
            "Debug hides the assertion"
        );
    }

    #[test]
    fn resources_repeat_and_extras_cannot_override() {
        let creds = Credentials::public(ClientId::new("c").unwrap());
        let grant = Grant::ClientCredentials { scope: None };
        let e = endpoint();
        let req = TokenRequest::new(&e, &creds, &grant)
            .resource(ResourceIndicator::new("https://api.one/").unwrap())
            .resource(ResourceIndicator::new("https://api.two/").unwrap())
            .param("audience", "x")
            .build()
            .unwrap();
        let b = body(&req);
        assert_eq!(b.iter().filter(|(k, _)| k == "resource").count(), 2);
        assert!(b.contains(&("audience".into(), "x".into())));
        for bad in ["grant_type", "client_id", "scope", "resource", ""] {
            let r = TokenRequest::new(&e, &creds, &grant)
                .param(bad, "x")
                .build();
            assert!(matches!(r, Err(BuildError::Parameter(_))), "{bad}");
        }
    }
}
