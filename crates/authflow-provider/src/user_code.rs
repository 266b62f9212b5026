//! User codes of the device flow, in the form RFC 8628 §6.1 recommends: 8 characters
//! from a 20-letter base (consonants only: no vowels to spell words, no look-alike
//! digits), shown as `XXXX-XXXX`, compared case-insensitively with dashes and spaces
//! ignored. 20^8 ≈ 2^34.6 codes.

use authflow::random::{OsRandom, RandomSource};

/// The base-20 alphabet of RFC 8628 §6.1.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code.
const LEN: usize = 8;

/// A fresh user code, normalised (`WDJBMJHT`); [`display`] adds the dash.
pub(crate) fn generate() -> String {
    let mut out = String::with_capacity(LEN);
    let mut buf = [0u8; 32];
    while out.len() < LEN {
        OsRandom.fill(&mut buf);
        // Rejection sampling keeps every letter equally likely: 240 = 12 × 20.
        for b in buf.iter().filter(|&&b| b < 240) {
            if out.len() == LEN {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*b % 20)]));
        }
    }
    out
}

/// A normalised code as shown to people: `WDJB-MJHT`.
pub(crate) fn display(code: &str) -> String {
    match (code.get(..LEN / 2), code.get(LEN / 2..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

/// What a person typed, normalised for comparison; `None` when it cannot be a code
/// (wrong length or a character outside the alphabet).
pub(crate) fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_base20_alphabet_and_round_trip() {
        for _ in 0..200 {
            let c = generate();
            assert_eq!(c.len(), LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            let shown = display(&c);
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(normalize(&shown).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalize(&shown.to_lowercase()).as_deref(),
                Some(c.as_str())
            );
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn normalisation_ignores_case_dashes_and_spaces() {
        assert_eq!(normalize("wdjb-mjht").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize(" WDJB MJHT ").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize("WDJBMJHT").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize("WDJB-MJH"), None, "too short");
        assert_eq!(normalize("WDJB-MJHA"), None, "a vowel");
        assert_eq!(normalize("WDJB-MJH1"), None, "a digit");
        assert_eq!(normalize("ŴDJB-MJHT"), None);
    }
}
