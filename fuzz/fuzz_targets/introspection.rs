//! Token introspection responses (RFC 7662 §2.2).
#![no_main]

use std::time::{Duration, SystemTime};

use authflow::protocol::introspection::parse_introspection_response;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let resp = common::response(data);
    match parse_introspection_response(&resp) {
        Ok(r) => {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let active = r.is_active_at(now);
            assert!(!active || r.active, "inactive token reported active");
            let _ = format!("{r:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
