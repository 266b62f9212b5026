//! The authorization response on the redirect (RFC 6749 §4.1.2, RFC 9207): the query the
//! loopback listener hands to `validate_query`, and whole URLs for `validate_callback`.
#![no_main]

use std::sync::OnceLock;

use authflow::protocol::{CallbackError, PendingAuthorization};
use libfuzzer_sys::fuzz_target;

/// The flow's fixed state; seeds carry it so the fuzzer gets past the state check.
const STATE: &str = "fuzz-state-0123456789abcdef";

fn pending(require_iss: bool) -> PendingAuthorization {
    let json = serde_json::json!({
        "state": STATE,
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "nonce": "n-0S6_WzA2Mj",
        "client_id": "authflow-cli",
        "redirect_uri": "http://127.0.0.1:4000/callback",
        "scope": "openid api:read",
        "issuer": "https://as.example",
        "require_iss": require_iss,
    });
    serde_json::from_value(json).expect("a valid pending authorization")
}

fuzz_target!(|data: &[u8]| {
    static P: OnceLock<[PendingAuthorization; 2]> = OnceLock::new();
    let ps = P.get_or_init(|| [pending(false), pending(true)]);
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let p = &ps[usize::from(sel & 1)];
    let (result, query) = if sel & 2 == 0 {
        (p.validate_query(text), text.to_owned())
    } else {
        match url::Url::parse(&format!("http://127.0.0.1:4000{text}")) {
            Ok(u) => (p.validate_callback(&u), u.query().unwrap_or("").to_owned()),
            Err(_) => return,
        }
    };
    match result {
        Ok(code) => {
            // A code is only ever handed out with this flow's exact state, sent once.
            let states: Vec<_> = url::form_urlencoded::parse(query.as_bytes())
                .filter(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
                .collect();
            assert_eq!(states, [STATE], "code accepted without this flow's state");
            let _ = p.exchange_grant(code);
        }
        Err(e) => {
            let _ = e.to_string();
            if let CallbackError::Authorization(a) = &e {
                assert!(!a.to_string().contains('\u{1b}'));
            }
        }
    }
});
