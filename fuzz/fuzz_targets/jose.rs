//! What authflow's servers read from clients as JWS: DPoP proofs (RFC 9449 §4.3), client
//! assertions (RFC 7523 §3) and the compact JWS and JWK parsing under both.
//!
//! Selector byte: 0 a proof, 1 an assertion against public keys, 2 an assertion against
//! a shared secret. Whatever the input, nothing panics, and anything accepted was signed
//! by the one key or secret the target holds.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use authflow::jose::{CompactJws, JwsAlgorithm, PublicJwk, SigningKey};
use authflow::protocol::client_assertion::{AssertionCheck, ClientKeys, verify_client_assertion};
use authflow::protocol::dpop::{ProofCheck, verify_proof};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-shared-secret-of-32-bytes!!";

fn keys() -> &'static (SigningKey, Vec<(Option<String>, PublicJwk)>) {
    static K: OnceLock<(SigningKey, Vec<(Option<String>, PublicJwk)>)> = OnceLock::new();
    K.get_or_init(|| {
        let key = SigningKey::generate(JwsAlgorithm::ES256).expect("a key");
        let public = vec![(Some("k1".to_owned()), key.public_jwk().clone())];
        (key, public)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    match sel % 3 {
        0 => {
            let url = url::Url::parse("https://rs.example/api").expect("a URL");
            let check = ProofCheck::new("GET", &url, now).access_token("at");
            if let Ok(v) = verify_proof(text, &check) {
                // Accepted only when signed by the key the proof itself names.
                let jws = CompactJws::parse(text).expect("an accepted proof parses");
                assert!(jws.verify(&v.jwk));
                assert_eq!(v.jkt, v.jwk.thumbprint());
            }
        }
        n => {
            let (key, public) = keys();
            let check = AssertionCheck {
                client_id: "app",
                audiences: &["https://as.example"],
                now,
                max_lifetime: Duration::from_secs(300),
                leeway: Duration::from_secs(5),
            };
            let keys = if n == 1 {
                ClientKeys::Public(public)
            } else {
                ClientKeys::Secret(SECRET)
            };
            if verify_client_assertion(text, keys, &check).is_ok() {
                // Forging is out of the fuzzer's reach: only a real signature passes.
                let jws = CompactJws::parse(text).expect("an accepted assertion parses");
                assert!(jws.verify(key.public_jwk()) || jws.verify_hmac(SECRET));
            }
        }
    }
});
