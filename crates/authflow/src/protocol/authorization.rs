//! The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9700 §2.1).

use serde::{Deserialize, Serialize};
use url::Url;

use super::BuildError;
use super::form::check_extra;
use super::token_request::Grant;
use crate::random::RandomSource;
use crate::types::{
    AuthorizationCode, ClientId, CsrfState, EndpointUrl, IssuerUrl, Nonce, PkceVerifier,
    RedirectUri, ResourceIndicator, Scope,
};

/// Builds the URL that sends the user's browser to the authorization server.
///
/// `state` and PKCE (`S256`, with the method always sent) are generated every time and
/// cannot be turned off; `nonce` is added when `openid` is in the scope.
///
/// ```
/// use authflow::protocol::AuthorizationRequest;
/// use authflow::random::OsRandom;
/// use authflow::types::{ClientId, EndpointUrl, RedirectUri, Scope};
///
/// let (url, pending) = AuthorizationRequest::new(
///     EndpointUrl::new("https://as.example/authorize").unwrap(),
///     ClientId::new("my-cli").unwrap(),
///     RedirectUri::new("http://127.0.0.1:8765/callback").unwrap(),
/// )
/// .scope(Scope::parse("openid api:read").unwrap())
/// .build(&mut OsRandom)
/// .unwrap();
/// assert!(url.as_str().contains("code_challenge_method=S256"));
/// assert!(pending.nonce.is_some());
/// ```
#[derive(Clone)]
#[must_use]
pub struct AuthorizationRequest {
    endpoint: EndpointUrl,
    client_id: ClientId,
    redirect_uri: RedirectUri,
    scope: Scope,
    resources: Vec<ResourceIndicator>,
    prompt: Option<String>,
    login_hint: Option<String>,
    extra: Vec<(String, String)>,
    issuer: Option<IssuerUrl>,
    require_iss: bool,
}

impl std::fmt::Debug for AuthorizationRequest {
    // Extra parameters may carry secrets: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("resources", &self.resources)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AuthorizationRequest {
    /// A request to `endpoint` for `client_id`, coming back to `redirect_uri`.
    pub fn new(endpoint: EndpointUrl, client_id: ClientId, redirect_uri: RedirectUri) -> Self {
        Self {
            endpoint,
            client_id,
            redirect_uri,
            scope: Scope::empty(),
            resources: Vec::new(),
            prompt: None,
            login_hint: None,
            extra: Vec::new(),
            issuer: None,
            require_iss: false,
        }
    }

    /// The scope to ask for.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Adds a `resource` indicator (RFC 8707); may be repeated.
    pub fn resource(mut self, resource: ResourceIndicator) -> Self {
        self.resources.push(resource);
        self
    }

    /// `prompt` (e.g. `consent`, `login`, `none`).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// `login_hint`: who is expected to log in.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// A provider-specific parameter (`audience`, `access_type`, ...). Names that authflow
    /// sets itself are refused at [`build`](Self::build).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The issuer this request goes to. The callback's `iss` (RFC 9207) must then equal it
    /// when present, and must be present when `iss_required` (the server's metadata says
    /// `authorization_response_iss_parameter_supported`).
    pub fn issuer(mut self, issuer: IssuerUrl, iss_required: bool) -> Self {
        self.issuer = Some(issuer);
        self.require_iss = iss_required;
        self
    }

    /// Generates `state`, the PKCE verifier and (for `openid`) a `nonce`, and returns the
    /// URL to open together with what the callback check and the exchange need.
    pub fn build(
        &self,
        rng: &mut dyn RandomSource,
    ) -> Result<(Url, PendingAuthorization), BuildError> {
        let (state, code_verifier, nonce) = self.secrets(rng)?;

        let mut url = self.endpoint.as_url().clone();
        {
            // Appending keeps any parameters already on the endpoint URL.
            let mut q = QueryOut(String::with_capacity(512));
            if let Some(existing) = url.query() {
                q.0.push_str(existing);
            }
            self.write_params(&state, &code_verifier, nonce.as_ref(), &mut |k, v| {
                q.append_pair(k, v);
            });
            url.set_query(Some(&q.0));
        }

        Ok((url, self.pending(state, code_verifier, nonce)))
    }

    /// `state`, the PKCE verifier and (for `openid`) a nonce; checks the extra parameters.
    fn secrets(
        &self,
        rng: &mut dyn RandomSource,
    ) -> Result<(CsrfState, PkceVerifier, Option<Nonce>), BuildError> {
        // One draw serves state, verifier and nonce: one system call, not three.
        let mut seed = zeroize::Zeroizing::new([0u8; 96]);
        rng.fill(&mut seed[..]);
        let part = |i: usize| -> [u8; 32] {
            let mut b = [0u8; 32];
            b.copy_from_slice(&seed[i * 32..(i + 1) * 32]);
            b
        };
        let state = CsrfState::from_random(&part(0));
        let code_verifier = PkceVerifier::from_random(&part(1));
        let nonce = self
            .scope
            .contains("openid")
            .then(|| Nonce::from_random(&part(2)));

        for (k, _) in &self.extra {
            check_extra(k)?;
            if matches!(k.as_str(), "resource" | "prompt" | "login_hint") {
                return Err(BuildError::Parameter(k.clone()));
            }
        }
        Ok((state, code_verifier, nonce))
    }

    /// Like [`build`](Self::build), but returns the parameters instead of a URL: for a
    /// pushed authorization request (RFC 9126) or a signed request object (RFC 9101).
    pub fn build_parameters(
        &self,
        rng: &mut dyn RandomSource,
    ) -> Result<(AuthorizationParameters, PendingAuthorization), BuildError> {
        let (state, code_verifier, nonce) = self.secrets(rng)?;
        let mut pairs = Vec::with_capacity(12);
        self.write_params(&state, &code_verifier, nonce.as_ref(), &mut |k, v| {
            pairs.push((k.to_owned(), v.to_owned()));
        });
        Ok((
            AuthorizationParameters { pairs },
            self.pending(state, code_verifier, nonce),
        ))
    }

    /// The authorization endpoint.
    pub fn endpoint(&self) -> &EndpointUrl {
        &self.endpoint
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    fn pending(
        &self,
        state: CsrfState,
        code_verifier: PkceVerifier,
        nonce: Option<Nonce>,
    ) -> PendingAuthorization {
        PendingAuthorization {
            state,
            code_verifier,
            nonce,
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            resources: self.resources.clone(),
            issuer: self.issuer.clone(),
            require_iss: self.require_iss,
        }
    }

    /// Every parameter, in order, to `out`.
    fn write_params(
        &self,
        state: &CsrfState,
        code_verifier: &PkceVerifier,
        nonce: Option<&Nonce>,
        out: &mut dyn FnMut(&str, &str),
    ) {
        out("response_type", "code");
        out("client_id", self.client_id.as_str());
        out("redirect_uri", self.redirect_uri.as_str());
        if !self.scope.is_empty() {
            out("scope", &self.scope.to_string());
        }
        out("state", state.secret());
        out("code_challenge", &code_verifier.s256_challenge());
        out("code_challenge_method", "S256");
        if let Some(n) = nonce {
            out("nonce", n.secret());
        }
        for r in &self.resources {
            out("resource", r.as_str());
        }
        // OIDC Core §11: with `offline_access`, `prompt` MUST contain `consent`;
        // certified providers (oidc-provider) otherwise drop the scope and issue no
        // refresh token. An explicit prompt wins.
        let offline = self.scope.contains("openid") && self.scope.contains("offline_access");
        match (&self.prompt, offline) {
            (Some(p), _) => out("prompt", p),
            (None, true) => out("prompt", "consent"),
            (None, false) => {}
        }
        if let Some(h) = &self.login_hint {
            out("login_hint", h);
        }
        for (k, v) in &self.extra {
            out(k, v);
        }
    }
}

/// The parameters of an authorization request, for PAR or a request object. They hold
/// `state` and the PKCE challenge: `Debug` shows names only.
#[derive(Clone)]
pub struct AuthorizationParameters {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for AuthorizationParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

impl AuthorizationParameters {
    /// Parameters from pairs (for what goes through PAR besides a built request).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The name-value pairs, in order (`resource` may repeat).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The parameters as JWT claims (RFC 9101 §4): strings, with a repeated name
    /// (`resource`) as an array.
    pub fn to_claims(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut m = serde_json::Map::new();
        for (k, v) in &self.pairs {
            match m.get_mut(k) {
                Some(Value::Array(list)) => list.push(v.clone().into()),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, v.clone().into()]);
                }
                None => {
                    m.insert(k.clone(), v.clone().into());
                }
            }
        }
        m
    }
}

/// The query being built; `append_pair` mirrors `url`'s serializer, faster.
struct QueryOut(String);

impl QueryOut {
    fn append_pair(&mut self, name: &str, value: &str) -> &mut Self {
        super::form::push_pair(&mut self.0, name, value);
        self
    }
}

/// Everything the second half of the flow needs: the callback check and the code exchange.
///
/// Serializable, so that a program can survive a restart between sending the user away
/// and the redirect coming back. It holds secrets (`state`, the PKCE verifier): store it
/// as carefully as a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingAuthorization {
    /// The `state` sent.
    pub state: CsrfState,
    /// The PKCE verifier whose challenge was sent.
    pub code_verifier: PkceVerifier,
    /// The `nonce` sent (OpenID Connect), to check in the ID token.
    pub nonce: Option<Nonce>,
    /// The client that asked.
    pub client_id: ClientId,
    /// The redirect URI sent; the token request repeats it exactly.
    pub redirect_uri: RedirectUri,
    /// The scope asked for: the granted scope when the token response omits `scope`.
    pub scope: Scope,
    /// The resource indicators asked for.
    #[serde(default)]
    pub resources: Vec<ResourceIndicator>,
    /// The issuer the request went to, for the RFC 9207 `iss` check.
    pub issuer: Option<IssuerUrl>,
    /// Whether `iss` must be on the callback.
    #[serde(default)]
    pub require_iss: bool,
}

impl PendingAuthorization {
    /// The token-endpoint grant for a code that passed the callback check.
    pub fn exchange_grant(&self, code: AuthorizationCode) -> Grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri: self.redirect_uri.clone(),
            code_verifier: self.code_verifier.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Deterministic bytes, so URLs are reproducible in tests.
    struct Counter(u8);
    impl RandomSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    fn request() -> AuthorizationRequest {
        AuthorizationRequest::new(
            EndpointUrl::new("https://as.example/authorize?tenant=t1").unwrap(),
            ClientId::new("my cli").unwrap(),
            RedirectUri::new("http://127.0.0.1:5555/callback").unwrap(),
        )
    }

    fn params(url: &Url) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url.query_pairs() {
            m.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        m
    }

    #[test]
    fn carries_every_required_parameter() {
        let (url, pending) = request()
            .scope(Scope::parse("api:read offline_access").unwrap())
            .build(&mut Counter(0))
            .unwrap();
        let p = params(&url);
        assert_eq!(p["tenant"], ["t1"], "keeps existing query parameters");
        assert_eq!(p["response_type"], ["code"]);
        assert_eq!(p["client_id"], ["my cli"]);
        assert_eq!(p["redirect_uri"], ["http://127.0.0.1:5555/callback"]);
        assert_eq!(p["scope"], ["api:read offline_access"]);
        assert_eq!(p["state"], [pending.state.secret()]);
        assert_eq!(
            p["code_challenge"],
            [pending.code_verifier.s256_challenge()]
        );
        assert_eq!(p["code_challenge_method"], ["S256"]);
        assert!(!p.contains_key("nonce"), "nonce only for openid");
        assert!(url.as_str().contains("client_id=my+cli"), "{url}");
        assert!(
            url.as_str().contains("scope=api%3Aread+offline_access"),
            "{url}"
        );
    }

    #[test]
    fn openid_offline_access_asks_for_consent_unless_a_prompt_is_given() {
        // OIDC Core §11; oidc-provider drops offline_access without it (no refresh token).
        let build = |scope: &str, prompt: Option<&str>| {
            let mut r = request().scope(Scope::parse(scope).unwrap());
            if let Some(p) = prompt {
                r = r.prompt(p);
            }
            params(&r.build(&mut Counter(0)).unwrap().0)
        };
        assert_eq!(build("openid offline_access", None)["prompt"], ["consent"]);
        assert_eq!(
            build("openid offline_access", Some("login consent"))["prompt"],
            ["login consent"]
        );
        assert!(!build("api:read offline_access", None).contains_key("prompt"));
        assert!(!build("openid api:read", None).contains_key("prompt"));
    }

    #[test]
    fn openid_adds_a_nonce_and_options_are_sent() {
        let (url, pending) = request()
            .scope(Scope::parse("openid").unwrap())
            .resource(ResourceIndicator::new("https://api.one/").unwrap())
            .resource(ResourceIndicator::new("https://api.two/").unwrap())
            .prompt("consent")
            .login_hint("alice@example.com")
            .param("audience", "https://api")
            .build(&mut crate::random::OsRandom)
            .unwrap();
        let p = params(&url);
        assert_eq!(p["nonce"], [pending.nonce.as_ref().unwrap().secret()]);
        assert_eq!(p["resource"], ["https://api.one/", "https://api.two/"]);
        assert_eq!(p["prompt"], ["consent"]);
        assert_eq!(p["login_hint"], ["alice@example.com"]);
        assert_eq!(p["audience"], ["https://api"]);
    }

    #[test]
    fn extra_parameters_cannot_replace_security_ones() {
        for k in [
            "state",
            "code_challenge_method",
            "redirect_uri",
            "response_type",
            "resource",
        ] {
            let r = request().param(k, "x").build(&mut crate::random::OsRandom);
            assert!(matches!(r, Err(BuildError::Parameter(_))), "{k}");
        }
    }

    #[test]
    fn each_build_has_fresh_state_and_verifier() {
        let r = request();
        let (_, a) = r.build(&mut crate::random::OsRandom).unwrap();
        let (_, b) = r.build(&mut crate::random::OsRandom).unwrap();
        assert_ne!(a.state, b.state);
        assert_ne!(a.code_verifier, b.code_verifier);
    }

    #[test]
    fn pending_survives_serialization() {
        let (_, p) = request()
            .issuer(IssuerUrl::new("https://as.example").unwrap(), true)
            .build(&mut crate::random::OsRandom)
            .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back.state, p.state);
        assert_eq!(back.code_verifier, p.code_verifier);
        assert!(back.require_iss);
        assert!(!format!("{p:?}").contains(p.state.secret()));
    }
}
