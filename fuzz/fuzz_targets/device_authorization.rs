//! Device authorization responses (RFC 8628 §3.2) and the poll errors (§3.5).
#![no_main]

use std::time::Duration;

use authflow::protocol::device::{PollState, parse_device_authorization};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let resp = common::response(data);
    match parse_device_authorization(&resp) {
        Ok(d) => {
            assert!(d.interval >= Duration::from_secs(1), "a zero poll interval");
            assert!(d.expires_in <= Duration::from_secs(86_400));
            let _ = format!("{d:?}");
        }
        Err(e) => {
            if let Some(o) = e.oauth() {
                let _ = PollState::from_error(o);
            }
            let _ = e.to_string();
        }
    }
});
