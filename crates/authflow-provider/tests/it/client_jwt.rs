//! JWT client authentication (RFC 7523 §2.2): `private_key_jwt`, `client_secret_jwt`,
//! and the JWT-bearer grant (§2.1).

use authflow::jose::{JwsAlgorithm, SigningKey};
use authflow::protocol::client_assertion::{
    JWT_BEARER_ASSERTION_TYPE, JWT_BEARER_GRANT, secret_jwt,
};
use authflow::random::OsRandom;
use authflow::types::{ClientId, ClientSecret, Scope};
use authflow_provider::{ClientConfig, GrantType, TokenEndpointAuthMethod};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, client_key, jwt_claims, now, sign, start};

const HMAC_SECRET: &str = "a-shared-secret-of-more-than-32-bytes";

fn id(s: &str) -> ClientId {
    ClientId::new(s).unwrap()
}

/// A provider with `pkj` (private_key_jwt, ES256 key `k1`, also holding a secret it may
/// not use), `hmac` (client_secret_jwt) and `bearer` (the JWT-bearer grant, EdDSA).
async fn server() -> (Server, SigningKey, SigningKey) {
    let (key, jwks) = client_key(JwsAlgorithm::ES256, "k1");
    let (bearer_key, bearer_jwks) = client_key(JwsAlgorithm::EdDSA, "b1");
    let api = Scope::parse("api:read api:write").unwrap();
    let s = start(|b| {
        b.client(
            ClientConfig::confidential(id("pkj"), ClientSecret::new("pkj-secret").unwrap())
                .token_endpoint_auth_method(TokenEndpointAuthMethod::PrivateKeyJwt)
                .jwks(jwks)
                .grants([GrantType::ClientCredentials, GrantType::DeviceCode])
                .scope(api.clone()),
        )
        .client(
            ClientConfig::confidential(id("hmac"), ClientSecret::new(HMAC_SECRET).unwrap())
                .token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretJwt)
                .grants([GrantType::ClientCredentials])
                .scope(api.clone()),
        )
        .client(
            ClientConfig::private_key_jwt(id("bearer"))
                .jwks(bearer_jwks)
                .grants([GrantType::JwtBearer])
                .scope(api),
        )
    })
    .await;
    (s, key, bearer_key)
}

fn assertion(key: &SigningKey, client: &str, aud: &str, exp_in: i64, jti: &str) -> String {
    let now = now() as i64;
    sign(
        key,
        "JWT",
        json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + exp_in}),
    )
}

async fn with_assertion(
    s: &Server,
    path: &str,
    extra: &[(&str, &str)],
    jwt: &str,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", jwt),
    ];
    form.extend_from_slice(extra);
    let (status, headers, v) = s.post_form(path, &form, None).await;
    if status == StatusCode::UNAUTHORIZED {
        assert!(headers.contains_key("www-authenticate"));
    }
    (status, v)
}

const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

#[tokio::test]
async fn private_key_jwt_with_every_accepted_audience() {
    let (s, key, _) = server().await;
    for (i, aud) in [s.base.clone(), s.url("/token")].iter().enumerate() {
        let jwt = assertion(&key, "pkj", aud, 60, &format!("jti-{i}"));
        let (status, v) = with_assertion(&s, "/token", CC, &jwt).await;
        assert_eq!(status, StatusCode::OK, "{aud}: {v}");
        assert_eq!(
            jwt_claims(v["access_token"].as_str().unwrap())["client_id"],
            "pkj"
        );
    }
    // The URL of the endpoint being called is an audience too, there only.
    let (_, token) =
        with_assertion(&s, "/token", CC, &assertion(&key, "pkj", &s.base, 60, "x")).await;
    let at = token["access_token"].as_str().unwrap();
    let jwt = assertion(&key, "pkj", &s.url("/revoke"), 60, "rev");
    let (status, _) = with_assertion(&s, "/revoke", &[("token", at)], &jwt).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.introspect(at).await["active"], false, "revoked");
    let jwt = assertion(&key, "pkj", &s.url("/revoke"), 60, "rev-at-token");
    let (status, v) = with_assertion(&s, "/token", CC, &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    // Device authorization authenticates the same way; client_id may be sent too.
    let jwt = assertion(&key, "pkj", &s.base, 60, "dev");
    let (status, v) =
        with_assertion(&s, "/device_authorization", &[("client_id", "pkj")], &jwt).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["device_code"].is_string());
}

#[tokio::test]
async fn private_key_jwt_refusals() {
    let (s, key, _) = server().await;
    let other = SigningKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_key_id("k1");
    let cases = [
        ("wrong key", assertion(&other, "pkj", &s.base, 60, "a")),
        (
            "wrong aud",
            assertion(&key, "pkj", "https://elsewhere.example", 60, "b"),
        ),
        ("expired", assertion(&key, "pkj", &s.base, -60, "c")),
        ("too long-lived", assertion(&key, "pkj", &s.base, 3600, "d")),
        ("other kid", {
            let k2 = key.with_key_id("k2");
            assertion(&k2, "pkj", &s.base, 60, "e")
        }),
    ];
    for (what, jwt) in cases {
        let (status, v) = with_assertion(&s, "/token", CC, &jwt).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {v}");
        assert_eq!(v["error"], "invalid_client", "{what}");
    }
    // alg none: three parts, no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&json!({"iss": "pkj", "sub": "pkj", "aud": s.base, "jti": "n", "exp": now() + 60}))
    );
    let (status, _) = with_assertion(&s, "/token", CC, &none).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // client_id in the form naming another client than the assertion's sub.
    let jwt = assertion(&key, "pkj", &s.base, 60, "f");
    let (status, _) = with_assertion(&s, "/token", &[CC[0], ("client_id", "hmac")], &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The same assertion twice: the second is a replay.
    let jwt = assertion(&key, "pkj", &s.base, 60, "once");
    assert_eq!(
        with_assertion(&s, "/token", CC, &jwt).await.0,
        StatusCode::OK
    );
    let (status, v) = with_assertion(&s, "/token", CC, &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{v}"
    );
    // Registered for private_key_jwt: its secret is no use.
    let (status, _, _) = s.token(CC, Some(("pkj", "pkj-secret"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Two methods at once.
    let jwt = assertion(&key, "pkj", &s.base, 60, "g");
    let form = [
        CC[0],
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ];
    let (status, _, v) = s.token(&form, Some(("pkj", "pkj-secret"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn hmac_assertion(secret: &str, aud: &str) -> String {
    secret_jwt(
        &id("hmac"),
        &ClientSecret::new(secret).unwrap(),
        aud,
        std::time::SystemTime::now(),
        &mut OsRandom,
    )
    .unwrap()
    .secret()
    .to_owned()
}

#[tokio::test]
async fn client_secret_jwt_and_its_refusals() {
    let (s, key, _) = server().await;
    let (status, v) = with_assertion(&s, "/token", CC, &hmac_assertion(HMAC_SECRET, &s.base)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        jwt_claims(v["access_token"].as_str().unwrap())["client_id"],
        "hmac"
    );
    let wrong = hmac_assertion("another-secret-of-more-than-32-bytes!", &s.base);
    assert_eq!(
        with_assertion(&s, "/token", CC, &wrong).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Registered for client_secret_jwt: the secret itself is not a credential.
    let (status, _, _) = s.token(CC, Some(("hmac", HMAC_SECRET))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A signed assertion for a client_secret_jwt client, and HS256 for a keyed one.
    let signed = assertion(&key, "hmac", &s.base, 60, "s");
    assert_eq!(
        with_assertion(&s, "/token", CC, &signed).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The demo client keeps no secret in clear: an HMAC under its secret is refused.
    let demo = secret_jwt(
        &id("demo-service"),
        &ClientSecret::new("demo-service-secret").unwrap(),
        &s.base,
        std::time::SystemTime::now(),
        &mut OsRandom,
    )
    .unwrap();
    assert_eq!(
        with_assertion(&s, "/token", CC, demo.secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn user_assertion(key: &SigningKey, sub: &str, aud: &str, jti: &str) -> String {
    let now = now();
    sign(
        key,
        "JWT",
        json!({"iss": "bearer", "sub": sub, "aud": aud, "jti": jti, "iat": now, "exp": now + 60}),
    )
}

#[tokio::test]
async fn jwt_bearer_grant_issues_tokens_for_the_named_user() {
    let (s, pkj_key, key) = server().await;
    let client_auth = |jti: &str| assertion_for_bearer(&key, &s.base, jti);
    let grant = user_assertion(&key, "alice", &s.url("/token"), "u1");
    let auth = client_auth("c1");
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", grant.as_str()),
        ("scope", "api:read"),
    ];
    let (status, v) = with_assertion(&s, "/token", &form, &auth).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let c = jwt_claims(v["access_token"].as_str().unwrap());
    assert_eq!(
        (c["sub"].as_str(), c["client_id"].as_str()),
        (Some("alice"), Some("bearer"))
    );
    assert_eq!(v["scope"], "api:read");
    assert!(v.get("refresh_token").is_none());
    // Replayed grant assertion, unknown user, another client's key, a client without the grant.
    let auth = client_auth("c2");
    let (status, v) = with_assertion(&s, "/token", &form, &auth).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let nobody = user_assertion(&key, "mallory", &s.base, "u2");
    let auth = client_auth("c3");
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", nobody.as_str()),
    ];
    let (_, v) = with_assertion(&s, "/token", &form, &auth).await;
    assert_eq!(v["error"], "invalid_grant");
    let foreign = user_assertion(&pkj_key, "alice", &s.base, "u3");
    let auth = client_auth("c4");
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", foreign.as_str()),
    ];
    let (_, v) = with_assertion(&s, "/token", &form, &auth).await;
    assert_eq!(v["error"], "invalid_grant");
    let grant = user_assertion(&key, "alice", &s.base, "u4");
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", grant.as_str()),
    ];
    let (status, _, v) = s
        .token(&form, Some(("demo-service", "demo-service-secret")))
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
}

fn assertion_for_bearer(key: &SigningKey, aud: &str, jti: &str) -> String {
    assertion(key, "bearer", aud, 60, jti)
}
