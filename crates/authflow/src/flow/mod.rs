//! Interactive flows: what needs a person.
//!
//! - [`LoopbackListener`]: the RFC 8252 redirect listener on a loopback address;
//! - [`open_browser`]: sends the user's browser to the authorization URL, honouring
//!   `$BROWSER`.

mod browser;
mod error;
mod listener;
mod page;

pub use browser::{BrowserLaunch, open_browser};
pub use error::FlowError;
pub use listener::{ListenerOptions, LoopbackListener};
