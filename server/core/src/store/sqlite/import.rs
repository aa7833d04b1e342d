//! Bulk import in the writer's transaction. Ids are derived from source ids by the service, so
//! a row that exists already was imported before and is skipped.

use rusqlite::{params, Connection, OptionalExtension};

use super::chat::{create_session, insert_message};
use super::sql_error;
use crate::store::{ImportCounts, ImportSession, StoreResult};

fn exists(conn: &Connection, sql: &str, id: &str) -> StoreResult<bool> {
    conn.prepare_cached(sql)
        .and_then(|mut query| query.query_row([id], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(sql_error)
}

pub fn import_sessions(conn: &Connection, sessions: &[ImportSession]) -> StoreResult<ImportCounts> {
    let mut counts = ImportCounts::default();
    for import in sessions {
        let session = &import.session;
        if !exists(
            conn,
            "SELECT 1 FROM chat_sessions WHERE id = ?1",
            &session.id,
        )? {
            create_session(conn, session)?;
            conn.prepare_cached(
                "UPDATE chat_sessions SET pinned = ?2, archived = ?3 WHERE id = ?1",
            )
            .and_then(|mut update| {
                update.execute(params![session.id, import.pinned, import.archived])
            })
            .map_err(sql_error)?;
            counts.sessions += 1;
        }
        for message in &import.messages {
            if exists(conn, "SELECT 1 FROM messages WHERE id = ?1", &message.id)? {
                counts.skipped_messages += 1;
                continue;
            }
            insert_message(conn, message)?;
            counts.messages += 1;
        }
        if let Some(leaf) = &import.active_leaf_id {
            conn.prepare_cached("UPDATE chat_sessions SET active_leaf_id = ?2 WHERE id = ?1")
                .and_then(|mut update| update.execute([&session.id, leaf]))
                .map_err(sql_error)?;
        }
    }
    Ok(counts)
}
