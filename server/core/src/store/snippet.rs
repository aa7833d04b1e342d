//! Search snippets as HTML, shared by every backend: the text is escaped and the hits are
//! wrapped in `<mark>` tags, so a client can insert a snippet as it is.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

/// Words of context in a snippet.
pub const SNIPPET_TOKENS: usize = 24;

/// Marks the start of a hit in a raw snippet (a private-use character, as SQLite's `snippet()`
/// needs plain characters for its markers).
pub const MARK_START: char = '\u{E000}';
/// Marks the end of a hit in a raw snippet.
pub const MARK_END: char = '\u{E001}';

/// Escapes a snippet for HTML and turns the hit markers into `<mark>` tags.
pub fn highlight(snippet: &str) -> String {
    let mut html = String::with_capacity(snippet.len() + 32);
    for character in snippet.chars() {
        match character {
            MARK_START => html.push_str("<mark>"),
            MARK_END => html.push_str("</mark>"),
            other => push_escaped(&mut html, other),
        }
    }
    html
}

/// Appends `text` escaped for HTML (markers included: only `highlight` gives them meaning).
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
    fn snippets_are_escaped_and_marked() {
        let raw = format!("a <script> {MARK_START}word{MARK_END} & \"more\"");
        assert_eq!(
            highlight(&raw),
            "a &lt;script&gt; <mark>word</mark> &amp; &quot;more&quot;"
        );
    }

    #[test]
    fn escaping_keeps_markers_as_text() {
        let mut html = String::new();
        escape_into(&mut html, &format!("<{MARK_START}>'"));
        assert_eq!(html, format!("&lt;{MARK_START}&gt;&#39;"));
    }
}
