//! `authflow curl`: an HTTP request with the bearer token, refreshed and retried once on
//! `401 invalid_token`; RFC 6750 challenges explained in words.

use std::io::{Read as _, Write as _};

use authflow::session::{AuthorizedClient, AuthorizedError};
use clap::Args;

use authflow::protocol::MAX_RESPONSE_BYTES;

use super::login::LoginArgs;
use super::resource_login::{self, ResourceFlags, ResourceLogin};
use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::{CliError, Code};
use crate::profile::Config;

pub(crate) const EXAMPLES: &str = "Examples:
  authflow curl http://127.0.0.1:8080/api/me
  authflow curl -X POST -H 'Content-Type: application/json' -d '{\"n\":1}' https://api.example.com/items
  authflow curl -i -f https://api.example.com/me     headers too; exit 22 on HTTP errors
  authflow curl -d @body.json https://api.example.com/items
  authflow curl --client-id my-app https://api.example.com/mcp
                     no profile yet: on a 401, log in to the server the resource names

Without --profile, a profile made for the URL's resource is used, else `default`.";

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
    #[command(flatten)]
    pub(crate) login: CurlLoginArgs,
}

/// How `curl` logs in when the resource answers `401` and no profile is made for it.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CurlLoginArgs {
    /// On a 401 without a profile: the authorization server to use (one the resource
    /// lists) [default: the first it lists].
    #[arg(long)]
    pub(crate) issuer: Option<String>,
    /// On a 401 without a profile: a client id registered at the server.
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    /// On a 401 without a profile: the scopes to ask for [default: what the resource
    /// names].
    #[arg(long)]
    pub(crate) scope: Option<String>,
    #[command(flatten)]
    pub(crate) resource: ResourceFlags,
}

impl CurlLoginArgs {
    fn any(&self) -> bool {
        self.issuer.is_some()
            || self.client_id.is_some()
            || self.scope.is_some()
            || self.resource.client_id_url.is_some()
            || !self.resource.allow_metadata_urls.is_empty()
    }
}

pub(crate) fn run(global: &Global, args: CurlArgs) -> Result<(), CliError> {
    let body = read_body(&args)?;
    let rt = super::runtime()?;
    let ctx = match profile_for(global, &args)? {
        Some(ctx) => ctx,
        None => {
            // No profile for this resource: ask it, and log in when it wants a token.
            let http = Ctx::http_for(global.verbose)?;
            let first = build_request(&args, body.clone())?;
            let resp = rt.block_on(async { http.send(first, MAX_RESPONSE_BYTES).await })?;
            if resp.status() != http::StatusCode::UNAUTHORIZED {
                return finish(&resp, &args);
            }
            let url = url::Url::parse(&args.url)
                .map_err(|e| CliError::usage(format!("{}: {e}", args.url)))?;
            let choice = ResourceLogin {
                issuer: args.login.issuer.clone(),
                client_id: args.login.client_id.clone(),
                client_id_url: args.login.resource.client_id_url.clone(),
                scope: args.login.scope.clone(),
                allow_metadata_urls: args.login.resource.allow_metadata_urls.clone(),
            };
            let login = LoginArgs::browser_default()?;
            rt.block_on(resource_login::discover_and_login(
                global,
                &choice,
                &url,
                Some(resp.headers().clone()),
                &login,
            ))?
        }
    };
    let request = build_request(&args, body)?;
    let source = super::lazy::user_source(&ctx)?;
    let api = AuthorizedClient::with_shared_http(source, ctx.http()?);
    let result = rt.block_on(api.send(request));
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
    finish(&resp, &args)
}

fn finish(resp: &http::Response<bytes::Bytes>, args: &CurlArgs) -> Result<(), CliError> {
    write_response(resp, args.include)?;
    if args.fail && resp.status().as_u16() >= 400 {
        return Err(CliError::new(
            Code::HttpFail,
            format!("the server answered HTTP {}", resp.status()),
        ));
    }
    Ok(())
}

/// `--profile` (or AUTHFLOW_PROFILE), else the profile made for the URL's resource,
/// else `default` unless login options ask for a login to the resource. `None`: no
/// profile, try the resource without a token.
fn profile_for(global: &Global, args: &CurlArgs) -> Result<Option<Ctx>, CliError> {
    if global.profile.is_some() {
        return Ctx::resolve(global, None).map(Some);
    }
    let config = Config::load()?;
    if let Ok(url) = url::Url::parse(&args.url)
        && let Some((name, profile)) = resource_login::profile_for_url(&config, &url)
    {
        return Ok(Some(Ctx::saved_profile(global, name, profile)));
    }
    if args.login.any() || config.profile("default").is_none() {
        return Ok(None);
    }
    Ctx::resolve(global, None).map(Some)
}

fn read_body(args: &CurlArgs) -> Result<Vec<u8>, CliError> {
    Ok(match &args.data {
        None => Vec::new(),
        Some(d) if d == "@-" => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b)?;
            b
        }
        Some(d) if d.starts_with('@') => std::fs::read(&d[1..])
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", &d[1..])))?,
        Some(d) => d.as_bytes().to_vec(),
    })
}

fn build_request(args: &CurlArgs, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, CliError> {
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
