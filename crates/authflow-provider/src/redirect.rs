//! Redirect URI matching: exact by string, except that a registered loopback `http`
//! redirect accepts any port with host, path and query identical (RFC 8252 §7.3).

use authflow::types::RedirectUri;
use url::Url;

/// The redirect URI the request names, if it matches a registration.
///
/// `loopback_any_port` applies the RFC 8252 §7.3 rule; it is meant for native (public)
/// clients, so confidential clients registered on loopback keep their exact port.
/// `given` is `None` when the request left `redirect_uri` out: allowed only when exactly
/// one URI is registered and it is not a loopback one (whose port must be named).
pub(crate) fn resolve(
    registered: &[RedirectUri],
    given: Option<&str>,
    loopback_any_port: bool,
) -> Option<Url> {
    let Some(given) = given else {
        return match registered {
            [only] if !only.is_loopback() => Some(only.as_url().clone()),
            _ => None,
        };
    };
    if let Some(exact) = registered.iter().find(|r| r.as_str() == given) {
        return Some(exact.as_url().clone());
    }
    if !loopback_any_port {
        return None;
    }
    let url = Url::parse(given).ok()?;
    // Refuse anything the parser had to normalise: what we compare is what was sent.
    if url.as_str() != given || url.fragment().is_some() {
        return None;
    }
    registered
        .iter()
        .filter(|r| r.is_loopback())
        .map(RedirectUri::as_url)
        .find(|r| same_but_port(r, &url))
        .map(|_| url)
}

fn same_but_port(registered: &Url, given: &Url) -> bool {
    given.scheme() == "http"
        && given.username().is_empty()
        && given.password().is_none()
        && given.host_str() == registered.host_str()
        && given.path() == registered.path()
        && given.query() == registered.query()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reg(uris: &[&str]) -> Vec<RedirectUri> {
        uris.iter().map(|u| RedirectUri::new(u).unwrap()).collect()
    }

    #[test]
    fn exact_string_match() {
        let r = reg(&["https://app.example/cb"]);
        assert!(resolve(&r, Some("https://app.example/cb"), true).is_some());
        assert!(resolve(&r, Some("https://app.example/cb/"), true).is_none());
        assert!(resolve(&r, Some("https://app.example/CB"), true).is_none());
        assert!(resolve(&r, Some("https://app.example/cb?x=1"), true).is_none());
        assert!(resolve(&r, Some("https://app.example:443/cb"), true).is_none());
        assert!(resolve(&r, None, true).is_some());
    }

    #[test]
    fn loopback_any_port_same_host_path_query() {
        let r = reg(&["http://127.0.0.1/callback"]);
        assert!(resolve(&r, Some("http://127.0.0.1:51234/callback"), true).is_some());
        assert!(resolve(&r, Some("http://127.0.0.1/callback"), true).is_some());
        assert!(resolve(&r, Some("http://localhost:51234/callback"), true).is_none());
        assert!(resolve(&r, Some("http://127.0.0.1:51234/callback/x"), true).is_none());
        assert!(resolve(&r, Some("http://127.0.0.1:51234/callback?a=b"), true).is_none());
        assert!(resolve(&r, Some("http://127.0.0.1:51234/./callback"), true).is_none());
        assert!(resolve(&r, Some("http://u@127.0.0.1:51234/callback"), true).is_none());
        assert!(resolve(&r, Some("https://127.0.0.1:51234/callback"), true).is_none());
        assert!(
            resolve(&r, None, true).is_none(),
            "loopback needs the port named"
        );
    }

    #[test]
    fn loopback_port_rule_can_be_off() {
        let r = reg(&["http://127.0.0.1:3000/cb"]);
        assert!(resolve(&r, Some("http://127.0.0.1:3000/cb"), false).is_some());
        assert!(resolve(&r, Some("http://127.0.0.1:3001/cb"), false).is_none());
    }

    #[test]
    fn non_loopback_port_is_fixed() {
        let r = reg(&["https://app.example:8443/cb"]);
        assert!(resolve(&r, Some("https://app.example:9443/cb"), true).is_none());
    }
}
