//! Token endpoint requests (RFC 6749 §4.1.3, §4.4.2, §6; RFC 7636 §4.5; RFC 8707).

use http::{HeaderMap, Request};

use super::BuildError;
use super::client_auth::Credentials;
use super::form::{Form, check_extra, post_form};
use crate::types::{
    AuthorizationCode, EndpointUrl, PkceVerifier, RedirectUri, RefreshToken, ResourceIndicator,
    Scope,
};

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
}

impl Grant {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
        }
    }

    /// The scope this grant asks for, if it names one.
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Self::RefreshToken { scope, .. } | Self::ClientCredentials { scope } => scope.as_ref(),
            Self::AuthorizationCode { .. } => None,
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
        self.credentials.apply(&mut headers, &mut form);
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
