use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::{Host, Url};

use super::InvalidValue;

/// Whether the URL's host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether the host is a loopback IP literal (what RFC 8252 §7.3 wants in redirects).
pub(crate) fn is_loopback_ip(url: &Url) -> bool {
    url.host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
}

fn parse(kind: &'static str, s: &str) -> Result<Url, InvalidValue> {
    let url =
        Url::parse(s).map_err(|e| InvalidValue::new(kind, format!("not an absolute URL ({e})")))?;
    no_userinfo(kind, &url)?;
    Ok(url)
}

fn require_https_or_loopback(kind: &'static str, url: &Url) -> Result<(), InvalidValue> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_url(url) => Ok(()),
        "http" => Err(InvalidValue::new(
            kind,
            format!(
                "{url} uses plain http; use https (http is allowed only for loopback hosts such as 127.0.0.1)"
            ),
        )),
        other => Err(InvalidValue::new(
            kind,
            format!("{url} has scheme `{other}`; expected https"),
        )),
    }
}

/// Credentials in a URL end up in logs and error messages: never accepted.
fn no_userinfo(kind: &'static str, url: &Url) -> Result<(), InvalidValue> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InvalidValue::new(
            kind,
            "must not contain user:password@ credentials; configure them separately",
        ));
    }
    Ok(())
}

fn no_fragment(kind: &'static str, url: &Url) -> Result<(), InvalidValue> {
    if url.fragment().is_some() {
        return Err(InvalidValue::new(
            kind,
            format!("{url} must not have a #fragment"),
        ));
    }
    Ok(())
}

macro_rules! url_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(Url);

        impl $name {
            /// The parsed URL.
            pub fn as_url(&self) -> &Url {
                &self.0
            }

            /// The URL as a string.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

url_type!(
    /// An authorization server's endpoint (authorization, token, revocation, ...).
    ///
    /// Must be `https`, or `http` on a loopback host; may carry a query, never a fragment.
    ///
    /// ```
    /// use authflow::types::EndpointUrl;
    /// assert!(EndpointUrl::new("https://as.example/token").is_ok());
    /// assert!(EndpointUrl::new("http://127.0.0.1:8080/token").is_ok());
    /// assert!(EndpointUrl::new("http://as.example/token").is_err());
    /// ```
    EndpointUrl
);

impl EndpointUrl {
    /// Validates an endpoint URL.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        Self::from_url(parse("endpoint URL", s)?)
    }

    /// Validates an already parsed URL.
    pub fn from_url(url: Url) -> Result<Self, InvalidValue> {
        no_userinfo("endpoint URL", &url)?;
        require_https_or_loopback("endpoint URL", &url)?;
        no_fragment("endpoint URL", &url)?;
        Ok(Self(url))
    }
}

url_type!(
    /// An authorization server's issuer identifier (RFC 8414 §2): `https` (or loopback
    /// `http`), no query, no fragment. Compared by exact string.
    IssuerUrl
);

impl IssuerUrl {
    /// Validates an issuer identifier. The string is kept exactly as given (apart from
    /// URL normalisation of an empty path, which `url` adds as `/`, and which is undone),
    /// because RFC 8414 compares issuers as strings.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        let url = parse("issuer", s)?;
        require_https_or_loopback("issuer", &url)?;
        no_fragment("issuer", &url)?;
        if url.query().is_some() {
            return Err(InvalidValue::new(
                "issuer",
                format!("{url} must not have a query"),
            ));
        }
        Ok(Self(url))
    }

    /// The issuer as the exact string used in comparisons: with no trailing `/` added
    /// where the configured string had none.
    pub fn as_issuer_str(&self) -> &str {
        let s = self.0.as_str();
        if self.0.path() == "/" {
            s.strip_suffix('/').unwrap_or(s)
        } else {
            s
        }
    }

    /// Whether `other` names this issuer (string equality after the `url` crate's
    /// normalisation of both sides).
    pub fn matches(&self, other: &str) -> bool {
        IssuerUrl::new(other).is_ok_and(|o| o.as_issuer_str() == self.as_issuer_str())
    }

    /// The URL of a well-known document under this issuer (RFC 8414 §3.1): the well-known
    /// segment goes between the host and the issuer's path.
    pub fn well_known(&self, suffix: &str) -> Url {
        let mut url = self.0.clone();
        let path = self.0.path().trim_end_matches('/');
        url.set_path(&format!("/.well-known/{suffix}{path}"));
        url
    }

    /// The OpenID Connect discovery URL: `{issuer}/.well-known/openid-configuration`
    /// (OIDC Discovery §4, which appends rather than inserts).
    pub fn openid_configuration(&self) -> Url {
        let mut url = self.0.clone();
        let path = self.0.path().trim_end_matches('/');
        url.set_path(&format!("{path}/.well-known/openid-configuration"));
        url
    }
}

url_type!(
    /// A redirect URI (RFC 6749 §3.1.2): absolute, no fragment; `https`, loopback `http`
    /// (RFC 8252 §7.3), or a private-use scheme in reverse-domain form (RFC 8252 §7.1).
    ///
    /// ```
    /// use authflow::types::RedirectUri;
    /// assert!(RedirectUri::new("http://127.0.0.1:0/callback").is_ok());
    /// assert!(RedirectUri::new("com.example.app:/cb").is_ok());
    /// assert!(RedirectUri::new("http://app.example/cb").is_err());
    /// assert!(RedirectUri::new("https://app.example/cb#x").is_err());
    /// ```
    RedirectUri
);

impl RedirectUri {
    /// Validates a redirect URI.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        Self::from_url(parse("redirect URI", s)?)
    }

    /// Validates an already parsed URL.
    pub fn from_url(url: Url) -> Result<Self, InvalidValue> {
        const KIND: &str = "redirect URI";
        no_userinfo(KIND, &url)?;
        no_fragment(KIND, &url)?;
        match url.scheme() {
            "https" | "http" => require_https_or_loopback(KIND, &url)?,
            "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
                return Err(InvalidValue::new(
                    KIND,
                    format!("scheme `{}` is not allowed", url.scheme()),
                ));
            }
            scheme if !scheme.contains('.') => {
                return Err(InvalidValue::new(
                    KIND,
                    format!(
                        "private-use scheme `{scheme}` must be a reverse domain name such as com.example.app (RFC 8252 §7.1)"
                    ),
                ));
            }
            _ => {}
        }
        Ok(Self(url))
    }

    /// Whether this is a loopback `http` redirect (port may vary, RFC 8252 §7.3).
    pub fn is_loopback(&self) -> bool {
        self.0.scheme() == "http" && is_loopback_url(&self.0)
    }

    /// The same URI with another port: for a loopback listener bound to an ephemeral port.
    pub fn with_port(&self, port: u16) -> Result<Self, InvalidValue> {
        let mut url = self.0.clone();
        url.set_port(Some(port))
            .map_err(|()| InvalidValue::new("redirect URI", "this URI cannot carry a port"))?;
        Ok(Self(url))
    }

    /// Whether the host is a loopback IP literal rather than the name `localhost`.
    pub fn is_loopback_ip_literal(&self) -> bool {
        is_loopback_ip(&self.0)
    }
}

url_type!(
    /// A resource indicator (RFC 8707 §2): an absolute URI without a fragment.
    ResourceIndicator
);

impl ResourceIndicator {
    /// Validates a resource indicator.
    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        let url = parse("resource indicator", s)?;
        no_fragment("resource indicator", &url)?;
        Ok(Self(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for u in [
            "http://127.0.0.1/",
            "http://127.8.9.1:99/",
            "http://[::1]:8080/",
            "http://localhost/",
            "http://LOCALHOST:1/",
        ] {
            assert!(is_loopback_url(&Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "http://128.0.0.1/",
            "http://localhost.evil.example/",
            "http://[::2]/",
        ] {
            assert!(!is_loopback_url(&Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn endpoint_errors_name_the_url() {
        let err = EndpointUrl::new("http://as.example/token").unwrap_err();
        assert!(err.to_string().contains("http://as.example/token"), "{err}");
        assert!(err.to_string().contains("https"), "{err}");
        assert!(EndpointUrl::new("ftp://as.example/").is_err());
        assert!(EndpointUrl::new("https://as.example/t?x=1").is_ok());
        assert!(EndpointUrl::new("https://as.example/t#f").is_err());
        assert!(EndpointUrl::new("not a url").is_err());
        let e = EndpointUrl::new("https://user:pw@as.example/t").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(RedirectUri::new("https://u:p@app.example/cb").is_err());
    }

    #[test]
    fn issuer_rules_and_well_known() {
        let i = IssuerUrl::new("https://as.example").unwrap();
        assert_eq!(i.as_issuer_str(), "https://as.example");
        assert_eq!(
            i.well_known("oauth-authorization-server").as_str(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        let t = IssuerUrl::new("https://as.example/tenant/1").unwrap();
        assert_eq!(
            t.well_known("oauth-authorization-server").as_str(),
            "https://as.example/.well-known/oauth-authorization-server/tenant/1"
        );
        assert_eq!(
            t.openid_configuration().as_str(),
            "https://as.example/tenant/1/.well-known/openid-configuration"
        );
        assert!(i.matches("https://as.example"));
        assert!(i.matches("https://as.example/"));
        assert!(!i.matches("https://as.example/other"));
        assert!(!t.matches("https://as.example/tenant/1/"));
        assert!(IssuerUrl::new("https://as.example/?q=1").is_err());
        assert!(IssuerUrl::new("http://as.example").is_err());
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::new("https://app.example/cb?x=1").is_ok());
        assert!(RedirectUri::new("javascript:alert(1)").is_err());
        assert!(RedirectUri::new("myapp:/cb").is_err());
        let r = RedirectUri::new("http://127.0.0.1/callback").unwrap();
        assert!(r.is_loopback() && r.is_loopback_ip_literal());
        assert_eq!(
            r.with_port(4321).unwrap().as_str(),
            "http://127.0.0.1:4321/callback"
        );
        assert!(
            !RedirectUri::new("http://localhost/cb")
                .unwrap()
                .is_loopback_ip_literal()
        );
    }
}
