//! The loopback redirect listener (RFC 8252 §7.3, §8.3).
//!
//! One-shot: it answers the first redirect that carries this flow's `state` and stops.
//! Anything else (favicon requests, pre-connects, scanners, malformed HTTP, huge headers,
//! redirects with another `state`) gets an answer and leaves the flow waiting.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use url::Host;

use super::error::FlowError;
use super::page::Page;
use crate::protocol::{CallbackError, PendingAuthorization};
use crate::types::{AuthorizationCode, RedirectUri};

/// Limits for the listener.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerOptions {
    /// How long to wait for the redirect (default 5 minutes).
    pub timeout: Duration,
    /// How long one connection may take to send its request head (slowloris guard).
    pub header_read_timeout: Duration,
    /// Connections served at once; more are closed at once (junk-connection guard).
    pub max_connections: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

impl ListenerOptions {
    /// Sets the overall timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A bound loopback listener. Bind first, then build the authorization request with
/// [`redirect_uri`](Self::redirect_uri) (which carries the port actually bound).
///
/// ```no_run
/// # async fn run(client: authflow::client::OAuthClient) -> Result<(), Box<dyn std::error::Error>> {
/// use authflow::flow::{ListenerOptions, LoopbackListener, open_browser};
/// use authflow::random::OsRandom;
/// use authflow::types::RedirectUri;
///
/// let listener = LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback")?).await?;
/// let (url, pending) = client
///     .authorization_request(listener.redirect_uri().clone())?
///     .build(&mut OsRandom)?;
/// open_browser(&url)?;
/// let code = listener.wait(&pending, &ListenerOptions::default()).await?;
/// let tokens = client.exchange_code(&pending, code).await?;
/// # let _ = tokens; Ok(()) }
/// ```
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: RedirectUri,
}

impl LoopbackListener {
    /// Binds the host of `redirect_uri` (an IP literal, or `localhost` → 127.0.0.1) on its
    /// port, or on an ephemeral port when it has none.
    pub async fn bind(redirect_uri: &RedirectUri) -> Result<Self, FlowError> {
        if !redirect_uri.is_loopback() {
            return Err(FlowError::NotLoopback(redirect_uri.to_string()));
        }
        let url = redirect_uri.as_url();
        let ip: IpAddr = match url.host() {
            Some(Host::Ipv4(ip)) => ip.into(),
            Some(Host::Ipv6(ip)) => ip.into(),
            _ => Ipv4Addr::LOCALHOST.into(),
        };
        let port = url.port().unwrap_or(0);
        let addr = SocketAddr::new(ip, port);
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                FlowError::PortInUse {
                    host: ip.to_string(),
                    port,
                }
            } else {
                FlowError::Bind {
                    addr: addr.to_string(),
                    source: e,
                }
            }
        })?;
        let bound = listener.local_addr().map_err(|e| FlowError::Bind {
            addr: addr.to_string(),
            source: e,
        })?;
        let redirect_uri = redirect_uri
            .with_port(bound.port())
            .map_err(|_| FlowError::NotLoopback(redirect_uri.to_string()))?;
        tracing::debug!(%redirect_uri, "loopback listener bound");
        Ok(Self {
            listener,
            redirect_uri,
        })
    }

    /// The redirect URI to send in the authorization request, with the bound port.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the redirect for `pending` arrives, the server's error arrives, or the
    /// timeout passes. Cancel-safe: dropping the future closes the listener.
    pub async fn wait(
        self,
        pending: &PendingAuthorization,
        options: &ListenerOptions,
    ) -> Result<AuthorizationCode, FlowError> {
        let (tx, mut rx) = mpsc::channel(1);
        let port = self.redirect_uri.as_url().port().unwrap_or(80);
        let host = self.redirect_uri.as_url().host_str().unwrap_or("127.0.0.1");
        let state = Arc::new(State {
            pending: pending.clone(),
            path: self.redirect_uri.as_url().path().to_owned(),
            hosts: [format!("{host}:{port}"), format!("localhost:{port}")],
            done: AtomicBool::new(false),
            tx,
        });
        let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let mut connections = JoinSet::new();
        let deadline = tokio::time::sleep(options.timeout);
        tokio::pin!(deadline);

        // A connection is accepted only with a permit in hand: when idle sockets hold
        // them all, newcomers wait in the kernel's backlog instead of being dropped.
        let mut permit: Option<tokio::sync::OwnedSemaphorePermit> = None;
        let outcome = loop {
            tokio::select! {
                biased;
                Some(outcome) = rx.recv() => break outcome,
                () = &mut deadline => {
                    break Err(FlowError::Timeout {
                        redirect_uri: self.redirect_uri.to_string(),
                        seconds: options.timeout.as_secs(),
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                p = permits.clone().acquire_owned(), if permit.is_none() => permit = p.ok(),
                accepted = self.listener.accept(), if permit.is_some() => {
                    let Ok((stream, _peer)) = accepted else {
                        // Out of descriptors or similar: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let Some(held) = permit.take() else { continue };
                    let state = state.clone();
                    let header_timeout = options.header_read_timeout;
                    connections.spawn(async move {
                        serve(stream, state, header_timeout).await;
                        drop(held);
                    });
                }
            }
        };

        // Let the winning connection deliver its page; idle ones are cut after a moment.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        outcome
    }
}

struct State {
    pending: PendingAuthorization,
    path: String,
    /// `Host` values a browser sends here; anything else is a DNS-rebinding attempt.
    hosts: [String; 2],
    done: AtomicBool,
    tx: mpsc::Sender<Result<AuthorizationCode, FlowError>>,
}

async fn serve(stream: TcpStream, state: Arc<State>, header_timeout: Duration) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(false)
        .max_buf_size(16 * 1024);
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&req, &state)) }
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    // Errors here are the client's (garbage, resets, oversized heads): not the flow's.
    let _ = tokio::time::timeout(header_timeout.saturating_mul(3), conn).await;
}

fn handle(req: &Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return page(&Page::BadHost);
    }
    if req.uri().path() != state.path {
        return page(&Page::NotFound);
    }
    if req.method() != hyper::Method::GET {
        return page(&Page::MethodNotAllowed);
    }
    if state.done.load(Ordering::Acquire) {
        return page(&Page::AlreadyDone);
    }
    match state
        .pending
        .validate_query(req.uri().query().unwrap_or(""))
    {
        Err(e) if e.is_unrelated() => {
            tracing::debug!("ignored a redirect with a missing or foreign state");
            page(&Page::Unrelated)
        }
        result => {
            if state.done.swap(true, Ordering::AcqRel) {
                return page(&Page::AlreadyDone);
            }
            let shown = match &result {
                Ok(_) => page(&Page::Success),
                Err(e) => page(&Page::Failure(&failure_text(e))),
            };
            let _ = state.tx.try_send(result.map_err(FlowError::Callback));
            shown
        }
    }
}

fn failure_text(e: &CallbackError) -> String {
    let s = e.to_string();
    s.trim_end_matches('.').to_owned()
}

fn page(p: &Page<'_>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(p.render())));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(p.status()).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: hyper::header::HeaderName, v: &'static str| {
        h.insert(k, hyper::header::HeaderValue::from_static(v));
    };
    set(h, hyper::header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(h, hyper::header::CACHE_CONTROL, "no-store");
    // The URL carries the code: no referrer leaves this page, nothing loads from elsewhere.
    set(h, hyper::header::REFERRER_POLICY, "no-referrer");
    set(h, hyper::header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        hyper::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'",
    );
    resp
}
