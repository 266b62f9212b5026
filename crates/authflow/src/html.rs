//! HTML escaping for the pages authflow and its companion crates render: the loopback
//! listener's page, authflow-axum's error pages, the development provider's forms.
//!
//! No feature gate: it has no dependencies, and the crates that render pages enable
//! different features of this one.

/// Escapes text for HTML element content and double-quoted or single-quoted attribute
/// values: `&`, `<`, `>`, `"` and `'` become character references, and control characters
/// (a server's error text may carry any) become spaces.
///
/// ```
/// assert_eq!(
///     authflow::html::escape("<a href=\"x\">'&'</a>"),
///     "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
/// );
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_quotes_become_references() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        // Already escaped text is escaped again: the input is text, not HTML.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(escape("a\u{1b}[31mb\0c\r\nd"), "a [31mb c  d");
    }

    #[test]
    fn other_text_is_unchanged() {
        let s = "Grüße, 世界: ok / fine = yes (100%) #1 `x`";
        assert_eq!(escape(s), s);
        assert_eq!(escape(""), "");
    }
}
