//! Words shown to people: counts in English ("1 message", "2 messages") and the start of a
//! long text.

/// `count` followed by `one` when it is 1, by `many` otherwise ("0 messages", "1 message").
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The first `chars` characters of `text` (never cut inside one), trimmed at the end and
/// followed by "…" when more followed; `text` itself when it is no longer.
pub fn excerpt(text: &str, chars: usize) -> String {
    let mut rest = text.chars();
    let start: String = rest.by_ref().take(chars).collect();
    if rest.next().is_some() {
        format!("{}…", start.trim_end())
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::{counted, excerpt};

    #[test]
    fn an_excerpt_cuts_at_characters_and_says_when_it_did() {
        assert_eq!(excerpt("short", 280), "short");
        assert_eq!(excerpt("你好世界", 4), "你好世界");
        assert_eq!(excerpt("你好世界！", 4), "你好世界…");
        assert_eq!(excerpt("ab 🦀🦀", 4), "ab 🦀…");
        assert_eq!(excerpt("ab cd", 3), "ab…", "the space before the cut goes");
        assert_eq!(excerpt("", 3), "");
        let long = "é".repeat(285);
        assert_eq!(excerpt(&long, 280), format!("{}…", "é".repeat(280)));
        assert_eq!(excerpt(&"a".repeat(280), 280), "a".repeat(280));
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(0, "message", "messages"), "0 messages");
        assert_eq!(counted(1, "message", "messages"), "1 message");
        assert_eq!(counted(2, "message", "messages"), "2 messages");
        assert_eq!(
            counted(1, "conversation", "conversations"),
            "1 conversation"
        );
    }
}
