//! The integration suite of `tests/it` again, every provider keeping its state in a real
//! `redis-server` (started here on a free 127.0.0.1 port, one namespace per provider):
//! codes, grants, refresh rotation, devices, logins, PAR and `jti`s go through
//! `RedisGrantStore`. Without `redis-server` each test reports its skip of the Redis store
//! (`support/skip.rs`) and runs on the memory store instead, unless AUTHFLOW_REQUIRE_TOOLS
//! is set (then it fails).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

/// Where the providers of this pass keep their state.
const STORE: support::Store = support::Store::Redis;

#[path = "../it/authorize.rs"]
mod authorize;
#[path = "../it/cimd.rs"]
mod cimd;
#[path = "../it/client_e2e.rs"]
mod client_e2e;
#[path = "../it/client_jwt.rs"]
mod client_jwt;
#[path = "../it/device.rs"]
mod device;
#[path = "../it/dpop.rs"]
mod dpop;
#[path = "../it/exchange.rs"]
mod exchange;
#[path = "../it/hardening.rs"]
mod hardening;
#[path = "../it/interop_oauth2.rs"]
mod interop_oauth2;
#[path = "../it/par.rs"]
mod par;
#[path = "../it/quirks.rs"]
mod quirks;
#[path = "../it/redis_server.rs"]
mod redis_server;
#[path = "../it/registration.rs"]
mod registration;
#[path = "../it/resource.rs"]
mod resource;
#[path = "../support/skip.rs"]
mod skip;
#[path = "../it/support.rs"]
mod support;
#[path = "../it/token.rs"]
mod token;
