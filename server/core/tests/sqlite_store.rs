//! The conformance suite on the embedded SQLite backend, each story on a fresh database file.

mod conformance;

use std::sync::Arc;

use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::DynStore;

fn fresh() -> (tempfile::TempDir, DynStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open store");
    (dir, Arc::new(store))
}

macro_rules! stories {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh();
            conformance::$name(store).await;
        }
    )*};
}

stories!(
    accounts_and_tokens,
    closed_signup,
    login_is_rate_limited,
    sessions_and_messages,
    pagination,
    search,
    search_ranking_and_snippets,
    session_title_filter,
    concurrent_appends_store_once,
    first_account_race,
    deleting_a_user_removes_everything,
    auth_session_records,
    import_counters_and_branches,
    streaming_replies,
    provider_identities,
    deleted_sessions_are_hidden_and_restorable,
    purging_deleted_sessions,
    reimporting_a_deleted_conversation_restores_it,
    restore_into_the_same_account_adds_only_what_is_missing,
    restores_after_a_purge_agree_whatever_the_format,
    imported_client_ids_never_cost_a_message,
    markdown_export_shows_the_active_branch,
);

#[tokio::test]
async fn backup_round_trip_keeps_every_field() {
    let (_a, source) = fresh();
    let (_b, target) = fresh();
    conformance::backup_round_trip_keeps_every_field(source, target).await;
}

/// Generated accounts: export, import into another account, export again (on SQLite).
#[test]
fn backups_round_trip_generated_accounts() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (_a, first) = fresh();
    let (_b, second) = fresh();
    conformance::round_trip::round_trip_property(&runtime, vec![first, second], 32);
}

#[tokio::test]
async fn export_and_import() {
    let (_a, source) = fresh();
    let (_b, target) = fresh();
    conformance::export_and_import(source, target).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    {
        let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
        let services = conformance::services(store);
        services
            .signup("keep@example.com", "a good password", None)
            .await
            .unwrap();
    }
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    assert_eq!(store.count_users().await.unwrap(), 1);
}

/// Messages are indexed once per group commit; appends and deletes racing in the same batch
/// must leave the full-text index exactly matching the table (FTS5's own integrity check).
#[tokio::test]
async fn the_search_index_stays_exact_under_concurrent_writes() {
    use confab_core::api::{NewMessageInput, SearchInput};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let services = conformance::services(store.clone());
    let user = services
        .signup("race@example.com", "a good password", None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..40 {
        let (services, user) = (services.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            let input = NewMessageInput {
                role: "user".into(),
                content: format!("racing word{n} and common"),
                ..Default::default()
            };
            let appended = services.append_message(&user, input).await.unwrap();
            if n % 2 == 0 {
                services
                    .delete_session(&user, &appended.session.id)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let found = services
        .search(
            &user,
            SearchInput {
                q: "common".into(),
                limit: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 20, "only the kept messages are found");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .expect("the index matches the table");
    let pending: i64 = conn
        .query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0))
        .unwrap();
    assert_eq!(pending, 0, "nothing is left unindexed after a commit");

    // Deleted sessions keep their rows until the purge, which removes them and their index
    // entries, and leaves the index exact.
    let rows = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
    };
    assert_eq!((rows("chat_sessions"), rows("messages")), (40, 40));
    let purged = store
        .purge_deleted_sessions(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(purged, 20);
    assert_eq!((rows("chat_sessions"), rows("messages")), (20, 20));
    conn.execute_batch(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .expect("the index matches the table after the purge");
    let indexed: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'common'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 20);
}
