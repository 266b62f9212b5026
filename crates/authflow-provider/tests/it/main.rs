//! Integration tests: the provider on a real socket (127.0.0.1:0), driven with reqwest,
//! plus a few `oneshot` checks against the router. This pass keeps the provider's state
//! in memory; `tests/it_redis` runs the same modules on a Redis store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

/// Where the providers of this pass keep their state.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const STORE: support::Store = support::Store::Memory;

mod authorize;
mod cimd;
mod client_e2e;
mod client_jwt;
mod device;
mod dpop;
mod exchange;
mod hardening;
mod interop_oauth2;
mod par;
mod quirks;
#[cfg(feature = "redis")]
mod redis_server;
mod registration;
mod resource;
#[cfg(feature = "redis")]
#[path = "../support/skip.rs"]
mod skip;
mod support;
mod token;
