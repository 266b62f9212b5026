use crate::protocol::CallbackError;

/// What ended an interactive flow without a code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The redirect URI is not a loopback `http` URI, so no listener can catch it.
    #[error(
        "the redirect URI {0} is not a loopback http URI (http://127.0.0.1/..., http://[::1]/... or http://localhost/...); a local listener cannot receive it"
    )]
    NotLoopback(String),
    /// The fixed port is taken.
    #[error(
        "port {port} on {host} is already in use; close the program using it or let the profile use any free port"
    )]
    PortInUse {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// Binding failed for another reason.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Nobody came back in time.
    #[error(
        "no redirect reached {redirect_uri} within {seconds} s; if the browser showed an error page at the provider, check that this redirect URI is registered for the client"
    )]
    Timeout {
        /// The redirect URI the listener waited on.
        redirect_uri: String,
        /// How long it waited.
        seconds: u64,
    },
    /// The redirect came, but was refused (error from the server, `iss` mismatch, ...).
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// No browser could be started.
    #[error("cannot open a browser ({0}); open the URL yourself")]
    Browser(String),
}
