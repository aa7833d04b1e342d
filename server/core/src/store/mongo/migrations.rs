//! Changes to stored documents that a newer version needs, applied at connect time after the
//! indexes (`indexes::ensure`). Each step is named and recorded in the `migrations`
//! collection once it has run to the end; a step is idempotent (it recomputes values from the
//! documents themselves), so a step cut short runs again at the next connect, and app nodes
//! connecting at the same time may both run it without harm.

use std::collections::BTreeSet;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use serde::Deserialize;

use super::documents::searchable;
use super::errors::db_error;
use super::Collections;
use crate::model::MessageStatus;
use crate::store::cjk::CJK_RANGES;
use crate::store::StoreResult;

/// The collection recording applied steps: `{_id: step name, applied_at}`.
pub const MIGRATIONS: &str = "migrations";

/// Search terms of CJK text as bigrams (issue 12): before it, a run of CJK characters was one
/// term.
pub const CJK_TERMS: &str = "cjk_bigram_terms";

/// Messages updated at once (each is its own write).
const CONCURRENT_WRITES: usize = 16;

/// Tree links computed again (issue 12): an import linked its messages a batch at a time and
/// took a jump target above the batch for a root (see `tree::links_in_order`), so a walk up a
/// long conversation imported in parts ran past its step limit and found nothing.
pub const RELINK_TREES: &str = "relink_imported_trees";

/// Depth from which a conversation's links are computed again by `RELINK_TREES` (a walk never
/// takes more steps than the depth: below it, short jumps cost nothing that matters).
const RELINK_FROM_DEPTH: i64 = 64;

/// Per-user totals of messages and words (issue 13), which search read by adding up every
/// session of the user before.
pub const USER_TOTALS: &str = "user_totals";

/// Each session's `models` (`SessionDoc::models`), the set its detail reads, which a
/// `distinct` over all its messages computed at every read before.
pub const SESSION_MODELS: &str = "session_models";

pub async fn run(database: &Database, collections: &Collections) -> StoreResult<()> {
    let applied: Collection<Document> = database.collection(MIGRATIONS);
    // Set when a step changed sessions' word counts, which the users' totals sum.
    let mut recount = false;
    if !is_applied(&applied, CJK_TERMS).await? {
        let started = Instant::now();
        let (messages, sessions) = cjk_terms(collections).await?;
        recount = true;
        record(&applied, CJK_TERMS).await?;
        tracing::info!(
            step = CJK_TERMS,
            messages,
            sessions,
            seconds = started.elapsed().as_secs_f64(),
            "applied MongoDB migration"
        );
    }
    if !is_applied(&applied, RELINK_TREES).await? {
        let started = Instant::now();
        // Unlinked here; `branch::link_missing`, which runs at every connect after this, links
        // them again (and finishes the work if this node stops in between).
        let sessions = collections
            .messages
            .distinct(
                "session_id",
                doc! { "depth": { "$gte": RELINK_FROM_DEPTH } },
            )
            .await
            .map_err(db_error)?;
        let unlinked = collections
            .messages
            .update_many(
                doc! { "session_id": { "$in": &sessions } },
                doc! { "$unset": { "depth": "", "jump_id": "", "jump_depth": "" } },
            )
            .await
            .map_err(db_error)?
            .modified_count;
        record(&applied, RELINK_TREES).await?;
        tracing::info!(
            step = RELINK_TREES,
            sessions = sessions.len(),
            messages = unlinked,
            seconds = started.elapsed().as_secs_f64(),
            "applied MongoDB migration"
        );
    }
    if !is_applied(&applied, SESSION_MODELS).await? {
        let started = Instant::now();
        let sessions = session_models(collections).await?;
        record(&applied, SESSION_MODELS).await?;
        tracing::info!(
            step = SESSION_MODELS,
            sessions,
            seconds = started.elapsed().as_secs_f64(),
            "applied MongoDB migration"
        );
    }
    // Last: it sums what the steps above may have changed.
    if recount || !is_applied(&applied, USER_TOTALS).await? {
        let started = Instant::now();
        let users = super::totals::recompute_all(collections).await?;
        record(&applied, USER_TOTALS).await?;
        tracing::info!(
            step = USER_TOTALS,
            users,
            seconds = started.elapsed().as_secs_f64(),
            "applied MongoDB migration"
        );
    }
    Ok(())
}

async fn is_applied(applied: &Collection<Document>, step: &str) -> StoreResult<bool> {
    Ok(applied
        .find_one(doc! { "_id": step })
        .await
        .map_err(db_error)?
        .is_some())
}

/// Records `step` as applied. Another node may have finished the same step first: its record
/// is as good as ours.
async fn record(applied: &Collection<Document>, step: &str) -> StoreResult<()> {
    let record = doc! { "_id": step, "applied_at": mongodb::bson::DateTime::now() };
    applied
        .update_one(doc! { "_id": step }, doc! { "$setOnInsert": record })
        .upsert(true)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// A regular expression matching any text that holds a character of a CJK script (a superset
/// of `cjk::is_cjk`: recomputing the terms of a text without CJK letters changes nothing).
/// Written with the characters themselves, which PCRE (MongoDB) and RE2 (FerretDB) both read.
pub fn cjk_pattern() -> String {
    let mut pattern = String::from("[");
    for (first, last) in CJK_RANGES {
        pattern.push(*first);
        pattern.push('-');
        pattern.push(*last);
    }
    pattern.push(']');
    pattern
}

#[derive(Deserialize)]
struct Stored {
    #[serde(rename = "_id")]
    id: String,
    session_id: String,
    content: String,
    status: String,
}

/// Counted like `documents::searchable`.
fn status_of(stored: &Stored) -> MessageStatus {
    MessageStatus::parse(&stored.status).unwrap_or_default()
}

/// Recomputes the terms of every message holding CJK text, then the word count of their
/// sessions (summed again from all their messages, so it is right however often this runs).
/// Returns the numbers of messages and sessions updated.
async fn cjk_terms(collections: &Collections) -> StoreResult<(usize, usize)> {
    let messages = collections.messages.clone_with_type::<Stored>();
    let projection = doc! { "session_id": 1, "content": 1, "status": 1 };
    let found = messages
        .find(doc! { "content": { "$regex": cjk_pattern() } })
        .projection(projection.clone())
        .await
        .map_err(db_error)?;
    let touched: Vec<String> = found
        .map_err(db_error)
        .map(|stored| async move {
            let stored = stored?;
            let (terms, _) = searchable(status_of(&stored), &stored.content);
            collections
                .messages
                .update_one(
                    doc! { "_id": &stored.id },
                    doc! { "$set": { "terms": terms } },
                )
                .await
                .map_err(db_error)?;
            Ok::<_, crate::store::StoreError>(stored.session_id)
        })
        .buffer_unordered(CONCURRENT_WRITES)
        .try_collect()
        .await?;
    let sessions: BTreeSet<&String> = touched.iter().collect();
    for session_id in &sessions {
        let words: i64 = messages
            .find(doc! { "session_id": session_id })
            .projection(projection.clone())
            .await
            .map_err(db_error)?
            .map_err(db_error)
            .try_fold(0_i64, |words, stored| async move {
                Ok(words + searchable(status_of(&stored), &stored.content).1)
            })
            .await?;
        collections
            .chat_sessions
            .update_one(
                doc! { "_id": session_id },
                doc! { "$set": { "word_count": words } },
            )
            .await
            .map_err(db_error)?;
    }
    Ok((touched.len(), sessions.len()))
}

#[derive(Deserialize)]
struct SessionOwner {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
}

/// Fills `models` in every session written without it, from its messages. Added with
/// `$addToSet`, never set: an append running meanwhile adds its model to the same set, and
/// neither loses the other's. Returns how many sessions got models.
async fn session_models(collections: &Collections) -> StoreResult<usize> {
    let found = collections
        .chat_sessions
        .clone_with_type::<SessionOwner>()
        .find(doc! { "models": { "$exists": false } })
        .projection(doc! { "_id": 1, "user_id": 1 })
        .await
        .map_err(db_error)?;
    let filled: Vec<bool> = found
        .map_err(db_error)
        .map(|session| async move {
            let session = session?;
            let filter = doc! { "user_id": &session.user_id, "session_id": &session.id };
            let mut with_model = filter.clone();
            with_model.insert("model", doc! { "$ne": mongodb::bson::Bson::Null });
            let models: Vec<String> = collections
                .messages
                .distinct("model", with_model)
                .await
                .map_err(db_error)?
                .into_iter()
                .filter_map(|model| model.as_str().map(str::to_owned))
                .collect();
            if models.is_empty() {
                // Read as no models without the field; an append adds it.
                return Ok::<_, crate::store::StoreError>(false);
            }
            collections
                .chat_sessions
                .update_one(
                    doc! { "_id": &session.id, "user_id": &session.user_id },
                    doc! { "$addToSet": { "models": { "$each": models } } },
                )
                .await
                .map_err(db_error)?;
            Ok(true)
        })
        .buffer_unordered(CONCURRENT_WRITES)
        .try_collect()
        .await?;
    Ok(filled.into_iter().filter(|filled| *filled).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_covers_every_cjk_range() {
        let pattern = cjk_pattern();
        assert!(pattern.starts_with("[\u{1100}-\u{11FF}\u{3005}-\u{3007}"));
        assert!(pattern.ends_with("\u{20000}-\u{323AF}]"));
        assert_eq!(pattern.chars().count(), 2 + 3 * CJK_RANGES.len());
    }
}
