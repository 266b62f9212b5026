//! Token endpoint responses (RFC 6749 §5.1/§5.2): JSON, form-encoded and text bodies.
#![no_main]

use std::time::{Duration, SystemTime};

use authflow::protocol::token_response::{TokenResponse, parse_token_response};
use authflow::session::TokenSet;
use authflow::types::Scope;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// What must not depend on how the body was labelled.
fn summary(t: &TokenResponse) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        t.access_token.secret(),
        t.token_type,
        t.expires_in,
        t.refresh_token.as_ref().map(|r| r.secret().to_owned()),
        t.scope,
        t.id_token.as_ref().map(|r| r.secret().to_owned()),
        t.issued_token_type,
        t.extra,
        t.expires_at,
    )
}

fuzz_target!(|data: &[u8]| {
    let resp = common::response(data);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let parsed = parse_token_response(&resp, now);
    // Differential: a JSON body labelled `text/plain` (old providers) is read by the general
    // path; labelled `application/json` it may take the fast path. Same answer either way.
    if let Ok(t) = &parsed {
        let mut relabelled = resp.clone();
        relabelled.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        let body_is_json = resp.body().iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if body_is_json {
            match parse_token_response(&relabelled, now) {
                Ok(u) => assert_eq!(summary(t), summary(&u), "fast and general paths differ"),
                Err(e) => panic!(
                    "accepted as {:?} but not as text/plain: {e}",
                    resp.headers()
                ),
            }
        }
    }
    match parsed {
        Ok(t) => {
            let _ = format!("{t:?}");
            let _ = t.expires_within(now, Duration::from_secs(60));
            let requested = Scope::default();
            // What a client does next: keep it, and a later refresh of it.
            let set = TokenSet::from_response(&t, &requested, now);
            let _ = set.refreshed(&t, now);
            let _ = set.needs_refresh(now, set.refresh_skew());
            // Whatever was accepted must survive the token store's encoding.
            let json = serde_json::to_vec(&set).expect("a TokenSet always encodes");
            // (The store keeps whole seconds, so compare what it writes, not the sets.)
            let back: TokenSet = serde_json::from_slice(&json).expect("and decodes");
            let again = serde_json::to_vec(&back).expect("encodes");
            assert!(again == json, "TokenSet JSON round trip changed the set");
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.oauth().map(|o| o.hint());
        }
    }
});
