//! Mapping driver errors to `StoreError`.

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::store::StoreError;

/// The server's code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

pub fn db_error(error: Error) -> StoreError {
    if is_duplicate_key(&error) {
        return StoreError::Conflict(duplicate_detail(&error));
    }
    StoreError::Backend(error.to_string())
}

/// Whether the write failed only because a unique index already holds the key.
pub fn is_duplicate_key(error: &Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(insert) => {
            insert.write_concern_error.is_none()
                && insert
                    .write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|e| e.code == DUPLICATE_KEY))
        }
        _ => false,
    }
}

/// How an `insert_many` that failed went, when the server said which documents failed.
pub struct InsertManyOutcome {
    /// Positions (in the submitted batch) rejected by a unique index.
    pub duplicates: Vec<usize>,
    /// Positions that failed for any other reason.
    pub failed: Vec<usize>,
}

/// `None` when the failure does not tell which documents were stored (a lost connection, a
/// write concern error).
pub fn insert_many_outcome(error: &Error) -> Option<InsertManyOutcome> {
    let ErrorKind::InsertMany(insert) = error.kind.as_ref() else {
        return None;
    };
    if insert.write_concern_error.is_some() {
        return None;
    }
    let (duplicates, failed) = insert
        .write_errors
        .iter()
        .flatten()
        .partition::<Vec<_>, _>(|e| e.code == DUPLICATE_KEY);
    Some(InsertManyOutcome {
        duplicates: duplicates.into_iter().map(|e| e.index).collect(),
        failed: failed.into_iter().map(|e| e.index).collect(),
    })
}

/// Names the index but not the key: the server's message quotes the duplicated value (an
/// email, say), which must not travel back to a client in a 409.
fn duplicate_detail(error: &Error) -> String {
    let text = error.to_string();
    match text.split_once("index: ") {
        Some((_, rest)) => {
            let index: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            format!("duplicate key in index {index}")
        }
        None => "duplicate key".to_owned(),
    }
}
