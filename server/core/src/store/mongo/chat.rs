//! Chat sessions and their messages.
//!
//! Every filter on `chat_sessions` and `messages` names the owner (`user_id`): it is how a
//! session or message of another user stays "not found", and on a cluster sharded by user id
//! it routes each query to the one shard that holds the user's data.

use std::future::IntoFuture;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Bson, Document};
use mongodb::options::ReturnDocument;

use super::accounts::user_exists;
use super::documents::{
    client_key, searchable, to_bson_time, without_terms, IdOnly, MessageDoc, SessionDoc,
};
use super::errors::{db_error, is_duplicate_key};
use super::Collections;
use crate::api::FolderFilter;
use crate::model::{Message, MessageStatus, Page, Session, SessionDetail, StatusReason};
use crate::store::cursor::SessionCursor;
use crate::store::title_filter::{page_of_matches, Scanned, TitleFilter, TITLE_FILTER_SCAN};
use crate::store::tree::{child_of_spine, Spine, SpineEntry, TreeLinks};
use crate::store::{
    Appended, LeafRule, MessageQuery, NewMessage, NewSession, ReplyOutcome, SessionPatch,
    SessionQuery, SessionsChange, StoreError, StoreResult,
};

pub async fn create_session(collections: &Collections, new: &NewSession) -> StoreResult<Session> {
    // Stands in for the SQLite backend's foreign key on the owner.
    if !user_exists(collections, &new.user_id).await? {
        return Err(StoreError::NotFound);
    }
    if let Some(folder_id) = &new.folder_id {
        super::folders::check_owned(collections, &new.user_id, folder_id).await?;
    }
    insert_session(collections, SessionDoc::new(new, false, false)).await
}

pub async fn insert_session(
    collections: &Collections,
    document: SessionDoc,
) -> StoreResult<Session> {
    collections
        .chat_sessions
        .insert_one(&document)
        .await
        .map_err(db_error)?;
    if let (Some(folder_id), false) = (&document.folder_id, document.archived) {
        let deltas = std::collections::HashMap::from([(folder_id.clone(), 1)]);
        super::folders::add(collections, &document.user_id, deltas).await?;
    }
    Ok(document.into_session())
}

/// The filter that finds the user's session `id` while it lives (not deleted). `deleted_at:
/// null` also matches a document without the field, which is how a live session is stored.
pub fn live(user_id: &str, id: &str) -> Document {
    doc! { "_id": id, "user_id": user_id, "deleted_at": Bson::Null }
}

/// The user's session, unless it is deleted.
pub async fn session_by_id(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<Session>> {
    Ok(collections
        .chat_sessions
        .find_one(live(user_id, id))
        .await
        .map_err(db_error)?
        .map(SessionDoc::into_session))
}

pub(super) async fn session_exists(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<bool> {
    Ok(collections
        .chat_sessions
        .clone_with_type::<IdOnly>()
        .find_one(live(user_id, id))
        .projection(doc! { "_id": 1 })
        .await
        .map_err(db_error)?
        .is_some())
}

/// The user's session with the models its messages name (sorted by code point, as SQLite's
/// `ORDER BY model` sorts them): one read, the set is kept in the session (`SessionDoc::models`).
pub async fn session_detail(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<SessionDetail>> {
    let Some(mut session) = collections
        .chat_sessions
        .find_one(live(user_id, id))
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let mut models = std::mem::take(&mut session.models);
    models.sort();
    models.dedup();
    Ok(Some(SessionDetail {
        session: session.into_session(),
        models,
    }))
}

/// A session of the window a filtered list looks at: what the match and the cursor need.
#[derive(serde::Deserialize)]
struct ScannedSession {
    #[serde(rename = "_id")]
    id: String,
    title: String,
    activity_at: bson::DateTime,
}

impl Scanned for ScannedSession {
    fn title(&self) -> &str {
        &self.title
    }
    fn cursor(&self) -> SessionCursor {
        SessionCursor {
            activity_ms: self.activity_at.timestamp_millis(),
            id: self.id.clone(),
        }
    }
}

/// The user's live sessions in list order (last activity, newest first; `chat_sessions_list`
/// serves it, or `chat_sessions_list_archived` with `archived`). With a title filter a page holds the matches among at most `TITLE_FILTER_SCAN`
/// sessions (`title_filter`), in two round trips: the window's titles, then the matches.
pub async fn list_sessions(
    collections: &Collections,
    user_id: &str,
    query: &SessionQuery,
) -> StoreResult<Page<Session>> {
    let mut filter = doc! { "user_id": user_id, "deleted_at": Bson::Null };
    if let Some(cursor) = &query.cursor {
        let cursor = SessionCursor::decode(cursor)?;
        let activity = mongodb::bson::DateTime::from_millis(cursor.activity_ms);
        filter.insert(
            "$or",
            vec![
                doc! { "activity_at": { "$lt": activity } },
                doc! { "activity_at": activity, "_id": { "$lt": cursor.id } },
            ],
        );
    }
    if let Some(archived) = query.archived {
        filter.insert("archived", archived);
    }
    if let Some(pinned) = query.pinned {
        filter.insert("pinned", pinned);
    }
    if let Some(tag) = &query.tag {
        // `chat_sessions_tag` serves it, or `chat_sessions_tag_archived` with `archived`.
        filter.insert("tags", tag);
    }
    match &query.folder {
        // `chat_sessions_folder` serves both.
        None => {}
        Some(FolderFilter::Top) => {
            filter.insert("folder_id", Bson::Null);
        }
        Some(FolderFilter::Folder(id)) => {
            filter.insert("folder_id", id);
        }
    }
    if let Some(text) = &query.title_contains {
        return filtered_sessions(collections, user_id, filter, &TitleFilter::new(text), query)
            .await;
    }
    let mut found: Vec<SessionDoc> = collections
        .chat_sessions
        .find(filter)
        .sort(doc! { "activity_at": -1, "_id": -1 })
        .limit(query.limit as i64 + 1)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let next_cursor = crate::store::cursor::cut_page(&mut found, query.limit, |session| {
        SessionCursor {
            activity_ms: session.activity_at.timestamp_millis(),
            id: session.id.clone(),
        }
        .encode()
    });
    Ok(Page {
        items: found.into_iter().map(SessionDoc::into_session).collect(),
        next_cursor,
    })
}

/// A filtered page of the list (`title_filter`): the window's ids, titles and sort keys
/// (`filter` selects the sessions after the request's cursor), then the matching sessions by
/// id. A session deleted, or renamed to a title that no longer matches, between the two reads
/// is left out.
async fn filtered_sessions(
    collections: &Collections,
    user_id: &str,
    filter: Document,
    title: &TitleFilter,
    query: &SessionQuery,
) -> StoreResult<Page<Session>> {
    let window: Vec<ScannedSession> = collections
        .chat_sessions
        .clone_with_type::<ScannedSession>()
        .find(filter)
        .projection(doc! { "_id": 1, "title": 1, "activity_at": 1 })
        .sort(doc! { "activity_at": -1, "_id": -1 })
        .limit(TITLE_FILTER_SCAN as i64 + 1)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let (matches, next_cursor) = page_of_matches(window, title, query.limit);
    if matches.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor,
        });
    }
    let ids: Vec<&str> = matches.iter().map(|found| found.id.as_str()).collect();
    let mut by_id: std::collections::HashMap<String, SessionDoc> = collections
        .chat_sessions
        .find(doc! { "user_id": user_id, "_id": { "$in": &ids }, "deleted_at": Bson::Null })
        .await
        .map_err(db_error)?
        .try_collect::<Vec<SessionDoc>>()
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|session| (session.id.clone(), session))
        .collect();
    let items = ids
        .iter()
        .filter_map(|id| by_id.remove(*id))
        // A session renamed between the two reads is checked again.
        .filter(|session| title.matches(&session.title))
        .map(SessionDoc::into_session)
        .collect();
    Ok(Page { items, next_cursor })
}

/// The user's live sessions after `after` in id order (`chat_sessions_export` serves it).
pub async fn sessions_by_id(
    collections: &Collections,
    user_id: &str,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<Session>> {
    let found: Vec<SessionDoc> = collections
        .chat_sessions
        .find(doc! {
            "user_id": user_id,
            "deleted_at": Bson::Null,
            "_id": { "$gt": after.unwrap_or("") },
        })
        .sort(doc! { "_id": 1 })
        .limit(limit as i64)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(found.into_iter().map(SessionDoc::into_session).collect())
}

/// Which of `ids` are the user's sessions, deleted ones included.
pub async fn owned_session_ids(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
) -> StoreResult<std::collections::HashSet<String>> {
    session_ids(
        collections,
        doc! { "user_id": user_id, "_id": { "$in": ids } },
    )
    .await
}

/// The ids of the sessions `filter` finds.
pub async fn session_ids(
    collections: &Collections,
    filter: Document,
) -> StoreResult<std::collections::HashSet<String>> {
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

pub async fn update_session(
    collections: &Collections,
    user_id: &str,
    id: &str,
    patch: &SessionPatch,
    now: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let _turn = collections.session_locks.lock(id).await;
    let mut set = doc! { "updated_at": to_bson_time(now) };
    if let Some(title) = &patch.title {
        set.insert("title", title);
    }
    if let Some(is_active) = patch.is_active {
        set.insert("is_active", is_active);
    }
    if let Some(pinned) = patch.pinned {
        set.insert("pinned", pinned);
    }
    if let Some(archived) = patch.archived {
        set.insert("archived", archived);
    }
    let mut update = doc! {};
    if let Some(leaf) = &patch.active_leaf_id {
        set.insert("active_leaf_id", leaf);
        // The spine is the old leaf's (see `SessionDoc::leaf_spine`).
        update.insert("$unset", doc! { "leaf_spine": "" });
        collections.leaves.forget(user_id, id);
    }
    update.insert("$set", set);
    let ids = [id.to_owned()];
    let before = match patch.archived {
        Some(_) => Some(super::folders::counted(collections, user_id, &ids).await?),
        None => None,
    };
    let updated = collections
        .chat_sessions
        .find_one_and_update(live(user_id, id), update)
        .return_document(ReturnDocument::After)
        .await
        .map_err(db_error)?
        .map(SessionDoc::into_session);
    if let Some(before) = before {
        super::folders::settle(collections, user_id, before).await?;
    }
    Ok(updated)
}

/// Marks the session deleted: one single-document write, so the session and all its
/// messages disappear together (every read of a message checks that its session lives, and
/// search leaves out the user's deleted sessions). The messages are not touched.
pub async fn delete_session(
    collections: &Collections,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let _turn = collections.session_locks.lock(id).await;
    collections.leaves.forget(user_id, id);
    let before = super::folders::counted(collections, user_id, &[id.to_owned()]).await?;
    let marked = collections
        .chat_sessions
        .update_one(
            live(user_id, id),
            doc! { "$set": { "deleted_at": to_bson_time(now) } },
        )
        .await
        .map_err(db_error)?;
    super::folders::settle(collections, user_id, before).await?;
    Ok(marked.matched_count > 0)
}

/// See `Store::change_sessions`: the ids it applies to are read (by `_id`, with the user),
/// then changed with one `updateMany` under the same condition: two round trips whatever the
/// count. A session changed by someone else between the two is reported as it was read.
pub async fn change_sessions(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
    change: SessionsChange,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Each session's turn, as every other write to a session takes it: on a server whose
    // updates are not atomic (FerretDB), a tag put on while another is (two tabs, a bulk
    // action and a single one) was written over and lost, though answered as applied.
    let _turns = collections.session_locks.lock_all(ids).await;
    let (condition, update) = match &change {
        SessionsChange::Tagged(tag) => {
            let applied = super::tags::tag_sessions(collections, user_id, ids, tag, now).await?;
            return Ok(in_given_order(ids, &applied));
        }
        SessionsChange::Untagged(tag) => {
            let applied = super::tags::untag_sessions(collections, user_id, ids, tag, now).await?;
            return Ok(in_given_order(ids, &applied));
        }
        SessionsChange::Archived(archived) => (
            doc! { "deleted_at": Bson::Null },
            doc! { "$set": { "archived": *archived, "updated_at": to_bson_time(now) } },
        ),
        SessionsChange::Pinned(pinned) => (
            doc! { "deleted_at": Bson::Null },
            doc! { "$set": { "pinned": *pinned, "updated_at": to_bson_time(now) } },
        ),
        SessionsChange::Deleted(at) => (
            doc! { "deleted_at": Bson::Null },
            doc! { "$set": { "deleted_at": to_bson_time(*at) } },
        ),
        SessionsChange::Restored(since) => (
            doc! { "deleted_at": { "$gte": to_bson_time(*since) }, "purging": { "$ne": true } },
            doc! { "$unset": { "deleted_at": "" } },
        ),
        SessionsChange::Moved(folder_id) => {
            let applied =
                super::folders::move_sessions(collections, user_id, ids, folder_id.as_deref(), now)
                    .await?;
            return Ok(in_given_order(ids, &applied));
        }
    };
    let filter = |ids: &[String]| {
        let mut filter = doc! { "_id": { "$in": ids }, "user_id": user_id };
        filter.extend(condition.clone());
        filter
    };
    let found = session_ids(collections, filter(ids)).await?;
    let applied = in_given_order(ids, &found);
    if applied.is_empty() {
        return Ok(applied);
    }
    if matches!(change, SessionsChange::Deleted(_)) {
        // As `delete_session`: the leaf this process remembers is no longer for appending.
        for id in &applied {
            collections.leaves.forget(user_id, id);
        }
    }
    let before = super::folders::counted(collections, user_id, &applied).await?;
    collections
        .chat_sessions
        .update_many(filter(&applied), update)
        .await
        .map_err(db_error)?;
    super::folders::settle(collections, user_id, before).await?;
    Ok(applied)
}

/// The ids of `ids` in `applied`, in the order of `ids`, each once.
fn in_given_order(ids: &[String], applied: &std::collections::HashSet<String>) -> Vec<String> {
    let mut listed = std::collections::HashSet::new();
    ids.iter()
        .filter(|id| applied.contains(*id) && listed.insert(id.as_str()))
        .cloned()
        .collect()
}

/// Unmarks a session deleted at or after `deleted_since`, unless its purge has started.
pub async fn restore_session(
    collections: &Collections,
    user_id: &str,
    id: &str,
    deleted_since: DateTime<Utc>,
) -> StoreResult<Option<Session>> {
    let _turn = collections.session_locks.lock(id).await;
    let before = super::folders::counted(collections, user_id, &[id.to_owned()]).await?;
    let restored = collections
        .chat_sessions
        .find_one_and_update(
            doc! {
                "_id": id,
                "user_id": user_id,
                "deleted_at": { "$gte": to_bson_time(deleted_since) },
                "purging": { "$ne": true },
            },
            doc! { "$unset": { "deleted_at": "" } },
        )
        .return_document(ReturnDocument::After)
        .await
        .map_err(db_error)?
        .map(SessionDoc::into_session);
    super::folders::settle(collections, user_id, before).await?;
    Ok(restored)
}

#[derive(serde::Deserialize)]
struct Owned {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
}

/// Removes every session deleted before `deleted_before`, one at a time and without a
/// transaction, in an order that never leaves a restored session without its messages:
/// first the session is claimed (`purging: true`, in one write that also checks it is still
/// deleted early enough), which a restore respects; only then go its messages, the session,
/// and the messages again (an append that raced with the deletion removes its own message,
/// but a second sweep costs little). A purge cut short is finished by the next one.
pub async fn purge_deleted_sessions(
    collections: &Collections,
    deleted_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let before = to_bson_time(deleted_before);
    let doomed: Vec<Owned> = collections
        .chat_sessions
        .clone_with_type::<Owned>()
        .find(doc! { "deleted_at": { "$lt": before } })
        .projection(doc! { "_id": 1, "user_id": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let mut purged = 0;
    for session in doomed {
        let owned = doc! { "_id": &session.id, "user_id": &session.user_id };
        let mut claim = owned.clone();
        claim.insert("deleted_at", doc! { "$lt": before });
        let claimed = collections
            .chat_sessions
            .update_one(claim, doc! { "$set": { "purging": true } })
            .await
            .map_err(db_error)?;
        if claimed.matched_count == 0 {
            continue;
        }
        let messages = doc! { "user_id": &session.user_id, "session_id": &session.id };
        collections
            .messages
            .delete_many(messages.clone())
            .await
            .map_err(db_error)?;
        let mut claimed = owned;
        claimed.insert("purging", true);
        let removed = collections
            .chat_sessions
            .find_one_and_delete(claimed)
            .await
            .map_err(db_error)?;
        if let Some(removed) = &removed {
            let untagged =
                super::tags::count_all(collections, &removed.user_id, &removed.tags, -1).await;
            if let Err(error) = untagged {
                tracing::warn!(%error, "the user's tags keep a purged conversation's");
            }
            let taken = super::totals::add(
                collections,
                &removed.user_id,
                -removed.message_count,
                -removed.word_count,
            );
            // The purge goes on (its second sweep of the messages matters more): the totals
            // only weigh search ranking.
            if let Err(error) = taken.await {
                tracing::warn!(%error, "the user's totals keep a purged conversation");
            }
        }
        collections
            .messages
            .delete_many(messages)
            .await
            .map_err(db_error)?;
        purged += u64::from(removed.is_some());
    }
    Ok(purged)
}

pub async fn clear_session(
    collections: &Collections,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let _turn = collections.session_locks.lock(id).await;
    collections.leaves.forget(user_id, id);
    if !session_exists(collections, user_id, id).await? {
        return Ok(false);
    }
    // Messages before counters: a failure in between shows counters too high for a moment,
    // never a message that the counters do not know about.
    collections
        .messages
        .delete_many(doc! { "user_id": user_id, "session_id": id })
        .await
        .map_err(db_error)?;
    let cleared = collections
        .chat_sessions
        .find_one_and_update(
            live(user_id, id),
            doc! {
                "$set": {
                    "message_count": 0_i64,
                    "prompt_tokens": 0_i64,
                    "completion_tokens": 0_i64,
                    "word_count": 0_i64,
                    "models": Vec::<String>::new(),
                    "updated_at": to_bson_time(now),
                },
                "$unset": { "last_message_at": "", "active_leaf_id": "", "leaf_spine": "" },
            },
        )
        .return_document(ReturnDocument::Before)
        .await
        .map_err(db_error)?;
    let Some(cleared) = cleared else {
        return Ok(false);
    };
    super::totals::add(
        collections,
        user_id,
        -cleared.message_count,
        -cleared.word_count,
    )
    .await?;
    Ok(true)
}

async fn find_message(
    collections: &Collections,
    filter: Document,
) -> StoreResult<Option<MessageDoc>> {
    collections
        .messages
        .find_one(filter)
        .projection(without_terms())
        .await
        .map_err(db_error)
}

/// A message is shown only while its session exists: without transactions a message can
/// outlive its session for a moment (see `delete_session`), and must not be visible then.
pub async fn message_by_id(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<Message>> {
    let Some(found) = find_message(collections, doc! { "_id": id, "user_id": user_id }).await?
    else {
        return Ok(None);
    };
    if !session_exists(collections, user_id, &found.session_id).await? {
        return Ok(None);
    }
    found.into_message().map(Some)
}

/// What a client id was used for before.
enum ClientMatch {
    /// The stored message, in its session.
    Live(Box<MessageDoc>, Box<Session>),
    /// The message is in a deleted session: not there for the user (not found), but kept,
    /// since the session may be restored.
    Deleted,
}

/// The message stored under `(user, client id)` with its session, if both exist. A message
/// whose session is gone is an orphan of an interrupted delete: it is removed, as the SQLite
/// backend's cascade would have removed it.
async fn by_client_id(
    collections: &Collections,
    user_id: &str,
    client_key: &str,
) -> StoreResult<Option<ClientMatch>> {
    let filter = doc! { "user_id": user_id, "client_key": client_key };
    let Some(existing) = find_message(collections, filter).await? else {
        return Ok(None);
    };
    let session = collections
        .chat_sessions
        .find_one(doc! { "_id": &existing.session_id, "user_id": user_id })
        .await
        .map_err(db_error)?;
    match session {
        Some(session) if session.deleted_at.is_some() => Ok(Some(ClientMatch::Deleted)),
        Some(session) => Ok(Some(ClientMatch::Live(
            Box::new(existing),
            Box::new(session.into_session()),
        ))),
        None => {
            tracing::warn!(message = %existing.id, "removing a message whose session is gone");
            collections
                .messages
                .delete_one(doc! { "_id": &existing.id, "user_id": user_id })
                .await
                .map_err(db_error)?;
            Ok(None)
        }
    }
}

/// Removes a session this append created, if it is still empty (best effort: an empty
/// "New chat" left behind by a failure is harmless).
async fn discard_new_session(collections: &Collections, session: &NewSession) {
    let result = collections
        .chat_sessions
        .delete_one(
            doc! { "_id": &session.id, "user_id": &session.user_id, "message_count": 0_i64 },
        )
        .await;
    if let Err(error) = result {
        tracing::warn!(%error, session = %session.id, "could not remove an unused new session");
    }
}

fn existing_appended(found: ClientMatch) -> StoreResult<Appended> {
    match found {
        ClientMatch::Live(message, session) => Ok(Appended {
            message: message.into_message()?,
            session: *session,
            created: false,
        }),
        ClientMatch::Deleted => Err(StoreError::NotFound),
    }
}

/// Locks that make the writes of one session's document take turns within this process
/// (appends, renames and branch switches, deletes and restores, clears, a reply's final
/// save, imports), striped by session id (two sessions may share a stripe and then take
/// turns too, briefly).
///
/// On MongoDB the compare-and-set on the active leaf (`append_message`) keeps a branch
/// linear on its own, across processes. FerretDB 1.x runs `findAndModify` and `update` as a
/// read followed by a write of the whole document (`internal/handler/msg_findandmodify.go`:
/// `Query`, then `UpdateDocument` by `_id`), so two concurrent updates of one session can
/// both match the same leaf, and an `$inc` can be lost (or a rename written back over an
/// append's counters). Taking turns here makes the writes through one Confab process exact
/// there too (the UI and `/v1` at once, several browser tabs); across processes FerretDB
/// offers no way to.
#[derive(Clone)]
pub(crate) struct SessionLocks(std::sync::Arc<[tokio::sync::Mutex<()>]>);

/// Stripes of `SessionLocks`: appends to different sessions rarely wait for each other.
const SESSION_LOCK_STRIPES: usize = 256;

impl Default for SessionLocks {
    fn default() -> SessionLocks {
        SessionLocks(
            (0..SESSION_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        )
    }
}

impl SessionLocks {
    fn stripe(&self, session_id: &str) -> usize {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(session_id);
        (hash % self.0.len() as u64) as usize
    }

    pub(super) async fn lock(&self, session_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[self.stripe(session_id)].lock().await
    }

    /// The turns of every session of `session_ids` (a bulk change), taken in stripe order so
    /// that two bulk changes naming the same sessions cannot each hold what the other waits
    /// for. At most `SESSION_LOCK_STRIPES` locks, however many sessions.
    pub(super) async fn lock_all(
        &self,
        session_ids: &[String],
    ) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = session_ids.iter().map(|id| self.stripe(id)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut turns = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            turns.push(self.0[stripe].lock().await);
        }
        turns
    }
}

/// The session's active leaf and its spine, as an append reads them.
#[derive(serde::Deserialize)]
struct LeafState {
    #[serde(default)]
    active_leaf_id: Option<String>,
    #[serde(default)]
    leaf_spine: Option<Spine>,
}

impl LeafState {
    /// The spine, when it is the active leaf's (it is written with the leaf, so this holds
    /// unless the document was edited by hand).
    fn spine(&self) -> Option<&Spine> {
        let spine = self.leaf_spine.as_ref()?;
        (spine.first().map(|entry| &entry.id) == self.active_leaf_id.as_ref()).then_some(spine)
    }
}

/// The user's live session `id`: its active leaf and that leaf's spine. `None` when the
/// session is not the user's or is deleted.
async fn leaf_state(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<LeafState>> {
    collections
        .chat_sessions
        .clone_with_type::<LeafState>()
        .find_one(live(user_id, id))
        .projection(doc! { "_id": 0, "active_leaf_id": 1, "leaf_spine": 1 })
        .await
        .map_err(db_error)
}

/// Keeps what `state` says of the session's leaf for the next append (`leaves`).
fn remember(collections: &Collections, user_id: &str, session_id: &str, state: &LeafState) {
    match state.spine() {
        Some(spine) => collections.leaves.set(user_id, session_id, spine.clone()),
        None => collections.leaves.forget(user_id, session_id),
    }
}

/// `remember` with a session document an update returned.
fn remember_session(collections: &Collections, session: &SessionDoc) {
    let state = LeafState {
        active_leaf_id: session.active_leaf_id.clone(),
        leaf_spine: session.leaf_spine.clone(),
    };
    remember(collections, &session.user_id, &session.id, &state);
}

/// How the counter update of an append moves the active leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LeafMove {
    /// The message hangs under the active leaf it was given (`None`: the session had none):
    /// it becomes the leaf only while the leaf is still that one, else it is moved under the
    /// newer leaf and tried again, so that concurrent appends make one linear branch.
    Follow(Option<String>),
    /// It becomes the leaf only while the leaf is this message (`LeafRule::IfLeafIs`); else
    /// it stays where it is and only the counters move.
    IfLeafIs(String),
    /// It becomes the leaf whatever the leaf is (`LeafRule::Set` with an explicit parent).
    Always,
}

/// Where a new message goes: its parent, its links and its own spine (when the parent's is
/// known), and how it moves the leaf.
struct Placement {
    parent_id: Option<String>,
    links: TreeLinks,
    spine: Option<Spine>,
    leaf: LeafMove,
    /// An explicit parent taken from this process's memory (`leaves`), not read: it is known
    /// to exist only while it is still the session's leaf, which the first update checks.
    parent_unverified: bool,
}

/// Compare-and-set rounds of a following append before it takes the leaf unconditionally
/// (accepting a fork rather than failing a write that is already stored).
const MAX_FOLLOW_TRIES: usize = 16;

/// The placement of `id` under `parent_id`, in the user's session. With `known` (the
/// session's leaf state) holding the parent's spine no message is read; else the parent and
/// its jump chain are (`branch::spine_of`), and a parent outside the session is a conflict.
async fn place_under(
    collections: &Collections,
    message: &NewMessage,
    parent_id: Option<&str>,
    known: Option<&LeafState>,
    leaf: LeafMove,
) -> StoreResult<Placement> {
    let id = message.id.as_str();
    let Some(parent_id) = parent_id else {
        return Ok(Placement {
            parent_id: None,
            links: TreeLinks::root(id),
            spine: Some(vec![SpineEntry {
                id: id.to_owned(),
                depth: 0,
            }]),
            leaf,
            parent_unverified: false,
        });
    };
    let known_spine = known
        .and_then(LeafState::spine)
        .filter(|spine| spine[0].id == parent_id);
    let parent_spine = match known_spine {
        Some(spine) => Some(spine.clone()),
        None => {
            let parent = parent_in_session(collections, message, parent_id)
                .await?
                .ok_or_else(not_in_session)?;
            match super::branch::spine_of(collections, &parent).await? {
                Some(spine) => Some(spine),
                None => {
                    // Links missing above the parent: the links as far as they are known,
                    // and no spine (the next append reads again).
                    let links = super::branch::links_under(collections, id, Some(&parent)).await?;
                    return Ok(Placement {
                        parent_id: Some(parent_id.to_owned()),
                        links,
                        spine: None,
                        leaf,
                        parent_unverified: false,
                    });
                }
            }
        }
    };
    let (links, spine) = parent_spine
        .as_deref()
        .and_then(|spine| child_of_spine(spine, id))
        .map_or((TreeLinks::root(id), None), |(links, spine)| {
            (links, Some(spine))
        });
    Ok(Placement {
        parent_id: Some(parent_id.to_owned()),
        links,
        spine,
        leaf,
        parent_unverified: false,
    })
}

/// The message `parent_id` of the user, when it is in the session `message` goes to.
async fn parent_in_session(
    collections: &Collections,
    message: &NewMessage,
    parent_id: &str,
) -> StoreResult<Option<MessageDoc>> {
    let filter = doc! { "_id": parent_id, "user_id": &message.user_id };
    Ok(find_message(collections, filter)
        .await?
        .filter(|parent| parent.session_id == message.session_id))
}

/// What an append whose parent is not in its session answers, as on SQLite.
fn not_in_session() -> StoreError {
    StoreError::Conflict(crate::store::Conflict::ParentOutsideSession)
}

/// The `$inc`/`$max` of one appended message and the `$addToSet` of its model (the session's
/// `models`, in the same write: no round trip of its own), with the leaf moved to it when
/// `leaf`.
fn counter_update(
    message: &NewMessage,
    document: &MessageDoc,
    leaf: Option<&Placement>,
) -> Document {
    let created = document.created_at;
    let mut update = doc! {
        "$inc": {
            "message_count": 1_i64,
            "prompt_tokens": message.prompt_tokens.unwrap_or(0),
            "completion_tokens": message.completion_tokens.unwrap_or(0),
            "word_count": document.word_count,
        },
        "$max": {
            "last_message_at": created,
            "activity_at": created,
            "updated_at": created,
        },
    };
    if let Some(model) = &message.model {
        update.insert("$addToSet", doc! { "models": model });
    }
    if let Some(placement) = leaf {
        match &placement.spine {
            Some(spine) => {
                let spine = bson::to_bson(spine).unwrap_or(Bson::Null);
                update.insert(
                    "$set",
                    doc! { "active_leaf_id": &document.id, "leaf_spine": spine },
                );
            }
            None => {
                update.insert("$set", doc! { "active_leaf_id": &document.id });
                update.insert("$unset", doc! { "leaf_spine": "" });
            }
        }
    }
    update
}

/// Where a message goes in an existing session: under the leaf this process knows (no read),
/// else as the session's leaf state says (one read, more when its spine is unknown).
async fn place_in_session(
    collections: &Collections,
    message: &NewMessage,
) -> StoreResult<Placement> {
    let user_id = message.user_id.as_str();
    let follows = message.follow_active_leaf && message.parent_id.is_none();
    let leaf_move = |leaf: Option<&str>| match &message.active_leaf {
        LeafRule::IfLeafIs(expected) => LeafMove::IfLeafIs(expected.clone()),
        LeafRule::Set if follows => LeafMove::Follow(leaf.map(str::to_owned)),
        LeafRule::Set => LeafMove::Always,
    };
    // The compare-and-set of the counters' update finds out if the leaf moved since.
    let known = collections
        .leaves
        .get(user_id, &message.session_id)
        .filter(|leaf| follows || message.parent_id.as_deref() == Some(leaf.id()));
    if let Some(known) = known {
        if let Some((links, spine)) = child_of_spine(&known.spine, &message.id) {
            return Ok(Placement {
                parent_id: Some(known.id().to_owned()),
                links,
                spine: Some(spine),
                leaf: leaf_move(Some(known.id())),
                parent_unverified: !follows,
            });
        }
    }
    let Some(state) = leaf_state(collections, user_id, &message.session_id).await? else {
        return Err(StoreError::NotFound);
    };
    remember(collections, user_id, &message.session_id, &state);
    let parent_id = if follows {
        state.active_leaf_id.as_deref()
    } else {
        message.parent_id.as_deref()
    };
    let leaf = leaf_move(state.active_leaf_id.as_deref());
    place_under(collections, message, parent_id, Some(&state), leaf).await
}

/// Appends without a transaction.
///
/// Into an existing session, on the normal path, in two round trips when this process
/// remembers the session's leaf (`leaves`), else three, the first reading the session's leaf
/// state (its spine gives the new message's links, so no message is read when the parent is
/// the active leaf): the message is inserted, where the unique index on
/// `(user_id, client_key)` answers a repeated client id (no read before); then one
/// `findAndModify` moves the counters and, as a compare-and-set on the leaf the append
/// started from, the active leaf. When another append moved the leaf meanwhile (another
/// node, or the UI and `/v1` at once), a following message is moved under the newer leaf
/// and the update tried again, so the branch stays linear as on SQLite; a reply
/// (`LeafRule::IfLeafIs`) keeps its parent and moves the leaf only while the leaf is its
/// question.
///
/// A new session is inserted before its first message, and removed again if that message
/// cannot be stored.
pub async fn append_message(
    collections: &Collections,
    message: &NewMessage,
    new_session: Option<&NewSession>,
) -> StoreResult<Appended> {
    let user_id = message.user_id.as_str();
    let _turn = collections.session_locks.lock(&message.session_id).await;
    let mut placement = match new_session {
        Some(new) => {
            if !user_exists(collections, user_id).await? {
                return Err(StoreError::NotFound);
            }
            let leaf = match &message.active_leaf {
                LeafRule::Set => LeafMove::Always,
                LeafRule::IfLeafIs(expected) => LeafMove::IfLeafIs(expected.clone()),
            };
            let placement = place_under(
                collections,
                message,
                message.parent_id.as_deref(),
                None,
                leaf,
            )
            .await?;
            insert_session(collections, SessionDoc::new(new, false, false)).await?;
            placement
        }
        None => place_in_session(collections, message).await?,
    };
    let mut document = MessageDoc::new(message);
    document.parent_id = placement.parent_id.clone();
    document.set_links(placement.links.clone());
    if let Err(error) = collections.messages.insert_one(&document).await {
        return insert_failed(collections, message, &document, new_session, error).await;
    }
    // The counters and the leaf, as a compare-and-set where the rule asks for one.
    let mut in_totals = false;
    for attempt in 1..=MAX_FOLLOW_TRIES {
        let mut filter = live(user_id, &message.session_id);
        if placement.parent_unverified {
            // Only a live leaf proves the remembered parent exists (a clear elsewhere
            // removes it and unsets the leaf).
            filter.insert("active_leaf_id", placement.parent_id.as_deref());
        }
        match &placement.leaf {
            LeafMove::Follow(expected) if attempt < MAX_FOLLOW_TRIES => {
                filter.insert(
                    "active_leaf_id",
                    expected.as_deref().map_or(Bson::Null, Bson::from),
                );
            }
            LeafMove::IfLeafIs(expected) => {
                filter.insert("active_leaf_id", expected);
            }
            LeafMove::Follow(_) | LeafMove::Always => {}
        }
        let update = collections
            .chat_sessions
            .find_one_and_update(filter, counter_update(message, &document, Some(&placement)))
            .return_document(ReturnDocument::After)
            .into_future();
        let updated = if attempt == 1 {
            // The user's totals move alongside, once: no round trip of its own.
            let totals = super::totals::add(collections, user_id, 1, document.word_count);
            let (updated, totals) = futures::join!(update, totals);
            match totals {
                Ok(()) => in_totals = true,
                // The message is stored and counted in its session: the append stands.
                Err(error) => tracing::warn!(%error, "the user's totals missed an append"),
            }
            updated
        } else {
            update.await
        }
        .map_err(db_error)?;
        if let Some(session) = updated {
            remember_session(collections, &session);
            return Ok(Appended {
                message: document.into_message()?,
                session: session.into_session(),
                created: true,
            });
        }
        let Some(state) = leaf_state(collections, user_id, &message.session_id).await? else {
            collections.leaves.forget(user_id, &message.session_id);
            return Err(withdraw(collections, &document, in_totals, StoreError::NotFound).await);
        };
        remember(collections, user_id, &message.session_id, &state);
        if std::mem::take(&mut placement.parent_unverified) {
            let parent = placement.parent_id.as_deref().unwrap_or_default();
            if parent_in_session(collections, message, parent)
                .await?
                .is_none()
            {
                let refused = not_in_session();
                return Err(withdraw(collections, &document, in_totals, refused).await);
            }
        }
        match &placement.leaf {
            LeafMove::IfLeafIs(_) => {
                // The user moved on: the reply stays under its question, off the active branch.
                let updated = collections
                    .chat_sessions
                    .find_one_and_update(
                        live(user_id, &message.session_id),
                        counter_update(message, &document, None),
                    )
                    .return_document(ReturnDocument::After)
                    .await
                    .map_err(db_error)?;
                let Some(session) = updated else {
                    collections.leaves.forget(user_id, &message.session_id);
                    let gone = StoreError::NotFound;
                    return Err(withdraw(collections, &document, in_totals, gone).await);
                };
                remember_session(collections, &session);
                return Ok(Appended {
                    message: document.into_message()?,
                    session: session.into_session(),
                    created: true,
                });
            }
            LeafMove::Follow(_) => {
                // Another append moved the leaf: hang this message under the newer one.
                let newer = state.active_leaf_id.clone();
                let moved = place_under(
                    collections,
                    message,
                    newer.as_deref(),
                    Some(&state),
                    LeafMove::Follow(newer.clone()),
                )
                .await?;
                if !reparent(collections, &document, &moved).await? {
                    // Removed meanwhile: the session was cleared.
                    let gone = StoreError::NotFound;
                    return Err(withdraw(collections, &document, in_totals, gone).await);
                }
                document.parent_id = moved.parent_id.clone();
                document.set_links(moved.links.clone());
                placement = moved;
            }
            LeafMove::Always => {}
        }
    }
    // Not reached: the last attempt has no condition on the leaf.
    Err(StoreError::Backend(
        "the append could not move the active leaf".into(),
    ))
}

/// Moves a stored message (not yet counted) under another parent; `false` when the message is
/// no longer there.
async fn reparent(
    collections: &Collections,
    document: &MessageDoc,
    placement: &Placement,
) -> StoreResult<bool> {
    let parent = placement
        .parent_id
        .as_deref()
        .map_or(Bson::Null, Bson::from);
    let links = &placement.links;
    let moved = collections
        .messages
        .update_one(
            doc! { "_id": &document.id, "user_id": &document.user_id },
            doc! { "$set": {
                "parent_id": parent,
                "depth": links.depth,
                "jump_id": &links.jump_id,
                "jump_depth": links.jump_depth,
            } },
        )
        .await
        .map_err(db_error)?;
    Ok(moved.matched_count > 0)
}

/// The append fails with `refusal` after its message was inserted (its session was deleted or
/// cleared meanwhile, or its parent is gone): the message goes too (a restored session shows
/// what it held when it was deleted), and so does its share of the user's totals when
/// `in_totals`.
async fn withdraw(
    collections: &Collections,
    document: &MessageDoc,
    in_totals: bool,
    refusal: StoreError,
) -> StoreError {
    if in_totals {
        let taken = super::totals::add(collections, &document.user_id, -1, -document.word_count);
        if let Err(error) = taken.await {
            tracing::warn!(%error, "the user's totals keep a message that was not stored");
        }
    }
    let removed = collections
        .messages
        .delete_one(doc! { "_id": &document.id, "user_id": &document.user_id })
        .await;
    match removed {
        Ok(_) => refusal,
        Err(error) => db_error(error),
    }
}

/// What a failed message insert answers: the message already stored under the same client id
/// (a retry, or a concurrent twin, settled by the unique index), else the error. A session
/// created for the message is removed while nothing refers to it.
async fn insert_failed(
    collections: &Collections,
    message: &NewMessage,
    document: &MessageDoc,
    new_session: Option<&NewSession>,
    error: mongodb::error::Error,
) -> StoreResult<Appended> {
    let user_id = message.user_id.as_str();
    if is_duplicate_key(&error) && message.client_id.is_some() {
        match by_client_id(collections, user_id, &document.client_key).await {
            Ok(Some(found)) => {
                if let Some(new) = new_session {
                    discard_new_session(collections, new).await;
                }
                return existing_appended(found);
            }
            Ok(None) => {}
            Err(error) => return Err(error),
        }
    }
    // After any other failure the message may still have been stored (a lost reply), and
    // then its session must stay; the session is removed only while nothing refers to it.
    if let Some(new) = new_session {
        let orphaned = collections
            .messages
            .count_documents(doc! { "user_id": user_id, "session_id": &new.id })
            .await
            .is_ok_and(|count| count == 0);
        if orphaned {
            discard_new_session(collections, new).await;
        }
    }
    Err(db_error(error))
}

/// See `Store::message_by_client_id`.
pub async fn message_by_client_id(
    collections: &Collections,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Option<Message>> {
    match by_client_id(collections, user_id, &client_key(Some(client_id), "")).await? {
        Some(ClientMatch::Live(message, _)) => message.into_message().map(Some),
        // In a deleted conversation: not there for the user until it is restored.
        Some(ClientMatch::Deleted) | None => Ok(None),
    }
}

fn is_stopped(message: &MessageDoc) -> bool {
    message.status == MessageStatus::Partial.as_str()
        && message.status_reason.as_deref() == Some(StatusReason::Stopped.as_str())
}

/// See `Store::checkpoint_reply`.
pub async fn checkpoint_reply(
    collections: &Collections,
    user_id: &str,
    id: &str,
    content: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut set = doc! { "updated_at": to_bson_time(now) };
    if let Some(content) = content {
        // Without new text only the heartbeat travels (and lands in the oplog).
        set.insert("content", content);
    }
    let updated = collections
        .messages
        .update_one(
            doc! { "_id": id, "user_id": user_id, "status": MessageStatus::Streaming.as_str() },
            doc! { "$set": set },
        )
        .await
        .map_err(db_error)?;
    if updated.matched_count > 0 {
        return Ok(true);
    }
    let Some(found) = find_message(collections, doc! { "_id": id, "user_id": user_id }).await?
    else {
        return Ok(false);
    };
    if found.status_reason.as_deref() == Some(StatusReason::Interrupted.as_str()) {
        // Taken for left by a recovery (a late checkpoint): the reply is alive, take it back.
        let text = content.map_or_else(|| found.content.clone(), str::to_owned);
        let outcome = with_text_and_status(&found, text, MessageStatus::Streaming, None);
        return Ok(settle(collections, found, &outcome, now).await?.is_some());
    }
    Ok(!is_stopped(&found))
}

/// Sets a message's final fields (with its search terms) and moves the session's counters by
/// the difference to what the message counted before. `None` when the message is gone.
async fn settle(
    collections: &Collections,
    before: MessageDoc,
    outcome: &ReplyOutcome,
    now: DateTime<Utc>,
) -> StoreResult<Option<Message>> {
    let status = MessageStatus::parse(&before.status).unwrap_or_default();
    let (_, old_words) = searchable(status, &before.content);
    let (terms, words) = searchable(outcome.status, &outcome.content);
    let mut set = doc! {
        "content": &outcome.content,
        "status": outcome.status.as_str(),
        "terms": terms,
        "usage_estimated": outcome.usage_estimated,
        "updated_at": to_bson_time(now),
    };
    let mut unset = Document::new();
    for (field, value) in [
        (
            "status_reason",
            outcome.status_reason.map(|r| Bson::from(r.as_str())),
        ),
        ("prompt_tokens", outcome.prompt_tokens.map(Bson::from)),
        (
            "completion_tokens",
            outcome.completion_tokens.map(Bson::from),
        ),
        ("latency_ms", outcome.latency_ms.map(Bson::from)),
    ] {
        match value {
            Some(value) => set.insert(field, value),
            None => unset.insert(field, ""),
        };
    }
    let mut update = doc! { "$set": set };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    let updated = collections
        .messages
        .find_one_and_update(
            doc! { "_id": &before.id, "user_id": &before.user_id, "status": &before.status },
            update,
        )
        // No projection: FerretDB does not implement `fields` in findAndModify.
        .return_document(ReturnDocument::After)
        .await
        .map_err(db_error)?;
    let Some(updated) = updated else {
        // Changed by someone else in between (a stop, a recovery): the caller reads again.
        return Ok(None);
    };
    let prompt = outcome.prompt_tokens.unwrap_or(0) - before.prompt_tokens.unwrap_or(0);
    let completion = outcome.completion_tokens.unwrap_or(0) - before.completion_tokens.unwrap_or(0);
    let _turn = collections.session_locks.lock(&before.session_id).await;
    let session = collections.chat_sessions.update_one(
        doc! { "_id": &before.session_id, "user_id": &before.user_id },
        doc! { "$inc": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "word_count": words - old_words,
        } },
    );
    let words_moved = words - old_words;
    let (session, totals) = futures::join!(
        session.into_future(),
        super::totals::add(collections, &before.user_id, 0, words_moved)
    );
    let session = session.map_err(db_error)?;
    if session.matched_count == 0 && totals.is_ok() {
        // The session is gone for good (a purge took its counts out of the totals): the
        // words just added belong to nothing.
        super::totals::add(collections, &before.user_id, 0, -words_moved).await?;
    }
    totals?;
    updated.into_message().map(Some)
}

/// An outcome that gives `message` new text and status and keeps its tokens, latency and
/// usage flag (a stop, a recovery, a reopening: the reply's final save sets those).
fn with_text_and_status(
    message: &MessageDoc,
    content: String,
    status: MessageStatus,
    status_reason: Option<StatusReason>,
) -> ReplyOutcome {
    ReplyOutcome {
        content,
        status,
        status_reason,
        prompt_tokens: message.prompt_tokens,
        completion_tokens: message.completion_tokens,
        latency_ms: message.latency_ms,
        usage_estimated: message.usage_estimated,
    }
}

/// Retries of a compare-and-set that lost to a concurrent change: each loss means the message
/// changed state, which happens at most a few times in its life.
const SETTLE_TRIES: usize = 4;

/// See `Store::finish_reply`.
pub async fn finish_reply(
    collections: &Collections,
    user_id: &str,
    id: &str,
    outcome: &ReplyOutcome,
) -> StoreResult<Option<Message>> {
    for _ in 0..SETTLE_TRIES {
        let Some(before) =
            find_message(collections, doc! { "_id": id, "user_id": user_id }).await?
        else {
            return Ok(None);
        };
        let mut outcome = outcome.clone();
        if is_stopped(&before) {
            outcome.status = MessageStatus::Partial;
            outcome.status_reason = Some(StatusReason::Stopped);
        }
        if let Some(message) = settle(collections, before, &outcome, Utc::now()).await? {
            return Ok(Some(message));
        }
    }
    Err(StoreError::Backend(format!(
        "the reply {id} kept changing while it was being saved"
    )))
}

/// See `Store::stop_reply`.
pub async fn stop_reply(
    collections: &Collections,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<Message>> {
    for _ in 0..SETTLE_TRIES {
        let Some(before) =
            find_message(collections, doc! { "_id": id, "user_id": user_id }).await?
        else {
            return Ok(None);
        };
        if before.status != MessageStatus::Streaming.as_str() {
            return before.into_message().map(Some);
        }
        let outcome = with_text_and_status(
            &before,
            before.content.clone(),
            MessageStatus::Partial,
            Some(StatusReason::Stopped),
        );
        if let Some(message) = settle(collections, before, &outcome, Utc::now()).await? {
            return Ok(Some(message));
        }
    }
    Ok(None)
}

/// See `Store::reopen_reply`.
pub async fn reopen_reply(
    collections: &Collections,
    user_id: &str,
    id: &str,
    from: (MessageStatus, Option<StatusReason>),
) -> StoreResult<bool> {
    let Some(before) = find_message(collections, doc! { "_id": id, "user_id": user_id }).await?
    else {
        return Ok(false);
    };
    let from_reason = from.1.map(StatusReason::as_str);
    if before.status != from.0.as_str() || before.status_reason.as_deref() != from_reason {
        return Ok(false);
    }
    let outcome = with_text_and_status(&before, String::new(), MessageStatus::Streaming, None);
    // `settle` changes the message only while its status is still the one read.
    Ok(settle(collections, before, &outcome, Utc::now())
        .await?
        .is_some())
}

/// See `Store::recover_streaming`. Each message is settled on its own so that it gets its
/// search terms and its session its word count.
pub async fn recover_streaming(
    collections: &Collections,
    stale_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let stale: Vec<MessageDoc> = collections
        .messages
        .find(doc! {
            "status": MessageStatus::Streaming.as_str(),
            "updated_at": { "$lt": to_bson_time(stale_before) },
        })
        .projection(without_terms())
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let mut recovered = 0;
    for message in stale {
        let status = if message.content.is_empty() {
            MessageStatus::Error
        } else {
            MessageStatus::Partial
        };
        let outcome = with_text_and_status(
            &message,
            message.content.clone(),
            status,
            Some(StatusReason::Interrupted),
        );
        if settle(collections, message, &outcome, Utc::now())
            .await?
            .is_some()
        {
            recovered += 1;
        }
    }
    Ok(recovered)
}

pub async fn list_messages(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    query: &MessageQuery,
) -> StoreResult<Option<Page<Message>>> {
    if !session_exists(collections, user_id, session_id).await? {
        return Ok(None);
    }
    let mut filter = doc! { "user_id": user_id, "session_id": session_id };
    if let Some(before) = &query.before {
        filter.insert("_id", doc! { "$lt": before });
    }
    if let Some(message_type) = &query.message_type {
        filter.insert("type", message_type);
    }
    if let Some(role) = query.role {
        filter.insert("role", role.as_str());
    }
    let mut found: Vec<MessageDoc> = collections
        .messages
        .find(filter)
        .projection(without_terms())
        .sort(doc! { "_id": -1 })
        .limit(query.limit as i64 + 1)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let next_cursor =
        crate::store::cursor::cut_page(&mut found, query.limit, |message| message.id.clone());
    found.reverse();
    let items = found
        .into_iter()
        .map(MessageDoc::into_message)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(Page { items, next_cursor }))
}

pub async fn all_messages(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
) -> StoreResult<Vec<Message>> {
    if !session_exists(collections, user_id, session_id).await? {
        return Ok(Vec::new());
    }
    let found: Vec<MessageDoc> = collections
        .messages
        .find(doc! { "user_id": user_id, "session_id": session_id })
        .projection(without_terms())
        .sort(doc! { "_id": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    found.into_iter().map(MessageDoc::into_message).collect()
}
