//! `authflow serve`: the development provider on a local port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use authflow::types::{AccessToken, IssuerUrl};
use authflow_provider::config::ProviderConfig;
use authflow_provider::{
    ClientConfig, ClientKind, IdTokenKey, Provider, Quirk, SigningKey, StoreLocation,
};
use clap::Args;

use super::CommandError;

pub(crate) const EXAMPLES: &str = "Examples:
  authflow serve                                  demo clients and users on 127.0.0.1:8080
  authflow serve --port 0                         any free port (printed)
  authflow serve --auto-approve alice             no login page: approve as alice
  authflow serve --config provider.toml --access-token-ttl 5s
  authflow serve --key ed25519.pem --id-token-key rsa.pem   keys that survive restarts
  authflow serve --require-par --dpop-nonce       PAR only at /authorize; DPoP proofs need a nonce
  authflow serve --store redis://127.0.0.1:6379/0 --issuer http://auth.test:8080
                                                  state in Redis: survives restarts, shared by
                                                  every instance with the same issuer";

/// Options of `authflow serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port to listen on; 0 picks a free one and prints it.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Issuer URL (default: http://HOST:PORT as bound).
    #[arg(long)]
    issuer: Option<String>,
    /// TOML file declaring clients, users, lifetimes and quirks (default: the demo setup).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Access token lifetime, e.g. 5s, 10m, 1h.
    #[arg(long, value_name = "DURATION")]
    access_token_ttl: Option<humantime::Duration>,
    /// Skip login and consent: approve every request as USER (or the user named by
    /// `login_hint`).
    #[arg(long, value_name = "USER")]
    auto_approve: Option<String>,
    /// Ed25519 signing key (PKCS#8, PEM or DER); default: a fresh key per run (with
    /// --store redis://..., the one kept in Redis).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// RSA key for ID tokens (RS256; PEM `PRIVATE KEY` or `RSA PRIVATE KEY`, or DER);
    /// default: a fresh 2048-bit key per run (with --store redis://..., the one kept in
    /// Redis).
    #[arg(long, value_name = "FILE")]
    id_token_key: Option<PathBuf>,
    /// DPoP proofs must carry a server nonce: without one, `400 use_dpop_nonce` and a
    /// `DPoP-Nonce` header (RFC 9449 §8). Also `dpop_nonce = true` in the config file.
    #[arg(long)]
    dpop_nonce: bool,
    /// `/authorize` accepts only requests pushed to `/par` first, for every client
    /// (RFC 9126). Also `require_pushed_authorization_requests = true` in the config file.
    #[arg(long)]
    require_par: bool,
    /// Where to keep codes, grants, refresh tokens, logins and the like: `memory` (the
    /// default; lost on exit) or redis://[:PASSWORD@]HOST[:PORT][/DB], shared by every
    /// instance with the same issuer and kept across restarts. Without --key and
    /// --id-token-key the keys are then made once and kept in Redis. Also `store = "..."`
    /// in the config file.
    // Parsed in `serve`: clap would echo a refused value, password and all.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Require this initial access token (`Authorization: Bearer TOKEN`) at `/register`
    /// (RFC 7591); without it dynamic registration is open, as fits a dev server. Also
    /// `registration_initial_token = "..."` in the config file.
    #[arg(long, value_name = "TOKEN")]
    registration_token: Option<String>,
    /// Also accept client ID metadata documents at http://127.0.0.1:PORT/... and fetch
    /// from loopback addresses (tests, local development). Without it a client ID URL
    /// must be https on a public address. Also `allow_loopback_client_ids = true` in the
    /// config file.
    #[arg(long)]
    allow_loopback_client_ids: bool,
    /// Behave like an odd real provider (testing only), e.g. error_in_200.
    #[arg(long = "quirk", value_name = "NAME", hide = true)]
    quirks: Vec<Quirk>,
}

pub(crate) fn run(args: ServeArgs) -> Result<(), CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    let (config, from_file) = match &args.config {
        Some(path) => (ProviderConfig::from_file(path)?, true),
        None => (ProviderConfig::demo(), false),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let issuer = match (&args.issuer, &config.issuer) {
        (Some(i), _) => IssuerUrl::new(i)?,
        (None, Some(i)) => i.clone(),
        (None, None) => {
            let host = if addr.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                addr.ip()
            };
            IssuerUrl::new(&format!("http://{}", SocketAddr::new(host, addr.port())))?
        }
    };
    let clients = config.clients.clone();
    let users: Vec<(String, String)> = config
        .users
        .iter()
        .map(|u| (u.username().to_owned(), u.password().to_owned()))
        .collect();
    let mut quirks = config.quirks;
    let store = match &args.store {
        Some(s) => s.parse::<StoreLocation>()?,
        None => config.store.clone().unwrap_or_default(),
    };
    let dpop_nonce = args.dpop_nonce || config.dpop_nonce;
    let registration_token =
        args.registration_token.is_some() || config.registration_initial_token.is_some();
    let require_par = args.require_par || config.require_pushed_authorization_requests;
    for q in &args.quirks {
        quirks = quirks.with(*q);
    }
    let mut builder = config
        .apply(Provider::builder())
        .issuer(issuer.clone())
        .quirks(quirks);
    if let Some(ttl) = args.access_token_ttl {
        builder = builder.access_token_ttl(ttl.into());
    }
    if args.auto_approve.is_some() {
        builder = builder.auto_approve(args.auto_approve.clone());
    }
    builder = builder
        .dpop_nonce(dpop_nonce)
        .require_pushed_authorization_requests(require_par)
        .dynamic_registration(true)
        .client_id_metadata_documents(true);
    if args.allow_loopback_client_ids {
        builder = builder.allow_loopback_client_ids(true);
    }
    if let Some(token) = &args.registration_token {
        let token = AccessToken::new(token.as_str())
            .map_err(|_| "--registration-token must be printable ASCII")?;
        builder = builder.registration_initial_token(token);
    }
    if let Some(path) = &args.key {
        builder = builder.signing_key(SigningKey::from_file(path)?);
    }
    if let Some(path) = &args.id_token_key {
        builder = builder.id_token_key(IdTokenKey::from_file(path)?);
    }
    let mut notes = Vec::new();
    // The issuer names the provider in the store: instances with the same issuer share.
    if let Some(redis) = store.connect(issuer.as_issuer_str()).await? {
        if args.key.is_none() {
            builder = builder.signing_key(redis.signing_key().await?);
        }
        if args.id_token_key.is_none() {
            builder = builder.id_token_key(redis.id_token_key().await?);
        }
        let keys = if args.key.is_none() || args.id_token_key.is_none() {
            "; keys not given by file are kept there too"
        } else {
            ""
        };
        notes.push(format!(
            "state in {store} (namespace {}): kept across restarts, shared by every instance with this issuer{keys}",
            redis.namespace()
        ));
        builder = builder.redis_store(redis);
    }
    let provider = builder.build()?;

    notes.push(format!(
        "dynamic client registration (RFC 7591) at {}/register: {}",
        provider.issuer().as_issuer_str(),
        if registration_token {
            "needs the initial access token"
        } else {
            "open to anyone (dev mode; --registration-token to close it)"
        }
    ));
    if require_par {
        notes.push(format!(
            "PAR required: /authorize takes only request_uri values from {}/par",
            provider.issuer().as_issuer_str()
        ));
    }
    if dpop_nonce {
        notes.push(
            "DPoP nonces required: proofs without a current DPoP-Nonce get use_dpop_nonce"
                .to_owned(),
        );
    }
    print_banner(
        &addr,
        &provider,
        &clients,
        &users,
        from_file,
        args.auto_approve.as_deref(),
        &notes,
    );
    for q in quirks.enabled() {
        tracing::warn!(quirk = %q, "quirk enabled: the provider deviates from the RFCs on purpose");
    }
    axum::serve(listener, provider.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn print_banner(
    addr: &SocketAddr,
    provider: &Provider,
    clients: &[ClientConfig],
    users: &[(String, String)],
    from_file: bool,
    auto_approve: Option<&str>,
    notes: &[String],
) {
    let iss = provider.issuer().as_issuer_str();
    let mut out = String::new();
    out.push_str("authflow development provider\n");
    out.push_str(&format!("  listening on http://{addr}\n"));
    out.push_str(&format!("  issuer       {iss}\n"));
    out.push_str(&format!(
        "  discovery    {iss}/.well-known/openid-configuration\n"
    ));
    out.push_str("clients:\n");
    for c in clients {
        let kind = match c.kind() {
            ClientKind::Public => "public",
            _ => "confidential",
        };
        let secret = match c.secret() {
            // The demo secrets are published demo values; file secrets stay unprinted.
            Some(s) if !from_file => format!("  secret {}", s.secret()),
            Some(_) => "  secret (from the config file)".to_owned(),
            None => String::new(),
        };
        let grants: Vec<&str> = c.allowed_grants().iter().map(|g| g.as_str()).collect();
        let auth = c
            .auth_method()
            .map(|m| format!("  auth {m}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {:<14} {kind:<12} grants {}{secret}{auth}\n",
            c.id(),
            grants.join(",")
        ));
        for r in c.redirect_uris() {
            let note = if r.is_loopback() && c.kind() == ClientKind::Public {
                " (any port)"
            } else {
                ""
            };
            out.push_str(&format!("  {:<14} redirect {r}{note}\n", ""));
        }
        out.push_str(&format!("  {:<14} scopes   {}\n", "", c.allowed_scope()));
    }
    out.push_str("users:\n");
    for (name, password) in users {
        if from_file {
            out.push_str(&format!("  {name}\n"));
        } else {
            out.push_str(&format!("  {name} / {password}\n"));
        }
    }
    for note in notes {
        out.push_str(note);
        out.push('\n');
    }
    match auto_approve {
        Some(user) => out.push_str(&format!(
            "log in: every authorization request is approved at once as `{user}` (or its login_hint)\n"
        )),
        None => out.push_str(
            "log in: point an OAuth client at the issuer; /authorize shows a login page for the users above\n",
        ),
    }
    print!("{out}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
