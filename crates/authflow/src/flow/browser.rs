//! Opening the user's browser.

use std::process::{Command, Stdio};

use url::Url;

use super::error::FlowError;

/// How the browser was started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrowserLaunch {
    /// A command from `$BROWSER`.
    Command(String),
    /// The platform's opener (xdg-open, open, start).
    System,
}

/// Opens `url` in the user's browser.
///
/// `$BROWSER` wins when set: a `:`-separated list of commands, tried in order; `%s` in a
/// command is replaced by the URL, otherwise the URL is added as the last argument. Without
/// it, the platform's opener is used. The browser runs detached: this never blocks.
pub fn open_browser(url: &Url) -> Result<BrowserLaunch, FlowError> {
    if let Some(list) = std::env::var_os("BROWSER") {
        let list = list.to_string_lossy().into_owned();
        let mut last_error = None;
        for entry in list.split(':').map(str::trim).filter(|e| !e.is_empty()) {
            match spawn_browser(entry, url) {
                Ok(()) => return Ok(BrowserLaunch::Command(program_name(entry))),
                Err(e) => last_error = Some(format!("$BROWSER `{}`: {e}", program_name(entry))),
            }
        }
        if let Some(e) = last_error {
            return Err(FlowError::Browser(e));
        }
    }
    open::that_detached(url.as_str())
        .map(|()| BrowserLaunch::System)
        .map_err(|e| FlowError::Browser(e.to_string()))
}

fn program_name(entry: &str) -> String {
    entry.split_whitespace().next().unwrap_or(entry).to_owned()
}

fn spawn_browser(entry: &str, url: &Url) -> std::io::Result<()> {
    let args = browser_args(entry, url);
    let Some((program, rest)) = args.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    // Reap it off the async runtime, so no zombie is left and nothing blocks.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Splits a `$BROWSER` entry into program and arguments, placing the URL.
fn browser_args(entry: &str, url: &Url) -> Vec<String> {
    let mut args: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
    if args.iter().any(|a| a.contains("%s")) {
        for a in &mut args {
            *a = a.replace("%s", url.as_str());
        }
    } else {
        args.push(url.as_str().to_owned());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_goes_last_or_in_place_of_percent_s() {
        let u = Url::parse("https://as.example/a?b=c").unwrap();
        assert_eq!(
            browser_args("firefox", &u),
            ["firefox", "https://as.example/a?b=c"]
        );
        assert_eq!(
            browser_args("chromium --new-window %s --x", &u),
            [
                "chromium",
                "--new-window",
                "https://as.example/a?b=c",
                "--x"
            ]
        );
    }
}
