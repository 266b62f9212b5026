//! `authflow demo`: the whole job against an embedded provider, every step narrated with
//! its HTTP exchange (secrets masked). Works headless: without a browser the demo follows
//! the redirects itself and the provider approves as its demo user.

use std::sync::Arc;
use std::time::Duration;

use authflow::client::{HttpClient, OAuthClient, ReqwestClient};
use authflow::flow::{ListenerOptions, LoopbackListener, open_browser};
use authflow::protocol::Credentials;
use authflow::random::OsRandom;
use authflow::session::{
    AuthorizedClient, AuthorizedError, MemoryStore, RefreshTokenProvider, TokenSource,
    TokenStore as _,
};
use authflow::types::{ClientId, IssuerUrl, RedirectUri, Scope};
use authflow_provider::Provider;
use clap::Args;

use crate::cli::Global;
use crate::exit::{CliError, Code};
use crate::output::{bold, dim, green};
use crate::verbose::{Verbose, mask_url};

/// Options of `authflow demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Open a real browser (the provider still approves as the demo user). By default a
    /// browser is used only when $BROWSER is set.
    #[arg(long)]
    pub(crate) browser: bool,
    /// The demo user the provider approves as.
    #[arg(long, default_value = "alice")]
    pub(crate) user: String,
}

pub(crate) fn run(_global: &Global, args: DemoArgs) -> Result<(), CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(demo(args))
}

fn step(n: u32, title: &str) {
    println!("\n{} {}", bold(&format!("{n}.")), bold(title));
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::new(Code::Failure, e.to_string())
}

async fn demo(args: DemoArgs) -> Result<(), CliError> {
    step(
        1,
        "Start the embedded provider (authorization server + protected resource)",
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let issuer = IssuerUrl::new(&format!("http://{addr}"))?;
    let provider = Provider::builder()
        .demo()
        .issuer(issuer.clone())
        .auto_approve(Some(args.user.clone()))
        .build()
        .map_err(fail)?;
    let router = provider.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!(
        "   issuer {}, approving as `{}`",
        issuer.as_issuer_str(),
        args.user
    );

    // Every exchange below is printed, masked, by this client.
    let http: Arc<dyn HttpClient> = Arc::new(Verbose::new(Arc::new(ReqwestClient::new()?)));

    step(2, "Discover the provider's endpoints (RFC 8414)");
    let client = OAuthClient::builder(Credentials::public(ClientId::new("authflow-cli")?))
        .http_client(http.clone())
        .discover(&issuer)
        .await?;

    step(3, "Listen on a loopback port for the redirect (RFC 8252)");
    let loopback = LoopbackListener::bind(&RedirectUri::new("http://127.0.0.1/callback")?).await?;
    println!("   redirect URI {}", loopback.redirect_uri());

    step(4, "Build the authorization URL: state, PKCE S256, nonce");
    let scope = Scope::parse("openid profile api:read offline_access")?;
    let (url, pending) = client
        .authorization_request(loopback.redirect_uri().clone())?
        .scope(scope.clone())
        .login_hint(args.user.clone())
        .build(&mut OsRandom)?;
    println!("   {}", dim(&mask_url(url.as_str())));

    step(5, "Send the browser there and catch the redirect");
    let use_browser = args.browser || std::env::var_os("BROWSER").is_some();
    let browser = if use_browser {
        open_browser(&url)?;
        println!("   opened your browser");
        None
    } else {
        println!("   no browser: following the redirects here, as a browser would");
        let url = url.clone();
        Some(tokio::spawn(async move { headless_browser(url).await }))
    };
    let code = loopback
        .wait(
            &pending,
            &ListenerOptions::default().timeout(Duration::from_secs(120)),
        )
        .await?;
    if let Some(b) = browser {
        b.await.map_err(fail)??;
    }
    println!(
        "   {} redirect received: state matches, iss matches, code ‹redacted›",
        green("✓")
    );

    step(
        6,
        "Exchange the code (PKCE verifier) and check the ID token: signature (JWKS), iss, aud, exp, nonce, at_hash",
    );
    let login = client.complete_login_code(&pending, code).await?;
    let tokens = login.tokens;
    println!(
        "   {} access token ({}), refresh token: {}",
        green("✓"),
        crate::output::expiry(tokens.expires_at, std::time::SystemTime::now()),
        if tokens.refresh_token.is_some() {
            "yes"
        } else {
            "no"
        }
    );
    // `openid` was asked for: the login fails without verified claims.
    if let Some(claims) = &login.claims {
        println!("   {} signed in as `{}`", green("✓"), claims.sub);
    }

    step(7, "Call the protected API with the bearer token");
    let store = Arc::new(MemoryStore::new());
    store.save(&tokens).await?;
    let source = TokenSource::builder()
        .shared_store(store.clone())
        .provider(RefreshTokenProvider::new(client.clone()))
        .build();
    let api = AuthorizedClient::with_shared_http(source.clone(), http.clone());
    let me = format!("{}/api/me", issuer.as_issuer_str());
    let body = call(&api, &me).await?;
    println!("   {} {body}", green("✓"));

    step(8, "Refresh the access token (the refresh token rotates)");
    let old_rt = tokens.refresh_token.clone();
    let fresh = source.force_refresh().await?;
    let rotated = old_rt.is_some() && fresh.refresh_token != old_rt;
    println!(
        "   {} new access token, refresh token rotated: {}",
        green("✓"),
        if rotated { "yes" } else { "no" }
    );
    let body = call(&api, &me).await?;
    println!("   {} {body}", green("✓"));

    step(
        9,
        "Log out: revoke the refresh token, then the access token (RFC 7009)",
    );
    client
        .revoke(Some(&fresh.access_token), fresh.refresh_token.as_ref())
        .await?;
    println!("   {} revoked", green("✓"));

    step(10, "The API now refuses the token");
    match api.send(get(&me)?).await {
        Err(e @ AuthorizedError::TokenRejected { .. }) => println!("   {} {e}", green("✓")),
        Err(AuthorizedError::Session(e)) => println!("   {} {e}", green("✓")),
        Err(e) => return Err(e.into()),
        Ok(r) => {
            return Err(fail(format!(
                "the API still answered {} after revocation",
                r.status()
            )));
        }
    }
    println!(
        "\n{} The whole Authorization Code flow ran against {}.",
        green("Done."),
        issuer.as_issuer_str()
    );
    Ok(())
}

fn get(url: &str) -> Result<http::Request<Vec<u8>>, CliError> {
    http::Request::get(url).body(Vec::new()).map_err(fail)
}

async fn call(api: &AuthorizedClient, url: &str) -> Result<String, CliError> {
    let resp = api.send(get(url)?).await?;
    if !resp.status().is_success() {
        return Err(fail(format!("{url} answered {}", resp.status())));
    }
    Ok(String::from_utf8_lossy(resp.body()).into_owned())
}

/// Plays the browser: follows redirects (only to loopback addresses) until the listener.
async fn headless_browser(url: url::Url) -> Result<(), CliError> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let loopback = attempt
                .url()
                .host_str()
                .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]");
            if attempt.previous().len() > 10 || !loopback {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(fail)?;
    let page = browser.get(url).send().await.map_err(fail)?;
    if !page.status().is_success() {
        return Err(fail(format!(
            "the browser ended on {} with HTTP {}",
            mask_url(page.url().as_str()),
            page.status()
        )));
    }
    Ok(())
}
