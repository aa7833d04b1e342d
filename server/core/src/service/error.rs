//! The service layer's error: what went wrong in the user's terms, with the machine-readable
//! code every adapter reports. It knows nothing of HTTP: `confab_http::error` maps each kind to
//! its status.

use crate::store::StoreError;

/// What a person is told when a write fails because the server's disk is full: the REST error
/// message, the server functions' error, and so the UI's notice.
pub const STORAGE_FULL_MESSAGE: &str =
    "the server's storage is full, so nothing was saved; try again once space is freed";

/// What a client is told when the passwords being checked at once fill the queue.
pub const PASSWORDS_BUSY: &str =
    "the server is busy checking other passwords; try again in a second";

/// `Retry-After` of a busy answer: a queue of hashes drains in well under a second, and one
/// of forks within seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Valid syntax, invalid values.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid email or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// Refused by a rule the client can name and act on, such as a wrong password given to
    /// confirm a deletion.
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// A conflict the client tells apart by its code (409 `folder_cycle`).
    #[error("{message}")]
    ConflictWith { code: &'static str, message: String },
    /// What was sent is larger than a limit of Confab's (an import's file, or what it unpacks
    /// to): the sentence names the limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("too many attempts, try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// Too much of one kind of heavy work is running (passwords being checked, forks being
    /// copied: `gate::Gate`): nothing was done, and the same request may succeed a moment
    /// later. The sentence says which work.
    #[error("{0}")]
    Busy(&'static str),
    /// The server's disk is full: the write was refused whole, and the same request succeeds
    /// once an operator frees space.
    #[error("{STORAGE_FULL_MESSAGE}")]
    StorageFull,
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict_code(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::ConflictWith {
            code,
            message: message.into(),
        }
    }

    pub fn denied(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Denied {
            code,
            message: message.into(),
        }
    }

    /// Seconds the client should wait before trying again, for the answers that say so
    /// (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ServiceError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ServiceError::Busy(_) => Some(BUSY_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Unauthorized => "unauthorized",
            ServiceError::BadCredentials => "bad_credentials",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Denied { code, .. } => code,
            ServiceError::NotFound => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::ConflictWith { code, .. } => code,
            // The code of every "over the size limit" answer, whether the body was cut off while
            // it arrived or the import found it too large.
            ServiceError::TooLarge(_) => "body_too_large",
            ServiceError::TooManyRequests { .. } => "too_many_requests",
            ServiceError::Busy(_) => "busy",
            ServiceError::StorageFull => "storage_full",
            ServiceError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(conflict) => ServiceError::Conflict(conflict.to_string()),
            StoreError::Duplicate(detail) => {
                // The database's words name its tables and indexes: the log may know them,
                // the client may not.
                tracing::warn!(%detail, "a write broke a uniqueness rule");
                ServiceError::Conflict(DUPLICATE_MESSAGE.into())
            }
            StoreError::InvalidCursor => {
                ServiceError::invalid("invalid_cursor", "the cursor is not one this server gave")
            }
            StoreError::Backend(detail) => ServiceError::Internal(detail),
            StoreError::Closed => ServiceError::Internal("the store is shutting down".into()),
            StoreError::Full => ServiceError::StorageFull,
        }
    }
}

/// What a client is told when a write would duplicate something already stored.
pub const DUPLICATE_MESSAGE: &str = "this conflicts with something already saved";

/// How serde_json words a `\uD800`–`\uDFFF` escape without its other half: in terms of where
/// its parser stopped, not of what is wrong with the text.
const SURROGATE_ERRORS: [&str; 2] = [
    "unexpected end of hex escape",
    "lone leading surrogate in hex escape",
];

/// A JSON parse error message in the user's terms: a lone UTF-16 surrogate escape (such as
/// `"\ud83c"` without the `"\udd80"` that would make it a character) cannot be held as text,
/// and the message now says so; any other message is returned as it is.
pub fn explain_json_error(message: &str) -> String {
    for phrase in SURROGATE_ERRORS {
        if message.contains(phrase) {
            return message.replacen(
                phrase,
                "a lone surrogate escape (\\ud800 to \\udfff without its other half) is not a character",
                1,
            );
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's own words for a broken UNIQUE rule, from a real database.
    fn unique_violation() -> StoreError {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE users (email TEXT UNIQUE); INSERT INTO users VALUES ('a');",
            )
            .unwrap();
        let error = connection
            .execute("INSERT INTO users VALUES ('a')", [])
            .unwrap_err();
        crate::store::sqlite::sql_error(error)
    }

    #[test]
    fn a_duplicate_reaches_the_client_without_the_databases_words() {
        let duplicate = unique_violation();
        assert_eq!(
            duplicate.to_string(),
            "duplicate: UNIQUE constraint failed: users.email",
            "the log still says what broke"
        );
        let error = ServiceError::from(duplicate);
        // What every adapter reports (the HTTP body is confab-http's test).
        assert_eq!(
            (error.code(), error.to_string().as_str()),
            ("conflict", DUPLICATE_MESSAGE)
        );
    }

    #[test]
    fn lone_surrogates_are_named() {
        for text in [r#""\ud83c here""#, r#""\udc00""#, r#""\ud83c\u0041""#] {
            let error = serde_json::from_str::<String>(text).unwrap_err();
            let message = explain_json_error(&error.to_string());
            assert!(
                message.starts_with(
                    "a lone surrogate escape (\\ud800 to \\udfff without its other half) is not a character at line 1 column "
                ),
                "{text}: {message}"
            );
        }
        assert_eq!(
            explain_json_error("expected value at line 1 column 1"),
            "expected value at line 1 column 1"
        );
    }
}
