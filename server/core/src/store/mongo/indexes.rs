//! Every index the queries need, created at connect time. `createIndexes` with the same name
//! and definition is a no-op, so connecting again (or from several app nodes at once) is safe;
//! an index whose definition changed under the same name fails loudly instead of silently
//! keeping the old one.
//!
//! Only unique indexes and plain (multikey) indexes are used on every server (a partial index
//! only where the server is MongoDB): FerretDB 1.x implements neither partial indexes
//! (`partialFilterExpression`) nor TTL indexes (`expireAfterSeconds`), so the "unique where
//! present" rules use derived key fields (see `documents::client_key`) and expired sign-ins are
//! removed by `delete_expired_auth_sessions`.

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::errors::db_error;
use super::{Collections, ServerKind};
use crate::store::{StoreError, StoreResult};

fn index(keys: Document, name: &str, unique: bool) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .unique(unique.then_some(true))
                .build(),
        )
        .build()
}

/// One `createIndexes` command per index: FerretDB 1.24 drops the connection (a panic on its
/// side) when one command names two or more indexes that all exist already, which is exactly
/// what every connect after the first sends.
async fn create<T: Send + Sync>(
    collection: &Collection<T>,
    indexes: Vec<IndexModel>,
) -> StoreResult<()> {
    for model in indexes {
        collection.create_index(model).await.map_err(|error| {
            let detail = db_error(error);
            StoreError::Backend(format!(
                "cannot create the indexes of {}: {detail}",
                collection.name()
            ))
        })?;
    }
    Ok(())
}

pub async fn ensure(collections: &Collections, server: ServerKind) -> StoreResult<()> {
    create(
        &collections.users,
        vec![
            index(doc! { "email_key": 1 }, "users_email", true),
            index(doc! { "admin_slot": 1 }, "users_admin_slot", true),
        ],
    )
    .await?;
    create(
        &collections.identities,
        vec![index(doc! { "user_id": 1 }, "identities_user", false)],
    )
    .await?;
    create(
        &collections.auth_sessions,
        vec![
            index(doc! { "expires_at": 1 }, "auth_sessions_expiry", false),
            index(doc! { "user_id": 1 }, "auth_sessions_user", false),
        ],
    )
    .await?;
    create(
        &collections.api_tokens,
        vec![
            index(doc! { "secret_hash": 1 }, "api_tokens_secret", true),
            index(
                doc! { "user_id": 1, "created_at": 1, "_id": 1 },
                "api_tokens_user",
                false,
            ),
        ],
    )
    .await?;
    create(
        &collections.chat_sessions,
        vec![
            index(
                doc! { "user_id": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_recent",
                false,
            ),
            index(
                doc! { "user_id": 1, "source_key": 1 },
                "chat_sessions_source",
                true,
            ),
            // A user's deleted sessions, which search leaves out. Live sessions have no
            // `deleted_at` (indexed as null), and the query asks for non-null values only,
            // so it reads just the deleted entries.
            index(
                doc! { "user_id": 1, "deleted_at": 1 },
                "chat_sessions_deleted",
                false,
            ),
            // Sessions deleted before a time, across users: the purge.
            index(doc! { "deleted_at": 1 }, "chat_sessions_purge", false),
            // A user's sessions in id order: the account export's pages.
            index(
                doc! { "user_id": 1, "_id": 1 },
                "chat_sessions_user_id",
                false,
            ),
        ],
    )
    .await?;
    create(
        &collections.messages,
        vec![
            index(
                doc! { "session_id": 1, "_id": 1 },
                "messages_session",
                false,
            ),
            // Also serves every per-user sweep (`user_id` is its prefix).
            index(
                doc! { "user_id": 1, "client_key": 1 },
                "messages_client",
                true,
            ),
            index(
                doc! { "user_id": 1, "source_key": 1 },
                "messages_source",
                true,
            ),
            // A stretch of a branch: the messages at a range of depths (`branch`).
            index(
                doc! { "session_id": 1, "depth": 1 },
                "messages_depth",
                false,
            ),
            // Siblings: the children of a message, or the roots of a session.
            index(
                doc! { "session_id": 1, "parent_id": 1 },
                "messages_children",
                false,
            ),
            // The sweep for replies whose generating node died (`chat::recover_streaming`):
            // the few `streaming` messages, by age, instead of every message at each sweep.
            index(
                doc! { "status": 1, "updated_at": 1 },
                "messages_streaming",
                false,
            ),
        ],
    )
    .await?;
    match server {
        // Multikey on the terms array: an exact term is an index lookup, newest first.
        ServerKind::MongoDb => {
            create(
                &collections.messages,
                vec![
                    index(
                        doc! { "user_id": 1, "terms": 1, "_id": -1 },
                        TERMS_INDEX,
                        false,
                    ),
                    // The few imported messages not yet counted (`counting`): a partial
                    // index holds only them. FerretDB has no partial indexes and reads none.
                    IndexModel::builder()
                        .keys(doc! { "user_id": 1, "uncounted.claim": 1 })
                        .options(
                            IndexOptions::builder()
                                .name("messages_uncounted".to_owned())
                                .partial_filter_expression(
                                    doc! { "uncounted.claim": { "$exists": true } },
                                )
                                .build(),
                        )
                        .build(),
                ],
            )
            .await?;
        }
        // FerretDB reads no index but `_id`, and on PostgreSQL it stores a multikey index as
        // one key holding the whole array: a message with a few hundred distinct words fails
        // with "index row size exceeds btree maximum". One made by an earlier Confab goes.
        ServerKind::FerretDb => {
            if let Err(error) = collections.messages.drop_index(TERMS_INDEX).await {
                tracing::debug!(%error, "no {TERMS_INDEX} index to drop");
            }
        }
    }
    Ok(())
}

/// The multikey index that serves search on MongoDB (see `ensure`).
const TERMS_INDEX: &str = "messages_terms";
