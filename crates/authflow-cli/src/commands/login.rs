//! `authflow login`: authorization code + PKCE through the browser and a loopback listener.

use std::time::{Duration, SystemTime};

use authflow::client::OAuthClient;
use authflow::flow::{ListenerOptions, LoopbackListener, open_browser};
use authflow::session::Login;
use authflow::session::TokenStore as _;
use authflow::types::RedirectUri;
use clap::Args;

use super::resource_login::{self, ResourceFlags, ResourceLogin};
use crate::cli::{ClientArgs, Global};
use crate::context::Ctx;
use crate::exit::{CliError, Code};
use crate::output;
use crate::profile::Config;

pub(crate) const EXAMPLES: &str = "Examples:
  authflow login --issuer http://127.0.0.1:8080 --client-id authflow-cli \\
                 --scope 'openid profile api:read offline_access'
  authflow login --profile work
  authflow login --no-browser        print the URL instead of opening a browser
  authflow login --paste             remote shell: paste back the address the browser ends on
  authflow login --dpop              bind the tokens to a new key (DPoP): `authflow curl` proves it
  authflow login --par               push the request to the server first (PAR)
  authflow login --client-id my-app --auth-method private_key_jwt \\
                 --client-key ~/.config/my-app/key.pem --client-key-id key-1 --request-object
  AUTHFLOW_CLIENT_SECRET=... authflow login --client-id my-app --auth-method client_secret_jwt

  authflow login --resource https://api.example.com/mcp
                                     discover the server from the resource, register if needed
  authflow login --resource https://api.example.com/mcp --client-id my-app --issuer https://as.example

A login without --profile saves the options it used as the `default` profile, --dpop,
--par, --request-object, --auth-method and the --client-key path included (never a key).";

/// Options of `authflow login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// No listener: open the URL on any machine, then paste the address the browser
    /// ends on (it fails to load; that is expected).
    #[arg(long, conflicts_with = "no_browser")]
    pub(crate) paste: bool,
    /// How long to wait for the browser.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub(crate) timeout: humantime::Duration,
    /// `login_hint`: who should log in.
    #[arg(long)]
    pub(crate) login_hint: Option<String>,
    /// `prompt`: login, consent, select_account, none.
    #[arg(long)]
    pub(crate) prompt: Option<String>,
    /// Device flow (RFC 8628): show a code to enter on another device; no redirect.
    #[arg(long, conflicts_with_all = ["paste", "redirect_uri"])]
    pub(crate) device: bool,
    #[command(flatten)]
    pub(crate) resource: ResourceFlags,
}

impl LoginArgs {
    /// A browser login with the defaults, for logins other commands start.
    pub(crate) fn browser_default() -> Result<Self, CliError> {
        Ok(Self {
            client: ClientArgs::default(),
            no_browser: false,
            paste: false,
            timeout: "5m"
                .parse()
                .map_err(|e| CliError::new(Code::Failure, format!("timeout: {e}")))?,
            login_hint: None,
            prompt: None,
            device: false,
            resource: ResourceFlags::default(),
        })
    }

    /// A login from a resource URL alone: one `--resource` and no endpoints given, or
    /// an option only such a login takes.
    fn resource_login(&self) -> Result<Option<(url::Url, ResourceLogin)>, CliError> {
        let c = &self.client;
        let flags =
            self.resource.client_id_url.is_some() || !self.resource.allow_metadata_urls.is_empty();
        let [resource] = c.resources.as_slice() else {
            if flags {
                return Err(CliError::usage(
                    "--client-id-url and --allow-metadata-url go with exactly one --resource URL",
                ));
            }
            return Ok(None);
        };
        if c.token_endpoint.is_some() || c.authorization_endpoint.is_some() {
            return Ok(None);
        }
        let url = url::Url::parse(resource)
            .map_err(|e| CliError::usage(format!("--resource {resource}: {e}")))?;
        Ok(Some((
            url,
            ResourceLogin {
                issuer: c.issuer.clone(),
                client_id: c.client_id.clone(),
                client_id_url: self.resource.client_id_url.clone(),
                scope: c.scope.clone(),
                allow_metadata_urls: self.resource.allow_metadata_urls.clone(),
            },
        )))
    }
}

pub(crate) fn run(global: &Global, args: LoginArgs) -> Result<(), CliError> {
    if let Some((url, choice)) = args.resource_login()? {
        return super::runtime()?
            .block_on(resource_login::discover_and_login(
                global, &choice, &url, None, &args,
            ))
            .map(drop);
    }
    let ctx = Ctx::resolve(global, Some(&args.client))?;
    super::runtime()?.block_on(login(global, &ctx, &args))
}

async fn login(global: &Global, ctx: &Ctx, args: &LoginArgs) -> Result<(), CliError> {
    let client = ctx.client_for_grant().await?;
    let done = if args.device {
        super::device::device_login(ctx, &client, args).await?
    } else {
        interactive_login(ctx, &client, args).await?
    };
    ctx.store()?.save(&done.tokens).await?;
    remember_profile(global, ctx, args)?;
    print_result(ctx, &done);
    Ok(())
}

/// Runs the browser half, then finishes the login by the library's one rule set (code
/// exchange, ID token verified whenever there is one, required with `openid`).
pub(crate) async fn interactive_login(
    ctx: &Ctx,
    client: &OAuthClient,
    args: &LoginArgs,
) -> Result<Login, CliError> {
    let redirect = ctx.redirect_uri()?;
    let listener = if args.paste {
        None
    } else {
        Some(LoopbackListener::bind(&redirect).await?)
    };
    let redirect_uri = listener
        .as_ref()
        .map(|l| l.redirect_uri().clone())
        .unwrap_or(redirect);

    let scope = ctx.scope()?;
    let mut req = client
        .authorization_request(redirect_uri.clone())?
        .scope(scope.clone());
    for r in ctx.resources()? {
        req = req.resource(r);
    }
    for (k, v) in ctx.extra_params() {
        req = req.param(k, v);
    }
    if let Some(h) = &args.login_hint {
        req = req.login_hint(h.clone());
    }
    if let Some(p) = &args.prompt {
        req = req.prompt(p.clone());
    }
    if ctx.profile.par && client.endpoints().pushed_authorization.is_none() {
        return Err(CliError::config(
            "--par: the server announces no pushed_authorization_request_endpoint",
        ));
    }
    // PAR (asked for, or required by the server) and request objects happen here.
    let (url, pending) = client.start_authorization(&req).await?;

    let code = match listener {
        None => {
            let pasted = paste_flow(&url, &redirect_uri).await?;
            return Ok(client.complete_login(&pending, &pasted).await?);
        }
        Some(listener) => {
            if args.no_browser {
                output::note(&format!(
                    "Open this URL in a browser to log in:\n\n  {url}\n"
                ));
            } else {
                match open_browser(&url) {
                    Ok(_) => output::note(&format!(
                        "Opened your browser. If it did not open, visit:\n\n  {url}\n"
                    )),
                    Err(e) => output::note(&format!("{e}:\n\n  {url}\n")),
                }
            }
            let spinner = spinner(&format!("Waiting for the redirect to {redirect_uri} …"));
            let options = ListenerOptions::default().timeout(args.timeout.into());
            let result = listener.wait(&pending, &options).await;
            spinner.finish_and_clear();
            result?
        }
    };

    Ok(client.complete_login_code(&pending, code).await?)
}

/// Shows the URL and reads back the address the browser ended on.
async fn paste_flow(url: &url::Url, redirect: &RedirectUri) -> Result<url::Url, CliError> {
    output::note(&format!(
        "Open this URL in a browser on any machine:\n\n  {url}\n\n\
         After you approve, the browser goes to {redirect} and fails to load: that is expected.\n\
         Paste the full address from its address bar here and press Enter:"
    ));
    let line = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s).map(|_| s)
    })
    .await
    .map_err(|e| CliError::new(Code::Failure, e.to_string()))??;
    url::Url::parse(line.trim()).map_err(|_| {
        CliError::usage(format!(
            "that is not a URL; paste the address starting with {redirect}"
        ))
    })
}

pub(crate) fn spinner(msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(msg.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A login without `--profile` saves what it used as the `default` profile; a login with
/// options for a profile that does not exist yet creates it.
fn remember_profile(global: &Global, ctx: &Ctx, args: &LoginArgs) -> Result<(), CliError> {
    if !args.client.any() || (global.profile.is_some() && ctx.saved) {
        return Ok(());
    }
    let mut config = Config::load()?;
    config
        .profiles
        .insert(ctx.name.clone(), ctx.profile.clone());
    config.save()
}

pub(crate) fn print_result(ctx: &Ctx, done: &Login) {
    let now = SystemTime::now();
    let t = &done.tokens;
    let who = done.claims.as_ref().map(|c| {
        c.string("preferred_username")
            .or_else(|| c.string("email"))
            .unwrap_or(c.sub.as_str())
            .to_owned()
    });
    if ctx.json {
        output::json(&serde_json::json!({
            "profile": ctx.name,
            "subject": done.claims.as_ref().map(|c| c.sub.clone()),
            "user": who,
            "scope": t.scope.as_ref().map(ToString::to_string),
            "expires_at": output::unix(t.expires_at),
            "refresh_token": t.refresh_token.is_some(),
            "token_type": t.token_type,
            "dpop_jkt": output::dpop_jkt(t),
        }));
        return;
    }
    let who = who
        .map(|w| format!(" as {}", output::bold(&w)))
        .unwrap_or_default();
    eprintln!(
        "{} Logged in{who} (profile `{}`).",
        output::green("✓"),
        ctx.name
    );
    let scope = t
        .scope
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    eprintln!(
        "  scopes: {}\n  access token {}; refresh token: {}",
        if scope.is_empty() {
            "(server default)".to_owned()
        } else {
            scope
        },
        output::expiry(t.expires_at, now),
        if t.refresh_token.is_some() {
            "yes"
        } else {
            "no"
        }
    );
    match (output::dpop_jkt(t), &t.dpop) {
        (Some(jkt), _) => eprintln!("  DPoP-bound (jkt {jkt})"),
        (None, Some(_)) => eprintln!(
            "  {} the server issued a {} token, not a DPoP-bound one",
            output::paint("note:", "33"),
            t.token_type
        ),
        (None, None) => {}
    }
}
