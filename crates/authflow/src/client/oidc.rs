//! OpenID Connect on the client: ID tokens checked against the provider's JWKS (cached,
//! refetched once when a `kid` is unknown), and userinfo with the `sub` check.

use std::sync::Arc;
use std::time::SystemTime;

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use super::error::{EndpointKind, Error};
use super::oauth_client::OAuthClient;
use crate::protocol::form_get_json;
use crate::protocol::id_token::{
    IdTokenClaims, IdTokenError, IdTokenExpectations, validate_id_token,
};
use crate::protocol::userinfo::{parse_userinfo, userinfo_request};
use crate::protocol::{ResponseError, body_json};
use crate::types::{AccessToken, IdToken, Nonce};

impl OAuthClient {
    /// The provider's JWKS, from the cache or fetched.
    pub async fn jwks(&self) -> Result<Arc<JwkSet>, Error> {
        if let Some(keys) = self.jwks_cache().load_full() {
            return Ok(keys);
        }
        self.fetch_jwks().await
    }

    async fn fetch_jwks(&self) -> Result<Arc<JwkSet>, Error> {
        let uri = self
            .endpoints()
            .jwks
            .as_ref()
            .ok_or(Error::MissingEndpoint(EndpointKind::Jwks))?;
        let req = form_get_json(uri.as_url())?;
        let resp = self.send(req).await?;
        let label = uri.to_string();
        let fields = body_json(&resp).map_err(|e| Error::from_response(&label, e))?;
        let set: JwkSet = serde_json::from_value(Value::Object(fields)).map_err(|_| {
            Error::from_response(
                &label,
                ResponseError::InvalidField {
                    field: "keys",
                    reason: "not a JWK set".into(),
                },
            )
        })?;
        let set = Arc::new(set);
        self.jwks_cache().store(Some(set.clone()));
        Ok(set)
    }

    /// Validates an ID token: signature (JWKS, refetched once on an unknown key, as after
    /// a key rotation), `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, and `at_hash` when an
    /// access token is given. Algorithms are those the provider announces (RS256 if none).
    pub async fn verify_id_token(
        &self,
        id_token: &IdToken,
        nonce: Option<&Nonce>,
        access_token: Option<&AccessToken>,
    ) -> Result<IdTokenClaims, Error> {
        let issuer = self.issuer().ok_or(Error::UnknownIssuer)?;
        let algorithms = self
            .metadata()
            .and_then(|m| m.id_token_signing_alg_values_supported.clone())
            .unwrap_or_default();
        let check = |set: &JwkSet| {
            let mut e =
                IdTokenExpectations::new(issuer, self.credentials().client_id(), SystemTime::now());
            e.nonce = nonce;
            e.access_token = access_token;
            e.algorithms = &algorithms;
            validate_id_token(id_token, set, &e)
        };
        let keys = self.jwks().await?;
        match check(&keys) {
            Err(IdTokenError::UnknownKey(_)) | Err(IdTokenError::Signature) => {
                tracing::debug!("ID token key not in the cached JWKS; refetching once");
                let keys = self.fetch_jwks().await?;
                check(&keys).map_err(Error::IdToken)
            }
            other => other.map_err(Error::IdToken),
        }
    }

    /// The userinfo claims. With `expected_sub` (the ID token's `sub`), a different
    /// `sub` is refused (OIDC Core §5.3.2: token substitution).
    pub async fn userinfo(
        &self,
        access_token: &AccessToken,
        expected_sub: Option<&str>,
    ) -> Result<Map<String, Value>, Error> {
        let endpoint = self
            .endpoints()
            .userinfo
            .as_ref()
            .ok_or(Error::MissingEndpoint(EndpointKind::Userinfo))?;
        let req = userinfo_request(endpoint, access_token)?;
        let label = endpoint.to_string();
        let resp = self.send(req).await?;
        let claims = parse_userinfo(&resp).map_err(|e| Error::from_response(&label, e))?;
        crate::protocol::userinfo::check_subject(&claims, expected_sub).map_err(Error::IdToken)?;
        Ok(claims)
    }
}
