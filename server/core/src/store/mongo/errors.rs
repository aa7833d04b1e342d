//! Mapping driver errors to `StoreError`.

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::store::StoreError;

/// The server's code for a unique index violation.
const DUPLICATE_KEY: i32 = 11000;
/// MongoDB's code for a write refused because the disk is full (`OutOfDiskSpace`).
const OUT_OF_DISK_SPACE: i32 = 14031;
/// FerretDB 1.x has no code for a full disk: it answers `InternalError` (1) with its backend's
/// message, SQLite's "database or disk is full (13)" or PostgreSQL's "No space left on
/// device" (SQLSTATE 53100).
const INTERNAL_ERROR: i32 = 1;
const FULL_DISK_MESSAGES: [&str; 3] = [
    "database or disk is full",
    "No space left on device",
    "SQLSTATE 53100",
];

pub fn db_error(error: Error) -> StoreError {
    if is_duplicate_key(&error) {
        return StoreError::Duplicate(duplicate_detail(&error));
    }
    if is_out_of_disk_space(&error) {
        return StoreError::Full;
    }
    StoreError::Backend(error.to_string())
}

/// Whether the server refused the write because its disk is full.
pub fn is_out_of_disk_space(error: &Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => {
            out_of_disk_space(write.code, &write.message)
        }
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => {
            out_of_disk_space(concern.code, &concern.message)
        }
        ErrorKind::Command(command) => out_of_disk_space(command.code, &command.message),
        ErrorKind::InsertMany(insert) => {
            insert
                .write_concern_error
                .iter()
                .any(|concern| out_of_disk_space(concern.code, &concern.message))
                || insert
                    .write_errors
                    .iter()
                    .flatten()
                    .any(|write| out_of_disk_space(write.code, &write.message))
        }
        _ => false,
    }
}

fn out_of_disk_space(code: i32, message: &str) -> bool {
    code == OUT_OF_DISK_SPACE
        || (code == INTERNAL_ERROR && FULL_DISK_MESSAGES.iter().any(|full| message.contains(full)))
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

#[cfg(test)]
mod tests {
    //! FerretDB 1.24's reply was captured from a server whose SQLite files filled a small
    //! tmpfs; its PostgreSQL backend's is written in the form pgx gives PostgreSQL's errors,
    //! and MongoDB's `OutOfDiskSpace` as its error code list names it.

    use mongodb::bson::{doc, from_document};
    use mongodb::error::{CommandError, Error, ErrorKind, WriteError, WriteFailure};

    use super::*;

    fn command_error(code: i32, code_name: &str, message: &str) -> Error {
        let reply = doc! { "code": code, "codeName": code_name, "errmsg": message };
        Error::from(ErrorKind::Command(
            from_document::<CommandError>(reply).expect("a command error reply"),
        ))
    }

    fn kind(error: StoreError) -> String {
        format!("{error:?}")
    }

    #[test]
    fn a_full_disk_is_storage_full() {
        let replies = [
            (
                1,
                "InternalError",
                "[msg_insert.go:168 handler.(*Handler).MsgInsert] [db.go:167 \
                 fsql.(*DB).InTransaction] database or disk is full (13)",
            ),
            (
                1,
                "InternalError",
                "ERROR: could not extend file \"base/16384/16385\": No space left on device \
                 (SQLSTATE 53100)",
            ),
            (
                14031,
                "OutOfDiskSpace",
                "Can't take a write lock while out of disk space",
            ),
        ];
        for (code, name, message) in replies {
            assert_eq!(
                kind(db_error(command_error(code, name, message))),
                "Full",
                "{message}"
            );
        }
        let write = Error::from(ErrorKind::Write(WriteFailure::WriteError(
            from_document::<WriteError>(doc! {
                "code": 14031,
                "codeName": "OutOfDiskSpace",
                "errmsg": "Can't take a write lock while out of disk space",
            })
            .expect("a write error"),
        )));
        assert_eq!(kind(db_error(write)), "Full");
    }

    #[test]
    fn other_internal_errors_stay_backend_errors() {
        let error = command_error(
            1,
            "InternalError",
            "[msg_insert.go:168 handler.(*Handler).MsgInsert] database is locked (5)",
        );
        assert_eq!(
            kind(db_error(error)),
            "Backend(\"Kind: Command failed: Error code 1 (InternalError): [msg_insert.go:168 \
             handler.(*Handler).MsgInsert] database is locked (5), labels: {}, source: None, \
             server response: None\")"
        );
    }
}
