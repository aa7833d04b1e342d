//! Conversation tags. A session holds its tags in its own document (`SessionDoc::tags`, a
//! multikey field of the indexes `chat_sessions_tag` and `chat_sessions_tag_archived`), and
//! each user's vocabulary is kept beside, in the collection `tags`: one document per user and
//! tag with the number of the user's sessions carrying it, moved with `$inc` by every write
//! that puts a tag on or takes one off (tagging, renaming, deleting a tag, an import, the
//! purge) and removed when it falls to zero. `list_tags` reads that vocabulary, a bounded read
//! in name order, instead of a `distinct` over every session of the user.
//!
//! Without transactions the counts are kept in an order that never loses a tag in use: a
//! count goes up before the sessions are tagged and down only after they were untagged (and
//! by what the write changed, from its `modifiedCount`), and a vocabulary entry is removed
//! only while its count is zero, so a concurrent tagging that counted first keeps it. What can
//! go wrong is a count left too high by a crash between the two writes (a tag listed that no
//! session carries any more, until it is used and removed again); renaming and deleting a tag
//! look at the sessions themselves, not at the count.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson};
use serde::{Deserialize, Serialize};

use super::documents::to_bson_time;
use super::errors::db_error;
use super::Collections;
use crate::store::{StoreError, StoreResult};
use crate::tags::MAX_TAGS_PER_SESSION;

/// The name of the vocabulary's collection.
pub const COLLECTION: &str = "tags";

/// One tag of one user, with how many of the user's sessions carry it.
#[derive(Debug, Serialize, Deserialize)]
pub struct TagDoc {
    /// `user_id` + U+001F + `name` (see `key`): one document per user and tag by construction.
    #[serde(rename = "_id")]
    pub key: String,
    pub user_id: String,
    pub name: String,
    pub sessions: i64,
}

fn key(user_id: &str, name: &str) -> String {
    format!("{user_id}\u{1f}{name}")
}

/// A session's id and tags.
#[derive(Deserialize)]
struct Tagged {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Moves the count of the user's sessions carrying `name` by `by`, creating the entry, and
/// removes it when the count falls to zero.
pub async fn count(
    collections: &Collections,
    user_id: &str,
    name: &str,
    by: i64,
) -> StoreResult<()> {
    if by == 0 {
        return Ok(());
    }
    let key = key(user_id, name);
    collections
        .tags
        .update_one(
            doc! { "_id": &key },
            doc! {
                "$inc": { "sessions": by },
                "$setOnInsert": { "user_id": user_id, "name": name },
            },
        )
        .upsert(true)
        .await
        .map_err(db_error)?;
    if by < 0 {
        collections
            .tags
            .delete_one(doc! { "_id": &key, "sessions": { "$lte": 0 } })
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Counts the tags of sessions that were created or removed (an import, the purge): `by` for
/// each tag of each.
pub async fn count_all<'a>(
    collections: &Collections,
    user_id: &str,
    tags: impl IntoIterator<Item = &'a String>,
    by: i64,
) -> StoreResult<()> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for tag in tags {
        *counts.entry(tag.as_str()).or_default() += by;
    }
    for (tag, by) in counts {
        count(collections, user_id, tag, by).await?;
    }
    Ok(())
}

/// `SessionsChange::Tagged`: reads the live sessions of `ids` with their tags, then adds the
/// tag with one `updateMany` to those that lack it and hold fewer than
/// `MAX_TAGS_PER_SESSION` tags (the same condition in the update, so a session tagged
/// meanwhile is not pushed over the limit). Returns those and the sessions already carrying it.
pub async fn tag_sessions(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
    tag: &str,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    let found: Vec<Tagged> = collections
        .chat_sessions
        .clone_with_type::<Tagged>()
        .find(doc! { "_id": { "$in": ids }, "user_id": user_id, "deleted_at": Bson::Null })
        .projection(doc! { "_id": 1, "tags": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let mut applied = HashSet::new();
    let mut adding = Vec::new();
    for session in found {
        if session.tags.iter().any(|held| held == tag) {
            applied.insert(session.id);
        } else if session.tags.len() < MAX_TAGS_PER_SESSION {
            adding.push(session.id);
        }
    }
    if adding.is_empty() {
        return Ok(applied);
    }
    // Counted first: an untagging that runs meanwhile never sees the count at zero.
    let expected = adding.len() as i64;
    count(collections, user_id, tag, expected).await?;
    let mut filter = doc! {
        "_id": { "$in": &adding },
        "user_id": user_id,
        "deleted_at": Bson::Null,
        "tags": { "$ne": tag },
    };
    // A session whose array has an element at the last allowed position is full.
    filter.insert(
        format!("tags.{}", MAX_TAGS_PER_SESSION - 1),
        doc! { "$exists": false },
    );
    let result = collections
        .chat_sessions
        .update_many(
            filter,
            doc! {
                "$addToSet": { "tags": tag },
                "$set": { "updated_at": to_bson_time(now) },
            },
        )
        .await
        .map_err(db_error)?;
    let modified = i64::try_from(result.modified_count).unwrap_or(expected);
    count(collections, user_id, tag, modified - expected).await?;
    applied.extend(adding);
    Ok(applied)
}

/// `SessionsChange::Untagged`: the live sessions of `ids` carrying the tag lose it, with one
/// `updateMany` after a read of which they are.
pub async fn untag_sessions(
    collections: &Collections,
    user_id: &str,
    ids: &[String],
    tag: &str,
    now: DateTime<Utc>,
) -> StoreResult<HashSet<String>> {
    let filter = |ids: &[String]| {
        doc! { "_id": { "$in": ids }, "user_id": user_id, "deleted_at": Bson::Null, "tags": tag }
    };
    let carrying = super::chat::session_ids(collections, filter(ids)).await?;
    if carrying.is_empty() {
        return Ok(carrying);
    }
    let removing: Vec<String> = carrying.iter().cloned().collect();
    let result = collections
        .chat_sessions
        .update_many(
            filter(&removing),
            doc! {
                "$pull": { "tags": tag },
                "$set": { "updated_at": to_bson_time(now) },
            },
        )
        .await
        .map_err(db_error)?;
    let modified = i64::try_from(result.modified_count).unwrap_or_default();
    count(collections, user_id, tag, -modified).await?;
    Ok(carrying)
}

/// The user's vocabulary in name order (`tags_user`), without the entries whose count fell to
/// zero and are about to be removed. Its size is held to about `crate::tags::MAX_TAGS` by the
/// service, which refuses a new tag past it.
pub async fn list_tags(collections: &Collections, user_id: &str) -> StoreResult<Vec<String>> {
    let found: Vec<TagDoc> = collections
        .tags
        .find(doc! { "user_id": user_id })
        .sort(doc! { "name": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let mut names: Vec<String> = found
        .into_iter()
        .filter(|tag| tag.sessions > 0)
        .map(|tag| tag.name)
        .collect();
    // The server's order of strings is by UTF-8 bytes, which is `str` order; sorted again so
    // that this does not depend on a collation.
    names.sort();
    Ok(names)
}

/// See `Store::rename_tag`: every session carrying `from` (deleted ones too) is stamped, then
/// given `to` where it lacks it, then loses `from`: three `updateMany`s, each by the tag
/// (`chat_sessions_tag`), with the counts moved after each. A failure half-way leaves
/// sessions carrying both names, which running the rename again finishes.
pub async fn rename_tag(
    collections: &Collections,
    user_id: &str,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let stamped = collections
        .chat_sessions
        .update_many(
            doc! { "user_id": user_id, "tags": from },
            doc! { "$set": { "updated_at": to_bson_time(now) } },
        )
        .await
        .map_err(db_error)?;
    if stamped.matched_count == 0 {
        // A count left too high (see `count`) lists a tag no conversation carries: the
        // entry goes, and the tag with it.
        forget_unused(collections, user_id, from).await?;
        return Err(StoreError::NotFound);
    }
    if from == to {
        return Ok(stamped.matched_count);
    }
    let gained = collections
        .chat_sessions
        .update_many(
            doc! { "user_id": user_id, "tags": { "$all": [from], "$ne": to } },
            doc! { "$addToSet": { "tags": to } },
        )
        .await
        .map_err(db_error)?;
    count(
        collections,
        user_id,
        to,
        i64::try_from(gained.modified_count).unwrap_or_default(),
    )
    .await?;
    let lost = collections
        .chat_sessions
        .update_many(
            doc! { "user_id": user_id, "tags": from },
            doc! { "$pull": { "tags": from } },
        )
        .await
        .map_err(db_error)?;
    count(
        collections,
        user_id,
        from,
        -i64::try_from(lost.modified_count).unwrap_or_default(),
    )
    .await?;
    Ok(stamped.matched_count)
}

/// See `Store::delete_tag`: one `updateMany` by the tag (`chat_sessions_tag`), deleted
/// sessions included, then the count.
pub async fn delete_tag(
    collections: &Collections,
    user_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let result = collections
        .chat_sessions
        .update_many(
            doc! { "user_id": user_id, "tags": name },
            doc! {
                "$pull": { "tags": name },
                "$set": { "updated_at": to_bson_time(now) },
            },
        )
        .await
        .map_err(db_error)?;
    if result.matched_count == 0 {
        // Listed with a count left too high, no conversation carries it: deleting it takes
        // it off the list, and so changed nothing else.
        return match forget_unused(collections, user_id, name).await? {
            true => Ok(0),
            false => Err(StoreError::NotFound),
        };
    }
    count(
        collections,
        user_id,
        name,
        -i64::try_from(result.modified_count).unwrap_or_default(),
    )
    .await?;
    Ok(result.matched_count)
}

/// Removes the vocabulary entry of `name`, which no session of the user's carries (the caller
/// has just seen none): the repair of a count a crash (or, on a server whose updates are not
/// atomic, a write from another process) left too high. Whether there was one.
async fn forget_unused(collections: &Collections, user_id: &str, name: &str) -> StoreResult<bool> {
    let removed = collections
        .tags
        .delete_one(doc! { "_id": key(user_id, name) })
        .await
        .map_err(db_error)?;
    Ok(removed.deleted_count > 0)
}

/// The ids of the user's live sessions carrying `tag`, the `limit` most recently active
/// (`chat_sessions_tag`): what a search filtered by the tag looks in.
pub async fn tagged_sessions(
    collections: &Collections,
    user_id: &str,
    tag: &str,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let found: Vec<super::documents::IdOnly> = collections
        .chat_sessions
        .clone_with_type::<super::documents::IdOnly>()
        .find(doc! { "user_id": user_id, "tags": tag, "deleted_at": Bson::Null })
        .projection(doc! { "_id": 1 })
        .sort(doc! { "activity_at": -1, "_id": -1 })
        .limit(limit as i64)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(found.into_iter().map(|session| session.id).collect())
}

/// Removes the user's vocabulary (an account's deletion).
pub async fn delete_user_tags(collections: &Collections, user_id: &str) -> StoreResult<()> {
    collections
        .tags
        .delete_many(doc! { "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(())
}
