//! Chat sessions and their messages.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::rows::{self, to_ms, MESSAGE_COLUMNS, SESSION_COLUMNS};
use super::sql_error;
use crate::api::FolderFilter;
use crate::model::{Message, MessageStatus, Page, Session, SessionDetail, StatusReason};
use crate::store::cursor::SessionCursor;
use crate::store::title_filter::{page_of_matches, Scanned, TitleFilter, TITLE_FILTER_SCAN};
use crate::store::{
    Appended, LeafRule, MessageQuery, NewMessage, NewSession, ReplyOutcome, SessionPatch,
    SessionQuery, SessionsChange, StoreError, StoreResult,
};

pub fn create_session(conn: &Connection, new: &NewSession) -> StoreResult<Session> {
    if let Some(folder_id) = &new.folder_id {
        super::folders::check_owned(conn, &new.user_id, folder_id)?;
    }
    let created = to_ms(new.created_at);
    conn.prepare_cached(
        "INSERT INTO chat_sessions
             (id, user_id, title, source_id, created_at, updated_at, activity_at, folder_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            new.id,
            new.user_id,
            new.title,
            new.source_id,
            created,
            new.folder_id
        ])
    })
    .map_err(sql_error)?;
    session_by_id(conn, &new.user_id, &new.id)?.ok_or(StoreError::NotFound)
}

/// The user's session, unless it is deleted.
pub fn session_by_id(conn: &Connection, user_id: &str, id: &str) -> StoreResult<Option<Session>> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM chat_sessions
         WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"
    ))
    .and_then(|mut query| query.query_row([id, user_id], rows::session).optional())
    .map_err(sql_error)
}

pub fn session_detail(
    conn: &Connection,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<SessionDetail>> {
    let Some(session) = session_by_id(conn, user_id, id)? else {
        return Ok(None);
    };
    let mut query = conn
        .prepare_cached(
            "SELECT DISTINCT model FROM messages WHERE session_id = ?1 AND model IS NOT NULL
             ORDER BY model",
        )
        .map_err(sql_error)?;
    let models = query
        .query_map([id], |row| row.get(0))
        .and_then(Iterator::collect)
        .map_err(sql_error)?;
    Ok(Some(SessionDetail { session, models }))
}

/// A session as the list reads it, with its sort key (last activity, ms).
struct Listed(Session, i64);

impl Scanned for Listed {
    fn title(&self) -> &str {
        &self.0.title
    }
    fn cursor(&self) -> SessionCursor {
        SessionCursor {
            activity_ms: self.1,
            id: self.0.id.clone(),
        }
    }
}

/// The user's live sessions in list order (last activity, newest first). With a title filter
/// a page holds the matches among at most `TITLE_FILTER_SCAN` sessions (`title_filter`),
/// matched in Rust as on MongoDB: SQLite's `lower()` folds ASCII letters only.
pub fn list_sessions(
    conn: &Connection,
    user_id: &str,
    query: &SessionQuery,
) -> StoreResult<Page<Session>> {
    let mut sql = format!(
        "SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE user_id = ? AND deleted_at IS NULL"
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(user_id.to_owned())];
    if let Some(cursor) = &query.cursor {
        let cursor = SessionCursor::decode(cursor)?;
        sql.push_str(" AND (activity_at, id) < (?, ?)");
        args.push(Box::new(cursor.activity_ms));
        args.push(Box::new(cursor.id));
    }
    if let Some(archived) = query.archived {
        sql.push_str(" AND archived = ?");
        args.push(Box::new(archived));
    }
    if let Some(pinned) = query.pinned {
        sql.push_str(" AND pinned = ?");
        args.push(Box::new(pinned));
    }
    if let Some(tag) = &query.tag {
        sql.push_str(
            " AND id IN (SELECT session_id FROM session_tags WHERE user_id = ? AND tag = ?)",
        );
        args.push(Box::new(user_id.to_owned()));
        args.push(Box::new(tag.clone()));
    }
    match &query.folder {
        None => {}
        Some(FolderFilter::Top) => sql.push_str(" AND folder_id IS NULL"),
        Some(FolderFilter::Folder(id)) => {
            sql.push_str(" AND folder_id = ?");
            args.push(Box::new(id.clone()));
        }
    }
    let filter = query.title_contains.as_deref().map(TitleFilter::new);
    // One row past what is looked at tells whether more follow.
    let fetched = match filter {
        Some(_) => TITLE_FILTER_SCAN + 1,
        None => query.limit + 1,
    };
    sql.push_str(" ORDER BY activity_at DESC, id DESC LIMIT ?");
    args.push(Box::new(fetched as i64));

    let mut statement = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut found: Vec<Listed> = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            Ok(Listed(rows::session(row)?, row.get(12)?))
        })
        .and_then(Iterator::collect)
        .map_err(sql_error)?;
    let next_cursor = match &filter {
        Some(filter) => {
            let (matches, next_cursor) = page_of_matches(found, filter, query.limit);
            found = matches;
            next_cursor
        }
        None => crate::store::cursor::cut_page(&mut found, query.limit, |listed| {
            listed.cursor().encode()
        }),
    };
    Ok(Page {
        items: found
            .into_iter()
            .map(|Listed(session, _)| session)
            .collect(),
        next_cursor,
    })
}

/// The user's live sessions after `after` in id order (`chat_sessions_user_id` serves it).
pub fn sessions_by_id(
    conn: &Connection,
    user_id: &str,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<Session>> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM chat_sessions
         WHERE user_id = ?1 AND id > ?2 AND deleted_at IS NULL ORDER BY id LIMIT ?3"
    ))
    .and_then(|mut query| {
        query
            .query_map(
                params![user_id, after.unwrap_or(""), limit as i64],
                rows::session,
            )
            .and_then(Iterator::collect)
    })
    .map_err(sql_error)
}

/// Which of `ids` are the user's sessions, deleted ones included.
pub fn owned_session_ids(
    conn: &Connection,
    user_id: &str,
    ids: &[String],
) -> StoreResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    // Well under SQLite's limit of parameters per statement.
    for part in ids.chunks(500) {
        let sql = format!(
            "SELECT id FROM chat_sessions WHERE user_id = ? AND id IN ({})",
            vec!["?"; part.len()].join(", ")
        );
        let mut args: Vec<&dyn ToSql> = vec![&user_id];
        args.extend(part.iter().map(|id| id as &dyn ToSql));
        let mut query = conn.prepare(&sql).map_err(sql_error)?;
        let rows = query
            .query_map(&args[..], |row| row.get::<_, String>(0))
            .map_err(sql_error)?;
        for id in rows {
            found.insert(id.map_err(sql_error)?);
        }
    }
    Ok(found)
}

pub fn update_session(
    conn: &Connection,
    user_id: &str,
    id: &str,
    patch: &SessionPatch,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let changed = conn
        .prepare_cached(
            "UPDATE chat_sessions SET
                title = coalesce(?3, title),
                is_active = coalesce(?4, is_active),
                pinned = coalesce(?5, pinned),
                archived = coalesce(?6, archived),
                active_leaf_id = coalesce(?8, active_leaf_id),
                updated_at = ?7
             WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut update| {
            update.execute(params![
                id,
                user_id,
                patch.title,
                patch.is_active,
                patch.pinned,
                patch.archived,
                to_ms(now),
                patch.active_leaf_id,
            ])
        })
        .map_err(sql_error)?;
    if changed == 0 {
        return Ok(None);
    }
    session_by_id(conn, user_id, id)
}

/// See `Store::change_sessions`: one `UPDATE … RETURNING id` per 500 ids (under SQLite's
/// default limit of bound parameters), all in the writer's one transaction. Parameters: ?1
/// the user, ?2 the change's value, ?3 `now` (a numbered parameter may go unused), then the
/// ids.
pub fn change_sessions(
    conn: &Connection,
    user_id: &str,
    ids: &[String],
    change: SessionsChange,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let (set, condition, value) = match change {
        SessionsChange::Tagged(tag) => {
            let applied = super::tags::tag_sessions(conn, user_id, ids, &tag, now)?;
            return Ok(in_given_order(ids, &applied));
        }
        SessionsChange::Untagged(tag) => {
            let applied = super::tags::untag_sessions(conn, user_id, ids, &tag, now)?;
            return Ok(in_given_order(ids, &applied));
        }
        SessionsChange::Archived(archived) => (
            "archived = ?2, updated_at = ?3",
            "deleted_at IS NULL",
            i64::from(archived),
        ),
        SessionsChange::Pinned(pinned) => (
            "pinned = ?2, updated_at = ?3",
            "deleted_at IS NULL",
            i64::from(pinned),
        ),
        SessionsChange::Deleted(at) => ("deleted_at = ?2", "deleted_at IS NULL", to_ms(at)),
        SessionsChange::Restored(since) => ("deleted_at = NULL", "deleted_at >= ?2", to_ms(since)),
        SessionsChange::Moved(folder_id) => {
            let applied =
                super::folders::move_sessions(conn, user_id, ids, folder_id.as_deref(), now)?;
            return Ok(in_given_order(ids, &applied));
        }
    };
    let now = to_ms(now);
    let mut applied = HashSet::new();
    for chunk in ids.chunks(500) {
        let list = (0..chunk.len())
            .map(|index| format!("?{}", index + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE chat_sessions SET {set}
             WHERE user_id = ?1 AND {condition} AND id IN ({list})
             RETURNING id"
        );
        let mut args: Vec<&dyn ToSql> = vec![&user_id, &value, &now];
        args.extend(chunk.iter().map(|id| id as &dyn ToSql));
        let mut update = conn.prepare(&sql).map_err(sql_error)?;
        let changed: Vec<String> = update
            .query_map(args.as_slice(), |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(sql_error)?;
        applied.extend(changed);
    }
    Ok(in_given_order(ids, &applied))
}

/// The ids of `ids` in `applied`, in the order of `ids`, each once.
fn in_given_order(ids: &[String], applied: &HashSet<String>) -> Vec<String> {
    let mut listed = HashSet::new();
    ids.iter()
        .filter(|id| applied.contains(*id) && listed.insert(id.as_str()))
        .cloned()
        .collect()
}

/// Marks the session deleted; its messages and their search entries stay until the purge.
pub fn delete_session(
    conn: &Connection,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE chat_sessions SET deleted_at = ?3
             WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut update| update.execute(params![id, user_id, to_ms(now)]))
        .map_err(sql_error)?;
    Ok(changed > 0)
}

pub fn restore_session(
    conn: &Connection,
    user_id: &str,
    id: &str,
    deleted_since: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let changed = conn
        .prepare_cached(
            "UPDATE chat_sessions SET deleted_at = NULL
             WHERE id = ?1 AND user_id = ?2 AND deleted_at >= ?3",
        )
        .and_then(|mut update| update.execute(params![id, user_id, to_ms(deleted_since)]))
        .map_err(sql_error)?;
    if changed == 0 {
        return Ok(None);
    }
    session_by_id(conn, user_id, id)
}

/// The sessions deleted before `deleted_before_ms`, oldest deletion first.
pub fn deleted_before(conn: &Connection, deleted_before_ms: i64) -> StoreResult<Vec<String>> {
    let mut query = conn
        .prepare_cached("SELECT id FROM chat_sessions WHERE deleted_at < ?1 ORDER BY deleted_at")
        .map_err(sql_error)?;
    let ids = query
        .query_map([deleted_before_ms], |row| row.get(0))
        .and_then(Iterator::collect)
        .map_err(sql_error);
    ids
}

/// Removes one deleted session for good; its messages (and their search entries, by the
/// triggers) go with it through the foreign key's cascade. False when it was restored since.
/// Deletes up to `limit` messages of session `id` if it was deleted before `deleted_before_ms`;
/// returns how many went. The purge takes a session's messages away a bounded part at a time:
/// one transaction for a 100,000-message session would hold the writer, and every append
/// queued behind it, for seconds.
pub fn purge_messages(
    conn: &Connection,
    id: &str,
    deleted_before_ms: i64,
    limit: usize,
) -> StoreResult<usize> {
    conn.prepare_cached(
        "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE session_id = ?1 LIMIT ?3)
             AND EXISTS (SELECT 1 FROM chat_sessions WHERE id = ?1 AND deleted_at < ?2)",
    )
    .and_then(|mut delete| delete.execute(params![id, deleted_before_ms, limit as i64]))
    .map_err(sql_error)
}

pub fn purge_session(conn: &Connection, id: &str, deleted_before_ms: i64) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached("DELETE FROM chat_sessions WHERE id = ?1 AND deleted_at < ?2")
        .and_then(|mut delete| delete.execute(params![id, deleted_before_ms]))
        .map_err(sql_error)?;
    Ok(changed > 0)
}

pub fn clear_session(
    conn: &Connection,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    if session_by_id(conn, user_id, id)?.is_none() {
        return Ok(false);
    }
    conn.execute("DELETE FROM messages WHERE session_id = ?1", [id])
        .map_err(sql_error)?;
    conn.execute(
        "UPDATE chat_sessions SET message_count = 0, prompt_tokens = 0, completion_tokens = 0,
             last_message_at = NULL, active_leaf_id = NULL, updated_at = ?2
         WHERE id = ?1",
        params![id, to_ms(now)],
    )
    .map_err(sql_error)?;
    Ok(true)
}

pub fn message_by_client_id(
    conn: &Connection,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = ?1 AND client_id = ?2"
    ))
    .and_then(|mut query| {
        query
            .query_row([user_id, client_id], rows::message)
            .optional()
    })
    .map_err(sql_error)
}

/// The user's message, unless its session is deleted.
/// The message of a live (not deleted) conversation stored under `(user, client id)`.
pub fn live_message_by_client_id(
    conn: &Connection,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = ?1 AND client_id = ?2
             AND EXISTS (SELECT 1 FROM chat_sessions s
                         WHERE s.id = messages.session_id AND s.deleted_at IS NULL)"
    ))
    .and_then(|mut query| {
        query
            .query_row([user_id, client_id], rows::message)
            .optional()
    })
    .map_err(sql_error)
}

/// A reply by id whether or not its conversation is deleted: a reply that streams while its
/// conversation is deleted is still saved whole, for an undo.
fn reply_by_id(conn: &Connection, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND user_id = ?2"
    ))
    .and_then(|mut query| query.query_row([id, user_id], rows::message).optional())
    .map_err(sql_error)
}

pub fn message_by_id(conn: &Connection, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND user_id = ?2
             AND EXISTS (SELECT 1 FROM chat_sessions s
                         WHERE s.id = messages.session_id AND s.deleted_at IS NULL)"
    ))
    .and_then(|mut query| query.query_row([id, user_id], rows::message).optional())
    .map_err(sql_error)
}

/// Inserts one message and moves the session's counters, in the caller's transaction.
pub fn insert_message(conn: &Connection, message: &NewMessage) -> StoreResult<()> {
    let created = to_ms(message.created_at);
    conn.prepare_cached(
        "INSERT INTO messages (id, session_id, user_id, parent_id, role, content, type, model,
             prompt_tokens, completion_tokens, latency_ms, status, client_id, source_id, created_at,
             usage_estimated, status_reason, updated_at, starred_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?15, ?18)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            message.id,
            message.session_id,
            message.user_id,
            message.parent_id,
            message.role.as_str(),
            message.content,
            message.message_type,
            message.model,
            message.prompt_tokens,
            message.completion_tokens,
            message.latency_ms,
            message.status.as_str(),
            message.client_id,
            message.source_id,
            created,
            message.usage_estimated,
            message.status_reason.map(StatusReason::as_str),
            message.starred_at.map(to_ms),
        ])
    })
    .map_err(sql_error)?;
    super::branch::link_new_messages(conn)?;
    // ?6: the leaf the session must still have for the message to become the active leaf
    // (`LeafRule::IfLeafIs`); NULL moves the leaf unconditionally.
    let expected_leaf = match &message.active_leaf {
        LeafRule::Set => None,
        LeafRule::IfLeafIs(leaf) => Some(leaf.as_str()),
    };
    conn.prepare_cached(
        "UPDATE chat_sessions SET
             message_count = message_count + 1,
             prompt_tokens = prompt_tokens + coalesce(?2, 0),
             completion_tokens = completion_tokens + coalesce(?3, 0),
             last_message_at = max(coalesce(last_message_at, ?4), ?4),
             activity_at = max(activity_at, ?4),
             updated_at = max(updated_at, ?4),
             active_leaf_id = CASE WHEN ?6 IS NULL OR active_leaf_id IS ?6 THEN ?5
                                   ELSE active_leaf_id END
         WHERE id = ?1",
    )
    .and_then(|mut update| {
        update.execute(params![
            message.session_id,
            message.prompt_tokens,
            message.completion_tokens,
            created,
            message.id,
            expected_leaf,
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

/// See `Store::checkpoint_reply`.
pub fn checkpoint_reply(
    conn: &Connection,
    user_id: &str,
    id: &str,
    content: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = match content {
        Some(content) => conn
            .prepare_cached(
                "UPDATE messages SET content = ?3, updated_at = ?4, status = 'streaming',
                     status_reason = NULL
                 WHERE id = ?1 AND user_id = ?2
                     AND (status = 'streaming' OR status_reason = 'interrupted')",
            )
            .and_then(|mut update| update.execute(params![id, user_id, content, to_ms(now)])),
        // The heartbeat alone: the text is not bound, copied or rewritten.
        None => conn
            .prepare_cached(
                "UPDATE messages SET updated_at = ?3, status = 'streaming', status_reason = NULL
                 WHERE id = ?1 AND user_id = ?2
                     AND (status = 'streaming' OR status_reason = 'interrupted')",
            )
            .and_then(|mut update| update.execute(params![id, user_id, to_ms(now)])),
    }
    .map_err(sql_error)?;
    if changed > 0 {
        return Ok(true);
    }
    Ok(reply_by_id(conn, user_id, id)?.is_some_and(|message| !is_stopped(&message)))
}

fn is_stopped(message: &Message) -> bool {
    message.status == MessageStatus::Partial && message.status_reason == Some(StatusReason::Stopped)
}

/// See `Store::finish_reply`.
pub fn finish_reply(
    conn: &Connection,
    user_id: &str,
    id: &str,
    outcome: &ReplyOutcome,
    now: DateTime<Utc>,
) -> StoreResult<Option<Message>> {
    let Some(before) = reply_by_id(conn, user_id, id)? else {
        return Ok(None);
    };
    let (status, reason) = if is_stopped(&before) {
        (MessageStatus::Partial, Some(StatusReason::Stopped))
    } else {
        (outcome.status, outcome.status_reason)
    };
    conn.prepare_cached(
        "UPDATE messages SET content = ?3, status = ?4, status_reason = ?5, prompt_tokens = ?6,
             completion_tokens = ?7, latency_ms = ?8, usage_estimated = ?9, updated_at = ?10
         WHERE id = ?1 AND user_id = ?2",
    )
    .and_then(|mut update| {
        update.execute(params![
            id,
            user_id,
            outcome.content,
            status.as_str(),
            reason.map(StatusReason::as_str),
            outcome.prompt_tokens,
            outcome.completion_tokens,
            outcome.latency_ms,
            outcome.usage_estimated,
            to_ms(now),
        ])
    })
    .map_err(sql_error)?;
    // The counters held the tokens the message had before (none, for a reply that streamed).
    conn.prepare_cached(
        "UPDATE chat_sessions SET
             prompt_tokens = prompt_tokens + ?2, completion_tokens = completion_tokens + ?3
         WHERE id = ?1",
    )
    .and_then(|mut update| {
        update.execute(params![
            before.session_id,
            outcome.prompt_tokens.unwrap_or(0) - before.prompt_tokens.unwrap_or(0),
            outcome.completion_tokens.unwrap_or(0) - before.completion_tokens.unwrap_or(0),
        ])
    })
    .map_err(sql_error)?;
    reply_by_id(conn, user_id, id)
}

/// See `Store::stop_reply`.
pub fn stop_reply(
    conn: &Connection,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Message>> {
    conn.prepare_cached(
        "UPDATE messages SET status = 'partial', status_reason = 'stopped', updated_at = ?3
         WHERE id = ?1 AND user_id = ?2 AND status = 'streaming'",
    )
    .and_then(|mut update| update.execute(params![id, user_id, to_ms(now)]))
    .map_err(sql_error)?;
    reply_by_id(conn, user_id, id)
}

/// See `Store::reopen_reply`.
pub fn reopen_reply(
    conn: &Connection,
    user_id: &str,
    id: &str,
    from: (MessageStatus, Option<StatusReason>),
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE messages SET content = '', status = 'streaming', status_reason = NULL,
                 updated_at = ?5
             WHERE id = ?1 AND user_id = ?2 AND status = ?3 AND status_reason IS ?4",
        )
        .and_then(|mut update| {
            update.execute(params![
                id,
                user_id,
                from.0.as_str(),
                from.1.map(StatusReason::as_str),
                to_ms(now)
            ])
        })
        .map_err(sql_error)?;
    Ok(changed > 0)
}

/// See `Store::recover_streaming`.
pub fn recover_streaming(conn: &Connection, stale_before: DateTime<Utc>) -> StoreResult<u64> {
    let changed = conn
        .prepare_cached(
            "UPDATE messages SET
                 status = CASE WHEN content = '' THEN 'error' ELSE 'partial' END,
                 status_reason = 'interrupted'
             WHERE status = 'streaming' AND updated_at < ?1",
        )
        .and_then(|mut update| update.execute(params![to_ms(stale_before)]))
        .map_err(sql_error)?;
    Ok(changed as u64)
}

pub fn append_message(
    conn: &Connection,
    message: &NewMessage,
    new_session: Option<&NewSession>,
) -> StoreResult<Appended> {
    if let Some(client_id) = &message.client_id {
        if let Some(existing) = message_by_client_id(conn, &message.user_id, client_id)? {
            // In a deleted session the message is not there for the user: not found.
            let session = session_by_id(conn, &message.user_id, &existing.session_id)?
                .ok_or(StoreError::NotFound)?;
            return Ok(Appended {
                message: existing,
                session,
                created: false,
            });
        }
    }
    let mut message = std::borrow::Cow::Borrowed(message);
    if let Some(new_session) = new_session {
        create_session(conn, new_session)?;
    } else {
        let leaf: Option<Option<String>> = conn
            .prepare_cached(
                "SELECT active_leaf_id FROM chat_sessions
                 WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
            )
            .and_then(|mut query| {
                query
                    .query_row([&message.session_id, &message.user_id], |row| row.get(0))
                    .optional()
            })
            .map_err(sql_error)?;
        let Some(leaf) = leaf else {
            return Err(StoreError::NotFound);
        };
        if message.follow_active_leaf && message.parent_id.is_none() && leaf.is_some() {
            message.to_mut().parent_id = leaf;
        }
    }
    let message = message.as_ref();
    if let Some(parent_id) = &message.parent_id {
        let parent = message_by_id(conn, &message.user_id, parent_id)?;
        if parent.is_none_or(|parent| parent.session_id != message.session_id) {
            return Err(StoreError::Conflict(
                crate::store::Conflict::ParentOutsideSession,
            ));
        }
    }
    insert_message(conn, message)?;
    let stored = message_by_id(conn, &message.user_id, &message.id)?.ok_or(StoreError::NotFound)?;
    let session =
        session_by_id(conn, &message.user_id, &message.session_id)?.ok_or(StoreError::NotFound)?;
    Ok(Appended {
        message: stored,
        session,
        created: true,
    })
}

pub fn list_messages(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    query: &MessageQuery,
) -> StoreResult<Option<Page<Message>>> {
    if session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(None);
    }
    let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?");
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(session_id.to_owned())];
    if let Some(before) = &query.before {
        sql.push_str(" AND id < ?");
        args.push(Box::new(before.clone()));
    }
    if let Some(message_type) = &query.message_type {
        sql.push_str(" AND type = ?");
        args.push(Box::new(message_type.clone()));
    }
    if let Some(role) = query.role {
        sql.push_str(" AND role = ?");
        args.push(Box::new(role.as_str()));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Box::new(query.limit as i64 + 1));
    let mut statement = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut found: Vec<Message> = statement
        .query_map(rusqlite::params_from_iter(args.iter()), rows::message)
        .and_then(Iterator::collect)
        .map_err(sql_error)?;
    let next_cursor =
        crate::store::cursor::cut_page(&mut found, query.limit, |message| message.id.clone());
    found.reverse();
    Ok(Some(Page {
        items: found,
        next_cursor,
    }))
}

pub fn all_messages(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
) -> StoreResult<Vec<Message>> {
    if session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(Vec::new());
    }
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 AND user_id = ?2
             ORDER BY id"
        ))
        .map_err(sql_error)?;
    let messages = statement
        .query_map([session_id, user_id], rows::message)
        .and_then(Iterator::collect)
        .map_err(sql_error);
    messages
}
