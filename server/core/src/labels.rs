//! The one rule behind the short labels a person types: tags (`crate::tags`) and folder names
//! (`crate::folders`). A label is the text trimmed, each run of Unicode whitespace made one
//! space, of 1 to a limit of characters (chars, not bytes), with no control character.
// Byte offsets into text a user controls may fall inside a character.
#![deny(clippy::string_slice)]

/// Why a text is not a label; each kind of label words it for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelError {
    /// Nothing but whitespace.
    Empty,
    /// More than the limit once trimmed and collapsed: how many characters.
    TooLong(usize),
    /// A control character (a newline is whitespace and collapses; a NUL does not).
    ControlCharacter,
}

/// The label `text` makes, of at most `max_chars` characters.
pub(crate) fn label(text: &str, max_chars: usize) -> Result<String, LabelError> {
    let label = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if label.is_empty() {
        return Err(LabelError::Empty);
    }
    if label.chars().any(char::is_control) {
        return Err(LabelError::ControlCharacter);
    }
    let chars = label.chars().count();
    if chars > max_chars {
        return Err(LabelError::TooLong(chars));
    }
    Ok(label)
}
