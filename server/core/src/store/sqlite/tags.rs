//! Conversation tags: one row of `session_tags` per tag on a session, with its owner, so that
//! the user's tags and the sessions carrying one are read from `session_tags_user` and a
//! session's own tags from the primary key. Rows go with their session (foreign key cascade:
//! the purge, an account's deletion).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, ToSql};

use super::rows::to_ms;
use super::sql_error;
use crate::store::{StoreError, StoreResult};
use crate::tags::MAX_TAGS_PER_SESSION;

/// `?{first}, ?{first + 1}, ...`: the placeholders of `count` numbered parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("?{index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `sql` (with `?1` the user, `?2` the tag, then the ids from `?3`) for each part of
/// `ids` and gathers the session ids it returns.
fn returned_ids(
    conn: &Connection,
    sql: impl Fn(&str) -> String,
    user_id: &str,
    tag: &str,
    ids: &[String],
) -> StoreResult<HashSet<String>> {
    let mut found = HashSet::new();
    // Under SQLite's default limit of bound parameters.
    for chunk in ids.chunks(500) {
        let sql = sql(&placeholders(3, chunk.len()));
        let mut args: Vec<&dyn ToSql> = vec![&user_id, &tag];
        args.extend(chunk.iter().map(|id| id as &dyn ToSql));
        let mut statement = conn.prepare(&sql).map_err(sql_error)?;
        let rows: Vec<String> = statement
            .query_map(args.as_slice(), |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(sql_error)?;
        found.extend(rows);
    }
    Ok(found)
}

fn touch(conn: &Connection, ids: &HashSet<String>, now: DateTime<Utc>) -> StoreResult<()> {
    let mut update = conn
        .prepare_cached("UPDATE chat_sessions SET updated_at = ?2 WHERE id = ?1")
        .map_err(sql_error)?;
    for id in ids {
        update.execute(params![id, to_ms(now)]).map_err(sql_error)?;
    }
    Ok(())
}

/// `SessionsChange::Tagged` (in the writer's transaction): the tag is added to each live
/// session of `ids` holding fewer than `MAX_TAGS_PER_SESSION` tags; those already carrying
/// it count as applied, unchanged. Returns the applied ids.
pub fn tag_sessions(
    conn: &Connection,
    user_id: &str,
    ids: &[String],
    tag: &str,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    let carrying = returned_ids(
        conn,
        |list| {
            format!(
                "SELECT t.session_id FROM session_tags t JOIN chat_sessions s ON s.id = t.session_id
                 WHERE t.user_id = ?1 AND t.tag = ?2 AND s.deleted_at IS NULL
                     AND t.session_id IN ({list})"
            )
        },
        user_id,
        tag,
        ids,
    )?;
    let added = returned_ids(
        conn,
        |list| {
            format!(
                "INSERT INTO session_tags (session_id, user_id, tag)
                 SELECT id, user_id, ?2 FROM chat_sessions
                 WHERE user_id = ?1 AND deleted_at IS NULL AND id IN ({list})
                     AND (SELECT count(*) FROM session_tags t WHERE t.session_id = chat_sessions.id)
                         < {MAX_TAGS_PER_SESSION}
                 ON CONFLICT DO NOTHING
                 RETURNING session_id"
            )
        },
        user_id,
        tag,
        ids,
    )?;
    touch(conn, &added, now)?;
    Ok(carrying.into_iter().chain(added).collect())
}

/// `SessionsChange::Untagged` (in the writer's transaction): the tag taken off each live
/// session of `ids` that carries it. Returns those ids.
pub fn untag_sessions(
    conn: &Connection,
    user_id: &str,
    ids: &[String],
    tag: &str,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    let removed = returned_ids(
        conn,
        |list| {
            format!(
                "DELETE FROM session_tags
                 WHERE user_id = ?1 AND tag = ?2 AND session_id IN ({list})
                     AND session_id IN (SELECT id FROM chat_sessions
                                        WHERE user_id = ?1 AND deleted_at IS NULL)
                 RETURNING session_id"
            )
        },
        user_id,
        tag,
        ids,
    )?;
    touch(conn, &removed, now)?;
    Ok(removed)
}

/// The user's tags in `str` order (SQLite's `BINARY` order of UTF-8 text is the same), read
/// from `session_tags_user` alone.
pub fn list_tags(conn: &Connection, user_id: &str) -> StoreResult<Vec<String>> {
    conn.prepare_cached("SELECT DISTINCT tag FROM session_tags WHERE user_id = ?1 ORDER BY tag")
        .and_then(|mut query| {
            query
                .query_map([user_id], |row| row.get(0))
                .and_then(Iterator::collect)
        })
        .map_err(sql_error)
}

/// The sessions of the user carrying `tag`, every one (deleted ones included): `NotFound`
/// when there are none. Their `updated_at` becomes `now`.
fn carrying(conn: &Connection, user_id: &str, tag: &str, now: DateTime<Utc>) -> StoreResult<u64> {
    let changed = conn
        .prepare_cached(
            "UPDATE chat_sessions SET updated_at = ?3
             WHERE id IN (SELECT session_id FROM session_tags WHERE user_id = ?1 AND tag = ?2)",
        )
        .and_then(|mut update| update.execute(params![user_id, tag, to_ms(now)]))
        .map_err(sql_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(changed as u64)
}

/// See `Store::rename_tag`, in the writer's one transaction.
pub fn rename_tag(
    conn: &Connection,
    user_id: &str,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let changed = carrying(conn, user_id, from, now)?;
    if from == to {
        return Ok(changed);
    }
    conn.prepare_cached(
        "INSERT INTO session_tags (session_id, user_id, tag)
         SELECT session_id, user_id, ?3 FROM session_tags WHERE user_id = ?1 AND tag = ?2
         ON CONFLICT DO NOTHING",
    )
    .and_then(|mut insert| insert.execute(params![user_id, from, to]))
    .map_err(sql_error)?;
    delete_rows(conn, user_id, from)?;
    Ok(changed)
}

/// See `Store::delete_tag`, in the writer's one transaction.
pub fn delete_tag(
    conn: &Connection,
    user_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let changed = carrying(conn, user_id, name, now)?;
    delete_rows(conn, user_id, name)?;
    Ok(changed)
}

fn delete_rows(conn: &Connection, user_id: &str, tag: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM session_tags WHERE user_id = ?1 AND tag = ?2")
        .and_then(|mut delete| delete.execute(params![user_id, tag]))
        .map_err(sql_error)?;
    Ok(())
}

/// Puts `tags` on a session the import just created.
pub fn insert_tags(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    tags: &[String],
) -> StoreResult<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO session_tags (session_id, user_id, tag) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .map_err(sql_error)?;
    for tag in tags {
        insert
            .execute(params![session_id, user_id, tag])
            .map_err(sql_error)?;
    }
    Ok(())
}
