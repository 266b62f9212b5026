//! The example web app, against `authflow serve` by default:
//!
//! ```sh
//! cargo run -p authflow-cli -- serve &   # the provider on 127.0.0.1:8080
//! cargo run -p webapp                    # then open http://127.0.0.1:3000
//! ```
//!
//! Environment: `AUTHFLOW_ISSUER` (default `http://127.0.0.1:8080`), `WEBAPP_CLIENT_ID`
//! and `WEBAPP_CLIENT_SECRET` (default the demo client `demo-web`), `WEBAPP_PORT`
//! (default 3000; the demo client's redirect URI is `http://127.0.0.1:3000/callback`).

use std::process::ExitCode;

use authflow::types::{ClientId, ClientSecret, IssuerUrl, RedirectUri};
use authflow_axum::Auth;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webapp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = IssuerUrl::new(&env("AUTHFLOW_ISSUER", "http://127.0.0.1:8080"))?;
    let port: u16 = env("WEBAPP_PORT", "3000").parse()?;
    let origin = format!("http://127.0.0.1:{port}");
    let auth = Auth::builder(
        issuer.clone(),
        ClientId::new(env("WEBAPP_CLIENT_ID", "demo-web"))?,
        ClientSecret::new(env("WEBAPP_CLIENT_SECRET", "demo-web-secret"))?,
        RedirectUri::new(&format!("{origin}/callback"))?,
    )
    .build()
    .await
    .map_err(|e| format!("{e} (is the provider running? try `authflow serve`)"))?;
    let api_me = issuer.as_url().join("/api/me")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "webapp: open {origin}/ (provider {})",
        issuer.as_issuer_str()
    );
    axum::serve(listener, webapp::app(auth, api_me))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
