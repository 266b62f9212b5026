//! Which authorization server metadata URLs to try for an issuer, in order (RFC 8414
//! §3.1, OpenID Connect Discovery §4, and the order the MCP authorization spec sets).
//!
//! For an issuer with a path, `https://as.example/tenant1`:
//!
//! 1. RFC 8414, path inserted: `https://as.example/.well-known/oauth-authorization-server/tenant1`
//! 2. OpenID Connect, path inserted: `https://as.example/.well-known/openid-configuration/tenant1`
//! 3. OpenID Connect, path appended: `https://as.example/tenant1/.well-known/openid-configuration`
//!
//! For an issuer without one, the two root documents. Fetch each with
//! [`metadata_request`](super::discovery::metadata_request), check it with
//! [`parse_metadata`](super::discovery::parse_metadata) (which refuses another issuer),
//! and go on to the next URL only when [`is_fallback_error`] says there was no document.
//!
//! ```
//! use authflow::protocol::as_discovery::{MetadataFormat, metadata_urls};
//! use authflow::types::IssuerUrl;
//! let urls = metadata_urls(&IssuerUrl::new("https://as.example").unwrap());
//! assert_eq!(urls.len(), 2);
//! assert_eq!(urls[1].format, MetadataFormat::OpenIdAppended);
//! assert_eq!(urls[1].url.as_str(), "https://as.example/.well-known/openid-configuration");
//! ```

use url::Url;

use super::discovery::{DiscoveryError, oauth_metadata_url, openid_configuration_url};
use super::error::ResponseError;
use crate::types::IssuerUrl;

/// Which kind of metadata document a URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataFormat {
    /// RFC 8414 authorization server metadata, the well-known segment before the path.
    OAuth,
    /// OpenID Connect Discovery with the well-known segment before the path (RFC 8414
    /// §5's compatibility form).
    OpenIdInserted,
    /// OpenID Connect Discovery with the well-known segment after the path (OIDC
    /// Discovery §4).
    OpenIdAppended,
}

/// One URL to try.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataCandidate {
    /// The URL.
    pub url: Url,
    /// What it serves.
    pub format: MetadataFormat,
}

/// The metadata URLs to try for `issuer`, in order; never the same URL twice.
pub fn metadata_urls(issuer: &IssuerUrl) -> Vec<MetadataCandidate> {
    let has_path = !issuer.as_url().path().trim_end_matches('/').is_empty();
    let mut out = vec![MetadataCandidate {
        url: oauth_metadata_url(issuer),
        format: MetadataFormat::OAuth,
    }];
    if has_path {
        out.push(MetadataCandidate {
            url: issuer.well_known("openid-configuration"),
            format: MetadataFormat::OpenIdInserted,
        });
    }
    out.push(MetadataCandidate {
        url: openid_configuration_url(issuer),
        format: MetadataFormat::OpenIdAppended,
    });
    out
}

/// Whether `error` means "no document here" (an error status, an HTML page, something
/// that is not JSON): try the next URL. A document that is there but wrong (another
/// issuer, a plain-http endpoint) is an attack or a misconfiguration, never a reason to
/// look elsewhere.
pub fn is_fallback_error(error: &DiscoveryError) -> bool {
    matches!(
        error,
        DiscoveryError::Response(
            ResponseError::Status { .. }
                | ResponseError::ContentType { .. }
                | ResponseError::Malformed { .. }
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn urls(issuer: &str) -> Vec<(String, MetadataFormat)> {
        metadata_urls(&IssuerUrl::new(issuer).unwrap())
            .into_iter()
            .map(|c| (c.url.to_string(), c.format))
            .collect()
    }

    #[test]
    fn issuer_with_path_gets_the_three_mcp_urls_in_order() {
        assert_eq!(
            urls("https://auth.example.com/tenant1"),
            [
                (
                    "https://auth.example.com/.well-known/oauth-authorization-server/tenant1"
                        .to_owned(),
                    MetadataFormat::OAuth
                ),
                (
                    "https://auth.example.com/.well-known/openid-configuration/tenant1".to_owned(),
                    MetadataFormat::OpenIdInserted
                ),
                (
                    "https://auth.example.com/tenant1/.well-known/openid-configuration".to_owned(),
                    MetadataFormat::OpenIdAppended
                ),
            ]
        );
        // A terminating slash is removed before inserting (RFC 8414 §3.1).
        assert_eq!(
            urls("https://auth.example.com/a/b/")[1].0,
            "https://auth.example.com/.well-known/openid-configuration/a/b"
        );
    }

    #[test]
    fn issuer_without_path_gets_the_two_root_urls() {
        for issuer in ["https://auth.example.com", "https://auth.example.com/"] {
            assert_eq!(
                urls(issuer),
                [
                    (
                        "https://auth.example.com/.well-known/oauth-authorization-server"
                            .to_owned(),
                        MetadataFormat::OAuth
                    ),
                    (
                        "https://auth.example.com/.well-known/openid-configuration".to_owned(),
                        MetadataFormat::OpenIdAppended
                    ),
                ],
                "{issuer}"
            );
        }
    }

    #[test]
    fn only_missing_documents_fall_back() {
        let status = DiscoveryError::Response(ResponseError::Status {
            status: StatusCode::NOT_FOUND,
            content_type: None,
        });
        assert!(is_fallback_error(&status));
        assert!(is_fallback_error(&DiscoveryError::Response(
            ResponseError::ContentType {
                content_type: "text/html".into()
            }
        )));
        assert!(!is_fallback_error(&DiscoveryError::IssuerMismatch {
            expected: "a".into(),
            found: "b".into()
        }));
        assert!(!is_fallback_error(&DiscoveryError::MissingField(
            "token_endpoint"
        )));
    }
}
