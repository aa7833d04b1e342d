//! Starred messages: the star on a message (`starred_at`, absent when not starred) and the
//! Starred view across conversations, served by the partial index `messages_starred`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson};
use mongodb::options::ReturnDocument;
use serde::Deserialize;

use super::chat::session_exists;
use super::documents::{to_bson_time, without_terms, MessageDoc};
use super::errors::db_error;
use super::Collections;
use crate::model::{Message, Page, StarredMessage};
use crate::store::cursor::{cut_page, decode_star, encode_star};
use crate::store::{StarredQuery, StoreResult};

/// See `Store::set_star`. The message is read first: its session must live (a deleted
/// conversation's messages stay as they were, for a restore), and a star already in the state
/// asked for is not written again, which also keeps the time of the first star.
pub async fn set_star(
    collections: &Collections,
    user_id: &str,
    id: &str,
    at: Option<DateTime<Utc>>,
) -> StoreResult<Option<Message>> {
    let filter = doc! { "_id": id, "user_id": user_id };
    let Some(found) = collections
        .messages
        .find_one(filter.clone())
        .projection(without_terms())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    if !session_exists(collections, user_id, &found.session_id).await? {
        return Ok(None);
    }
    if found.starred_at.is_some() == at.is_some() {
        return found.into_message().map(Some);
    }
    let update = match at {
        Some(at) => doc! { "$set": { "starred_at": to_bson_time(at) } },
        None => doc! { "$unset": { "starred_at": "" } },
    };
    collections
        .messages
        .find_one_and_update(filter, update)
        // Without a projection: FerretDB implements none on `findAndModify`.
        .return_document(ReturnDocument::After)
        .await
        .map_err(db_error)?
        .map(MessageDoc::into_message)
        .transpose()
}

/// A session's id and title, all the Starred view needs of it.
#[derive(Debug, Deserialize)]
struct SessionTitle {
    #[serde(rename = "_id")]
    id: String,
    title: String,
}

/// See `Store::starred_messages`: two reads, whatever the page size. The next `limit + 1`
/// stars in index order, then the live sessions among theirs by id.
pub async fn starred_messages(
    collections: &Collections,
    user_id: &str,
    query: &StarredQuery,
) -> StoreResult<Page<StarredMessage>> {
    // `$exists: true` lets MongoDB use the partial index, which holds only starred messages.
    let mut filter = doc! { "user_id": user_id, "starred_at": { "$exists": true } };
    if let Some(cursor) = &query.cursor {
        let (starred_ms, id) = decode_star(cursor)?;
        let starred = mongodb::bson::DateTime::from_millis(starred_ms);
        filter.insert(
            "$or",
            vec![
                doc! { "starred_at": { "$lt": starred } },
                doc! { "starred_at": starred, "_id": { "$lt": id } },
            ],
        );
    }
    let mut found: Vec<MessageDoc> = collections
        .messages
        .find(filter)
        .projection(without_terms())
        .sort(doc! { "starred_at": -1, "_id": -1 })
        .limit(query.limit as i64 + 1)
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let next_cursor = cut_page(&mut found, query.limit, |message| {
        encode_star(
            message
                .starred_at
                .map(|at| at.timestamp_millis())
                .unwrap_or_default(),
            &message.id,
        )
    });
    if found.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor,
        });
    }
    let mut session_ids: Vec<&str> = found
        .iter()
        .map(|message| message.session_id.as_str())
        .collect();
    session_ids.sort_unstable();
    session_ids.dedup();
    let titles: HashMap<String, String> = collections
        .chat_sessions
        .clone_with_type::<SessionTitle>()
        .find(doc! {
            "user_id": user_id,
            "_id": { "$in": &session_ids },
            "deleted_at": Bson::Null,
        })
        .projection(doc! { "_id": 1, "title": 1 })
        .await
        .map_err(db_error)?
        .try_collect::<Vec<SessionTitle>>()
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|session| (session.id, session.title))
        .collect();
    let mut items = Vec::with_capacity(found.len());
    for message in found {
        // Not among the live sessions: deleted (or gone), and its stars with it.
        let Some(title) = titles.get(&message.session_id) else {
            continue;
        };
        let message = message.into_message()?;
        items.push(StarredMessage {
            session_id: message.session_id.clone(),
            session_title: title.clone(),
            message,
        });
    }
    Ok(Page { items, next_cursor })
}
