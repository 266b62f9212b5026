use super::*;
use crate::jose::UnsignedJws;
use crate::random::OsRandom;
use serde_json::json;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn prover(alg: JwsAlgorithm) -> DpopProver {
    DpopProver::new(SigningKey::generate(alg).unwrap())
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A proof with hand-made header and claims, signed by `key`.
fn forged(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let serde_json::Value::Object(h) = header else {
        unreachable!()
    };
    UnsignedJws::from_parts(&h, &claims).sign_with(key).unwrap()
}

#[test]
fn a_proof_verifies_for_its_request_with_either_algorithm() {
    for alg in [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA] {
        let p = prover(alg);
        let u = url("https://rs.example/api/me?x=1#frag");
        let proof = p
            .proof("GET", &u, Some("at-123"), None, t(1000), &mut OsRandom)
            .unwrap();
        // The query and fragment are not part of htu.
        let check_url = url("https://RS.example:443/api/me?other=2");
        let v = verify_proof(
            proof.to_str().unwrap(),
            &ProofCheck::new("GET", &check_url, t(1010)).access_token("at-123"),
        )
        .unwrap();
        assert_eq!(v.jkt, p.thumbprint());
        assert_eq!(v.iat, t(1000));
        check_binding(&v, p.thumbprint()).unwrap();
    }
}

#[test]
fn proof_for_another_url_or_method_is_refused() {
    let p = prover(JwsAlgorithm::ES256);
    let proof = p
        .proof(
            "POST",
            &url("https://as.example/token"),
            None,
            None,
            t(5),
            &mut OsRandom,
        )
        .unwrap();
    let proof = proof.to_str().unwrap();
    let other = url("https://as.example/other");
    assert_eq!(
        verify_proof(proof, &ProofCheck::new("POST", &other, t(5))),
        Err(DpopError::Url)
    );
    let same = url("https://as.example/token");
    assert_eq!(
        verify_proof(proof, &ProofCheck::new("GET", &same, t(5))),
        Err(DpopError::Method)
    );
    let http = url("http://as.example/token");
    assert_eq!(
        verify_proof(proof, &ProofCheck::new("POST", &http, t(5))),
        Err(DpopError::Url)
    );
}

#[test]
fn old_or_future_iat_is_refused() {
    let p = prover(JwsAlgorithm::EdDSA);
    let u = url("https://as.example/token");
    let proof = p
        .proof("POST", &u, None, None, t(1000), &mut OsRandom)
        .unwrap();
    let proof = proof.to_str().unwrap();
    assert!(verify_proof(proof, &ProofCheck::new("POST", &u, t(1060))).is_ok());
    assert_eq!(
        verify_proof(proof, &ProofCheck::new("POST", &u, t(1061))),
        Err(DpopError::IssuedAt)
    );
    assert_eq!(
        verify_proof(proof, &ProofCheck::new("POST", &u, t(994))),
        Err(DpopError::IssuedAt)
    );
}

#[test]
fn wrong_or_missing_ath_is_refused() {
    let p = prover(JwsAlgorithm::ES256);
    let u = url("https://rs.example/api");
    let with = p
        .proof("GET", &u, Some("token-a"), None, t(9), &mut OsRandom)
        .unwrap();
    let check = ProofCheck::new("GET", &u, t(9)).access_token("token-b");
    assert_eq!(
        verify_proof(with.to_str().unwrap(), &check),
        Err(DpopError::AccessTokenHash)
    );
    let without = p.proof("GET", &u, None, None, t(9), &mut OsRandom).unwrap();
    assert_eq!(
        verify_proof(without.to_str().unwrap(), &check),
        Err(DpopError::AccessTokenHash)
    );
}

#[test]
fn alg_none_symmetric_and_wrong_typ_are_refused() {
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    let claims = json!({"jti":"j","htm":"GET","htu":"https://rs.example/","iat":9});
    let u = url("https://rs.example/");
    let check = ProofCheck::new("GET", &u, t(9));
    let none = format!(
        "{}.{}.",
        b64(json!({"typ":"dpop+jwt","alg":"none","jwk":jwk}).to_string()),
        b64(claims.to_string())
    );
    assert_eq!(verify_proof(&none, &check), Err(DpopError::Algorithm));
    let hs = forged(
        &key,
        json!({"typ":"dpop+jwt","alg":"HS256","jwk":jwk}),
        claims.clone(),
    );
    assert_eq!(verify_proof(&hs, &check), Err(DpopError::Algorithm));
    let typ = forged(
        &key,
        json!({"typ":"JWT","alg":"ES256","jwk":jwk}),
        claims.clone(),
    );
    assert_eq!(verify_proof(&typ, &check), Err(DpopError::Type));
    let good = forged(
        &key,
        json!({"typ":"dpop+jwt","alg":"ES256","jwk":jwk}),
        claims,
    );
    assert!(verify_proof(&good, &check).is_ok());
}

#[test]
fn a_private_jwk_or_foreign_key_is_refused() {
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
    jwk["d"] = "private".into();
    let claims = json!({"jti":"j","htm":"GET","htu":"https://rs.example/","iat":9});
    let u = url("https://rs.example/");
    let check = ProofCheck::new("GET", &u, t(9));
    let p = forged(
        &key,
        json!({"typ":"dpop+jwt","alg":"ES256","jwk":jwk}),
        claims.clone(),
    );
    assert_eq!(
        verify_proof(&p, &check),
        Err(DpopError::Key(JwkError::Private))
    );
    // Signed by one key, claiming another's jwk.
    let other = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let jwk = serde_json::to_value(other.public_jwk()).unwrap();
    let p = forged(
        &key,
        json!({"typ":"dpop+jwt","alg":"ES256","jwk":jwk}),
        claims,
    );
    assert_eq!(verify_proof(&p, &check), Err(DpopError::Signature));
}

#[test]
fn binding_to_another_key_is_refused() {
    let p = prover(JwsAlgorithm::ES256);
    let u = url("https://rs.example/");
    let proof = p.proof("GET", &u, None, None, t(9), &mut OsRandom).unwrap();
    let v = verify_proof(proof.to_str().unwrap(), &ProofCheck::new("GET", &u, t(9))).unwrap();
    let other = prover(JwsAlgorithm::ES256);
    assert_eq!(
        check_binding(&v, other.thumbprint()),
        Err(DpopError::KeyMismatch)
    );
}

#[test]
fn nonces_are_required_when_configured_and_expire() {
    let nonces = DpopNonces::new(b"server secret", Duration::from_secs(60));
    let u = url("https://as.example/token");
    let p = prover(JwsAlgorithm::ES256);
    let check = |now| ProofCheck::new("POST", &u, now).nonces(&nonces);
    let without = p
        .proof("POST", &u, None, None, t(600), &mut OsRandom)
        .unwrap();
    let err = verify_proof(without.to_str().unwrap(), &check(t(600))).unwrap_err();
    assert_eq!(err, DpopError::UseNonce);
    assert_eq!(err.error_code(), "use_dpop_nonce");
    let n = nonces.current(t(600));
    let with = p
        .proof("POST", &u, None, Some(&n), t(600), &mut OsRandom)
        .unwrap();
    assert!(verify_proof(with.to_str().unwrap(), &check(t(610))).is_ok());
    // Good in its window and the next, not after; not from other secrets.
    assert!(nonces.accepts(&n, t(719)));
    assert!(!nonces.accepts(&n, t(720)));
    assert!(!DpopNonces::new(b"other", Duration::from_secs(60)).accepts(&n, t(600)));
    assert!(!nonces.accepts("garbage", t(600)));
    assert!(crate::types::is_nqchar(&n));
}

#[test]
fn errors_never_quote_the_proof() {
    let u = url("https://rs.example/");
    let e = verify_proof("eyJTOKENSECRET.eyJ.sig", &ProofCheck::new("GET", &u, t(1))).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("TOKENSECRET"));
}

#[test]
fn nonce_header_is_read_only_when_well_formed() {
    let mut h = HeaderMap::new();
    h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("abc-123_X"));
    assert_eq!(nonce_from(&h).as_deref(), Some("abc-123_X"));
    h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("has space"));
    assert_eq!(nonce_from(&h), None);
}

/// RFC 9864: `Ed25519` is the fully-specified name of EdDSA on Ed25519; oauth4webapi
/// (openid-client 6) signs proofs with it.
#[test]
fn fully_specified_ed25519_alg_is_accepted() {
    let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    let claims = json!({"jti":"j","htm":"GET","htu":"https://rs.example/","iat":9});
    let u = url("https://rs.example/");
    let p = forged(
        &key,
        json!({"typ":"dpop+jwt","alg":"Ed25519","jwk":jwk}),
        claims,
    );
    let v = verify_proof(&p, &ProofCheck::new("GET", &u, t(9))).unwrap();
    assert_eq!(v.jkt, key.thumbprint());
    // Not when only ES256 is accepted.
    let check = ProofCheck::new("GET", &u, t(9)).algorithms(&[JwsAlgorithm::ES256]);
    assert_eq!(verify_proof(&p, &check), Err(DpopError::Algorithm));
}
