//! DPoP at the token endpoint (RFC 9449): bound tokens, nonces, replay, bound refresh
//! tokens for public clients, and `dpop_jkt` on the authorization request.

use std::time::SystemTime;

use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::protocol::dpop::DpopProver;
use authflow::random::OsRandom;
use authflow::types::{ClientId, ClientSecret, Scope};
use authflow_provider::{ClientConfig, GrantType};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::Value;

use crate::support::{CLI_REDIRECT, Server, auto, jwt_claims, pkce, start};

const SERVICE: (&str, &str) = ("demo-service", "demo-service-secret");
const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

fn prover() -> DpopProver {
    DpopProver::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap())
}

fn proof_for(p: &DpopProver, method: &str, url: &str, nonce: Option<&str>) -> HeaderValue {
    let url = url::Url::parse(url).unwrap();
    p.proof(method, &url, None, nonce, SystemTime::now(), &mut OsRandom)
        .unwrap()
}

fn proof(s: &Server, p: &DpopProver) -> HeaderValue {
    proof_for(p, "POST", &s.url("/token"), None)
}

async fn token_with(
    s: &Server,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: Option<HeaderValue>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let headers: Vec<(&str, HeaderValue)> = proof.into_iter().map(|p| ("DPoP", p)).collect();
    s.post_with("/token", form, basic, &headers).await
}

/// A code for the CLI client (with `extra` authorization parameters), and its verifier.
async fn cli_code_with(s: &Server, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "authflow-cli"),
        ("redirect_uri", CLI_REDIRECT),
        ("scope", "api:read offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let q = s.authorize_redirect(&params).await;
    (q["code"].clone(), verifier)
}

fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("client_id", "authflow-cli"),
        ("code", code),
        ("redirect_uri", CLI_REDIRECT),
        ("code_verifier", verifier),
    ]
}

#[tokio::test]
async fn a_proof_gets_a_dpop_bound_token_shown_by_introspection() {
    let s = auto().await;
    let p = prover();
    let (code, verifier) = cli_code_with(&s, &[]).await;
    let (status, headers, v) = token_with(
        &s,
        &exchange_form(&code, &verifier),
        None,
        Some(proof(&s, &p)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers.get("dpop-nonce").is_none(),
        "nonces are off by default"
    );
    assert_eq!(v["token_type"], "DPoP");
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(at)["cnf"]["jkt"], p.thumbprint());
    let i = s.introspect(at).await;
    assert_eq!(
        (i["token_type"].as_str(), i["cnf"]["jkt"].as_str()),
        (Some("DPoP"), Some(p.thumbprint()))
    );
    // Without a proof, the same grant gives a plain bearer token without `cnf`.
    let (status, _, v) = token_with(&s, CC, Some(SERVICE), None).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (StatusCode::OK, Some("Bearer"))
    );
    assert!(
        jwt_claims(v["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
}

#[tokio::test]
async fn nonce_challenge_then_success_with_a_fresh_nonce() {
    let s = start(|b| b.dpop_nonce(true)).await;
    let p = prover();
    let (status, headers, v) = token_with(&s, CC, Some(SERVICE), Some(proof(&s, &p))).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("use_dpop_nonce"))
    );
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let with_nonce = proof_for(&p, "POST", &s.url("/token"), Some(&nonce));
    let (status, headers, v) = token_with(&s, CC, Some(SERVICE), Some(with_nonce)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "DPoP");
    assert!(headers.contains_key("dpop-nonce"));
    // A nonce the server never made.
    let forged = proof_for(&p, "POST", &s.url("/token"), Some("bm90LWEtbm9uY2U"));
    let (_, _, v) = token_with(&s, CC, Some(SERVICE), Some(forged)).await;
    assert_eq!(v["error"], "use_dpop_nonce");
}

#[tokio::test]
async fn replayed_and_misdirected_proofs_are_refused() {
    let s = auto().await;
    let p = prover();
    let once = proof(&s, &p);
    let (status, _, _) = token_with(&s, CC, Some(SERVICE), Some(once.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, v) = token_with(&s, CC, Some(SERVICE), Some(once)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    for (what, bad) in [
        ("htm", proof_for(&p, "GET", &s.url("/token"), None)),
        ("htu", proof_for(&p, "POST", &s.url("/introspect"), None)),
        (
            "htu host",
            proof_for(&p, "POST", "https://as.example/token", None),
        ),
        ("not a JWS", HeaderValue::from_static("not-a-proof")),
    ] {
        let (status, _, v) = token_with(&s, CC, Some(SERVICE), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(v["error"], "invalid_dpop_proof", "{what}");
    }
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_the_proof_key() {
    let s = auto().await;
    let (a, b) = (prover(), prover());
    let (code, verifier) = cli_code_with(&s, &[]).await;
    let (_, _, v) = token_with(
        &s,
        &exchange_form(&code, &verifier),
        None,
        Some(proof(&s, &a)),
    )
    .await;
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "authflow-cli"),
        ("refresh_token", rt.as_str()),
    ];
    for other in [Some(proof(&s, &b)), None] {
        let (status, _, v) = token_with(&s, &form, None, other).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    // The refusals neither spent the token nor revoked the grant.
    let (status, _, v) = token_with(&s, &form, None, Some(proof(&s, &a))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "DPoP");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["cnf"]["jkt"],
        a.thumbprint()
    );
    // The rotated token is bound to the same key.
    let (status, v) = s
        .refresh_cli(v["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound() {
    let s = auto().await;
    let (verifier, challenge) = pkce();
    let q = s
        .authorize_redirect(&[
            ("response_type", "code"),
            ("client_id", "demo-web"),
            ("redirect_uri", "http://127.0.0.1:3000/callback"),
            ("scope", "api:read offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    let web = Some(("demo-web", "demo-web-secret"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", "http://127.0.0.1:3000/callback"),
        ("code_verifier", verifier.as_str()),
    ];
    let (_, _, v) = token_with(&s, &form, web, Some(proof(&s, &prover()))).await;
    assert_eq!(v["token_type"], "DPoP");
    let rt = v["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (status, _, v) = token_with(&s, &form, web, None).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (StatusCode::OK, Some("Bearer"))
    );
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_one_key() {
    let s = auto().await;
    let (a, b) = (prover(), prover());
    let (code, verifier) = cli_code_with(&s, &[("dpop_jkt", a.thumbprint())]).await;
    let form = exchange_form(&code, &verifier);
    for wrong in [Some(proof(&s, &b)), None] {
        let (status, _, v) = token_with(&s, &form, None, wrong).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let (status, _, v) = token_with(&s, &form, None, Some(proof(&s, &a))).await;
    assert_eq!(status, StatusCode::OK, "the refusals left the code: {v}");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["cnf"]["jkt"],
        a.thumbprint()
    );
    // A malformed dpop_jkt is an invalid_request redirect.
    let (_, challenge) = pkce();
    let q = s
        .authorize_redirect(&[
            ("response_type", "code"),
            ("client_id", "authflow-cli"),
            ("redirect_uri", CLI_REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", "short"),
        ])
        .await;
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn a_proof_at_par_binds_the_code() {
    let s = auto().await;
    let (a, b) = (prover(), prover());
    let (verifier, challenge) = pkce();
    let form = [
        ("client_id", "authflow-cli"),
        ("response_type", "code"),
        ("redirect_uri", CLI_REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let par_proof = proof_for(&a, "POST", &s.url("/par"), None);
    let (status, _, v) = s
        .post_with("/par", &form, None, &[("DPoP", par_proof)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let q = s
        .authorize_redirect(&[
            ("client_id", "authflow-cli"),
            ("request_uri", v["request_uri"].as_str().unwrap()),
        ])
        .await;
    let form = exchange_form(&q["code"], &verifier);
    let (status, _, _) = token_with(&s, &form, None, Some(proof(&s, &b))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = token_with(&s, &form, None, Some(proof(&s, &a))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_client_registered_for_dpop_must_send_a_proof() {
    let s = start(|b| {
        b.client(
            ClientConfig::confidential(
                ClientId::new("dpop-only").unwrap(),
                ClientSecret::new("dpop-only-secret").unwrap(),
            )
            .grants([GrantType::ClientCredentials])
            .scope(Scope::parse("api:read").unwrap())
            .dpop_bound_access_tokens(true),
        )
    })
    .await;
    let creds = Some(("dpop-only", "dpop-only-secret"));
    let (status, _, v) = token_with(&s, CC, creds, None).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    let (status, _, v) = token_with(&s, CC, creds, Some(proof(&s, &prover()))).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP"))
    );
}
