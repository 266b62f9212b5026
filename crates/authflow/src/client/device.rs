//! The device authorization grant on the client (RFC 8628): start, then poll.

use std::time::Instant;

use super::error::Error;
use super::oauth_client::OAuthClient;
use crate::protocol::device::{
    DeviceAuthorization, PollState, SLOW_DOWN_STEP, device_authorization_request,
    parse_device_authorization,
};
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
            .ok_or_else(|| {
                Error::Config("the server has no device authorization endpoint (RFC 8628)".into())
            })?;
        let creds = self.signed_credentials(self.credentials()).await?;
        let req = device_authorization_request(endpoint, &creds, scope, &[])?;
        let label = endpoint.to_string();
        let resp = self.send(req).await?;
        parse_device_authorization(&resp).map_err(|e| Error::from_response(&label, e))
    }

    /// Polls the token endpoint until the user approves, declines, or the codes expire.
    /// Waits `interval` between polls and adds 5 s on each `slow_down` (RFC 8628 §3.5).
    /// Cancel-safe: dropping the future stops polling.
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
                    None => return Err(e),
                },
            }
            if Instant::now() + interval > deadline {
                return Err(Error::Config(
                    "the device code expired before the user approved; start again".into(),
                ));
            }
        }
    }
}
