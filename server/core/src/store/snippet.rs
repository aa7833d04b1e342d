//! Search snippets as HTML, shared by every backend: the text is escaped and the hits are
//! wrapped in `<mark>` tags (see `mongo::snippet`, which cuts them for both backends), so a
//! client can insert a snippet as it is.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

/// Words of context in a snippet.
pub const SNIPPET_TOKENS: usize = 24;

/// Appends `text` escaped for HTML.
pub fn escape_into(html: &mut String, text: &str) {
    for character in text.chars() {
        push_escaped(html, character);
    }
}

fn push_escaped(html: &mut String, character: char) {
    match character {
        '&' => html.push_str("&amp;"),
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '"' => html.push_str("&quot;"),
        '\'' => html.push_str("&#39;"),
        other => html.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut html = String::new();
        escape_into(&mut html, "a <script> & \"more\" 'x' \u{E000}東京");
        assert_eq!(
            html,
            "a &lt;script&gt; &amp; &quot;more&quot; &#39;x&#39; \u{E000}東京"
        );
    }
}
