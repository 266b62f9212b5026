//! MCP over streamable HTTP (MCP 2025-11-25, "Transports"): each JSON-RPC message is
//! POSTed to the server's one endpoint; a request's answer comes back as a JSON body or as
//! a short SSE stream. Authorization is the [`Login`]'s business: the first `401` starts
//! it, and from then on every message goes through its `AuthorizedClient`.

use std::sync::Arc;

use authflow::client::{HttpClient, HttpError};
use authflow::session::{AuthorizedClient, AuthorizedError};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use url::Url;

use crate::auth::{self, Login};

/// The MCP revision this client speaks.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Cap on one response (a tool result can be large; an SSE stream is read whole).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Why an MCP call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Logging in failed.
    #[error(transparent)]
    Login(#[from] auth::Error),
    /// No response at all.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The authorized call failed (token refused after a refresh, scope still missing
    /// after a step-up, ...).
    #[error(transparent)]
    Authorized(#[from] AuthorizedError),
    /// The server answered with an HTTP error.
    #[error("the MCP server answered {method} with HTTP {status}{detail}")]
    Status {
        /// The JSON-RPC method.
        method: String,
        /// The status.
        status: StatusCode,
        /// The start of the body, printable characters only.
        detail: String,
    },
    /// The server answered, but not with the JSON-RPC response expected.
    #[error("the MCP server's answer to {method} is not a JSON-RPC response: {reason}")]
    Protocol {
        /// The JSON-RPC method.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// A JSON-RPC error response.
    #[error("the MCP server refused {method}: {message} (JSON-RPC error {code})")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// The error code.
        code: i64,
        /// The error message.
        message: String,
    },
}

/// One MCP session with one server.
pub struct Session {
    endpoint: Url,
    http: Arc<dyn HttpClient>,
    login: Login,
    /// Set by the first `401`: every later message carries its token.
    api: Option<AuthorizedClient>,
    /// `Mcp-Session-Id`, when the server gave one on `initialize`.
    session_id: Option<HeaderValue>,
    /// `MCP-Protocol-Version` for every message after `initialize`.
    protocol_version: Option<HeaderValue>,
    next_id: u64,
}

impl Session {
    /// A session with the server at `endpoint`, logging in through `login` when asked to.
    pub fn new(endpoint: Url, http: Arc<dyn HttpClient>, login: Login) -> Self {
        Self {
            endpoint,
            http,
            login,
            api: None,
            session_id: None,
            protocol_version: None,
            next_id: 1,
        }
    }

    /// `initialize`, then `notifications/initialized`. Returns the server's `serverInfo`.
    pub async fn initialize(&mut self) -> Result<Value, Error> {
        let result = self
            .request(
                "initialize",
                json!({
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {
                        "name": "authflow-mcp-client",
                        "version": env!("CARGO_PKG_VERSION"),
                    },
                }),
            )
            .await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or(PROTOCOL_VERSION);
        self.protocol_version = HeaderValue::from_str(version).ok();
        self.notify("notifications/initialized").await?;
        Ok(result.get("serverInfo").cloned().unwrap_or(Value::Null))
    }

    /// `tools/list`: the tools' names.
    pub async fn list_tools(&mut self) -> Result<Vec<String>, Error> {
        let result = self.request("tools/list", json!({})).await?;
        let tools = result.get("tools").and_then(Value::as_array);
        Ok(tools
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// `tools/call` with `arguments`: the tool's result.
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Result<Value, Error> {
        self.request(
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }

    /// Sends a request and returns its `result`.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp = self.post(method, &message).await?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(method, &resp));
        }
        if method == "initialize"
            && let Some(sid) = resp.headers().get("mcp-session-id")
        {
            self.session_id = Some(sid.clone());
        }
        let response = find_response(&resp, id).map_err(|reason| Error::Protocol {
            method: method.to_owned(),
            reason,
        })?;
        if let Some(err) = response.get("error") {
            return Err(Error::Rpc {
                method: method.to_owned(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message")
                    .to_owned(),
            });
        }
        Ok(response.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Sends a notification: the server accepts it with `202` and no body.
    async fn notify(&mut self, method: &str) -> Result<(), Error> {
        let message = json!({ "jsonrpc": "2.0", "method": method });
        let resp = self.post(method, &message).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_error(method, &resp))
        }
    }

    /// POSTs one message. The first `401` runs the login that the server's challenge
    /// describes, and the message goes again with the new token; from then on
    /// `AuthorizedClient` refreshes on `401 invalid_token` and steps up on
    /// `403 insufficient_scope`.
    async fn post(&mut self, method: &str, message: &Value) -> Result<Response<Bytes>, Error> {
        if let Some(api) = &self.api {
            return Ok(api.send(self.message_request(message)?).await?);
        }
        let resp = self
            .http
            .send(self.message_request(message)?, MAX_BODY)
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        tracing::info!(method, "the server wants a token; logging in");
        let api = self.login.log_in(&self.endpoint, resp.headers()).await?;
        let resp = api.send(self.message_request(message)?).await?;
        self.api = Some(api);
        Ok(resp)
    }

    fn message_request(&self, message: &Value) -> Result<Request<Vec<u8>>, Error> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream");
        if let Some(v) = &self.protocol_version {
            req = req.header("mcp-protocol-version", v);
        }
        if let Some(sid) = &self.session_id {
            req = req.header("mcp-session-id", sid);
        }
        req.body(message.to_string().into_bytes())
            .map_err(|e| Error::Protocol {
                method: "(request)".into(),
                reason: format!("cannot build the request: {e}"),
            })
    }
}

fn status_error(method: &str, resp: &Response<Bytes>) -> Error {
    let text: String = String::from_utf8_lossy(resp.body())
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Error::Status {
        method: method.to_owned(),
        status: resp.status(),
        detail: if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        },
    }
}

/// The JSON-RPC response with `id` in a JSON or SSE body.
fn find_response(resp: &Response<Bytes>, id: u64) -> Result<Value, String> {
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = std::str::from_utf8(resp.body()).map_err(|_| "the body is not UTF-8".to_owned())?;
    let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
        // Events with no data (SSE priming events) and non-JSON ones are not messages.
        sse_data(body)
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    } else if content_type.starts_with("application/json") {
        vec![serde_json::from_str(body).map_err(|e| format!("malformed JSON: {e}"))?]
    } else {
        return Err(format!("unexpected content type `{content_type}`"));
    };
    messages
        .into_iter()
        // A batch is an array of messages.
        .flat_map(|m| match m {
            Value::Array(batch) => batch,
            one => vec![one],
        })
        .find(|m| m.get("id").and_then(Value::as_u64) == Some(id) && m.get("method").is_none())
        .ok_or_else(|| format!("no response with id {id}"))
}

/// The `data` of each event in an SSE stream (WHATWG HTML, "Server-sent events"): lines
/// end with CRLF, LF or CR; `data:` lines of one event are joined with LF; a blank line
/// ends an event; comments (`:`) and other fields are skipped.
fn sse_data(stream: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Option<String> = None;
    for line in stream.split("\r\n").flat_map(|l| l.split(['\n', '\r'])) {
        if line.is_empty() {
            events.extend(data.take());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field == "data" {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
    }
    // A stream cut after its last data line still delivered that event's data.
    events.extend(data);
    events.retain(|d| !d.is_empty());
    events
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn response(content_type: &str, body: &str) -> Response<Bytes> {
        Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn sse_events_are_split_joined_and_primed_events_dropped() {
        let stream = "id: 1\nretry: 500\ndata: \n\n: comment\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\ndata:x\rdata: y\r\r";
        assert_eq!(sse_data(stream), ["{\"a\":\n1}", "x\ny"]);
    }

    #[test]
    fn an_sse_stream_cut_after_data_still_delivers_it() {
        assert_eq!(sse_data("event: message\ndata: {}"), ["{}"]);
    }

    #[test]
    fn the_response_with_our_id_is_found_among_other_messages() {
        let body = concat!(
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sampling/createMessage\"}\n\n",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"ok\":true}}\n\n",
        );
        let found = find_response(&response("text/event-stream", body), 2).unwrap();
        assert_eq!(found["result"]["ok"], true);
    }

    #[test]
    fn json_bodies_and_batches_are_read() {
        let one = response(
            "application/json; charset=utf-8",
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        );
        assert!(find_response(&one, 1).is_ok());
        let batch = response(
            "application/json",
            r#"[{"jsonrpc":"2.0","id":4,"result":1},{"jsonrpc":"2.0","id":5,"result":2}]"#,
        );
        assert_eq!(find_response(&batch, 5).unwrap()["result"], 2);
    }

    #[test]
    fn a_missing_response_or_a_foreign_content_type_is_an_error() {
        let other = response(
            "application/json",
            r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
        );
        assert_eq!(
            find_response(&other, 1).unwrap_err(),
            "no response with id 1"
        );
        let html = response("text/html", "<p>hi</p>");
        assert!(find_response(&html, 1).unwrap_err().contains("text/html"));
    }
}
