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
use mongodb::{Database, IndexModel};

use super::errors::db_error;
use super::ServerKind;
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

/// Every index the store creates on `server`, each with its collection, in the order
/// `ensure` creates them. The one definition: `ensure` creates these, and the query-shape
/// tests (`command_log::Indexes`) check that the server holds them and that they serve every
/// query the store sends.
pub fn planned(server: ServerKind) -> Vec<(&'static str, IndexModel)> {
    let mut planned = vec![
        ("users", index(doc! { "email_key": 1 }, "users_email", true)),
        (
            "users",
            index(doc! { "admin_slot": 1 }, "users_admin_slot", true),
        ),
        (
            "identities",
            index(doc! { "user_id": 1 }, "identities_user", false),
        ),
        (
            "auth_sessions",
            index(doc! { "expires_at": 1 }, "auth_sessions_expiry", false),
        ),
        (
            "auth_sessions",
            index(doc! { "user_id": 1 }, "auth_sessions_user", false),
        ),
        (
            "api_tokens",
            index(doc! { "secret_hash": 1 }, "api_tokens_secret", true),
        ),
        // Administration (`admin`): secrets looked up by their hash, the lists newest first,
        // a user's resets swept with the user.
        (
            "invitations",
            index(doc! { "token_hash": 1 }, "invitations_token", true),
        ),
        (
            "invitations",
            index(
                doc! { "created_at": -1, "_id": -1 },
                "invitations_recent",
                false,
            ),
        ),
        (
            "password_resets",
            index(doc! { "token_hash": 1 }, "password_resets_token", true),
        ),
        (
            "password_resets",
            // A used link ends the account's other unused ones (`use_password_reset`); the
            // prefix serves deleting an account's links.
            index(
                doc! { "user_id": 1, "used_at": 1 },
                "password_resets_user_used",
                false,
            ),
        ),
        (
            "audit_log",
            index(doc! { "at": -1, "_id": -1 }, "audit_log_recent", false),
        ),
        (
            "api_tokens",
            index(
                doc! { "user_id": 1, "created_at": 1, "_id": 1 },
                "api_tokens_user",
                false,
            ),
        ),
        // The session list and its cursor, newest activity first: a user's live sessions
        // (`deleted_at` null), then the sort. Its prefix also serves search's deleted
        // sessions (`deleted_at` not null).
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "deleted_at": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_list",
                false,
            ),
        ),
        // The same, for the sidebar, which always asks for archived or not.
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "deleted_at": 1, "archived": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_list_archived",
                false,
            ),
        ),
        // The sessions carrying a tag (multikey on `tags`), in list order: the list filtered
        // by a tag, the sessions a tag search looks in; its prefix serves renaming and
        // deleting a tag. The same with `archived` for the sidebar.
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "tags": 1, "deleted_at": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_tag",
                false,
            ),
        ),
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "tags": 1, "deleted_at": 1, "archived": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_tag_archived",
                false,
            ),
        ),
        // The sessions directly in a folder (or at the top level: `folder_id` null), in list
        // order: the sidebar's list of one folder; its prefix serves a folder's deletion.
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "folder_id": 1, "deleted_at": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_folder",
                false,
            ),
        ),
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "folder_id": 1, "deleted_at": 1, "archived": 1, "activity_at": -1, "_id": -1 },
                "chat_sessions_folder_archived",
                false,
            ),
        ),
        // Each user's folders (`folders`): all of them in one read, an account's deletion, and
        // the subfolders of a folder that goes.
        (
            "folders",
            index(doc! { "user_id": 1, "parent_id": 1 }, "folders_user", false),
        ),
        // Each user's tags in name order (`tags`); the prefix serves deleting an account's.
        (
            "tags",
            index(doc! { "user_id": 1, "name": 1 }, "tags_user", false),
        ),
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "source_key": 1 },
                "chat_sessions_source",
                true,
            ),
        ),
        // Sessions deleted before a time, across users: the purge.
        (
            "chat_sessions",
            index(doc! { "deleted_at": 1 }, "chat_sessions_purge", false),
        ),
        // A user's live sessions in id order: the account export's pages.
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "deleted_at": 1, "_id": 1 },
                "chat_sessions_export",
                false,
            ),
        ),
        // The counting runs' records of claims already counted (`counting`), forgotten by
        // claim. Multikey; empty on almost every session.
        (
            "chat_sessions",
            index(
                doc! { "user_id": 1, "counted_claims": 1 },
                "chat_sessions_claims",
                false,
            ),
        ),
        // The messages of a session are always asked for with their owner (`user_id`, which
        // routes them): it leads these three indexes, so that it is part of the equality
        // prefix MongoDB reads in order.
        // A session's messages in order, pages of them, deleting them.
        (
            "messages",
            index(
                doc! { "user_id": 1, "session_id": 1, "_id": 1 },
                "messages_by_session",
                false,
            ),
        ),
        // Also serves every per-user sweep (`user_id` is its prefix).
        (
            "messages",
            index(
                doc! { "user_id": 1, "client_key": 1 },
                "messages_client",
                true,
            ),
        ),
        (
            "messages",
            index(
                doc! { "user_id": 1, "source_key": 1 },
                "messages_source",
                true,
            ),
        ),
        // A stretch of a branch: the messages at a range of depths (`branch`).
        (
            "messages",
            index(
                doc! { "user_id": 1, "session_id": 1, "depth": 1 },
                "messages_by_depth",
                false,
            ),
        ),
        // Siblings: the children of a message, or the roots of a session.
        (
            "messages",
            index(
                doc! { "user_id": 1, "session_id": 1, "parent_id": 1 },
                "messages_by_parent",
                false,
            ),
        ),
        // The sweep for replies whose generating node died (`chat::recover_streaming`): the
        // few `streaming` messages, by age, instead of every message at each sweep.
        (
            "messages",
            index(
                doc! { "status": 1, "updated_at": 1 },
                "messages_streaming",
                false,
            ),
        ),
    ];
    // FerretDB reads no index but `_id`, and on PostgreSQL it stores a multikey index as one
    // key holding the whole array: a message with a few hundred distinct words fails with
    // "index row size exceeds btree maximum". It has no partial indexes either.
    if server == ServerKind::MongoDb {
        // Multikey on the terms array: an exact term is an index lookup, newest first.
        planned.push((
            "messages",
            index(
                doc! { "user_id": 1, "terms": 1, "_id": -1 },
                TERMS_INDEX,
                false,
            ),
        ));
        // The Starred view (`stars`): a user's starred messages, the most recently starred
        // first. Partial, so that it holds the starred messages only; its query says
        // `starred_at: {$exists: true}` for MongoDB to use it.
        planned.push((
            "messages",
            IndexModel::builder()
                .keys(doc! { "user_id": 1, "starred_at": -1, "_id": -1 })
                .options(
                    IndexOptions::builder()
                        .name("messages_starred".to_owned())
                        .partial_filter_expression(doc! { "starred_at": { "$exists": true } })
                        .build(),
                )
                .build(),
        ));
        // The few imported messages not yet counted (`counting`): a partial index holds only
        // them. Its query must say `uncounted.claim: {$exists: true}` for MongoDB to use it.
        planned.push((
            "messages",
            IndexModel::builder()
                .keys(doc! { "user_id": 1, "uncounted.claim": 1 })
                .options(
                    IndexOptions::builder()
                        .name("messages_uncounted".to_owned())
                        .partial_filter_expression(doc! { "uncounted.claim": { "$exists": true } })
                        .build(),
                )
                .build(),
        ));
    }
    planned
}

/// Indexes an earlier Confab made that `server` must not keep, by collection and name: those
/// replaced by an index with other keys (a name cannot change its keys: `createIndexes` fails
/// on it), and on FerretDB the terms index.
fn retired(server: ServerKind) -> Vec<(&'static str, &'static str)> {
    let mut retired = vec![
        // Without `deleted_at` before the sort, or without `user_id` first (see `planned`).
        ("chat_sessions", "chat_sessions_recent"),
        ("chat_sessions", "chat_sessions_deleted"),
        ("chat_sessions", "chat_sessions_user_id"),
        ("messages", "messages_session"),
        ("messages", "messages_depth"),
        ("messages", "messages_children"),
    ];
    if server == ServerKind::FerretDb {
        // See `planned`: the terms index cannot hold long messages there.
        retired.push(("messages", TERMS_INDEX));
    }
    retired
}

/// Creates every `planned` index of `server` in `database` and drops the `retired` ones.
/// One `createIndexes` command per index: FerretDB 1.24 drops the connection (a panic on its
/// side) when one command names two or more indexes that all exist already, which is exactly
/// what every connect after the first sends.
pub async fn ensure(database: &Database, server: ServerKind) -> StoreResult<()> {
    for (collection, model) in planned(server) {
        database
            .collection::<Document>(collection)
            .create_index(model)
            .await
            .map_err(|error| {
                let detail = db_error(error);
                StoreError::Backend(format!(
                    "cannot create the indexes of {collection}: {detail}"
                ))
            })?;
    }
    for (collection, name) in retired(server) {
        if let Err(error) = database
            .collection::<Document>(collection)
            .drop_index(name)
            .await
        {
            tracing::debug!(%error, "no {name} index to drop on {collection}");
        }
    }
    Ok(())
}

/// The multikey index that serves search on MongoDB (see `planned`).
const TERMS_INDEX: &str = "messages_terms";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `docs/mongodb.md`, whose index table must list what `planned` creates.
    const DOCS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/mongodb.md"
    ));

    /// The rows of the table under "### Indexes" as (collection, name, keys), the keys as the
    /// first code span of the third cell (`user_id, activity_at -1`).
    fn documented() -> BTreeSet<(String, String, String)> {
        let code = |cell: &str| -> Option<String> {
            let start = cell.find('`')? + 1;
            let length = cell[start..].find('`')?;
            Some(cell[start..start + length].to_owned())
        };
        DOCS.lines()
            .skip_while(|line| *line != "### Indexes")
            .skip(1)
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                // ["", collection, name, keys, why, ""]
                Some((
                    code(cells.get(1)?)?,
                    code(cells.get(2)?)?,
                    code(cells.get(3)?)?,
                ))
            })
            .collect()
    }

    /// The keys of an index as the table writes them: each field, `-1` after a descending one.
    fn keys_text(keys: &Document) -> String {
        keys.iter()
            .map(|(field, direction)| {
                match direction.as_i64().or(direction.as_i32().map(i64::from)) {
                    Some(-1) => format!("{field} -1"),
                    _ => field.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn the_documented_indexes_are_the_planned_ones() {
        let planned: BTreeSet<(String, String, String)> = planned(ServerKind::MongoDb)
            .into_iter()
            .map(|(collection, model)| {
                let name = model
                    .options
                    .as_ref()
                    .and_then(|options| options.name.clone())
                    .unwrap_or_default();
                (collection.to_owned(), name, keys_text(&model.keys))
            })
            .collect();
        let documented = documented();
        assert!(
            documented.len() > 10,
            "the table was not found: {documented:?}"
        );
        assert_eq!(
            documented, planned,
            "docs/mongodb.md's index table and indexes::planned differ"
        );
    }
}
