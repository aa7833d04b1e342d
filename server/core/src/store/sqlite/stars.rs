//! Starred messages: the star on a message and the Starred view across conversations.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::rows::{self, to_ms, AFTER_MESSAGE_COLUMNS, MESSAGE_COLUMNS};
use super::{chat, sql_error};
use crate::model::{Message, Page, StarredMessage};
use crate::store::cursor::{cut_page, decode_star, encode_star};
use crate::store::{StarredQuery, StoreResult};

/// See `Store::set_star`: one UPDATE that keeps an earlier star's time, then the message.
pub fn set_star(
    conn: &Connection,
    user_id: &str,
    id: &str,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Option<Message>> {
    let changed = conn
        .prepare_cached(
            "UPDATE messages SET starred_at = CASE WHEN ?3 IS NULL THEN NULL
                                                  ELSE coalesce(starred_at, ?3) END
             WHERE id = ?1 AND user_id = ?2
               AND EXISTS (SELECT 1 FROM chat_sessions s
                           WHERE s.id = messages.session_id AND s.deleted_at IS NULL)",
        )
        .and_then(|mut update| update.execute(params![id, user_id, at.map(to_ms)]))
        .map_err(sql_error)?;
    if changed == 0 {
        return Ok(None);
    }
    chat::message_by_id(conn, user_id, id)
}

/// See `Store::starred_messages`: the next `limit + 1` stars from `messages_starred`, read in
/// its order, each joined with its session by primary key.
pub fn starred_messages(
    conn: &Connection,
    user_id: &str,
    query: &StarredQuery,
) -> StoreResult<Page<StarredMessage>> {
    // Without a cursor, the start is after every key a star can have.
    let (after_ms, after_id) = match &query.cursor {
        Some(cursor) => decode_star(cursor)?,
        None => (i64::MAX, String::new()),
    };
    let mut found: Vec<(Message, Option<String>)> = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS}, title FROM (
                 SELECT * FROM messages INDEXED BY messages_starred
                 WHERE user_id = ?1 AND starred_at IS NOT NULL
                   AND (starred_at, id) < (?2, ?3)
                 ORDER BY starred_at DESC, id DESC
                 LIMIT ?4
             ) AS starred
             LEFT JOIN (SELECT id AS sid, title FROM chat_sessions
                        WHERE user_id = ?1 AND deleted_at IS NULL) AS live
               ON live.sid = starred.session_id
             ORDER BY starred_at DESC, id DESC"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(
                    params![user_id, after_ms, after_id, query.limit as i64 + 1],
                    |row| {
                        Ok((
                            rows::message(row)?,
                            row.get::<_, Option<String>>(AFTER_MESSAGE_COLUMNS)?,
                        ))
                    },
                )
                .and_then(Iterator::collect)
        })
        .map_err(sql_error)?;
    let next_cursor = cut_page(&mut found, query.limit, |(message, _)| {
        encode_star(
            message.starred_at.map(to_ms).unwrap_or_default(),
            &message.id,
        )
    });
    let items = found
        .into_iter()
        // No title: the session is deleted (or gone), and its stars with it.
        .filter_map(|(message, title)| {
            title.map(|session_title| StarredMessage {
                session_id: message.session_id.clone(),
                message,
                session_title,
            })
        })
        .collect();
    Ok(Page { items, next_cursor })
}
