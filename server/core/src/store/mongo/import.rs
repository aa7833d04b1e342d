//! Bulk import. Ids are derived from source ids by the service, so a row that exists already
//! was imported before and is skipped, like the SQLite backend's `ON CONFLICT DO NOTHING`.
//!
//! An import is tens of thousands of rows, so it is written in few round trips: the sessions
//! in one unordered batch (one that a unique index refuses exists already: by id, or by source
//! id when the source gave it another id since), then every message in one unordered batch
//! (one refused was imported before), marked as not yet counted, then one counter update per
//! session by the marked messages (`counting`). An import cut short has imported part of the
//! file; running it again adds the rest and counts each message once, those the cut one
//! inserted included.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::TryStreamExt;
use mongodb::bson::doc;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::accounts::user_exists;
use super::counting::{count_marked, Uncounted};
use super::documents::{client_key, to_bson_time, MessageDoc, SessionDoc};
use super::errors::{db_error, insert_many_outcome};
use super::Collections;
use crate::store::{ImportCounts, ImportSession, StoreError, StoreResult};

pub async fn import_sessions(
    collections: &Collections,
    sessions: &[ImportSession],
) -> StoreResult<ImportCounts> {
    let mut counts = ImportCounts::default();
    // Stands in for the SQLite backend's foreign key on the owner.
    let owners: HashSet<&str> = sessions
        .iter()
        .map(|import| import.session.user_id.as_str())
        .collect();
    for owner in owners {
        if !user_exists(collections, owner).await? {
            return Err(StoreError::NotFound);
        }
    }

    let session_ids = insert_sessions(collections, sessions, &mut counts).await?;
    let mut documents = Vec::new();
    for (import, session_id) in sessions.iter().zip(&session_ids) {
        for message in &import.messages {
            let mut document = MessageDoc::new(message);
            document.session_id = session_id.clone();
            document.uncounted = Some(Uncounted::new(document.word_count));
            documents.push(document);
        }
    }
    drop_claimed_client_ids(collections, &mut documents).await?;
    super::branch::link_documents(collections, &mut documents).await?;
    let (added, failure) = insert_batch(&collections.messages, &documents).await;
    let (failure, failed) = match failure {
        Some(Failure::Unknown(error)) => return Err(error),
        Some(Failure::Partly { error, failed }) => (Some(error), failed),
        None => (None, 0),
    };
    counts.messages += added.len();
    counts.skipped_messages += documents.len() - added.len() - failed;

    // Every owner's marked messages are counted, this import's and any a stopped one left,
    // and each session's leaf set (see `counting`).
    let mut leaves: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for (import, session_id) in sessions.iter().zip(&session_ids) {
        let owner = leaves.entry(import.session.user_id.as_str()).or_default();
        if let Some(leaf) = &import.active_leaf_id {
            owner.insert(session_id.clone(), leaf.clone());
        }
    }
    for (owner, leaves) in &leaves {
        count_marked(collections, owner, leaves).await?;
    }
    counts.session_ids = session_ids;
    match failure {
        Some(error) => Err(error),
        None => Ok(counts),
    }
}

#[derive(Deserialize)]
struct ClientHolder {
    #[serde(rename = "_id")]
    id: String,
    client_key: String,
}

/// A client id is unique per user (it makes an append idempotent), so a message whose client
/// id is held by another message (in the account, or earlier in this import) is imported
/// without it: dropping the key loses nothing the user sees, while the unique index would
/// otherwise refuse the whole message. Like the SQLite backend's `ClientIds`.
async fn drop_claimed_client_ids(
    collections: &Collections,
    documents: &mut [MessageDoc],
) -> StoreResult<()> {
    let mut keys_of: HashMap<&str, Vec<String>> = HashMap::new();
    for document in documents.iter().filter(|d| d.client_id.is_some()) {
        keys_of
            .entry(document.user_id.as_str())
            .or_default()
            .push(document.client_key.clone());
    }
    let mut held: HashMap<(String, String), String> = HashMap::new();
    for (user_id, keys) in keys_of {
        let holders: Vec<ClientHolder> = collections
            .messages
            .clone_with_type::<ClientHolder>()
            .find(doc! { "user_id": user_id, "client_key": { "$in": keys } })
            .projection(doc! { "_id": 1, "client_key": 1 })
            .await
            .map_err(db_error)?
            .try_collect()
            .await
            .map_err(db_error)?;
        for holder in holders {
            held.insert((user_id.to_owned(), holder.client_key), holder.id);
        }
    }
    let mut claimed: HashSet<(String, String)> = HashSet::new();
    for document in documents.iter_mut() {
        if document.client_id.is_none() {
            continue;
        }
        let key = (document.user_id.clone(), document.client_key.clone());
        let taken = match held.get(&key) {
            // Held by this very message: it was imported before and is skipped anyway.
            Some(holder) => holder != &document.id,
            None => false,
        };
        if taken || !claimed.insert(key) {
            document.client_id = None;
            document.client_key = client_key(None, &document.id);
        }
    }
    Ok(())
}

/// Why an `insert_many` did not insert everything, beyond unique-index refusals.
enum Failure {
    /// Which documents were stored is unknown (a lost connection, a write concern error).
    Unknown(StoreError),
    /// `failed` documents failed for another reason.
    Partly { error: StoreError, failed: usize },
}

/// Inserts `documents` in one unordered batch. Returns the positions of those inserted; a
/// document refused by a unique index is neither inserted nor a failure.
async fn insert_batch<T: Serialize + Send + Sync>(
    collection: &Collection<T>,
    documents: &[T],
) -> (Vec<usize>, Option<Failure>) {
    if documents.is_empty() {
        return (Vec::new(), None);
    }
    let all = 0..documents.len();
    let Err(error) = collection.insert_many(documents).ordered(false).await else {
        return (all.collect(), None);
    };
    let Some(outcome) = insert_many_outcome(&error) else {
        return (Vec::new(), Some(Failure::Unknown(db_error(error))));
    };
    let refused: HashSet<usize> = outcome
        .duplicates
        .iter()
        .chain(&outcome.failed)
        .copied()
        .collect();
    let inserted = all.filter(|position| !refused.contains(position)).collect();
    let failure = (!outcome.failed.is_empty()).then(|| Failure::Partly {
        error: db_error(error),
        failed: outcome.failed.len(),
    });
    (inserted, failure)
}

/// The id of the session each conversation's messages go to, inserting the new sessions.
async fn insert_sessions(
    collections: &Collections,
    sessions: &[ImportSession],
    counts: &mut ImportCounts,
) -> StoreResult<Vec<String>> {
    let documents: Vec<SessionDoc> = sessions
        .iter()
        .map(|import| {
            let mut document = SessionDoc::new(&import.session, import.pinned, import.archived);
            document.is_active = import.is_active;
            document.forked_from =
                import
                    .forked_from
                    .as_ref()
                    .map(|fork| super::documents::ForkedFromDoc {
                        session_id: fork.session_id.clone(),
                        message_id: fork.message_id.clone(),
                    });
            if let Some(updated_at) = import.updated_at {
                document.updated_at = document.updated_at.max(to_bson_time(updated_at));
            }
            document.tags = import.tags.clone();
            document
        })
        .collect();
    let (inserted, failure) = insert_batch(&collections.chat_sessions, &documents).await;
    match failure {
        Some(Failure::Unknown(error)) | Some(Failure::Partly { error, .. }) => return Err(error),
        None => {}
    }
    counts.sessions += inserted.len();
    let inserted: HashSet<usize> = inserted.into_iter().collect();
    // The new sessions' tags join the vocabulary (`tags`); an import is one user's.
    if let Some(first) = sessions.first() {
        let tags = inserted
            .iter()
            .filter_map(|position| sessions.get(*position))
            .flat_map(|import| import.tags.iter());
        super::tags::count_all(collections, &first.session.user_id, tags, 1).await?;
        // The new sessions count in their folders.
        let mut deltas = std::collections::HashMap::new();
        for import in inserted
            .iter()
            .filter_map(|position| sessions.get(*position))
        {
            if let (Some(folder_id), false) = (&import.session.folder_id, import.archived) {
                *deltas.entry(folder_id.clone()).or_insert(0) += 1;
            }
        }
        super::folders::add(collections, &first.session.user_id, deltas).await?;
    }
    let mut ids = Vec::with_capacity(sessions.len());
    for (position, import) in sessions.iter().enumerate() {
        if inserted.contains(&position) {
            ids.push(import.session.id.clone());
        } else {
            ids.push(existing_session(collections, import).await?);
        }
    }
    Ok(ids)
}

#[derive(Deserialize)]
struct Existing {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    deleted_at: Option<mongodb::bson::DateTime>,
}

/// The session a conversation imported before went to: the one with its id, or else the one
/// with its source id. Importing a conversation again that was deleted (and not yet purged)
/// brings it back, as on SQLite; one whose purge has started cannot come back, and the import
/// fails (running it again once the purge is done imports the conversation anew).
async fn existing_session(
    collections: &Collections,
    import: &ImportSession,
) -> StoreResult<String> {
    let session = &import.session;
    let mut same = vec![doc! { "_id": &session.id }];
    if let Some(source_id) = &session.source_id {
        // By `source_key`, which the unique index `chat_sessions_source` holds.
        same.push(
            doc! { "source_key": super::documents::source_key(Some(source_id), &session.id) },
        );
    }
    let found: Vec<Existing> = collections
        .chat_sessions
        .clone_with_type::<Existing>()
        .find(doc! { "user_id": &session.user_id, "$or": same })
        .projection(doc! { "_id": 1, "deleted_at": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let existing = found
        .iter()
        .find(|found| found.id == session.id)
        .or_else(|| found.first())
        // The id belongs to another user's session: derived ids make this all but impossible,
        // and messages must never be attached to someone else's session.
        .ok_or(StoreError::Conflict(crate::store::Conflict::SessionIdTaken))?;
    if existing.deleted_at.is_some() {
        let restored = collections
            .chat_sessions
            .update_one(
                doc! { "_id": &existing.id, "user_id": &session.user_id, "purging": { "$ne": true } },
                doc! { "$unset": { "deleted_at": "" } },
            )
            .await
            .map_err(db_error)?;
        if restored.matched_count == 0 {
            return Err(StoreError::Conflict(
                crate::store::Conflict::SessionBeingPurged,
            ));
        }
    }
    Ok(existing.id.clone())
}
