//! The short-lived cookie that binds a sign-in in progress to the browser that began it.
//! It carries only the random id of the server-side record.

use std::time::Duration;

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::Id;

use crate::auth::FLOW_COOKIE;

/// `Set-Cookie` for a new sign-in: HttpOnly, SameSite=Lax, Secure on https, `Max-Age`
/// the sign-in's lifetime.
pub(crate) fn set(id: Id, ttl: Duration, secure: bool) -> Option<HeaderValue> {
    let max_age = time::Duration::try_from(ttl).unwrap_or(time::Duration::minutes(10));
    let c = Cookie::build((FLOW_COOKIE, id.to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build();
    HeaderValue::try_from(c.to_string()).ok()
}

/// `Set-Cookie` that removes the flow cookie.
pub(crate) fn clear(secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((FLOW_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::ZERO)
        .build();
    HeaderValue::try_from(c.to_string()).ok()
}

/// Appends a `Set-Cookie` value to a response's headers.
pub(crate) fn append(headers: &mut HeaderMap, value: Option<HeaderValue>) {
    if let Some(v) = value {
        headers.append(SET_COOKIE, v);
    }
}

/// The flow id the request's cookie names, if it is well-formed. With several cookies
/// of that name (a planted one among them), none is trusted.
pub(crate) fn read(headers: &HeaderMap) -> Option<Id> {
    let mut found = None;
    for value in headers.get_all(COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for c in Cookie::split_parse(s).flatten() {
            if c.name() == FLOW_COOKIE {
                if found.is_some() {
                    return None;
                }
                found = Some(c.value().to_owned());
            }
        }
    }
    found.and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes_and_round_trip() {
        let id = Id::default();
        let v = set(id, Duration::from_secs(600), true).unwrap();
        let s = v.to_str().unwrap();
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=600",
        ] {
            assert!(s.contains(attr), "{s}");
        }
        let plain = set(id, Duration::from_secs(600), false).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
        let mut h = HeaderMap::new();
        let pair = s.split(';').next().unwrap();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {pair}")).unwrap(),
        );
        assert_eq!(read(&h), Some(id));
        h.append(COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(read(&h), None, "two flow cookies: trust neither");
    }
}
