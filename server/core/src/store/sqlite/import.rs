//! Bulk import in the writer's transaction. Ids are derived from source ids by the service, so
//! a row that exists already was imported before and is skipped.
//!
//! Written for speed, since an import is tens of thousands of rows in one go:
//! - The messages of a batch go in with a few multi-row `INSERT … VALUES (…), (…)` statements
//!   rather than one statement per row. The full-text index is still kept by its trigger, in
//!   the same transaction, but FTS5 writes its pending terms to disk at the start of every
//!   statement (its savepoint hook), so a statement per row cost a flush per row. Measured
//!   with `examples/import_bench.rs` (100,000 messages, release build, 2 cores): about 19,000
//!   messages/s with a statement per row, 37,000 to 50,000 with 1,000 rows per statement
//!   (and 78,000 with no full-text index at all).
//! - "Already there?" is answered by `ON CONFLICT DO NOTHING` instead of a lookup per row.
//! - The sessions' counters move once per batch, from what was actually inserted.
//! - Each message's tree links (`store::tree`) are worked out for the whole batch and go in
//!   with its row: linked after the insert (`branch::link_new_messages`), every row was
//!   written twice. When some rows were there already, a new one may hang from one of them,
//!   and the new rows' links are worked out again from what is stored.

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::branch::SqlitePaths;
use super::rows::to_ms;
use super::sql_error;
use crate::store::paths::{label_new, Label, Splits};
use crate::store::tree::TreeLinks;
use crate::store::{ImportCounts, ImportSession, NewMessage, StoreError, StoreResult};
use std::collections::HashMap;

pub fn import_sessions(conn: &Connection, sessions: &[ImportSession]) -> StoreResult<ImportCounts> {
    let mut counts = ImportCounts::default();
    // Every row inserted below gets a larger rowid: the writer is the only one writing.
    let before: i64 = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM messages", [], |row| {
            row.get(0)
        })
        .map_err(sql_error)?;

    let mut session_ids = Vec::with_capacity(sessions.len());
    for import in sessions {
        let (id, created) = insert_session(conn, import)?;
        if created {
            counts.sessions += 1;
        }
        session_ids.push(id);
    }

    // The links every message gets if all of them are new, as they are in a first import.
    let given: Vec<(&str, Option<&str>)> = sessions
        .iter()
        .flat_map(|import| &import.messages)
        .map(|message| (message.id.as_str(), message.parent_id.as_deref()))
        .collect();
    let links = super::branch::links_of(conn, &given)?;
    // Their path labels, changing nothing stored: a message that would split a stored path
    // (a new branch under a conversation imported before) goes in without links or label, and
    // so does everything below it; `link_new_messages` does those once the insert is done.
    let created: HashMap<&str, i64> = sessions
        .iter()
        .flat_map(|import| &import.messages)
        .map(|message| (message.id.as_str(), to_ms(message.created_at)))
        .collect();
    let order = super::branch::path_order(&given, &links, |id| created.get(id).copied());
    let labels = label_new(&order, &mut SqlitePaths(conn), Splits::Defer)?;
    drop((given, order, created));

    let mut client_ids = ClientIds::default();
    let mut pending: Vec<Row> = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut attempted = 0;
    let mut inserted = 0;
    for (import, session_id) in sessions.iter().zip(&session_ids) {
        for message in &import.messages {
            attempted += 1;
            let client_id = client_ids.keep(conn, message)?;
            let tree = labels
                .get(&message.id)
                .and_then(|label| Some((links.get(&message.id)?, *label)));
            pending.push((message, session_id, client_id, tree));
            if pending.len() == ROWS_PER_STATEMENT {
                inserted += insert_messages(conn, &pending)?;
                pending.clear();
            }
        }
    }
    inserted += insert_messages(conn, &pending)?;
    if inserted > 0 && inserted < attempted {
        // Some rows were there already (by id or by source id): a new message may hang from
        // one of them, whose stored links are what count. The new rows are linked again.
        conn.prepare_cached(
            "UPDATE messages SET depth = NULL, jump_id = NULL, jump_depth = NULL, path = NULL
             WHERE seq > ?1",
        )
        .and_then(|mut unlink| unlink.execute([before]))
        .map_err(sql_error)?;
    }
    super::branch::link_new_messages(conn)?;
    counts.messages = inserted;
    counts.skipped_messages = attempted - inserted;

    if inserted > 0 {
        conn.prepare_cached(
            "UPDATE chat_sessions SET
                 message_count = message_count + added.count,
                 prompt_tokens = prompt_tokens + added.prompt,
                 completion_tokens = completion_tokens + added.completion,
                 last_message_at = max(coalesce(last_message_at, added.latest), added.latest),
                 activity_at = max(activity_at, added.latest),
                 updated_at = max(updated_at, added.latest)
             FROM (SELECT session_id, count(*) AS count,
                          coalesce(sum(prompt_tokens), 0) AS prompt,
                          coalesce(sum(completion_tokens), 0) AS completion,
                          max(created_at) AS latest
                   FROM messages WHERE seq > ?1 GROUP BY session_id) AS added
             WHERE chat_sessions.id = added.session_id",
        )
        .and_then(|mut update| update.execute([before]))
        .map_err(sql_error)?;
    }

    let mut set_leaf = conn
        .prepare_cached("UPDATE chat_sessions SET active_leaf_id = ?2 WHERE id = ?1")
        .map_err(sql_error)?;
    for (import, session_id) in sessions.iter().zip(&session_ids) {
        if let Some(leaf) = &import.active_leaf_id {
            set_leaf.execute([session_id, leaf]).map_err(sql_error)?;
        }
    }
    counts.session_ids = session_ids;
    Ok(counts)
}

/// A message to insert, the session it goes to, the client id it keeps, and its tree links
/// and path label (none: linked after the insert).
type Row<'a> = (
    &'a NewMessage,
    &'a str,
    Option<&'a str>,
    Option<(&'a TreeLinks, Label)>,
);

/// Decides which client ids imported messages keep. A client id is unique per user (it makes
/// an append idempotent), so a message whose client id is held by another message (in the
/// account, or earlier in this import) is imported without it: dropping the key loses nothing
/// the user sees, while the unique index would otherwise skip the whole message.
#[derive(Default)]
struct ClientIds<'a> {
    claimed: std::collections::HashSet<&'a str>,
}

impl<'a> ClientIds<'a> {
    fn keep(&mut self, conn: &Connection, message: &'a NewMessage) -> StoreResult<Option<&'a str>> {
        let Some(client_id) = message.client_id.as_deref() else {
            return Ok(None);
        };
        if !self.claimed.insert(client_id) {
            return Ok(None);
        }
        let holder: Option<String> = conn
            .prepare_cached("SELECT id FROM messages WHERE user_id = ?1 AND client_id = ?2")
            .and_then(|mut query| {
                query
                    .query_row([&message.user_id, client_id], |row| row.get(0))
                    .optional()
            })
            .map_err(sql_error)?;
        // Held by this very message: it was imported before and is skipped anyway.
        Ok(match holder {
            Some(holder) if holder != message.id => None,
            _ => Some(client_id),
        })
    }
}

/// Creates the session unless it exists, and returns its id and whether it was created. A
/// session imported before under another id (its source's creation time changed) is found by
/// its source id, so that new messages join it.
fn insert_session(conn: &Connection, import: &ImportSession) -> StoreResult<(String, bool)> {
    let session = &import.session;
    let created = conn
        .prepare_cached(
            "INSERT INTO chat_sessions (id, user_id, title, is_active, pinned, archived,
                 source_id, created_at, updated_at, activity_at, forked_from_session,
                 forked_from_message, folder_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, max(?8, coalesce(?9, ?8)), ?8, ?10, ?11,
                 (SELECT id FROM folders WHERE id = ?12 AND user_id = ?2))
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut insert| {
            let fork = import.forked_from.as_ref();
            insert.execute(params![
                session.id,
                session.user_id,
                session.title,
                import.is_active,
                import.pinned,
                import.archived,
                session.source_id,
                to_ms(session.created_at),
                import.updated_at.map(to_ms),
                fork.map(|fork| &fork.session_id),
                fork.map(|fork| &fork.message_id),
                session.folder_id,
            ])
        })
        .map_err(sql_error)?;
    if created == 1 {
        super::tags::insert_tags(conn, &session.user_id, &session.id, &import.tags)?;
        return Ok((session.id.clone(), true));
    }
    let existing = conn
        .prepare_cached(
            "SELECT id FROM chat_sessions
             WHERE user_id = ?1 AND (id = ?2 OR source_id = ?3)
             ORDER BY id = ?2 DESC LIMIT 1",
        )
        .and_then(|mut query| {
            query
                .query_row(
                    params![session.user_id, session.id, session.source_id],
                    |row| row.get::<_, String>(0),
                )
                .optional()
        })
        .map_err(sql_error)?
        // The id belongs to another user's session: derived ids make this all but impossible,
        // and messages must never be attached to someone else's session.
        .ok_or(StoreError::Conflict(crate::store::Conflict::SessionIdTaken))?;
    // Importing a conversation again that was deleted (and not yet purged) brings it back:
    // the user asked for it, and its messages are all still there to be counted once.
    conn.prepare_cached(
        "UPDATE chat_sessions SET deleted_at = NULL WHERE id = ?1 AND deleted_at IS NOT NULL",
    )
    .and_then(|mut restore| restore.execute([&existing]))
    .map_err(sql_error)?;
    Ok((existing, false))
}

/// Parameters of one row: every column a message has.
const COLUMNS: usize = 23;
/// Rows per insert statement: `COLUMNS` parameters each, well under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 1_000;

/// A row's `depth`, `jump_id`, `jump_depth` and `path`.
type TreeColumns<'a> = (Option<i64>, Option<&'a str>, Option<i64>, Option<Label>);

/// Inserts messages (in order) with one statement and returns how many were new.
fn insert_messages(conn: &Connection, rows: &[Row]) -> StoreResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO messages (id, session_id, user_id, parent_id, role, content, type, model,
             prompt_tokens, completion_tokens, latency_ms, status, client_id, source_id, created_at,
             updated_at, usage_estimated, status_reason, depth, jump_id, jump_depth, path,
             starred_at)
         VALUES {} ON CONFLICT DO NOTHING",
        vec![format!("({})", vec!["?"; COLUMNS].join(", ")); rows.len()].join(", ")
    );
    let times: Vec<i64> = rows
        .iter()
        .map(|(message, _, _, _)| to_ms(message.created_at))
        .collect();
    let stars: Vec<Option<i64>> = rows
        .iter()
        .map(|(message, _, _, _)| message.starred_at.map(to_ms))
        .collect();
    let labels: Vec<[Option<&str>; 3]> = rows
        .iter()
        .map(|(message, _, _, _)| {
            [
                Some(message.role.as_str()),
                Some(message.status.as_str()),
                message.status_reason.map(|reason| reason.as_str()),
            ]
        })
        .collect();
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(rows.len() * COLUMNS);
    // Without links and label, a row is linked after the insert by
    // `branch::link_new_messages`.
    let tree: Vec<TreeColumns> = rows
        .iter()
        .map(|(_, _, _, tree)| match tree {
            Some((links, label)) => (
                Some(links.depth),
                Some(links.jump_id.as_str()),
                Some(links.jump_depth),
                Some(*label),
            ),
            None => (None, None, None, None),
        })
        .collect();
    for (
        ((((message, session_id, client_id, _), created_at), [role, status, reason]), tree),
        star,
    ) in rows.iter().zip(&times).zip(&labels).zip(&tree).zip(&stars)
    {
        let (depth, jump_id, jump_depth, label) = tree;
        values.extend_from_slice(&[
            &message.id as &dyn ToSql,
            session_id,
            &message.user_id,
            &message.parent_id,
            role,
            &message.content,
            &message.message_type,
            &message.model,
            &message.prompt_tokens,
            &message.completion_tokens,
            &message.latency_ms,
            status,
            client_id,
            &message.source_id,
            created_at,
            created_at,
            &message.usage_estimated,
            reason,
            depth,
            jump_id,
            jump_depth,
            label,
            star,
        ]);
    }
    // The full-size statement is reused; the shorter last one of a batch is not worth a
    // place in the statement cache.
    if rows.len() == ROWS_PER_STATEMENT {
        conn.prepare_cached(&sql)
            .and_then(|mut statement| statement.execute(&values[..]))
    } else {
        conn.prepare(&sql)
            .and_then(|mut statement| statement.execute(&values[..]))
    }
    .map_err(sql_error)
}
