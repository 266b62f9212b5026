//! The device authorization grant (RFC 8628), sans-IO.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use serde_json::Value;

use super::BuildError;
use super::body::{Formats, read_fields};
use super::client_auth::Credentials;
use super::error::ResponseError;
use super::form::{Form, check_extra, post_form};
use crate::types::{DeviceCode, EndpointUrl, Scope};

/// The `grant_type` for polling (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How much `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// `POST {device_authorization_endpoint}` with the client's authentication and scope.
pub fn device_authorization_request(
    endpoint: &EndpointUrl,
    credentials: &Credentials,
    scope: Option<&Scope>,
    extra: &[(String, String)],
) -> Result<Request<Vec<u8>>, BuildError> {
    let mut form = Form::new();
    if let Some(s) = scope.filter(|s| !s.is_empty()) {
        form.push("scope", s.to_string());
    }
    for (k, v) in extra {
        check_extra(k)?;
        form.push(k.as_str(), v.as_str());
    }
    let mut headers = HeaderMap::new();
    credentials.apply(&mut headers, &mut form)?;
    post_form(endpoint.as_url(), headers, &form)
}

/// What the user is shown, and what the client polls with (RFC 8628 §3.2).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The device code (secret).
    pub device_code: DeviceCode,
    /// The code the user types.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the code filled in, when the server offers it.
    pub verification_uri_complete: Option<String>,
    /// How long the codes live.
    pub expires_in: Duration,
    /// The minimum time between polls.
    pub interval: Duration,
}

/// Parses a device authorization response. Tolerates `verification_url` (an older
/// draft's name some providers still send) and numbers as strings.
pub fn parse_device_authorization(
    resp: &Response<Bytes>,
) -> Result<DeviceAuthorization, ResponseError> {
    let f = read_fields(resp, Formats::Lenient)?;
    let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
    let secs = |k: &'static str| -> Result<Option<Duration>, ResponseError> {
        match f.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|s| Some(Duration::from_secs(s.min(86_400))))
                .ok_or(ResponseError::InvalidField {
                    field: k,
                    reason: "not a whole number of seconds".into(),
                }),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map(|s| Some(Duration::from_secs(s.min(86_400))))
                .map_err(|_| ResponseError::InvalidField {
                    field: k,
                    reason: "not a whole number of seconds".into(),
                }),
            Some(_) => Err(ResponseError::InvalidField {
                field: k,
                reason: "not a number".into(),
            }),
        }
    };
    let device_code = text("device_code").ok_or(ResponseError::MissingField("device_code"))?;
    let device_code = DeviceCode::new(device_code).map_err(|e| ResponseError::InvalidField {
        field: "device_code",
        reason: e.reason,
    })?;
    let user_code = text("user_code").ok_or(ResponseError::MissingField("user_code"))?;
    let verification_uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or(ResponseError::MissingField("verification_uri"))?;
    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in: secs("expires_in")?.ok_or(ResponseError::MissingField("expires_in"))?,
        // A server asking for no pause at all still gets one second.
        interval: secs("interval")?
            .unwrap_or(DEFAULT_INTERVAL)
            .max(Duration::from_secs(1)),
    })
}

/// What one poll of the token endpoint means (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollState {
    /// The user has not finished: poll again after the interval.
    Pending,
    /// Poll again after the interval plus [`SLOW_DOWN_STEP`], and keep the longer interval.
    SlowDown,
}

impl PollState {
    /// Classifies an OAuth error from a poll; `None` means it ends the flow
    /// (`access_denied`, `expired_token`, or anything else).
    pub fn from_error(error: &super::OAuthError) -> Option<Self> {
        match error.error.as_str() {
            "authorization_pending" => Some(Self::Pending),
            "slow_down" => Some(Self::SlowDown),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::OAuthError;
    use crate::types::ClientId;

    fn json(body: &str) -> Response<Bytes> {
        Response::builder()
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn request_carries_client_and_scope() {
        let e = EndpointUrl::new("https://as.example/device").unwrap();
        let c = Credentials::public(ClientId::new("tv").unwrap());
        let r =
            device_authorization_request(&e, &c, Some(&Scope::parse("a b").unwrap()), &[]).unwrap();
        assert_eq!(r.body(), b"scope=a+b&client_id=tv");
    }

    #[test]
    fn parses_with_defaults_and_quirks() {
        let d = parse_device_authorization(&json(
            r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_url":"https://as.example/device","expires_in":"1800"}"#,
        ))
        .unwrap();
        assert_eq!(d.interval, DEFAULT_INTERVAL, "missing interval means 5 s");
        assert_eq!(d.expires_in, Duration::from_secs(1800));
        assert_eq!(d.verification_uri, "https://as.example/device");
        assert!(!format!("{d:?}").contains("\"dc\""));
        let e = parse_device_authorization(&json(r#"{"user_code":"x"}"#)).unwrap_err();
        assert_eq!(e, ResponseError::MissingField("device_code"));
    }

    #[test]
    fn poll_errors_are_classified() {
        let err = |c: &str| OAuthError::new(http::StatusCode::BAD_REQUEST, c);
        assert_eq!(
            PollState::from_error(&err("authorization_pending")),
            Some(PollState::Pending)
        );
        assert_eq!(
            PollState::from_error(&err("slow_down")),
            Some(PollState::SlowDown)
        );
        assert_eq!(PollState::from_error(&err("access_denied")), None);
        assert_eq!(PollState::from_error(&err("expired_token")), None);
    }
}
