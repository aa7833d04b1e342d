//! The conformance suite on the embedded SQLite backend, each story on a fresh database file.

use std::sync::Arc;

use crate::conformance;

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

conformance::every_story!(stories);

/// The long conversation of `import_long` (3,000 messages) in a database file of its own,
/// the store closed again.
async fn long_conversation_on_disk() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    conformance::branches::Long,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let long = conformance::branches::import_long(store, 3_000).await;
    (dir, path, long)
}

/// One number read from the database file at `path` by a connection of the test's own.
fn number(path: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Changes the database file at `path` behind the store's back, as an older version left it.
fn change(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

/// A database from before the tree links (schema 9) gets them when it is opened: the rows'
/// links are removed, and after a reopen every page is exact again.
#[tokio::test]
async fn tree_links_are_backfilled_at_open() {
    let (_dir, path, long) = long_conversation_on_disk().await;
    let unlinked = "SELECT count(*) FROM messages WHERE depth IS NULL";
    change(
        &path,
        "UPDATE messages SET depth = NULL, jump_id = NULL, jump_depth = NULL",
    );
    assert_eq!(number(&path, unlinked), 3_000);
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    assert_eq!(number(&path, unlinked), 0);
    conformance::branches::check_long(store, &long).await;
}

// What migrations 12 to 17 added, taken away again, newest first: the tests that make a
// database of an older schema run them, so that opening migrates it from there.

/// What migration 17 added: folders.
const UNDO_MIGRATION_17: &str = "
    DROP TRIGGER folder_count_insert;
    DROP TRIGGER folder_count_delete;
    DROP TRIGGER folder_count_update;
    DROP INDEX chat_sessions_folder;
    ALTER TABLE chat_sessions DROP COLUMN folder_id;
    DROP TABLE folders;
";

/// What migration 16 added: conversation tags.
const UNDO_MIGRATION_16: &str = "DROP TABLE session_tags;";

/// What migration 15 added: stars.
const UNDO_MIGRATION_15: &str = "
    DROP INDEX messages_starred;
    ALTER TABLE messages DROP COLUMN starred_at;
";

/// What migration 14 added: the source of a fork.
const UNDO_MIGRATION_14: &str = "
    ALTER TABLE chat_sessions DROP COLUMN forked_from_session;
    ALTER TABLE chat_sessions DROP COLUMN forked_from_message;
";

/// What migration 13 added: the credentials stamp API tokens are made under.
const UNDO_MIGRATION_13: &str = "ALTER TABLE api_tokens DROP COLUMN made_under;";

/// What migration 12 (administration) added.
const UNDO_MIGRATION_12: &str = "
    DROP TRIGGER users_count_insert;
    DROP TRIGGER users_count_update;
    DROP TRIGGER users_count_delete;
    ALTER TABLE users DROP COLUMN disabled_at;
    ALTER TABLE users DROP COLUMN last_sign_in_at;
    ALTER TABLE users DROP COLUMN message_count;
    DROP TABLE invitations;
    DROP TABLE password_resets;
    DROP TABLE settings;
    DROP TABLE audit_log;";

/// Links an import computed a batch at a time before schema 10 had jumps too short (here the
/// shortest: every jump is the parent): they are computed again at open, and every page is
/// exact. A database of schema 9 also gets its path labels (migration 11).
#[tokio::test]
async fn short_jumps_are_linked_again_by_migration_10() {
    let (_dir, path, long) = long_conversation_on_disk().await;
    let longest_jump = "SELECT max(depth - jump_depth) FROM messages";
    // The main line is over 2,047 deep: the skew-binary jumps reach 2,047 back.
    assert_eq!(number(&path, longest_jump), 2_047);
    change(
        &path,
        "UPDATE messages SET jump_id = parent_id, jump_depth = depth - 1
         WHERE parent_id IS NOT NULL;
         DROP INDEX messages_paths;
         ALTER TABLE messages DROP COLUMN path;
         PRAGMA user_version = 9;",
    );
    change(&path, UNDO_MIGRATION_17);
    change(&path, UNDO_MIGRATION_16);
    change(&path, UNDO_MIGRATION_15);
    change(&path, UNDO_MIGRATION_14);
    change(&path, UNDO_MIGRATION_13);
    change(&path, UNDO_MIGRATION_12);
    assert_eq!(number(&path, longest_jump), 1);
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    assert_eq!(number(&path, longest_jump), 2_047);
    // Migration 12 counted each user's messages from their sessions' counters.
    assert_eq!(
        number(&path, "SELECT sum(message_count) FROM users"),
        number(&path, "SELECT count(*) FROM messages")
    );
    assert!(number(&path, "SELECT count(*) FROM messages") >= 3_000);
    // Migration 11 gave every message its path label (`store::paths`) on the way.
    assert_eq!(
        number(&path, "SELECT count(*) FROM messages WHERE path IS NULL"),
        0
    );
    conformance::branches::check_long(store, &long).await;
}

/// A 100,000-message conversation with a branch every few turns, read a page at a time.
#[tokio::test]
async fn long_branched_conversation() {
    let (_dir, store) = fresh();
    conformance::branches::long_branched_conversation(store, 100_000).await;
}

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
            .signup("keep@example.com", "a good password", None, "test")
            .await
            .unwrap();
    }
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    assert_eq!(store.count_users().await.unwrap(), 1);
}

/// Asserts that the full-text index holds exactly one entry per message: its rows (the
/// contentless index keeps a size per row) are the messages' rowids, and FTS5's own check
/// finds it sound.
fn assert_index_matches_messages(conn: &rusqlite::Connection) {
    let rows = |sql: &str| -> Vec<i64> {
        let mut statement = conn.prepare(sql).unwrap();
        let found = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<i64>>>()
            .unwrap();
        found
    };
    assert_eq!(
        rows("SELECT id FROM messages_fts_docsize ORDER BY id"),
        rows("SELECT seq FROM messages ORDER BY seq"),
        "one index entry per message"
    );
    conn.execute_batch(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
    )
    .expect("the index is sound");
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
        .signup("race@example.com", "a good password", None, "test")
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
    assert_index_matches_messages(&conn);
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
    assert_index_matches_messages(&conn);
    let indexed: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'common'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 20);
}

/// A database at schema version 7 (its index of the content column, each CJK run one word) is
/// migrated at open: the index is rebuilt with CJK bigrams, words inside the sentences are
/// found, and appends and deletes keep the index exact afterwards.
#[tokio::test]
async fn version_7_databases_get_cjk_bigrams() {
    use confab_core::api::NewMessageInput;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    async fn say(
        services: &confab_core::service::Services,
        user: &confab_core::model::User,
        content: &str,
    ) -> confab_core::store::Appended {
        let input = NewMessageInput {
            role: "user".into(),
            content: content.into(),
            ..Default::default()
        };
        services.append_message(user, input).await.unwrap()
    }
    let user = {
        let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
        let services = conformance::services(store);
        let user = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .unwrap();
        say(&services, &user, "今日は東京都庁で会議があります。").await;
        say(&services, &user, "borrow checker").await;
        user
    };
    // Back to what version 7 had: migrations 1 to 5's index and triggers, rebuilt, and no
    // tree links (migrations 9 and 11).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX messages_children;
         DROP INDEX messages_unlinked;
         DROP INDEX messages_paths;
         ALTER TABLE messages DROP COLUMN path;
         ALTER TABLE messages DROP COLUMN depth;
         ALTER TABLE messages DROP COLUMN jump_id;
         ALTER TABLE messages DROP COLUMN jump_depth;
         DROP TRIGGER messages_fts_delete;
         DROP TRIGGER messages_fts_update;
         DROP TABLE messages_fts;
         CREATE VIRTUAL TABLE messages_fts USING fts5(
             content, content='messages', content_rowid='seq',
             tokenize='unicode61 remove_diacritics 2'
         );
         CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages
         WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
             INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq,
                 CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);
         END;
         CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
         WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq)
             AND (old.status != 'streaming' OR new.status != 'streaming') BEGIN
             INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq,
                 CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);
             INSERT INTO messages_fts(rowid, content) VALUES (new.seq,
                 CASE WHEN new.status = 'streaming' THEN '' ELSE new.content END);
         END;
         INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
         PRAGMA user_version = 7;",
    )
    .unwrap();
    conn.execute_batch(UNDO_MIGRATION_17).unwrap();
    conn.execute_batch(UNDO_MIGRATION_16).unwrap();
    conn.execute_batch(UNDO_MIGRATION_15).unwrap();
    conn.execute_batch(UNDO_MIGRATION_14).unwrap();
    conn.execute_batch(UNDO_MIGRATION_13).unwrap();
    conn.execute_batch(UNDO_MIGRATION_12).unwrap();
    let matches = |expression: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
            [expression],
            |row| row.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        matches("\"東京\""),
        0,
        "version 7 cannot find a word inside CJK text"
    );
    assert_eq!(matches("\"borrow\""), 1);

    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 17, "migrated to the latest schema");
    assert_eq!(matches("\"東京\" + \"京都\""), 1);
    assert_eq!(matches("\"borrow\""), 1);
    let services = conformance::services(store.clone());
    let search = |q: &'static str| {
        let (services, user) = (services.clone(), user.clone());
        async move {
            conformance::search_for(&services, &user, q)
                .await
                .into_iter()
                .map(|hit| hit.snippet)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search("会議").await,
        ["今日は東京都庁で<mark>会議</mark>があります。"]
    );
    assert_eq!(search("borrow").await, ["<mark>borrow</mark> checker"]);

    // Writes after the migration: an append, a session deleted for good.
    let added = say(&services, &user, "京都の会議").await;
    assert_eq!(search("会議").await.len(), 2);
    assert_index_matches_messages(&conn);
    services
        .delete_session(&user, &added.session.id)
        .await
        .unwrap();
    store
        .purge_deleted_sessions(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_index_matches_messages(&conn);
    assert_eq!(
        matches("\"京都\" + \"都の\""),
        0,
        "a deleted message leaves the index"
    );
}

/// The WAL's checkpoint sequence number (bytes 12 to 16 of its header, big-endian), which
/// SQLite increments each time the WAL starts over from its beginning. Reads only the header:
/// the WAL may be hundreds of MiB while writers run.
fn wal_restarts(db: &std::path::Path) -> u32 {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(db.with_extension("db-wal"))
        .and_then(|mut wal| wal.read_exact(&mut header))
        .unwrap();
    u32::from_be_bytes([header[12], header[13], header[14], header[15]])
}

/// Under constant writes and reads the WAL still starts over, again and again: checkpoints
/// on a thread of their own never caught up with a writer that never paused, and the WAL grew
/// without end (2 GB in 10 s of the users' benchmark). 8 clients append and read without a
/// pause between their requests until the WAL has started over five times; the writer's
/// checkpoint runs at least once a second even with writes waiting, and falls back to a
/// RESTART checkpoint when readers keep the WAL from starting over, so that took 3 to 8 s.
/// The test waits up to 60 s so that a loaded machine (CI runs other suites beside it) cannot
/// fail it; without the RESTART fallback the WAL started over 0, 2 and 2 times in 60 s (and
/// the 3 s this test used to wait let it pass by luck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_constant_writes() {
    use confab_core::api::NewMessageInput;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let services = conformance::services(store.clone());
    let user = services
        .signup("steady@example.com", "a good password", None, "test")
        .await
        .unwrap();
    let first = services
        .append_message(
            &user,
            NewMessageInput {
                role: "user".into(),
                content: "the first".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = wal_restarts(&path);
    let writing = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (services, user, writing) = (services.clone(), user.clone(), writing.clone());
        let session = first.session.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = 0;
            while writing.load(Ordering::Relaxed) {
                let input = NewMessageInput {
                    session_id: (n % 2 == 0).then(|| session.clone()),
                    role: "user".into(),
                    content: format!("client {n} says {written}"),
                    ..Default::default()
                };
                let appended = services.append_message(&user, input).await.unwrap();
                services
                    .get_session(&user, &appended.session.id)
                    .await
                    .unwrap();
                written += 1;
            }
            written
        }));
    }
    let started = std::time::Instant::now();
    let mut restarts = 0;
    // The largest the WAL file was seen: restarts that came seldom would let it grow by
    // about 60 MB a second here.
    let mut largest = 0;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        restarts = wal_restarts(&path) - before;
        let size = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |meta| meta.len());
        largest = largest.max(size);
        if restarts >= 5 {
            break;
        }
    }
    let took = started.elapsed();
    writing.store(false, Ordering::Relaxed);
    let mut written = 0;
    for task in tasks {
        written += task.await.unwrap();
    }
    assert!(
        restarts >= 5,
        "the WAL started over {restarts} times in {took:?} of {written} appends"
    );
    // Under the 256 MiB the file is kept at (`journal_size_limit`), so no restart had to cut
    // it back inside a commit.
    assert!(
        largest < 256 * 1024 * 1024,
        "the WAL file reached {largest} bytes"
    );
}

/// Two services on one store stand for two nodes; SQLite's one writer orders the appends.
#[tokio::test]
async fn concurrent_appends_make_one_branch() {
    let (_dir, store) = fresh();
    conformance::concurrent_appends_make_one_branch(vec![store.clone(), store]).await;
}

/// Two stores opened on one database file are two nodes, each with its own writer: which use
/// of a one-time secret wins is decided by SQLite's locks and the claim's condition, not by one
/// writer taking the jobs in turn (on one store, a racing test could not fail).
#[tokio::test]
async fn one_time_secrets_race_across_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let open = || -> DynStore { Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap()) };
    let (first, second) = (open(), open());
    conformance::one_time_secrets_race_across_nodes(vec![first, second]).await;
}

/// After `deleting_a_user_removes_everything`, read by a connection of the test's own: no
/// row of any table belongs to an account that is gone, and the full-text index holds the
/// remaining account's messages and nothing more (none waits in `fts_pending` either).
#[tokio::test]
async fn a_deleted_user_leaves_no_row_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confab.db");
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    conformance::deleting_a_user_removes_everything(store).await;
    let orphans = |table: &str| {
        number(
            &path,
            &format!(
                "SELECT count(*) FROM {table}
                 WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)"
            ),
        )
    };
    for table in [
        "auth_sessions",
        "api_tokens",
        "identities",
        "chat_sessions",
        "messages",
    ] {
        assert_eq!(orphans(table), 0, "{table}");
    }
    assert_eq!(number(&path, "SELECT count(*) FROM users"), 1);
    assert_eq!(number(&path, "SELECT count(*) FROM messages"), 2);
    assert_eq!(number(&path, "SELECT count(*) FROM messages_fts"), 2);
    assert_eq!(number(&path, "SELECT count(*) FROM fts_pending"), 0);
}
