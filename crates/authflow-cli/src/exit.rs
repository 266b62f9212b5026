//! Errors as one line on stderr and a documented exit code.

use std::fmt;
use std::process::ExitCode;

use authflow::client::{Error as ClientError, HttpError, ResourceDiscoveryError};
use authflow::flow::FlowError;
use authflow::session::{AuthorizedError, SessionError, StoreError};

/// The exit codes, as documented in `authflow --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// Something else failed.
    Failure = 1,
    /// Bad arguments (clap uses 2 as well).
    Usage = 2,
    /// No usable login: run `authflow login`.
    LoginRequired = 3,
    /// The authorization server or resource answered with an OAuth error.
    OAuth = 4,
    /// The server could not be reached (connection, TLS, timeout).
    Network = 5,
    /// A configuration or profile problem.
    Config = 6,
    /// A redirect was refused for security reasons (state, `iss`, ...), or the wait for
    /// the browser timed out.
    Flow = 7,
    /// `curl --fail`: the resource answered 400 or more (curl's own code).
    HttpFail = 22,
}

pub(crate) const EXIT_CODES_HELP: &str = "Exit codes:
  0  success
  1  other failure
  2  usage error
  3  login required (run `authflow login`)
  4  OAuth error from the server or resource (error code shown)
  5  network error (connection, TLS, timeout)
  6  configuration or profile error
  7  login refused or timed out (state/iss mismatch, access denied, no redirect)
  22 `authflow curl --fail`: the resource answered HTTP 400 or more";

/// A command's failure: one line, one code.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Code::Config, message)
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    pub(crate) fn login_required(profile: &str) -> Self {
        Self::new(
            Code::LoginRequired,
            format!(
                "not logged in for profile `{profile}`; run `authflow login{}`",
                profile_flag(profile)
            ),
        )
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code as u8)
    }
}

pub(crate) fn profile_flag(profile: &str) -> String {
    if profile == "default" {
        String::new()
    } else {
        format!(" --profile {profile}")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the inner messages hold.
        let line: String = self
            .message
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        f.write_str(&line)
    }
}

// The one table from library errors to exit codes. Every `From` below goes through it,
// so an error means the same code whether it came straight from the client, through a
// token source, through the loopback listener or through an authorized request.

impl From<&ClientError> for Code {
    fn from(e: &ClientError) -> Self {
        match e {
            ClientError::Http(_) => Code::Network,
            ClientError::OAuth { .. } => Code::OAuth,
            ClientError::Discovery(_)
            | ClientError::NoMetadata { .. }
            | ClientError::InvalidValue(_)
            | ClientError::MissingEndpoint(_)
            | ClientError::NoHttpClient
            | ClientError::UnknownIssuer
            | ClientError::Credentials { .. }
            | ClientError::Sign { .. } => Code::Config,
            // Built from the profile's or the command line's values (`--param`).
            ClientError::Build(_) => Code::Usage,
            ClientError::Callback(_)
            | ClientError::MixUp { .. }
            | ClientError::ClientMismatch { .. }
            | ClientError::IdToken(_)
            | ClientError::MissingIdToken
            | ClientError::DeviceExpired { .. }
            | ClientError::DeviceDenied { .. } => Code::Flow,
            // An answer that is not a valid response, and variants of later releases.
            _ => Code::Failure,
        }
    }
}

impl From<&FlowError> for Code {
    fn from(e: &FlowError) -> Self {
        match e {
            FlowError::PortInUse { .. } | FlowError::NotLoopback(_) => Code::Config,
            FlowError::Bind { .. } | FlowError::Browser(_) => Code::Failure,
            FlowError::Timeout { .. } | FlowError::Callback(_) => Code::Flow,
            _ => Code::Flow,
        }
    }
}

impl From<&SessionError> for Code {
    fn from(e: &SessionError) -> Self {
        match e {
            SessionError::LoginRequired(_) => Code::LoginRequired,
            SessionError::Client(c) => Code::from(c.as_ref()),
            SessionError::Store(s) => Code::from(s.as_ref()),
            _ => Code::Failure,
        }
    }
}

impl From<&StoreError> for Code {
    fn from(_: &StoreError) -> Self {
        // Unreadable, corrupt or newer token files: the user fixes the setup.
        Code::Config
    }
}

impl From<&AuthorizedError> for Code {
    fn from(e: &AuthorizedError) -> Self {
        match e {
            AuthorizedError::Session(s) => Code::from(s),
            AuthorizedError::Http(_) => Code::Network,
            AuthorizedError::InvalidUrl(_) => Code::Usage,
            _ => Code::OAuth,
        }
    }
}

impl From<&ResourceDiscoveryError> for Code {
    fn from(e: &ResourceDiscoveryError) -> Self {
        match e {
            ResourceDiscoveryError::Http(_) => Code::Network,
            // The resource URL or --issuer the user typed.
            ResourceDiscoveryError::Build(_)
            | ResourceDiscoveryError::InvalidUrl(_)
            | ResourceDiscoveryError::IssuerNotListed { .. } => Code::Usage,
            ResourceDiscoveryError::Registration { .. } => Code::OAuth,
            // What the resource or server publishes, or a choice the user has to make
            // (a flag to pass): fixed in the setup.
            ResourceDiscoveryError::ResourceMetadata { .. }
            | ResourceDiscoveryError::CrossOriginMetadata { .. }
            | ResourceDiscoveryError::NoResourceMetadata { .. }
            | ResourceDiscoveryError::NoAuthorizationServer { .. }
            | ResourceDiscoveryError::Discovery { .. }
            | ResourceDiscoveryError::NoServerMetadata { .. }
            | ResourceDiscoveryError::NoRegistrationEndpoint { .. }
            | ResourceDiscoveryError::NotManageable => Code::Config,
            // An answer that is not a valid response, and variants of later releases.
            _ => Code::Failure,
        }
    }
}

impl From<ResourceDiscoveryError> for CliError {
    fn from(e: ResourceDiscoveryError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<HttpError> for CliError {
    fn from(e: HttpError) -> Self {
        Self::new(Code::Network, e.to_string())
    }
}

impl From<SessionError> for CliError {
    fn from(e: SessionError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<FlowError> for CliError {
    fn from(e: FlowError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<AuthorizedError> for CliError {
    fn from(e: AuthorizedError) -> Self {
        Self::new(Code::from(&e), e.to_string())
    }
}

impl From<authflow::types::InvalidValue> for CliError {
    fn from(e: authflow::types::InvalidValue) -> Self {
        Self::usage(e.to_string())
    }
}

impl From<authflow::protocol::BuildError> for CliError {
    fn from(e: authflow::protocol::BuildError) -> Self {
        Self::usage(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::new(Code::Failure, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authflow::client::EndpointKind;
    use authflow::jose::SignError;
    use authflow::protocol::id_token::IdTokenError;
    use authflow::protocol::{
        BuildError, CallbackError, DiscoveryError, OAuthError, ResponseError,
    };
    use authflow::types::ClientId;
    use http::StatusCode;

    use super::*;

    fn oauth(code: &str) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, code)
    }

    fn invalid_value() -> authflow::types::InvalidValue {
        match ClientId::new("") {
            Err(e) => e,
            Ok(_) => unreachable!("an empty client id is invalid"),
        }
    }

    /// Every variant of the client error, with the code `authflow --help` documents.
    fn client_table() -> Vec<(ClientError, Code)> {
        vec![
            (
                ClientError::Http(HttpError::Timeout { url: "u".into() }),
                Code::Network,
            ),
            (
                ClientError::OAuth {
                    endpoint: "e".into(),
                    error: oauth("invalid_grant"),
                },
                Code::OAuth,
            ),
            (
                ClientError::Response {
                    endpoint: "e".into(),
                    source: ResponseError::MissingField("access_token"),
                },
                Code::Failure,
            ),
            (
                ClientError::Discovery(DiscoveryError::MissingField("issuer")),
                Code::Config,
            ),
            (
                ClientError::NoMetadata {
                    issuer: "https://as.example".into(),
                    tried: vec![],
                },
                Code::Config,
            ),
            (
                ClientError::Build(BuildError::Parameter("state".into())),
                Code::Usage,
            ),
            (ClientError::InvalidValue(invalid_value()), Code::Config),
            (
                ClientError::MissingEndpoint(EndpointKind::Jwks),
                Code::Config,
            ),
            (ClientError::NoHttpClient, Code::Config),
            (ClientError::UnknownIssuer, Code::Config),
            (
                ClientError::Credentials {
                    reason: "no secret".into(),
                },
                Code::Config,
            ),
            (
                ClientError::Sign {
                    what: "DPoP proof",
                    source: SignError::new("no key"),
                },
                Code::Config,
            ),
            (
                ClientError::Callback(CallbackError::StateMismatch),
                Code::Flow,
            ),
            (
                ClientError::Callback(CallbackError::IssuerMismatch {
                    expected: "a".into(),
                    found: "b".into(),
                }),
                Code::Flow,
            ),
            (
                ClientError::MixUp {
                    started_at: "a".into(),
                    finishing_at: "b".into(),
                },
                Code::Flow,
            ),
            (
                ClientError::ClientMismatch {
                    started_by: "a".into(),
                    finishing_by: "b".into(),
                },
                Code::Flow,
            ),
            (ClientError::IdToken(IdTokenError::Signature), Code::Flow),
            (ClientError::MissingIdToken, Code::Flow),
            (ClientError::DeviceExpired { error: None }, Code::Flow),
            (
                ClientError::DeviceExpired {
                    error: Some(oauth("expired_token")),
                },
                Code::Flow,
            ),
            (
                ClientError::DeviceDenied {
                    error: oauth("access_denied"),
                },
                Code::Flow,
            ),
        ]
    }

    #[test]
    fn every_client_error_has_its_documented_code() {
        for (e, code) in client_table() {
            assert_eq!(Code::from(&e), code, "{e:?}");
            let shown = e.to_string();
            let cli = CliError::from(e);
            assert_eq!(cli.code, code);
            assert_eq!(cli.message, shown, "the library's words are kept");
        }
    }

    #[test]
    fn a_client_error_keeps_its_code_through_a_token_source() {
        for (e, code) in client_table() {
            let via_session = SessionError::Client(Arc::new(e));
            assert_eq!(Code::from(&via_session), code, "{via_session:?}");
            let via_request = AuthorizedError::Session(via_session);
            assert_eq!(Code::from(&via_request), code);
        }
    }

    #[test]
    fn session_flow_and_request_errors() {
        assert_eq!(
            Code::from(&SessionError::LoginRequired("x".into())),
            Code::LoginRequired
        );
        assert_eq!(
            Code::from(&SessionError::Internal("x".into())),
            Code::Failure
        );
        let store = StoreError::Io {
            path: "/t".into(),
            source: std::io::Error::other("x"),
        };
        assert_eq!(Code::from(&store), Code::Config);
        assert_eq!(
            Code::from(&SessionError::Store(Arc::new(store))),
            Code::Config
        );

        let flow = [
            (FlowError::NotLoopback("u".into()), Code::Config),
            (
                FlowError::PortInUse {
                    host: "127.0.0.1".into(),
                    port: 1,
                },
                Code::Config,
            ),
            (
                FlowError::Bind {
                    addr: "a".into(),
                    source: std::io::Error::other("x"),
                },
                Code::Failure,
            ),
            (FlowError::Browser("x".into()), Code::Failure),
            (
                FlowError::Timeout {
                    redirect_uri: "u".into(),
                    seconds: 1,
                },
                Code::Flow,
            ),
            (FlowError::Callback(CallbackError::MissingCode), Code::Flow),
        ];
        for (e, code) in flow {
            assert_eq!(Code::from(&e), code, "{e:?}");
            assert_eq!(CliError::from(e).code, code);
        }

        assert_eq!(
            Code::from(&AuthorizedError::InvalidUrl("x".into())),
            Code::Usage
        );
        assert_eq!(
            Code::from(&AuthorizedError::Http(HttpError::Timeout {
                url: "u".into()
            })),
            Code::Network
        );
    }

    /// Every variant of the resource discovery error, with its code.
    fn resource_table() -> Vec<(ResourceDiscoveryError, Code)> {
        use authflow::protocol::resource_metadata::ResourceMetadataError;
        vec![
            (
                ResourceDiscoveryError::Http(HttpError::Timeout { url: "u".into() }),
                Code::Network,
            ),
            (
                ResourceDiscoveryError::Build(BuildError::Parameter("scope".into())),
                Code::Usage,
            ),
            (
                ResourceDiscoveryError::InvalidUrl(invalid_value()),
                Code::Usage,
            ),
            (
                ResourceDiscoveryError::IssuerNotListed {
                    issuer: "https://evil.example".into(),
                    listed: vec!["https://as.example".into()],
                },
                Code::Usage,
            ),
            (
                ResourceDiscoveryError::ResourceMetadata {
                    url: "https://api.example/".into(),
                    source: ResourceMetadataError::CrossOrigin {
                        resource_origin: "https://api.example".into(),
                        metadata_url: "https://meta.example/prm".into(),
                    },
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::CrossOriginMetadata {
                    resource_origin: "https://api.example".into(),
                    metadata_url: "https://meta.example/prm".into(),
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::NoResourceMetadata {
                    resource: "https://api.example/".into(),
                    tried: vec![],
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::NoAuthorizationServer {
                    resource: "https://api.example/".into(),
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::Discovery {
                    url: "https://as.example/.well-known/oauth-authorization-server".into(),
                    source: DiscoveryError::MissingField("issuer"),
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::NoServerMetadata {
                    issuer: "https://as.example".into(),
                    tried: vec![],
                },
                Code::Config,
            ),
            (
                ResourceDiscoveryError::NoRegistrationEndpoint {
                    issuer: "https://as.example".into(),
                },
                Code::Config,
            ),
            (ResourceDiscoveryError::NotManageable, Code::Config),
            (
                ResourceDiscoveryError::Registration {
                    endpoint: "https://as.example/register".into(),
                    error: oauth("invalid_redirect_uri"),
                },
                Code::OAuth,
            ),
            (
                ResourceDiscoveryError::RegistrationResponse {
                    endpoint: "https://as.example/register".into(),
                    source: ResponseError::MissingField("client_id"),
                },
                Code::Failure,
            ),
        ]
    }

    #[test]
    fn every_resource_discovery_error_has_its_documented_code() {
        for (e, code) in resource_table() {
            assert_eq!(Code::from(&e), code, "{e:?}");
            let shown = e.to_string();
            let cli = CliError::from(e);
            assert_eq!(cli.code, code);
            assert_eq!(cli.message, shown, "the library's words are kept");
        }
    }

    #[test]
    fn the_help_lists_every_code() {
        for code in [
            Code::Failure,
            Code::Usage,
            Code::LoginRequired,
            Code::OAuth,
            Code::Network,
            Code::Config,
            Code::Flow,
            Code::HttpFail,
        ] {
            let line = format!("\n  {:<2} ", code as u8);
            assert!(
                EXIT_CODES_HELP.contains(&line),
                "{code:?} is not in the help"
            );
        }
    }
}
