//! Input checks shared by the service operations.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use super::{ServiceError, ServiceResult};
use crate::ids::is_valid_id;
use crate::model::{
    MessageStatus, MAX_CLIENT_ID_CHARS, MAX_CONTENT_BYTES, MAX_MODEL_CHARS,
    MAX_STORED_CONTENT_BYTES, MAX_TITLE_CHARS, MAX_TYPE_CHARS,
};

pub fn id(field: &'static str, value: &str) -> ServiceResult<()> {
    if is_valid_id(value) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "invalid_id",
            format!("{field} is not a valid id"),
        ))
    }
}

/// An id naming something of the user's: a malformed one cannot exist, so it is not found.
pub fn existing_id(value: &str) -> ServiceResult<()> {
    if is_valid_id(value) {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

pub fn title(value: &str) -> ServiceResult<String> {
    let title = value.trim();
    if title.is_empty() {
        return Err(ServiceError::invalid(
            "invalid_title",
            "the title cannot be empty",
        ));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ServiceError::invalid(
            "invalid_title",
            format!("the title is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(title.to_owned())
}

/// Content a restore or import may store: whatever an export holds. A reply that did not
/// complete may be empty (nothing arrived); longer than a client may send is fine up to the
/// largest reply bound.
pub fn stored_content(value: &str, status: MessageStatus) -> ServiceResult<()> {
    if value.trim().is_empty() && status == MessageStatus::Complete {
        return Err(ServiceError::invalid(
            "empty_content",
            "the message content is empty",
        ));
    }
    if value.len() > MAX_STORED_CONTENT_BYTES {
        return Err(ServiceError::invalid(
            "content_too_long",
            format!("the message content is larger than {MAX_STORED_CONTENT_BYTES} bytes"),
        ));
    }
    Ok(())
}

pub fn content(value: &str) -> ServiceResult<()> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(
            "empty_content",
            "the message content is empty",
        ));
    }
    if value.len() > MAX_CONTENT_BYTES {
        return Err(ServiceError::invalid(
            "content_too_long",
            format!("the message content is larger than {MAX_CONTENT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A message type: a short lowercase slug.
pub fn message_type(value: &str) -> ServiceResult<String> {
    let slug = value.trim();
    let ok = !slug.is_empty()
        && slug.len() <= MAX_TYPE_CHARS
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(ServiceError::invalid(
            "invalid_type",
            format!("type must be a lowercase slug of at most {MAX_TYPE_CHARS} characters"),
        ))
    }
}

pub fn model(value: &str) -> ServiceResult<String> {
    let model = value.trim();
    if model.is_empty()
        || model.chars().count() > MAX_MODEL_CHARS
        || model.chars().any(char::is_control)
    {
        return Err(ServiceError::invalid(
            "invalid_model",
            "the model name is not valid",
        ));
    }
    Ok(model.to_owned())
}

pub fn client_id(value: &str) -> ServiceResult<String> {
    if value.is_empty()
        || value.chars().count() > MAX_CLIENT_ID_CHARS
        || value.chars().any(char::is_control)
    {
        return Err(ServiceError::invalid(
            "invalid_client_id",
            format!("clientId must be 1 to {MAX_CLIENT_ID_CHARS} printable characters"),
        ));
    }
    Ok(value.to_owned())
}

pub fn tokens(field: &'static str, value: Option<i64>) -> ServiceResult<Option<i64>> {
    match value {
        Some(n) if !(0..=100_000_000).contains(&n) => Err(ServiceError::invalid(
            "invalid_tokens",
            format!("{field} must be between 0 and 100000000"),
        )),
        other => Ok(other),
    }
}

/// A session title made from the first message: its first line, shortened at a word boundary.
pub fn title_from_content(content: &str) -> String {
    const TITLE_CHARS: usize = 60;
    let line = content
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("New chat");
    let line = line.trim_start_matches(['#', '>', '-', '*', ' ']).trim();
    if line.chars().count() <= TITLE_CHARS {
        return if line.is_empty() {
            "New chat".into()
        } else {
            line.to_owned()
        };
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(space) if space > TITLE_CHARS / 2 => cut.get(..space).unwrap_or(cut.as_str()),
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(title_from_content("\n\n# Hello there\nmore"), "Hello there");
        let long = "word ".repeat(40);
        let title = title_from_content(&long);
        assert!(title.ends_with('…'));
        assert!(title.chars().count() <= 61);
        assert_eq!(title_from_content("   "), "New chat");
    }

    #[test]
    fn types_are_slugs() {
        assert_eq!(message_type("code_review").unwrap(), "code_review");
        assert!(message_type("Code Review").is_err());
        assert!(message_type("").is_err());
        assert!(message_type(&"x".repeat(40)).is_err());
    }
}
