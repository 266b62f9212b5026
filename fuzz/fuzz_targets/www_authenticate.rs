//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728).
#![no_main]

use authflow::protocol::www_authenticate::{
    BearerError, bearer_error, challenges_from_headers, parse_challenges,
};
use http::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a client sees it: raw header bytes, possibly several headers (split on NUL).
    let mut headers = HeaderMap::new();
    for part in data.split(|&b| b == 0) {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append(WWW_AUTHENTICATE, v);
        }
    }
    let _ = challenges_from_headers(&headers);
    if let Some(e) = bearer_error(&headers) {
        let _ = e.to_oauth_error(http::StatusCode::UNAUTHORIZED).to_string();
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_challenges(text) {
        Ok(challenges) => {
            for c in &challenges {
                let _ = (c.scope(), c.resource_metadata_url(), c.realm());
                let _ = BearerError::from_challenge(c);
                // What a resource server renders must read back as the same challenge
                // (read as clients do: obs-text bytes are allowed in quoted values).
                if let Ok(v) = c.to_header_value() {
                    let again = parse_challenges(&String::from_utf8_lossy(v.as_bytes()));
                    assert!(
                        matches!(&again, Ok(cs) if cs.len() == 1 && cs[0] == *c),
                        "{c:?} rendered as {v:?} reads back as {again:?}"
                    );
                }
            }
        }
        Err(e) => assert!(e.position <= text.len()),
    }
});
