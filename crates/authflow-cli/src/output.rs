//! Output: results on stdout, progress and errors on stderr, colour only on a terminal.

use std::io::IsTerminal as _;
use std::time::{Duration, SystemTime};

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset.
pub(crate) fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Wraps text in an ANSI style when colours are on.
pub(crate) fn paint(text: &str, style: &str) -> String {
    if color_stderr() {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub(crate) fn bold(t: &str) -> String {
    paint(t, "1")
}

pub(crate) fn green(t: &str) -> String {
    paint(t, "32")
}

pub(crate) fn dim(t: &str) -> String {
    paint(t, "2")
}

/// A line of progress on stderr.
pub(crate) fn note(msg: &str) {
    eprintln!("{msg}");
}

/// JSON on stdout.
pub(crate) fn json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(_) => println!("{value}"),
    }
}

/// "in 59m 58s", "expired 3s ago", "unknown".
pub(crate) fn expiry(expires_at: Option<SystemTime>, now: SystemTime) -> String {
    match expires_at {
        None => "lifetime unknown".into(),
        Some(at) => match at.duration_since(now) {
            Ok(left) => format!("expires in {}", human(left)),
            Err(e) => format!("expired {} ago", human(e.duration())),
        },
    }
}

pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Unix seconds, for JSON.
pub(crate) fn unix(t: Option<SystemTime>) -> serde_json::Value {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| serde_json::Value::from(d.as_secs()))
        .unwrap_or(serde_json::Value::Null)
}

/// The thumbprint of the key a token set is bound to (DPoP), when it is.
pub(crate) fn dpop_jkt(t: &authflow::session::TokenSet) -> Option<String> {
    t.dpop
        .as_ref()
        .filter(|_| t.is_dpop_bound())
        .map(|p| p.thumbprint().to_owned())
}
