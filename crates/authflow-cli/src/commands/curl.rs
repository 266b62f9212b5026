//! `authflow curl`: an HTTP request with the bearer token, refreshed and retried once on
//! `401 invalid_token`; RFC 6750 challenges explained in words.

use std::io::{Read as _, Write as _};

use authflow::session::{AuthorizedClient, AuthorizedError};
use clap::Args;

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::{CliError, Code};

pub(crate) const EXAMPLES: &str = "Examples:
  authflow curl http://127.0.0.1:8080/api/me
  authflow curl -X POST -H 'Content-Type: application/json' -d '{\"n\":1}' https://api.example.com/items
  authflow curl -i -f https://api.example.com/me     headers too; exit 22 on HTTP errors
  authflow curl -d @body.json https://api.example.com/items";

/// Options of `authflow curl` (a subset of curl's, same letters).
#[derive(Debug, Args)]
pub(crate) struct CurlArgs {
    /// The URL (https, or http to a loopback host).
    pub(crate) url: String,
    /// HTTP method [default: GET, or POST with --data].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// Header, "Name: value"; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,
    /// Body; @FILE reads a file, @- standard input. Sent as a form unless a
    /// Content-Type header says otherwise.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub(crate) data: Option<String>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long)]
    pub(crate) include: bool,
    /// Exit 22 when the status is 400 or more (like curl --fail).
    #[arg(short = 'f', long)]
    pub(crate) fail: bool,
}

pub(crate) fn run(global: &Global, args: CurlArgs) -> Result<(), CliError> {
    let ctx = Ctx::resolve(global, None)?;
    let request = build_request(&args)?;
    let source = super::lazy::user_source(&ctx)?;
    let api = AuthorizedClient::with_shared_http(source, ctx.http()?);
    let result = super::runtime()?.block_on(api.send(request));
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            // Show what the resource said, then explain.
            if let Some(r) = e.response() {
                write_response(r, args.include)?;
            }
            return Err(explain(e, &ctx));
        }
    };
    write_response(&resp, args.include)?;
    if args.fail && resp.status().as_u16() >= 400 {
        return Err(CliError::new(
            Code::HttpFail,
            format!("the server answered HTTP {}", resp.status()),
        ));
    }
    Ok(())
}

fn build_request(args: &CurlArgs) -> Result<http::Request<Vec<u8>>, CliError> {
    let body = match &args.data {
        None => Vec::new(),
        Some(d) if d == "@-" => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b)?;
            b
        }
        Some(d) if d.starts_with('@') => std::fs::read(&d[1..])
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", &d[1..])))?,
        Some(d) => d.as_bytes().to_vec(),
    };
    let method = match &args.method {
        Some(m) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| CliError::usage(format!("invalid method `{m}`")))?,
        None if args.data.is_some() => http::Method::POST,
        None => http::Method::GET,
    };
    let has_body = args.data.is_some();
    let mut req = http::Request::builder().method(method).uri(&args.url);
    let mut content_type = false;
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| CliError::usage(format!("header `{h}` is not `Name: value`")))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("authorization") {
            return Err(CliError::usage(
                "authflow curl sets the Authorization header itself; drop -H 'Authorization: ...'",
            ));
        }
        content_type |= name.eq_ignore_ascii_case("content-type");
        req = req.header(name, value.trim());
    }
    if has_body && !content_type {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    req.body(body)
        .map_err(|e| CliError::usage(format!("invalid request: {e}")))
}

fn write_response(r: &http::Response<bytes::Bytes>, include: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if include {
        writeln!(out, "{:?} {}", r.version(), r.status())?;
        for (k, v) in r.headers() {
            writeln!(out, "{k}: {}", v.to_str().unwrap_or("(binary)"))?;
        }
        writeln!(out)?;
    }
    out.write_all(r.body())?;
    out.flush()?;
    Ok(())
}

fn explain(e: AuthorizedError, ctx: &Ctx) -> CliError {
    match &e {
        AuthorizedError::TokenRejected { .. } => CliError::new(
            Code::OAuth,
            format!(
                "{e}; the token was refreshed once and still refused: {}",
                ctx.login_hint()
            ),
        ),
        AuthorizedError::InsufficientScope { required, .. } => {
            let hint = match required {
                Some(s) => format!(
                    ": authflow login --scope '{}'",
                    ctx.scope()
                        .map(|mut have| {
                            for t in s.iter() {
                                have.insert(t.clone());
                            }
                            have.to_string()
                        })
                        .unwrap_or_else(|_| s.to_string())
                ),
                None => String::new(),
            };
            CliError::new(Code::OAuth, format!("{e}{hint}"))
        }
        _ => e.into(),
    }
}
