//! Conversation folders. A user's folders are documents of the collection `folders` (index
//! `folders_user`: all of a user's in one read); a session names its folder in
//! `SessionDoc::folder_id` (index `chat_sessions_folder`, the list filtered by folder in list
//! order). Each folder's `session_count` (live, not archived sessions directly in it) is moved
//! with `$inc` by every write that changes a session's folder, archived flag or deletion:
//! such a write reads the states of the sessions it names (by `_id`), writes, reads them again
//! and moves the counts by the difference (`Counted`), so the count follows what the write
//! changed. No aggregation over a user's sessions is made on a request path.
//!
//! Without transactions, a crash between a session write and its `$inc` leaves a count off by
//! the sessions that write changed, until the folder is deleted (docs/mongodb.md).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson};
use serde::{Deserialize, Serialize};

use super::documents::{from_bson_time, to_bson_time};
use super::errors::db_error;
use super::Collections;
use crate::api::FolderContents;
use crate::folders::MAX_FOLDERS;
use crate::model::Folder;
use crate::store::folder_tree::{tree_order, Tree};
use crate::store::{FolderPatch, NewFolder, StoreError, StoreResult};

/// The name of the folders' collection.
pub const COLLECTION: &str = "folders";

#[derive(Debug, Serialize, Deserialize)]
pub struct FolderDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub session_count: i64,
    pub created_at: mongodb::bson::DateTime,
    pub updated_at: mongodb::bson::DateTime,
}

impl FolderDoc {
    fn into_folder(self) -> Folder {
        Folder {
            id: self.id,
            name: self.name,
            parent_id: self.parent_id,
            system_prompt: self.system_prompt,
            model: self.model,
            session_count: self.session_count,
            created_at: from_bson_time(self.created_at),
            updated_at: from_bson_time(self.updated_at),
        }
    }
}

async fn stored_folders(collections: &Collections, user_id: &str) -> StoreResult<Vec<Folder>> {
    let found: Vec<FolderDoc> = collections
        .folders
        .find(doc! { "user_id": user_id })
        .limit(MAX_FOLDERS as i64)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(found.into_iter().map(FolderDoc::into_folder).collect())
}

pub async fn list_folders(collections: &Collections, user_id: &str) -> StoreResult<Vec<Folder>> {
    Ok(tree_order(stored_folders(collections, user_id).await?))
}

async fn folder_by_id(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<Folder>> {
    Ok(collections
        .folders
        .find_one(doc! { "_id": id, "user_id": user_id })
        .await
        .map_err(db_error)?
        .map(FolderDoc::into_folder))
}

/// `NotFound` unless `id` is a folder of the user's.
pub async fn check_owned(collections: &Collections, user_id: &str, id: &str) -> StoreResult<()> {
    folder_by_id(collections, user_id, id)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

pub async fn create_folder(collections: &Collections, new: &NewFolder) -> StoreResult<Folder> {
    if !super::accounts::user_exists(collections, &new.user_id).await? {
        return Err(StoreError::NotFound);
    }
    let folders = stored_folders(collections, &new.user_id).await?;
    Tree::new(&folders).check_new(new.parent_id.as_deref())?;
    let created = to_bson_time(new.created_at);
    let document = FolderDoc {
        id: new.id.clone(),
        user_id: new.user_id.clone(),
        name: new.name.clone(),
        parent_id: new.parent_id.clone(),
        system_prompt: new.system_prompt.clone(),
        model: new.model.clone(),
        session_count: 0,
        created_at: created,
        updated_at: created,
    };
    collections
        .folders
        .insert_one(&document)
        .await
        .map_err(db_error)?;
    Ok(document.into_folder())
}

fn optional(value: &Option<String>) -> Bson {
    value.clone().map(Bson::String).unwrap_or(Bson::Null)
}

pub async fn update_folder(
    collections: &Collections,
    user_id: &str,
    id: &str,
    patch: &FolderPatch,
    now: DateTime<Utc>,
) -> StoreResult<Folder> {
    let folders = stored_folders(collections, user_id).await?;
    let tree = Tree::new(&folders);
    tree.get(id).ok_or(StoreError::NotFound)?;
    if let Some(parent) = &patch.parent_id {
        tree.check_move(id, parent.as_deref())?;
    }
    let mut set = doc! { "updated_at": to_bson_time(now) };
    if let Some(name) = &patch.name {
        set.insert("name", name);
    }
    if let Some(parent) = &patch.parent_id {
        set.insert("parent_id", optional(parent));
    }
    if let Some(prompt) = &patch.system_prompt {
        set.insert("system_prompt", optional(prompt));
    }
    if let Some(model) = &patch.model {
        set.insert("model", optional(model));
    }
    collections
        .folders
        .update_one(doc! { "_id": id, "user_id": user_id }, doc! { "$set": set })
        .await
        .map_err(db_error)?;
    folder_by_id(collections, user_id, id)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A session's folder, archived flag and deletion: what its folder's count depends on.
#[derive(Deserialize)]
struct Placed {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    folder_id: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    deleted_at: Option<mongodb::bson::DateTime>,
}

impl Placed {
    /// The folder whose count includes the session, if any.
    fn counted_in(self) -> Option<String> {
        if self.archived || self.deleted_at.is_some() {
            None
        } else {
            self.folder_id
        }
    }
}

/// The folders counting each of the user's sessions `ids` (by `_id`, in chunks).
pub(super) async fn counted(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
) -> StoreResult<HashMap<String, Option<String>>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(1000) {
        let placed: Vec<Placed> = collections
            .chat_sessions
            .clone_with_type::<Placed>()
            .find(doc! { "_id": { "$in": chunk }, "user_id": user_id })
            .projection(doc! { "_id": 1, "folder_id": 1, "archived": 1, "deleted_at": 1 })
            .await
            .map_err(db_error)?
            .try_collect()
            .await
            .map_err(db_error)?;
        found.extend(placed.into_iter().map(|placed| {
            let id = placed.id.clone();
            (id, placed.counted_in())
        }));
    }
    Ok(found)
}

/// Moves the counts by what changed between `before` and the sessions' states now.
pub(super) async fn settle(
    collections: &Collections,
    user_id: &str,
    before: HashMap<String, Option<String>>,
) -> StoreResult<()> {
    let ids: Vec<String> = before.keys().cloned().collect();
    let after = counted(collections, user_id, &ids).await?;
    let mut deltas: HashMap<String, i64> = HashMap::new();
    for (id, was) in before {
        let now = after.get(&id).cloned().flatten();
        if was == now {
            continue;
        }
        if let Some(was) = was {
            *deltas.entry(was).or_default() -= 1;
        }
        if let Some(now) = now {
            *deltas.entry(now).or_default() += 1;
        }
    }
    add(collections, user_id, deltas).await
}

/// `$inc`s each folder's count by its delta.
pub(super) async fn add(
    collections: &Collections,
    user_id: &str,
    deltas: HashMap<String, i64>,
) -> StoreResult<()> {
    for (folder_id, by) in deltas {
        if by == 0 {
            continue;
        }
        collections
            .folders
            .update_one(
                doc! { "_id": &folder_id, "user_id": user_id },
                doc! { "$inc": { "session_count": by } },
            )
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(rename = "_id")]
    id: String,
}

/// The ids of the user's sessions in the folder (deleted ones included when `with_deleted`).
async fn sessions_in(
    collections: &Collections,
    user_id: &str,
    folder_id: &str,
    with_deleted: bool,
) -> StoreResult<Vec<String>> {
    let mut filter = doc! { "user_id": user_id, "folder_id": folder_id };
    if !with_deleted {
        filter.insert("deleted_at", Bson::Null);
    }
    let found: Vec<IdOnly> = collections
        .chat_sessions
        .clone_with_type::<IdOnly>()
        .find(filter)
        .projection(doc! { "_id": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(found.into_iter().map(|found| found.id).collect())
}

pub async fn delete_folder(
    collections: &Collections,
    user_id: &str,
    id: &str,
    contents: FolderContents,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let folders = stored_folders(collections, user_id).await?;
    let tree = Tree::new(&folders);
    let doomed = tree.get(id).ok_or(StoreError::NotFound)?;
    let changed = match contents {
        FolderContents::Keep => {
            let ids = sessions_in(collections, user_id, id, true).await?;
            let live = sessions_in(collections, user_id, id, false).await?.len();
            let before = counted(collections, user_id, &ids).await?;
            collections
                .chat_sessions
                .update_many(
                    doc! { "user_id": user_id, "folder_id": id },
                    doc! { "$set": { "folder_id": optional(&doomed.parent_id) } },
                )
                .await
                .map_err(db_error)?;
            settle(collections, user_id, before).await?;
            collections
                .folders
                .update_many(
                    doc! { "user_id": user_id, "parent_id": id },
                    doc! { "$set": {
                        "parent_id": optional(&doomed.parent_id),
                        "updated_at": to_bson_time(now),
                    } },
                )
                .await
                .map_err(db_error)?;
            collections
                .folders
                .delete_one(doc! { "_id": id, "user_id": user_id })
                .await
                .map_err(db_error)?;
            live as u64
        }
        FolderContents::Delete => {
            let subtree = tree.subtree(id);
            let mut trashed = 0;
            for folder_id in &subtree {
                // Trashed sessions leave the folder (which goes): a restore puts them at the
                // top level.
                let result = collections
                    .chat_sessions
                    .update_many(
                        doc! { "user_id": user_id, "folder_id": folder_id, "deleted_at": Bson::Null },
                        doc! {
                            "$set": { "deleted_at": to_bson_time(now) },
                            "$unset": { "folder_id": "" },
                        },
                    )
                    .await
                    .map_err(db_error)?;
                trashed += result.modified_count;
                // Sessions trashed before keep no link to a folder that is gone.
                collections
                    .chat_sessions
                    .update_many(
                        doc! { "user_id": user_id, "folder_id": folder_id },
                        doc! { "$unset": { "folder_id": "" } },
                    )
                    .await
                    .map_err(db_error)?;
            }
            collections
                .folders
                .delete_many(doc! { "user_id": user_id, "_id": { "$in": &subtree } })
                .await
                .map_err(db_error)?;
            trashed
        }
    };
    Ok(changed)
}

/// `SessionsChange::Moved`: each live session of `ids` put in `folder_id` (the top level for
/// `None`); those there already count as applied. `NotFound` before anything moves when the
/// folder is not the user's.
pub async fn move_sessions(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
    folder_id: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    if let Some(folder_id) = folder_id {
        check_owned(collections, user_id, folder_id).await?;
    }
    let before = counted(collections, user_id, ids).await?;
    let live: Vec<String> = super::chat::session_ids(
        collections,
        doc! { "_id": { "$in": ids }, "user_id": user_id, "deleted_at": Bson::Null },
    )
    .await?
    .into_iter()
    .collect();
    if live.is_empty() {
        return Ok(HashSet::new());
    }
    let target = folder_id
        .map(|id| Bson::String(id.to_owned()))
        .unwrap_or(Bson::Null);
    collections
        .chat_sessions
        .update_many(
            doc! {
                "_id": { "$in": &live },
                "user_id": user_id,
                "deleted_at": Bson::Null,
                "folder_id": { "$ne": target.clone() },
            },
            doc! { "$set": { "folder_id": target, "updated_at": to_bson_time(now) } },
        )
        .await
        .map_err(db_error)?;
    settle(collections, user_id, before).await?;
    Ok(live.into_iter().collect())
}

/// Removes an account's folders (its sessions go with it).
pub async fn delete_user_folders(collections: &Collections, user_id: &str) -> StoreResult<()> {
    collections
        .folders
        .delete_many(doc! { "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(())
}
