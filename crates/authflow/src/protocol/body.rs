//! Reading response bodies into fields: JSON, or the form-encoded and text bodies that
//! older providers send. One place, used by every parser.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Map, Value};

use super::error::{OAuthError, ResponseError};

/// The largest response body any parser reads (RFC checklist: 1 MiB).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The body's media type, lower-cased, without parameters.
pub(crate) fn media_type(resp: &Response<Bytes>) -> Option<String> {
    let ct = resp.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Which formats a parser accepts besides JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Formats {
    /// JSON only (discovery, introspection).
    Json,
    /// JSON, form-encoded or text (token responses from old providers).
    Lenient,
}

/// Reads the body as a flat object of fields. An `error` field turns the answer into
/// [`ResponseError::OAuth`] whatever the status (some providers send errors with 200);
/// a non-success status without one becomes [`ResponseError::Status`].
pub(crate) fn read_fields(
    resp: &Response<Bytes>,
    formats: Formats,
) -> Result<Map<String, Value>, ResponseError> {
    let status = resp.status();
    let body = resp.body();
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ResponseError::TooLarge {
            limit: MAX_RESPONSE_BYTES,
        });
    }
    let media = media_type(resp);
    let parsed = parse_any(body, media.as_deref(), formats);
    match parsed {
        Ok(fields) => {
            if let Some(err) = OAuthError::from_fields(status, &fields) {
                return Err(err.into());
            }
            if !status.is_success() {
                return Err(status_error(status, media));
            }
            Ok(fields)
        }
        Err(e) if !status.is_success() => {
            // An HTML error page from a proxy says more by its status than its body.
            let _ = e;
            Err(status_error(status, media))
        }
        Err(e) => Err(e),
    }
}

fn status_error(status: StatusCode, content_type: Option<String>) -> ResponseError {
    ResponseError::Status {
        status,
        content_type,
    }
}

fn parse_any(
    body: &[u8],
    media: Option<&str>,
    formats: Formats,
) -> Result<Map<String, Value>, ResponseError> {
    let lenient = formats == Formats::Lenient;
    match media {
        Some(m) if is_json(m) => parse_json(body),
        Some("application/x-www-form-urlencoded") if lenient => parse_form(body),
        // Some providers label JSON as text/plain or text/html, or send no type at all.
        Some("text/plain") | Some("text/html") | Some("text/javascript") | None => {
            if looks_like_json(body) {
                parse_json(body)
            } else if lenient && media != Some("text/html") {
                parse_form(body)
            } else {
                Err(ResponseError::ContentType {
                    content_type: media.unwrap_or("(none)").to_owned(),
                })
            }
        }
        Some(other) => Err(ResponseError::ContentType {
            content_type: other.to_owned(),
        }),
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ResponseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ResponseError::Malformed {
            format: "JSON",
            detail: "expected an object at the top level".into(),
        }),
        // Syntax and EOF messages name a position, never the content.
        Err(e) => Err(ResponseError::Malformed {
            format: "JSON",
            detail: match e.classify() {
                serde_json::error::Category::Io | serde_json::error::Category::Data => {
                    format!("unreadable at line {} column {}", e.line(), e.column())
                }
                _ => e.to_string(),
            },
        }),
    }
}

fn parse_form(body: &[u8]) -> Result<Map<String, Value>, ResponseError> {
    let text = std::str::from_utf8(body).map_err(|e| ResponseError::Malformed {
        format: "form data",
        detail: format!("not UTF-8 (byte {})", e.valid_up_to()),
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ResponseError::Malformed {
            format: "form data",
            detail: "the body is empty".into(),
        });
    }
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        // First occurrence wins: a repeated parameter must not override an earlier one.
        map.entry(k.into_owned())
            .or_insert(Value::String(v.into_owned()));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: Option<&str>, body: &str) -> Response<Bytes> {
        let mut b = Response::builder().status(status);
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Bytes::from(body.to_owned())).unwrap()
    }

    #[test]
    fn json_with_charset() {
        let r = resp(200, Some("application/json; charset=UTF-8"), r#"{"a":1}"#);
        assert_eq!(read_fields(&r, Formats::Json).unwrap()["a"], 1);
    }

    #[test]
    fn form_and_text_bodies_when_lenient() {
        let r = resp(200, Some("application/x-www-form-urlencoded"), "a=1&b=x+y");
        let f = read_fields(&r, Formats::Lenient).unwrap();
        assert_eq!(f["b"], "x y");
        let r = resp(200, Some("text/plain"), "a=1");
        assert_eq!(read_fields(&r, Formats::Lenient).unwrap()["a"], "1");
        let r = resp(200, Some("text/plain"), r#" {"a":"j"}"#);
        assert_eq!(read_fields(&r, Formats::Lenient).unwrap()["a"], "j");
        let r = resp(200, Some("application/x-www-form-urlencoded"), "a=1");
        assert!(matches!(
            read_fields(&r, Formats::Json),
            Err(ResponseError::ContentType { .. })
        ));
    }

    #[test]
    fn error_field_wins_over_200() {
        let r = resp(
            200,
            Some("application/json"),
            r#"{"error":"bad_verification_code"}"#,
        );
        let e = read_fields(&r, Formats::Lenient).unwrap_err();
        assert_eq!(e.oauth().unwrap().error, "bad_verification_code");
    }

    #[test]
    fn html_error_page_reports_status() {
        let r = resp(502, Some("text/html"), "<html>bad gateway</html>");
        let e = read_fields(&r, Formats::Lenient).unwrap_err();
        assert!(matches!(e, ResponseError::Status { .. }), "{e:?}");
        assert!(e.to_string().contains("502"));
        assert!(!e.to_string().contains("bad gateway"));
    }

    #[test]
    fn oversized_body_is_refused() {
        let big = "x".repeat(MAX_RESPONSE_BYTES + 1);
        let r = resp(200, Some("application/json"), &big);
        assert!(matches!(
            read_fields(&r, Formats::Json),
            Err(ResponseError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_json_does_not_echo_content() {
        let r = resp(
            200,
            Some("application/json"),
            r#"{"access_token":"SECRET123" "#,
        );
        let e = read_fields(&r, Formats::Json).unwrap_err();
        assert!(!e.to_string().contains("SECRET123"), "{e}");
        let r = resp(200, Some("application/json"), r#""SECRET123""#);
        let e = read_fields(&r, Formats::Json).unwrap_err();
        assert!(!e.to_string().contains("SECRET123"), "{e}");
    }
}
