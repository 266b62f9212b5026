//! Integration tests: the provider on a real socket (127.0.0.1:0), driven with reqwest,
//! plus a few `oneshot` checks against the router.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod authorize;
mod client_e2e;
mod client_jwt;
mod device;
mod dpop;
mod exchange;
mod hardening;
mod interop_oauth2;
mod par;
mod quirks;
mod resource;
mod support;
mod token;
