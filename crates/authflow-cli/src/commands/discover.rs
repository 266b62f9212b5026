//! `authflow discover`: an issuer's metadata, checked (issuer equality, https).

use authflow::client::OAuthClient;
use authflow::protocol::Credentials;
use authflow::types::{ClientId, IssuerUrl};
use clap::Args;

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::CliError;
use crate::output;

/// Options of `authflow discover`.
#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// The issuer [default: the profile's].
    pub(crate) issuer: Option<String>,
}

pub(crate) fn run(global: &Global, args: DiscoverArgs) -> Result<(), CliError> {
    let issuer = match &args.issuer {
        Some(i) => IssuerUrl::new(i)?,
        None => Ctx::resolve(global, None)?.issuer()?.ok_or_else(|| {
            CliError::usage("give an issuer: authflow discover https://issuer.example")
        })?,
    };
    let http = Ctx::http_for(global.verbose)?;
    let client = super::runtime()?.block_on(
        // Discovery needs no credentials; the id is a placeholder that is never sent.
        OAuthClient::builder(Credentials::public(ClientId::new("authflow-discover")?))
            .http_client(http)
            .discover(&issuer),
    )?;
    let Some(m) = client.metadata() else {
        return Err(CliError::config("no metadata"));
    };
    if global.json {
        output::json(&serde_json::to_value(m).unwrap_or_default());
        return Ok(());
    }
    let opt = |v: &Option<authflow::types::EndpointUrl>| {
        v.as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "-".into())
    };
    let list = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|l| l.join(" "))
            .unwrap_or_else(|| "-".into())
    };
    println!("issuer                  {}", m.issuer);
    println!("authorization_endpoint  {}", opt(&m.authorization_endpoint));
    println!("token_endpoint          {}", m.token_endpoint);
    println!("revocation_endpoint     {}", opt(&m.revocation_endpoint));
    println!("introspection_endpoint  {}", opt(&m.introspection_endpoint));
    println!("userinfo_endpoint       {}", opt(&m.userinfo_endpoint));
    println!("jwks_uri                {}", opt(&m.jwks_uri));
    println!(
        "device_authorization    {}",
        opt(&m.device_authorization_endpoint)
    );
    println!("grant_types             {}", list(&m.grant_types_supported));
    println!(
        "auth_methods            {}",
        list(&m.token_endpoint_auth_methods_supported)
    );
    println!(
        "pkce_methods            {}",
        list(&m.code_challenge_methods_supported)
    );
    println!("scopes                  {}", list(&m.scopes_supported));
    println!(
        "iss_parameter           {}",
        m.authorization_response_iss_parameter_supported
    );
    Ok(())
}
