//! The device authorization grant on the client (RFC 8628): start, then poll.

use std::time::Instant;

use super::error::{EndpointKind, Error};
use super::oauth_client::OAuthClient;
use crate::protocol::device::{
    DeviceAuthorization, PollState, SLOW_DOWN_STEP, device_authorization_request,
    parse_device_authorization,
};
use crate::protocol::error::OAuthErrorCode;
use crate::protocol::{Grant, TokenResponse};
use crate::types::Scope;

impl OAuthClient {
    /// Starts a device flow: the response says what to show the user.
    pub async fn device_authorization(
        &self,
        scope: Option<&Scope>,
    ) -> Result<DeviceAuthorization, Error> {
        let endpoint = self
            .endpoints()
            .device_authorization
            .as_ref()
            .ok_or(Error::MissingEndpoint(EndpointKind::DeviceAuthorization))?;
        let creds = self.signed_credentials(self.credentials()).await?;
        let req = device_authorization_request(endpoint, &creds, scope, &[])?;
        let label = endpoint.to_string();
        let resp = self.send(req).await?;
        parse_device_authorization(&resp).map_err(|e| Error::from_response(&label, e))
    }

    /// Polls the token endpoint until the user approves, declines, or the codes expire.
    /// Waits `interval` between polls and adds 5 s on each `slow_down` (RFC 8628 §3.5).
    /// Cancel-safe: dropping the future stops polling.
    ///
    /// Ends with [`Error::DeviceDenied`] on `access_denied` and [`Error::DeviceExpired`]
    /// on `expired_token` or when the codes' lifetime runs out; other errors as they come.
    pub async fn poll_device_token(
        &self,
        device: &DeviceAuthorization,
    ) -> Result<TokenResponse, Error> {
        let deadline = Instant::now() + device.expires_in;
        let mut interval = device.interval;
        let grant = Grant::DeviceCode {
            device_code: device.device_code.clone(),
        };
        loop {
            tokio::time::sleep(interval).await;
            match self.request_token(&grant, &[]).await {
                Ok(tokens) => return Ok(tokens),
                Err(e) => match e.oauth().and_then(PollState::from_error) {
                    Some(PollState::Pending) => {}
                    Some(PollState::SlowDown) => interval += SLOW_DOWN_STEP,
                    None => return Err(poll_outcome(e)),
                },
            }
            if Instant::now() + interval > deadline {
                return Err(Error::DeviceExpired { error: None });
            }
        }
    }
}

/// The error that ends a device flow: the two outcomes RFC 8628 §3.5 names get their own
/// variants (the server's error kept inside); anything else stays as it came.
fn poll_outcome(e: Error) -> Error {
    match e {
        Error::OAuth { error, .. } if error.code() == OAuthErrorCode::ExpiredToken => {
            Error::DeviceExpired { error: Some(error) }
        }
        Error::OAuth { error, .. } if error.code() == OAuthErrorCode::AccessDenied => {
            Error::DeviceDenied { error }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::protocol::OAuthError;

    fn oauth(code: &str) -> Error {
        Error::OAuth {
            endpoint: "https://as.example/token".into(),
            error: OAuthError::new(StatusCode::BAD_REQUEST, code).with_description("words"),
        }
    }

    #[test]
    fn expiry_and_denial_end_the_flow_with_their_own_variants() {
        match poll_outcome(oauth("expired_token")) {
            Error::DeviceExpired { error: Some(e) } => {
                assert_eq!(e.error, "expired_token");
                assert_eq!(e.error_description.as_deref(), Some("words"));
            }
            other => panic!("{other:?}"),
        }
        match poll_outcome(oauth("access_denied")) {
            Error::DeviceDenied { error } => assert_eq!(error.error, "access_denied"),
            other => panic!("{other:?}"),
        }
        // Anything else is reported as the server sent it.
        assert!(matches!(
            poll_outcome(oauth("invalid_client")),
            Error::OAuth { .. }
        ));
        assert!(matches!(
            poll_outcome(Error::MissingIdToken),
            Error::MissingIdToken
        ));
    }
}
