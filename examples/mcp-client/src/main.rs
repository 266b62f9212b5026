//! An MCP client over streamable HTTP whose login starts from the server's `401`, the
//! path the MCP authorization spec (2025-11-25) describes, built on authflow:
//!
//! 1. `WWW-Authenticate` names the protected resource metadata (RFC 9728), or the
//!    well-known URLs are tried; its `resource` must be this server;
//! 2. the authorization server's metadata is found (RFC 8414, then OpenID Connect);
//! 3. the client identifies itself: pre-registered credentials, a client ID metadata
//!    document URL when the server supports them, or dynamic registration (RFC 7591);
//! 4. authorization code with PKCE (S256), `state` and `resource` (RFC 8707), through the
//!    browser and a loopback listener;
//! 5. the calls go through `AuthorizedClient`: refresh on `401 invalid_token`, one step-up
//!    (a new authorization with the wider scope) on `403 insufficient_scope`.
//!
//! ```sh
//! mcp-client https://mcp.example/mcp --call echo --arguments '{"text":"hi"}'
//! ```
//!
//! `scripts/mcp-conformance` runs the MCP conformance suite's client auth scenarios
//! against it, with `$BROWSER` set to curl so the "user" follows the redirects.

mod auth;
mod mcp;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use authflow::client::{HttpClient, ReqwestClient};
use clap::Parser;
use serde_json::Value;
use url::Url;

use crate::auth::{ClientConfig, Login, Preregistered};

/// An MCP client over streamable HTTP that logs in the way the MCP authorization spec
/// says: from the server's 401 to a token for that server only.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "\
Examples:
  mcp-client https://mcp.example/mcp
  mcp-client https://mcp.example/mcp --call echo --arguments '{\"text\":\"hi\"}'
  mcp-client --client-metadata-url https://app.example/client.json https://mcp.example/mcp

Pre-registered credentials may also come in MCP_CONFORMANCE_CONTEXT (a JSON object with
client_id and client_secret or private_key_pem), as the MCP conformance suite passes them."
)]
struct Args {
    /// The MCP server's endpoint.
    server_url: Url,
    /// A pre-registered client ID (else: CIMD or dynamic registration).
    #[arg(long, env = "MCP_CLIENT_ID")]
    client_id: Option<String>,
    /// The pre-registered client's secret.
    #[arg(
        long,
        env = "MCP_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,
    /// This client's ID metadata document URL (an https URL), used as its `client_id` by
    /// servers that announce `client_id_metadata_document_supported`.
    #[arg(long, env = "MCP_CLIENT_METADATA_URL")]
    client_metadata_url: Option<String>,
    /// Calls this tool after listing the tools.
    #[arg(long)]
    call: Option<String>,
    /// The tool's arguments, a JSON object.
    #[arg(long, default_value = "{}", requires = "call")]
    arguments: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "mcp_client=info".into()),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Value = serde_json::from_str(&args.arguments)
        .map_err(|e| format!("--arguments is not JSON: {e}"))?;
    let preregistered = match args.client_id {
        Some(id) => Some(Preregistered::new(id, args.client_secret, None)?),
        None => conformance_context()?,
    };
    let config = ClientConfig {
        client_name: "authflow MCP client".into(),
        preregistered,
        metadata_url: args.client_metadata_url,
    };
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new()?);
    let login = Login::new(config, http.clone());
    let mut session = mcp::Session::new(args.server_url, http, login);

    let server = session.initialize().await?;
    println!("server: {server}");
    let tools = session.list_tools().await?;
    println!("tools: {}", tools.join(", "));
    if let Some(name) = &args.call {
        let result = session.call_tool(name, arguments).await?;
        println!("{name}: {result}");
    }
    Ok(())
}

/// Pre-registered credentials from `MCP_CONFORMANCE_CONTEXT`, the way the conformance
/// suite hands them to a client under test.
fn conformance_context() -> Result<Option<Preregistered>, Box<dyn std::error::Error>> {
    let Ok(json) = std::env::var("MCP_CONFORMANCE_CONTEXT") else {
        return Ok(None);
    };
    let context: Value = serde_json::from_str(&json)
        .map_err(|e| format!("MCP_CONFORMANCE_CONTEXT is not JSON: {e}"))?;
    let field = |name: &str| context.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(id) = field("client_id") else {
        return Ok(None);
    };
    Ok(Some(Preregistered::new(
        id,
        field("client_secret"),
        field("private_key_pem"),
    )?))
}
