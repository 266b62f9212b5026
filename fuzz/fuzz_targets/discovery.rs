//! Authorization server metadata (RFC 8414) and OpenID configuration documents.
#![no_main]

use std::sync::OnceLock;

use authflow::protocol::discovery::parse_metadata;
use authflow::types::IssuerUrl;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static ISSUERS: OnceLock<[IssuerUrl; 2]> = OnceLock::new();
    let issuers = ISSUERS.get_or_init(|| {
        [
            IssuerUrl::new("https://as.example").expect("valid"),
            IssuerUrl::new("http://127.0.0.1:8080/realms/dev").expect("valid"),
        ]
    });
    let resp = common::response(data);
    let issuer = &issuers[usize::from(data.first().is_some_and(|b| b & 8 != 0))];
    match parse_metadata(&resp, issuer) {
        Ok(m) => {
            assert!(issuer.matches(&m.issuer), "accepted a foreign issuer");
            let _ = (m.supports_pkce_s256(), m.supports_auth_method("none"));
            let _ = m.supports_grant("refresh_token");
            let _ = format!("{m:?}");
        }
        Err(e) => {
            let _ = (e.to_string(), e.is_not_found());
        }
    }
});
