//! Errors as one line on stderr and a documented exit code.

use std::fmt;
use std::process::ExitCode;

use authflow::client::{Error as ClientError, HttpError};
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

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        Self::from_client_ref(&e)
    }
}

impl From<HttpError> for CliError {
    fn from(e: HttpError) -> Self {
        Self::new(Code::Network, e.to_string())
    }
}

impl From<SessionError> for CliError {
    fn from(e: SessionError) -> Self {
        match &e {
            SessionError::LoginRequired(_) => Self::new(Code::LoginRequired, e.to_string()),
            SessionError::Client(c) => {
                let mut err = CliError::from_client_ref(c);
                err.message = e.to_string();
                err
            }
            _ => Self::new(Code::Failure, e.to_string()),
        }
    }
}

impl CliError {
    /// The same code whether the client error came straight or through a token source
    /// (a refresh that needed the client key, for instance).
    fn from_client_ref(e: &ClientError) -> Self {
        let code = match e {
            ClientError::Http(_) => Code::Network,
            ClientError::OAuth { .. } => Code::OAuth,
            ClientError::Callback(_) => Code::Flow,
            ClientError::Config(_) | ClientError::InvalidValue(_) | ClientError::Discovery(_) => {
                Code::Config
            }
            _ => Code::Failure,
        };
        Self::new(code, e.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::new(Code::Config, e.to_string())
    }
}

impl From<FlowError> for CliError {
    fn from(e: FlowError) -> Self {
        let code = match &e {
            FlowError::PortInUse { .. } | FlowError::NotLoopback(_) => Code::Config,
            FlowError::Bind { .. } | FlowError::Browser(_) => Code::Failure,
            _ => Code::Flow,
        };
        Self::new(code, e.to_string())
    }
}

impl From<AuthorizedError> for CliError {
    fn from(e: AuthorizedError) -> Self {
        match e {
            AuthorizedError::Session(s) => s.into(),
            AuthorizedError::Http(h) => h.into(),
            AuthorizedError::InvalidUrl(m) => Self::usage(m),
            other => Self::new(Code::OAuth, other.to_string()),
        }
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
