//! Conversation folders: one row of `folders` per folder, `chat_sessions.folder_id` for the
//! folder a session is in. `session_count` is kept by the triggers of migration 17 in the
//! same transaction as the session write that moves it; this module only reads it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};

use super::rows::{from_ms, to_ms};
use super::sql_error;
use crate::api::FolderContents;
use crate::folders::MAX_FOLDERS;
use crate::model::Folder;
use crate::store::folder_tree::{tree_order, Tree};
use crate::store::{FolderPatch, NewFolder, StoreError, StoreResult};

const FOLDER_COLUMNS: &str =
    "id, name, parent_id, system_prompt, model, session_count, created_at, updated_at";

fn folder(row: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: row.get(0)?,
        name: row.get(1)?,
        parent_id: row.get(2)?,
        system_prompt: row.get(3)?,
        model: row.get(4)?,
        session_count: row.get(5)?,
        created_at: from_ms(row.get(6)?),
        updated_at: from_ms(row.get(7)?),
    })
}

/// The user's folders as stored (`folders_user`), in no particular order.
fn stored_folders(conn: &Connection, user_id: &str) -> StoreResult<Vec<Folder>> {
    conn.prepare_cached(&format!(
        "SELECT {FOLDER_COLUMNS} FROM folders WHERE user_id = ?1 LIMIT ?2"
    ))
    .and_then(|mut query| {
        query
            .query_map(params![user_id, MAX_FOLDERS as i64], folder)
            .and_then(Iterator::collect)
    })
    .map_err(sql_error)
}

/// Every folder of the user's, in the sidebar's order (`folder_tree::tree_order`).
pub fn list_folders(conn: &Connection, user_id: &str) -> StoreResult<Vec<Folder>> {
    Ok(tree_order(stored_folders(conn, user_id)?))
}

fn folder_by_id(conn: &Connection, user_id: &str, id: &str) -> StoreResult<Option<Folder>> {
    conn.prepare_cached(&format!(
        "SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?1 AND user_id = ?2"
    ))
    .and_then(|mut query| query.query_row([id, user_id], folder).optional())
    .map_err(sql_error)
}

/// `NotFound` unless `id` is a folder of the user's.
pub fn check_owned(conn: &Connection, user_id: &str, id: &str) -> StoreResult<()> {
    folder_by_id(conn, user_id, id)?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

pub fn create_folder(conn: &Connection, new: &NewFolder) -> StoreResult<Folder> {
    let folders = stored_folders(conn, &new.user_id)?;
    Tree::new(&folders).check_new(new.parent_id.as_deref())?;
    let created = to_ms(new.created_at);
    conn.prepare_cached(
        "INSERT INTO folders
             (id, user_id, name, parent_id, system_prompt, model, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            new.id,
            new.user_id,
            new.name,
            new.parent_id,
            new.system_prompt,
            new.model,
            created
        ])
    })
    .map_err(sql_error)?;
    folder_by_id(conn, &new.user_id, &new.id)?.ok_or(StoreError::NotFound)
}

pub fn update_folder(
    conn: &Connection,
    user_id: &str,
    id: &str,
    patch: &FolderPatch,
    now: DateTime<Utc>,
) -> StoreResult<Folder> {
    let folders = stored_folders(conn, user_id)?;
    let tree = Tree::new(&folders);
    let current = tree.get(id).ok_or(StoreError::NotFound)?;
    if let Some(parent) = &patch.parent_id {
        tree.check_move(id, parent.as_deref())?;
    }
    let name = patch.name.as_ref().unwrap_or(&current.name);
    let parent_id = patch.parent_id.as_ref().unwrap_or(&current.parent_id);
    let system_prompt = patch
        .system_prompt
        .as_ref()
        .unwrap_or(&current.system_prompt);
    let model = patch.model.as_ref().unwrap_or(&current.model);
    conn.prepare_cached(
        "UPDATE folders SET name = ?3, parent_id = ?4, system_prompt = ?5, model = ?6,
             updated_at = ?7
         WHERE id = ?1 AND user_id = ?2",
    )
    .and_then(|mut update| {
        update.execute(params![
            id,
            user_id,
            name,
            parent_id,
            system_prompt,
            model,
            to_ms(now)
        ])
    })
    .map_err(sql_error)?;
    folder_by_id(conn, user_id, id)?.ok_or(StoreError::NotFound)
}

pub fn delete_folder(
    conn: &Connection,
    user_id: &str,
    id: &str,
    contents: FolderContents,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let folders = stored_folders(conn, user_id)?;
    let tree = Tree::new(&folders);
    let doomed = tree.get(id).ok_or(StoreError::NotFound)?;
    let changed = match contents {
        FolderContents::Keep => {
            // Deleted sessions move too: a restore then finds them in the parent.
            let live: i64 = conn
                .query_row(
                    "SELECT count(*) FROM chat_sessions
                     WHERE user_id = ?1 AND folder_id = ?2 AND deleted_at IS NULL",
                    params![user_id, id],
                    |row| row.get(0),
                )
                .map_err(sql_error)?;
            conn.execute(
                "UPDATE chat_sessions SET folder_id = ?3 WHERE user_id = ?1 AND folder_id = ?2",
                params![user_id, id, doomed.parent_id],
            )
            .map_err(sql_error)?;
            conn.execute(
                "UPDATE folders SET parent_id = ?3, updated_at = ?4
                 WHERE user_id = ?1 AND parent_id = ?2",
                params![user_id, id, doomed.parent_id, to_ms(now)],
            )
            .map_err(sql_error)?;
            live
        }
        FolderContents::Delete => {
            let mut trashed = 0;
            for folder_id in tree.subtree(id) {
                trashed += conn
                    .execute(
                        "UPDATE chat_sessions SET deleted_at = ?3
                         WHERE user_id = ?1 AND folder_id = ?2 AND deleted_at IS NULL",
                        params![user_id, folder_id, to_ms(now)],
                    )
                    .map_err(sql_error)?;
                // Its sessions, all in the trash now, leave the folder that goes: a restore
                // puts them at the top level.
                conn.execute(
                    "UPDATE chat_sessions SET folder_id = NULL WHERE user_id = ?1 AND folder_id = ?2",
                    params![user_id, folder_id],
                )
                .map_err(sql_error)?;
            }
            trashed as i64
        }
    };
    // The subfolders (for `Delete`) go by ON DELETE CASCADE.
    conn.execute(
        "DELETE FROM folders WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )
    .map_err(sql_error)?;
    Ok(changed as u64)
}

/// `SessionsChange::Moved` (in the writer's transaction): each live session of `ids` put in
/// `folder_id` (the top level for `None`); those there already count as applied. `NotFound`
/// before anything moves when the folder is not the user's. Returns the applied ids.
pub fn move_sessions(
    conn: &Connection,
    user_id: &str,
    ids: &[String],
    folder_id: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    if let Some(folder_id) = folder_id {
        check_owned(conn, user_id, folder_id)?;
    }
    let mut applied = HashSet::new();
    for chunk in ids.chunks(500) {
        let list = (4..4 + chunk.len())
            .map(|index| format!("?{index}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<&dyn ToSql> = vec![&user_id, &folder_id];
        let now = to_ms(now);
        args.push(&now);
        for id in chunk {
            args.push(id);
        }
        // Only a session that changes folder is touched; one there already is still applied.
        conn.execute(
            &format!(
                "UPDATE chat_sessions SET folder_id = ?2, updated_at = ?3
                 WHERE user_id = ?1 AND deleted_at IS NULL AND folder_id IS NOT ?2
                     AND id IN ({list})"
            ),
            args.as_slice(),
        )
        .map_err(sql_error)?;
        let mut query = conn
            .prepare(&format!(
                "SELECT id FROM chat_sessions
                 WHERE user_id = ?1 AND deleted_at IS NULL AND folder_id IS ?2 AND ?3 = ?3
                     AND id IN ({list})"
            ))
            .map_err(sql_error)?;
        let found: Vec<String> = query
            .query_map(args.as_slice(), |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(sql_error)?;
        applied.extend(found);
    }
    Ok(applied)
}
