//! Conversation folders: named, nested groups a person puts conversations in. This module
//! holds the rule that makes a folder name from what a person typed and the limits of how
//! many folders, how deep, and how long a folder's defaults may be; the service layer applies
//! them to every way a folder comes in (REST, server functions, backups, imports).
//!
//! A folder name is the text trimmed, with every run of Unicode whitespace made one space, of
//! 1 to `MAX_FOLDER_NAME_CHARS` characters (chars, not bytes) and no control character. Case
//! is kept. Two folders under the same parent (or both at the top) may share a name: the
//! store keeps no uniqueness rule that a backup restore or an import would then have to
//! break, and a person tells them apart by their place and contents (`in:` search matches
//! both).
// Byte offsets into text a user controls may fall inside a character.
#![deny(clippy::string_slice)]

/// The most characters (not bytes) a folder name holds.
pub const MAX_FOLDER_NAME_CHARS: usize = 128;

/// The most folders one person has (the sidebar lists them all in one read).
pub const MAX_FOLDERS: usize = 1000;

/// The most levels of folders: a top-level folder is at depth 1, its children at 2, and so on.
pub const MAX_FOLDER_DEPTH: usize = 8;

/// The most characters (not bytes) of a folder's default system prompt.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 32_768;

/// The most characters (not bytes) of a folder's default model name.
pub const MAX_MODEL_CHARS: usize = 256;

/// Why a text is not a folder name. Its `Display` is the sentence a person is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderNameError {
    /// Nothing but whitespace.
    Empty,
    /// More than `MAX_FOLDER_NAME_CHARS` characters once trimmed and collapsed: how many.
    TooLong(usize),
    /// A control character (a newline is whitespace and collapses; a NUL does not).
    ControlCharacter,
}

impl std::fmt::Display for FolderNameError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FolderNameError::Empty => write!(formatter, "a folder name cannot be empty"),
            FolderNameError::TooLong(chars) => write!(
                formatter,
                "a folder name holds at most {MAX_FOLDER_NAME_CHARS} characters (this one has {chars})"
            ),
            FolderNameError::ControlCharacter => {
                write!(formatter, "a folder name cannot hold a control character")
            }
        }
    }
}

impl std::error::Error for FolderNameError {}

/// The folder name `text` makes: trimmed, each run of whitespace one space. Errors: empty,
/// longer than `MAX_FOLDER_NAME_CHARS` characters, or holding a control character.
pub fn folder_name(text: &str) -> Result<String, FolderNameError> {
    crate::labels::label(text, MAX_FOLDER_NAME_CHARS).map_err(|error| match error {
        crate::labels::LabelError::Empty => FolderNameError::Empty,
        crate::labels::LabelError::TooLong(chars) => FolderNameError::TooLong(chars),
        crate::labels::LabelError::ControlCharacter => FolderNameError::ControlCharacter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_collapsed_and_keeps_its_case() {
        assert_eq!(
            folder_name("  Work \t\n Notes ").as_deref(),
            Ok("Work Notes")
        );
        assert_eq!(folder_name("机器 学习").as_deref(), Ok("机器 学习"));
        assert_eq!(folder_name("🦀 Rust").as_deref(), Ok("🦀 Rust"));
    }

    #[test]
    fn a_name_counts_characters_not_bytes() {
        let longest = "词".repeat(MAX_FOLDER_NAME_CHARS);
        assert_eq!(folder_name(&longest), Ok(longest.clone()));
        let over = "🦀".repeat(MAX_FOLDER_NAME_CHARS + 1);
        assert_eq!(
            folder_name(&over),
            Err(FolderNameError::TooLong(MAX_FOLDER_NAME_CHARS + 1))
        );
    }

    #[test]
    fn empty_and_control_characters_are_refused() {
        assert_eq!(folder_name(" \n\t "), Err(FolderNameError::Empty));
        assert_eq!(
            folder_name("a\u{0}b"),
            Err(FolderNameError::ControlCharacter)
        );
        assert_eq!(
            folder_name("a\u{1b}b"),
            Err(FolderNameError::ControlCharacter)
        );
    }
}
