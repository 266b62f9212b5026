//! JOSE for the client: signing keys, public JWKs with RFC 7638 thumbprints, and compact
//! JWS signing and verification.
//!
//! DPoP proofs (RFC 9449), client assertions (RFC 7523), request objects (RFC 9101) and
//! the resource server's proof checks all sign or verify here, so each rule lives once.
//! Pure computation: nothing here touches a socket or a clock; [`SigningKey::load_pem_file`]
//! is the one function that reads a file.

mod algorithm;
mod compact;
mod jwk;
mod key;
mod signer;

pub use algorithm::JwsAlgorithm;
pub(crate) use compact::sign_hmac;
pub use compact::{CompactJws, JwsParseError, UnsignedJws, sign_jws};
pub use jwk::{JwkError, PublicJwk};
pub use key::{KeyError, SigningKey};
pub use signer::{JwsSigner, SignError, SignFuture};

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; `None` on anything else.
pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .ok()
}
