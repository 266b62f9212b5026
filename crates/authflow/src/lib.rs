//! # authflow
//!
//! OAuth 2.0 done right: the Authorization Code grant with PKCE and everything around it.
//!
//! The crate has layers, lowest first:
//! - [`types`]: validated newtypes; secrets never print.
//! - [`protocol`]: the sans-IO core: builds `http::Request`s, parses `http::Response`s.
//! - [`client`]: the async layer that sends those requests through an [`client::HttpClient`]
//!   (reqwest with rustls by default).
//! - [`session`]: token sets and the stores that keep them.
//! - [`flow`]: what needs a person: the loopback redirect listener and the browser.

pub mod client;
#[cfg(feature = "flow")]
pub mod flow;
pub mod jose;
pub mod protocol;
pub mod random;
#[cfg(feature = "resource")]
pub mod resource;
pub mod session;
pub mod types;

// The README's example compiles as a doc test, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
