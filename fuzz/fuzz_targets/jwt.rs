//! JWT header and claims: ID tokens (OIDC Core §3.1.3.7) and JWT access tokens (RFC 9068)
//! against a fixed JWKS.
//!
//! Even selector byte: the input is the compact token itself (header parsing, base64, kid
//! lookup, algorithm rules). Odd: the input is `header JSON \0 claims JSON`, which the
//! target signs with the JWKS's own key, so the claim rules behind the signature are
//! fuzzed too.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use authflow::protocol::access_token::{AccessTokenExpectations, validate_access_token};
use authflow::protocol::id_token::{IdTokenExpectations, validate_id_token};
use authflow::types::{ClientId, IdToken, IssuerUrl, Nonce};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;

/// A fixed Ed25519 key (PKCS#8), made for this target only; `kid` `k1` in the JWKS.
const ED25519_PKCS8: [u8; 48] = [
    48, 46, 2, 1, 0, 48, 5, 6, 3, 43, 101, 112, 4, 34, 4, 32, 234, 170, 138, 160, 108, 231, 181,
    149, 28, 62, 136, 160, 116, 82, 37, 90, 127, 251, 42, 179, 173, 251, 233, 22, 20, 25, 171, 213,
    186, 173, 107, 56,
];
const JWKS: &str = r#"{"keys":[
  {"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","use":"sig",
   "x":"ULtfnwkNxTNpPU32OzYt-DqlmDI2XpGZ3uvGpp-YRN4"},
  {"kty":"EC","crv":"P-256","kid":"k2","alg":"ES256",
   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
]}"#;

struct Fixture {
    jwks: JwkSet,
    key: EncodingKey,
    issuer: IssuerUrl,
    client_id: ClientId,
    nonce: Nonce,
    audiences: Vec<String>,
    algorithms: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        jwks: serde_json::from_str(JWKS).expect("valid JWKS"),
        key: EncodingKey::from_ed_der(&ED25519_PKCS8),
        issuer: IssuerUrl::new("https://as.example").expect("valid"),
        client_id: ClientId::new("authflow-cli").expect("valid"),
        nonce: Nonce::new("n-0S6_WzA2Mj").expect("valid"),
        audiences: vec!["https://api.example".into()],
        algorithms: vec!["EdDSA".into(), "ES256".into()],
    })
}

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let token = if sel & 1 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        let mut parts = rest.splitn(2, |&b| b == 0);
        let header = parts.next().unwrap_or_default();
        let claims = parts.next().unwrap_or_default();
        let message = format!("{}.{}", b64(header), b64(claims));
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &f.key, Algorithm::EdDSA)
            .expect("the fixed key signs");
        format!("{message}.{sig}")
    };
    let Ok(token) = IdToken::new(token) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    let mut expect = IdTokenExpectations::new(&f.issuer, &f.client_id, now);
    expect.algorithms = &f.algorithms;
    if sel & 2 != 0 {
        expect.nonce = Some(&f.nonce);
    }
    match validate_id_token(&token, &f.jwks, &expect) {
        Ok(c) => {
            assert!(f.issuer.matches(&c.iss), "foreign iss accepted");
            assert!(
                c.aud.iter().any(|a| a == "authflow-cli"),
                "foreign aud accepted"
            );
            assert!(c.exp + expect.leeway > now, "expired ID token accepted");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    let mut expect = AccessTokenExpectations::new(&f.issuer, &f.audiences, now);
    expect.algorithms = &f.algorithms;
    expect.require_at_jwt = sel & 4 == 0;
    match validate_access_token(token.secret(), &f.jwks, &expect) {
        Ok(c) => {
            assert!(f.issuer.matches(&c.iss), "foreign iss accepted");
            assert!(c.exp + expect.leeway > now, "expired access token accepted");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
