//! OAuth error bodies (RFC 6749 §5.2, RFC 7009 §2.2.1) through the parsers that only read
//! errors: revocation and userinfo; and client credentials in a Basic header (RFC 6749 §2.3.1),
//! which the provider decodes from every token request.
#![no_main]

use authflow::protocol::client_auth::decode_basic_authorization;
use authflow::protocol::revocation::parse_revocation_response;
use authflow::protocol::userinfo::parse_userinfo;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let resp = common::response(data);
    if let Err(e) = parse_revocation_response(&resp) {
        let shown = e.to_string();
        if let Some(o) = e.oauth() {
            // Display neutralises control characters: nothing can drive the terminal.
            assert!(!shown.chars().any(|c| c == '\u{1b}'), "escape in {shown:?}");
            let _ = o.hint();
        }
    }
    if let Ok(fields) = parse_userinfo(&resp) {
        let _ = fields.len();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = decode_basic_authorization(s);
    }
});
