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
    provider_identities,
);

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
