//! Conversation tags: free-form words a person puts on a conversation to find it again
//! (`work`, `机器学习`, `🦀 rust`). This module holds the one rule that makes a tag from what a
//! person typed; the service layer applies it to every way a tag comes in (REST, server
//! functions, imports), and the browser may use it to check a tag before sending it.
//!
//! A tag is the text trimmed, with every run of whitespace (any Unicode whitespace) made one
//! space, of 1 to `MAX_TAG_CHARS` characters and no control character. Case is kept and tags
//! compare exactly after this rule: `Rust` and `rust` are two tags, as two spellings a person
//! chose. Tags sort in Rust's `str` order (by code point), which is also SQLite's `BINARY`
//! order of their UTF-8 text.
// Byte offsets into text a user controls may fall inside a character.
#![deny(clippy::string_slice)]

/// The most characters (not bytes) a tag holds.
pub const MAX_TAG_CHARS: usize = 64;

/// The most tags one conversation carries.
pub const MAX_TAGS_PER_SESSION: usize = 32;

/// The most distinct tags one person has across their conversations.
pub const MAX_TAGS: usize = 1000;

/// Why a text is not a tag. Its `Display` is the sentence a person is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagError {
    /// Nothing but whitespace.
    Empty,
    /// More than `MAX_TAG_CHARS` characters once trimmed and collapsed: how many.
    TooLong(usize),
    /// A control character (a newline is whitespace and collapses; a NUL or an escape does
    /// not).
    ControlCharacter,
}

impl std::fmt::Display for TagError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagError::Empty => write!(formatter, "a tag cannot be empty"),
            TagError::TooLong(chars) => write!(
                formatter,
                "a tag holds at most {MAX_TAG_CHARS} characters (this one has {chars})"
            ),
            TagError::ControlCharacter => {
                write!(formatter, "a tag cannot hold a control character")
            }
        }
    }
}

impl std::error::Error for TagError {}

/// The tag `text` makes: trimmed, each run of whitespace one space. Errors: empty, longer
/// than `MAX_TAG_CHARS` characters, or holding a control character.
pub fn tag(text: &str) -> Result<String, TagError> {
    crate::labels::label(text, MAX_TAG_CHARS).map_err(|error| match error {
        crate::labels::LabelError::Empty => TagError::Empty,
        crate::labels::LabelError::TooLong(chars) => TagError::TooLong(chars),
        crate::labels::LabelError::ControlCharacter => TagError::ControlCharacter,
    })
}

/// `tags` as a conversation holds them: each once, in `str` order.
pub fn normalized(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags.dedup();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_the_text_trimmed_with_its_whitespace_collapsed() {
        assert_eq!(tag("work"), Ok("work".to_owned()));
        assert_eq!(
            tag("  machine \t\n learning  "),
            Ok("machine learning".to_owned())
        );
        // Every Unicode whitespace counts: a no-break space, an ideographic space.
        assert_eq!(
            tag("\u{a0}deep\u{3000}\u{2003}learning\u{a0}"),
            Ok("deep learning".to_owned())
        );
        assert_eq!(tag("Rust"), Ok("Rust".to_owned()), "case is kept");
        assert_ne!(tag("Rust"), tag("rust"), "and tags compare exactly");
        assert_eq!(tag("机器学习"), Ok("机器学习".to_owned()));
        assert_eq!(tag("🦀 rust"), Ok("🦀 rust".to_owned()));
        assert_eq!(tag("a/b"), Ok("a/b".to_owned()), "a slash is a character");
    }

    #[test]
    fn empty_and_control_characters_are_refused() {
        assert_eq!(tag(""), Err(TagError::Empty));
        assert_eq!(tag(" \t\n\u{3000} "), Err(TagError::Empty));
        assert_eq!(tag("a\u{0}b"), Err(TagError::ControlCharacter));
        assert_eq!(tag("bell\u{7}"), Err(TagError::ControlCharacter));
        assert_eq!(tag("esc\u{1b}[0m"), Err(TagError::ControlCharacter));
        assert_eq!(tag("del\u{7f}"), Err(TagError::ControlCharacter));
        assert_eq!(tag("c1\u{85}x"), Ok("c1 x".to_owned()), "NEL is whitespace");
        assert_eq!(tag("c1\u{9b}x"), Err(TagError::ControlCharacter));
        assert_eq!(
            TagError::ControlCharacter.to_string(),
            "a tag cannot hold a control character"
        );
        assert_eq!(TagError::Empty.to_string(), "a tag cannot be empty");
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        // 64 characters of 3 bytes each (192 bytes) is a tag; 65 is not.
        let sixty_four = "学".repeat(64);
        assert_eq!(tag(&sixty_four), Ok(sixty_four.clone()));
        let sixty_five = "学".repeat(65);
        assert_eq!(tag(&sixty_five), Err(TagError::TooLong(65)));
        // Four-byte characters: 64 crabs (256 bytes) pass, 65 do not.
        assert_eq!(tag(&"🦀".repeat(64)), Ok("🦀".repeat(64)));
        assert_eq!(tag(&"🦀".repeat(65)), Err(TagError::TooLong(65)));
        // The limit applies after collapsing: 64 characters with long runs of spaces pass.
        let spaced = format!("{}     {}", "a".repeat(31), "b".repeat(32));
        assert_eq!(
            tag(&spaced),
            Ok(format!("{} {}", "a".repeat(31), "b".repeat(32)))
        );
        assert_eq!(
            TagError::TooLong(65).to_string(),
            "a tag holds at most 64 characters (this one has 65)"
        );
    }

    #[test]
    fn a_conversation_holds_each_tag_once_in_str_order() {
        let tags = normalized(vec![
            "rust".into(),
            "Rust".into(),
            "机器学习".into(),
            "rust".into(),
            "🦀".into(),
            "a b".into(),
        ]);
        assert_eq!(tags, ["Rust", "a b", "rust", "机器学习", "🦀"]);
    }
}
