//! `authflow doctor ISSUER`: read a provider's metadata, probe it without credentials, and
//! say what a client should know, measured against RFC 9700 (OAuth 2.0 Security BCP).

use std::sync::Arc;

use authflow::client::HttpClient;
use authflow::protocol::MAX_RESPONSE_BYTES;
use authflow::protocol::audit::{Answer, ProbeAnswers, Severity, audit_with_probes, probes};
use authflow::protocol::discovery::{
    metadata_request, oauth_metadata_url, openid_configuration_url, parse_metadata,
    read_metadata_lenient,
};
use authflow::types::IssuerUrl;
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::cli::Global;
use crate::context::Ctx;
use crate::exit::{CliError, Code};
use crate::output;

/// Options of `authflow doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The issuer to examine.
    pub(crate) issuer: String,
}

fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok => "ok",
        Severity::Info => "info",
        Severity::Warn => "warn",
        _ => "FAIL",
    }
}

/// One line of the report: the library's audit findings, and the CLI's own about fetching
/// the metadata.
struct Row {
    severity: Severity,
    check: &'static str,
    detail: String,
    why: &'static str,
}

struct Report(Vec<Row>);

impl Report {
    fn add(
        &mut self,
        severity: Severity,
        check: &'static str,
        detail: impl Into<String>,
        why: &'static str,
    ) {
        self.0.push(Row {
            severity,
            check,
            detail: detail.into(),
            why,
        });
    }

    fn count(&self, severity: Severity) -> usize {
        self.0.iter().filter(|r| r.severity == severity).count()
    }
}

pub(crate) fn run(global: &Global, args: DoctorArgs) -> Result<(), CliError> {
    let issuer = IssuerUrl::new(&args.issuer)?;
    let http = Ctx::http_for(global.verbose)?;
    let report = super::runtime()?.block_on(examine(&issuer, http))?;
    print(&issuer, &report, global.json);
    if report.count(Severity::Fail) > 0 {
        return Err(CliError::new(
            Code::Failure,
            "the provider has problems a client should not accept (see FAIL above)",
        ));
    }
    Ok(())
}

async fn get(
    http: &Arc<dyn HttpClient>,
    req: http::Request<Vec<u8>>,
) -> Option<http::Response<Bytes>> {
    http.send(req, MAX_RESPONSE_BYTES).await.ok()
}

/// Sends a probe: `None` when there is none to send, `Some(None)` when no answer came.
async fn send(
    http: &Arc<dyn HttpClient>,
    req: Option<http::Request<Vec<u8>>>,
) -> Option<Option<http::Response<Bytes>>> {
    Some(get(http, req?).await)
}

fn answer(sent: &Option<Option<http::Response<Bytes>>>) -> Answer<'_> {
    match sent {
        None => Answer::NotSent,
        Some(None) => Answer::NoAnswer,
        Some(Some(resp)) => Answer::Response(resp),
    }
}

async fn examine(issuer: &IssuerUrl, http: Arc<dyn HttpClient>) -> Result<Report, CliError> {
    let mut r = Report(Vec::new());
    // Both documents: RFC 8414 first, then OpenID Connect. The first wins, the second
    // fills gaps (OIDC-only fields such as the ID token algorithms).
    let mut doc: Option<Map<String, Value>> = None;
    for (url, name) in [
        (oauth_metadata_url(issuer), "RFC 8414"),
        (openid_configuration_url(issuer), "OpenID Connect"),
    ] {
        let Some(resp) = get(&http, metadata_request(&url)?).await else {
            continue;
        };
        if !resp.status().is_success() {
            r.add(
                Severity::Info,
                "metadata",
                format!("{name} document: HTTP {} at {url}", resp.status().as_u16()),
                "clients try the other document",
            );
            continue;
        }
        match parse_metadata(&resp, issuer) {
            Ok(_) => r.add(
                Severity::Ok,
                "metadata",
                format!("{name} document at {url}; issuer matches"),
                "the issuer check defeats mix-up and impersonation",
            ),
            Err(e) => r.add(
                Severity::Fail,
                "metadata",
                format!("{name} document at {url}: {e}"),
                "authflow and other strict clients refuse this document",
            ),
        }
        if let Ok(Value::Object(found)) = serde_json::from_slice::<Value>(resp.body()) {
            match &mut doc {
                None => doc = Some(found),
                Some(m) => {
                    for (k, v) in found {
                        m.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    let Some(doc) = doc else {
        return Err(CliError::new(
            Code::Network,
            format!(
                "no metadata document found for {}; check the issuer URL",
                issuer.as_issuer_str()
            ),
        ));
    };
    // A document that failed the checks above is still worth auditing for what it offers.
    let meta = match read_metadata_lenient(doc) {
        Ok(meta) => meta,
        Err(e) => {
            r.add(
                Severity::Fail,
                "metadata",
                e.to_string(),
                "the other checks need a document with an issuer and a usable token_endpoint",
            );
            return Ok(r);
        }
    };
    // Probes without credentials.
    let p = probes(&meta);
    let jwks = send(&http, p.jwks).await;
    let token_error = send(&http, p.token_error).await;
    let open_redirect = send(&http, p.open_redirect).await;
    let mut answers = ProbeAnswers::default();
    answers.jwks = answer(&jwks);
    answers.token_error = answer(&token_error);
    answers.open_redirect = answer(&open_redirect);
    for f in audit_with_probes(&meta, &answers) {
        r.add(f.severity, f.kind.name(), f.message, f.why);
    }
    Ok(r)
}

fn print(issuer: &IssuerUrl, report: &Report, json_out: bool) {
    if json_out {
        let items: Vec<Value> = report
            .0
            .iter()
            .map(|f| json!({"level": label(f.severity), "check": f.check, "detail": f.detail, "why": f.why}))
            .collect();
        output::json(&json!({"issuer": issuer.as_issuer_str(), "findings": items}));
        return;
    }
    println!(
        "{}",
        output::bold(&format!("authflow doctor: {}", issuer.as_issuer_str()))
    );
    for f in &report.0 {
        let tag = match f.severity {
            Severity::Ok => output::green("  ok "),
            Severity::Info => output::dim(" info"),
            Severity::Warn => output::paint(" warn", "33"),
            _ => output::paint(" FAIL", "31;1"),
        };
        println!("{tag}  {:<18} {}", f.check, f.detail);
        println!("        {:<18} {}", "", output::dim(f.why));
    }
    println!(
        "\n{} findings: {} ok, {} warnings, {} failures",
        report.0.len(),
        report.count(Severity::Ok),
        report.count(Severity::Warn),
        report.count(Severity::Fail),
    );
}
