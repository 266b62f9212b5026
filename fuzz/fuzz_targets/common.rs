//! Shared by the targets: turning fuzz bytes into an HTTP response.
#![allow(dead_code)]

use bytes::Bytes;
use http::Response;

/// Content types servers really send, and a few they should not.
const CONTENT_TYPES: [Option<&str>; 8] = [
    Some("application/json"),
    Some("application/json; charset=UTF-8"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain; charset=utf-8"),
    Some("text/html"),
    Some("application/jwt"),
    Some("application/problem+json"),
    None,
];
const STATUSES: [u16; 4] = [200, 400, 401, 503];

/// The first byte picks the status and the content type; the rest is the body.
/// A seed file is therefore one selector byte followed by a realistic body.
pub fn response(data: &[u8]) -> Response<Bytes> {
    let (sel, body) = match data.split_first() {
        Some((s, b)) => (*s, b),
        None => (0, data),
    };
    let mut b = Response::builder().status(STATUSES[usize::from(sel >> 6)]);
    if let Some(ct) = CONTENT_TYPES[usize::from(sel & 7)] {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    b.body(Bytes::copy_from_slice(body))
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}
