//! The conversation tree, a page at a time: bounded recursive queries over the parent links,
//! the `depth`/jump columns kept at write time (see `store::tree`), and the
//! `messages_children` index for siblings.

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::chat::session_by_id;
use super::rows::{self, MESSAGE_COLUMNS};
use super::sql_error;
use crate::model::Message;
use crate::store::paths::{label_new, Label, NewNode, Splits, StoredPaths};
use crate::store::tree::{
    ancestor_step, links_in_order, parents_first, TreeLinks, TreeNode, MAX_ANCESTOR_STEPS,
};
use crate::store::{BranchWindow, StoreError, StoreResult, TreeMessage};
use std::collections::HashMap;

/// Messages linked per pass of `link_new_messages`: bounds its memory on a large backfill.
const LINK_BATCH: usize = 50_000;

/// Gives every message still without tree links (`depth IS NULL`: rows inserted just now by
/// an append or an import, or every row of a database from before the links existed) its
/// depth, jump and path label (`store::paths`), in the caller's transaction. Returns how many
/// rows it linked. A message whose parent is missing is linked as a root.
pub fn link_new_messages(conn: &Connection) -> StoreResult<usize> {
    let mut linked = 0;
    loop {
        let pending: Vec<(i64, String, Option<String>, i64)> = conn
            .prepare_cached(
                "SELECT seq, id, parent_id, created_at FROM messages INDEXED BY messages_unlinked
                 WHERE depth IS NULL ORDER BY seq LIMIT ?1",
            )
            .and_then(|mut query| {
                query
                    .query_map([LINK_BATCH as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .and_then(Iterator::collect)
            })
            .map_err(sql_error)?;
        if pending.is_empty() {
            return Ok(linked);
        }
        let given: Vec<(&str, Option<&str>)> = pending
            .iter()
            .map(|(_, id, parent, _)| (id.as_str(), parent.as_deref()))
            .collect();
        let links = links_of(conn, &given)?;
        let created: HashMap<&str, i64> = pending
            .iter()
            .map(|(_, id, _, created)| (id.as_str(), *created))
            .collect();
        let order = path_order(&given, &links, |id| created.get(id).copied());
        let labels = label_new(&order, &mut SqlitePaths(conn), Splits::Apply)?;
        let mut update = conn
            .prepare_cached(
                "UPDATE messages SET depth = ?2, jump_id = ?3, jump_depth = ?4, path = ?5
                 WHERE seq = ?1",
            )
            .map_err(sql_error)?;
        for (seq, id, _, _) in &pending {
            let own = links
                .get(id)
                .cloned()
                .unwrap_or_else(|| TreeLinks::root(id));
            update
                .execute(params![
                    seq,
                    own.depth,
                    own.jump_id,
                    own.jump_depth,
                    labels.get(id)
                ])
                .map_err(sql_error)?;
        }
        linked += pending.len();
    }
}

/// The new messages `given` in the order `paths::label_new` takes them (parents first), with
/// their depths from `links` and their creation times from `created_ms` (a message without
/// either is left out: it is not labelled).
pub fn path_order<'a>(
    given: &[(&'a str, Option<&'a str>)],
    links: &HashMap<String, TreeLinks>,
    created_ms: impl Fn(&str) -> Option<i64>,
) -> Vec<NewNode<'a>> {
    parents_first(given)
        .into_iter()
        .filter_map(|(id, parent_id)| {
            Some(NewNode {
                id,
                parent_id,
                depth: links.get(id)?.depth,
                created_ms: created_ms(id)?,
            })
        })
        .collect()
}

/// The stored path labels, read and changed in the caller's transaction. Rows not linked yet
/// (`depth IS NULL`: inserted just now, or unlinked by a migration, whatever label they held)
/// are not stored as far as `paths` is concerned.
pub struct SqlitePaths<'c>(pub &'c Connection);

impl StoredPaths for SqlitePaths<'_> {
    type Error = StoreError;

    fn label(&mut self, id: &str) -> StoreResult<Option<(Label, i64)>> {
        self.0
            .prepare_cached(
                "SELECT path, depth FROM messages
                 WHERE id = ?1 AND depth IS NOT NULL AND path IS NOT NULL",
            )
            .and_then(|mut query| {
                query
                    .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error)
    }

    fn at_depth(&mut self, label: Label, depth: i64) -> StoreResult<Option<(i64, String)>> {
        self.0
            .prepare_cached("SELECT created_at, id FROM messages WHERE path = ?1 AND depth = ?2")
            .and_then(|mut query| {
                query
                    .query_row(params![label, depth], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error)
    }

    fn extent(&mut self, label: Label) -> StoreResult<Option<(i64, i64)>> {
        // Two ordered look-ups: `min()` and `max()` in one query read every entry of the
        // label (SQLite's one-row shortcut is for a lone min or max), 100,000 on a long chat.
        self.0
            .prepare_cached(
                "SELECT (SELECT depth FROM messages INDEXED BY messages_paths
                         WHERE path = ?1 AND depth IS NOT NULL ORDER BY depth LIMIT 1),
                        (SELECT depth FROM messages INDEXED BY messages_paths
                         WHERE path = ?1 ORDER BY depth DESC LIMIT 1)",
            )
            .and_then(|mut query| {
                query.query_row([label], |row| {
                    let least: Option<i64> = row.get(0)?;
                    let greatest: Option<i64> = row.get(1)?;
                    Ok(least.zip(greatest))
                })
            })
            .map_err(sql_error)
    }

    fn relabel(
        &mut self,
        label: Label,
        depths: std::ops::RangeInclusive<i64>,
        to: Label,
    ) -> StoreResult<()> {
        self.0
            .prepare_cached(
                "UPDATE messages SET path = ?4 WHERE path = ?1 AND depth BETWEEN ?2 AND ?3",
            )
            .and_then(|mut update| update.execute(params![label, depths.start(), depths.end(), to]))
            .map_err(sql_error)?;
        Ok(())
    }

    fn greatest_label(&mut self) -> StoreResult<Label> {
        self.0
            .prepare_cached("SELECT coalesce(max(path), 0) FROM messages")
            .and_then(|mut query| query.query_row([], |row| row.get(0)))
            .map_err(sql_error)
    }
}

/// The links of the messages `given` (id, parent id), as if all were new: a parent among them
/// first, else what is stored; a missing parent makes a root. What the batch hangs from is read
/// as the computation meets it (see `tree::links_in_order`).
pub fn links_of(
    conn: &Connection,
    given: &[(&str, Option<&str>)],
) -> StoreResult<std::collections::HashMap<String, TreeLinks>> {
    let mut failure = None;
    let links = links_in_order(parents_first(given), |id| {
        stored_links(conn, id).unwrap_or_else(|error| {
            failure.get_or_insert(error);
            None
        })
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(links),
    }
}

/// The stored links of a message, unless it has none yet.
fn stored_links(conn: &Connection, id: &str) -> StoreResult<Option<TreeLinks>> {
    Ok(tree_node(conn, id)?.map(|node| node.links))
}

fn tree_node(conn: &Connection, id: &str) -> StoreResult<Option<TreeNode>> {
    conn.prepare_cached(
        "SELECT id, parent_id, depth, jump_id, jump_depth FROM messages
         WHERE id = ?1 AND depth IS NOT NULL",
    )
    .and_then(|mut query| {
        query
            .query_row([id], |row| {
                Ok(TreeNode {
                    id: row.get(0)?,
                    parent_id: row.get(1)?,
                    links: TreeLinks {
                        depth: row.get(2)?,
                        jump_id: row.get(3)?,
                        jump_depth: row.get(4)?,
                    },
                })
            })
            .optional()
    })
    .map_err(sql_error)
}

fn tree_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<TreeMessage> {
    Ok(TreeMessage {
        message: rows::message(row)?,
        depth: row.get(rows::AFTER_MESSAGE_COLUMNS)?,
    })
}

/// See `Store::ancestors`: one recursive query that stops after `limit` rows. `CROSS JOIN`
/// keeps SQLite from reading the session's rows to join them to the walk.
pub fn ancestors(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    from: &str,
    limit: usize,
) -> StoreResult<Vec<TreeMessage>> {
    if limit == 0 || session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(Vec::new());
    }
    conn.prepare_cached(&format!(
        "WITH RECURSIVE up(mid, n) AS (
             SELECT id, 0 FROM messages WHERE id = ?1 AND session_id = ?2
             UNION ALL
             SELECT m.parent_id, up.n + 1 FROM up CROSS JOIN messages m ON m.id = up.mid
             WHERE m.parent_id IS NOT NULL AND up.n + 1 < ?3
         )
         SELECT {MESSAGE_COLUMNS}, depth FROM up CROSS JOIN messages ON messages.id = up.mid
         WHERE messages.session_id = ?2 ORDER BY up.n"
    ))
    .and_then(|mut query| {
        query
            .query_map(params![from, session_id, limit as i64], tree_message)
            .and_then(Iterator::collect)
    })
    .map_err(sql_error)
}

/// See `Store::branch_window`: the walk, then the siblings from `messages_children`, in one
/// read transaction.
pub fn branch_window(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    from: &str,
    limit: usize,
) -> StoreResult<BranchWindow> {
    let messages = ancestors(conn, user_id, session_id, from, limit)?;
    let mut parents: Vec<Option<String>> = messages
        .iter()
        .map(|entry| entry.message.parent_id.clone())
        .collect();
    parents.sort();
    parents.dedup();
    let siblings = if parents.is_empty() {
        Vec::new()
    } else {
        children(conn, user_id, session_id, &parents)?
    };
    Ok(BranchWindow { messages, siblings })
}

fn message_with_depth(
    conn: &Connection,
    session_id: &str,
    id: &str,
) -> StoreResult<Option<TreeMessage>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS}, depth FROM messages WHERE id = ?1 AND session_id = ?2"
    ))
    .and_then(|mut query| query.query_row([id, session_id], tree_message).optional())
    .map_err(sql_error)
}

/// See `Store::ancestor_at`: O(log depth) look-ups along the jump pointers.
pub fn ancestor_at(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    from: &str,
    depth: i64,
) -> StoreResult<Option<TreeMessage>> {
    if depth < 0 || session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(None);
    }
    let Some(mut node) = tree_node(conn, from)? else {
        return Ok(None);
    };
    for _ in 0..MAX_ANCESTOR_STEPS {
        let Some(next) = ancestor_step(&node, depth) else {
            break;
        };
        let Some(found) = tree_node(conn, next)? else {
            return Ok(None);
        };
        node = found;
    }
    if node.links.depth != depth {
        return Ok(None);
    }
    message_with_depth(conn, session_id, &node.id)
}

/// See `Store::children`.
pub fn children(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    parents: &[Option<String>],
) -> StoreResult<Vec<Message>> {
    if session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    if parents.iter().any(Option::is_none) {
        let mut roots = conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE session_id = ?1 AND parent_id IS NULL"
            ))
            .map_err(sql_error)?;
        let rows = roots
            .query_map([session_id], rows::message)
            .map_err(sql_error)?;
        for row in rows {
            found.push(row.map_err(sql_error)?);
        }
    }
    let named: Vec<&String> = parents.iter().flatten().collect();
    // Well under SQLite's limit of parameters per statement.
    for part in named.chunks(500) {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND parent_id IN ({})",
            vec!["?"; part.len()].join(", ")
        );
        let mut args: Vec<&dyn ToSql> = vec![&session_id];
        args.extend(part.iter().map(|id| *id as &dyn ToSql));
        let mut query = conn.prepare_cached(&sql).map_err(sql_error)?;
        let rows = query
            .query_map(&args[..], rows::message)
            .map_err(sql_error)?;
        for row in rows {
            found.push(row.map_err(sql_error)?);
        }
    }
    Ok(found)
}

/// See `Store::newest_descendant`: the deepest message of `from`'s path label (see
/// `store::paths`), one look-up in `messages_paths`.
pub fn newest_descendant(
    conn: &Connection,
    user_id: &str,
    session_id: &str,
    from: &str,
) -> StoreResult<Option<String>> {
    if session_by_id(conn, user_id, session_id)?.is_none() {
        return Ok(None);
    }
    conn.prepare_cached(
        "SELECT id FROM messages INDEXED BY messages_paths
         WHERE path = (SELECT path FROM messages WHERE id = ?1 AND session_id = ?2)
         ORDER BY depth DESC LIMIT 1",
    )
    .and_then(|mut query| {
        query
            .query_row([from, session_id], |row| row.get(0))
            .optional()
    })
    .map_err(sql_error)
}
