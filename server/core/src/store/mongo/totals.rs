//! Each user's totals of messages and words over all their sessions (deleted ones included,
//! until purged): what search's bm25 needs to know about "the collection", as FTS5 knows it
//! about its table. Kept in `user_totals` (`{_id: user id, user_id, message_count,
//! word_count}`, sharded by `user_id` like the sessions) with `$inc` wherever a session's own
//! counters move, so that a search reads one document instead of adding up every session of
//! the user.
//!
//! Like the sessions' counters they are kept without transactions: a failure between a
//! session's update and this one leaves them off by that write, and search never lets them
//! fall below what its own counts see.

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use serde::{Deserialize, Serialize};

use super::documents::as_u64;
use super::errors::{db_error, is_duplicate_key};
use super::Collections;
use crate::store::{StoreError, StoreResult};

/// The collection's name.
pub const COLLECTION: &str = "user_totals";

/// One user's totals.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TotalsDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    #[serde(default)]
    pub message_count: i64,
    #[serde(default)]
    pub word_count: i64,
}

/// Adds `messages` and `words` (negative to take away) to the user's totals, creating them.
pub async fn add(
    collections: &Collections,
    user_id: &str,
    messages: i64,
    words: i64,
) -> StoreResult<()> {
    if messages == 0 && words == 0 {
        return Ok(());
    }
    let update = doc! { "$inc": { "message_count": messages, "word_count": words } };
    let filter = doc! { "_id": user_id, "user_id": user_id };
    match upsert(collections, filter, update).await? {
        Upserted::Written => Ok(()),
        Upserted::Refused => Err(StoreError::Backend(
            "the user's totals refused an update twice".into(),
        )),
    }
}

/// What `upsert` did.
pub enum Upserted {
    Written,
    /// The filter matched no document, twice, and the insert met the unique `_id`: the
    /// document exists but the rest of the filter excludes it.
    Refused,
}

/// An upsert of the user's totals. Two first writes at once: one inserts, the other's upsert
/// meets the unique `_id` and is sent again, as an update of the document now there.
pub async fn upsert(
    collections: &Collections,
    filter: Document,
    update: Document,
) -> StoreResult<Upserted> {
    for attempt in 0..2 {
        match collections
            .user_totals
            .update_one(filter.clone(), update.clone())
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(Upserted::Written),
            Err(error) if is_duplicate_key(&error) => {
                if attempt == 1 {
                    return Ok(Upserted::Refused);
                }
            }
            Err(error) => return Err(db_error(error)),
        }
    }
    Ok(Upserted::Refused)
}

/// The user's (messages, words); zeros for a user with none.
pub async fn read(collections: &Collections, user_id: &str) -> StoreResult<(u64, u64)> {
    let found = collections
        .user_totals
        .find_one(doc! { "_id": user_id, "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(found.map_or((0, 0), |totals| {
        (
            u64::try_from(totals.message_count).unwrap_or(0),
            u64::try_from(totals.word_count).unwrap_or(0),
        )
    }))
}

/// Sets every user's totals from their sessions' counters (the migration that introduces
/// them; run again, it computes the same). Returns the users written.
pub async fn recompute_all(collections: &Collections) -> StoreResult<usize> {
    let mut totals: std::collections::HashMap<String, TotalsDoc> = Default::default();
    // One accumulator per pipeline: FerretDB 1.24 returns 0 for every accumulator of a
    // `$group` after the first.
    for field in ["message_count", "word_count"] {
        let pipeline = vec![doc! { "$group": {
            "_id": "$user_id",
            "total": { "$sum": format!("${field}") },
        } }];
        let groups: Vec<Document> = collections
            .chat_sessions
            .aggregate(pipeline)
            .await
            .map_err(db_error)?
            .try_collect()
            .await
            .map_err(db_error)?;
        for group in groups {
            let Some(Bson::String(user_id)) = group.get("_id").cloned() else {
                continue;
            };
            let total = as_u64(group.get("total")).map_or(0, |total| total as i64);
            let entry = totals.entry(user_id.clone()).or_insert_with(|| TotalsDoc {
                id: user_id.clone(),
                user_id,
                ..TotalsDoc::default()
            });
            match field {
                "message_count" => entry.message_count = total,
                _ => entry.word_count = total,
            }
        }
    }
    let users = totals.len();
    for (user_id, total) in totals {
        // `$set`, not a replacement: the document may hold an import's counting records
        // (`counting`), which must outlive this.
        collections
            .user_totals
            .update_one(
                doc! { "_id": &user_id, "user_id": &user_id },
                doc! { "$set": {
                    "message_count": total.message_count,
                    "word_count": total.word_count,
                } },
            )
            .upsert(true)
            .await
            .map_err(db_error)?;
    }
    Ok(users)
}
