//! The conformance suite on the MongoDB backend, each story in a fresh database that is
//! dropped afterwards. Needs a server speaking the MongoDB wire protocol:
//!
//! ```sh
//! export CONFAB_TEST_MONGODB_URL="$(.ci/ferretdb start /tmp/confab-ferretdb)"
//! cargo test -p confab-core --test it mongo_store::
//! .ci/ferretdb stop /tmp/confab-ferretdb
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use confab_core::store::mongo::command_log::{self, round_trips, routing_faults, CommandLog, Sent};
use confab_core::store::mongo::{MongoStore, ServerKind};
use confab_core::store::DynStore;

use crate::conformance;

const URL_VARIABLE: &str = "CONFAB_TEST_MONGODB_URL";

/// The server under test. Unset is a failure, never a silent pass.
fn server_url() -> String {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{URL_VARIABLE} is not set: these tests need a MongoDB-compatible server. Run them \
             with FerretDB from the repository root:\n\
             \n    export {URL_VARIABLE}=\"$(.ci/ferretdb start /tmp/confab-ferretdb)\"\
             \n    cargo test -p confab-core --test it mongo_store::\
             \n    .ci/ferretdb stop /tmp/confab-ferretdb\n\
             \nor point {URL_VARIABLE} at any MongoDB deployment (mongodb://host:port/)."
        ),
    }
}

/// `url` with its database path replaced by `database`, options kept.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("{URL_VARIABLE} is not a mongodb:// URL"));
    let (address, options) = match rest.split_once('?') {
        Some((address, options)) => (address, Some(options)),
        None => (rest, None),
    };
    let hosts = address.split_once('/').map_or(address, |(hosts, _)| hosts);
    match options {
        Some(options) => format!("{scheme}://{hosts}/{database}?{options}"),
        None => format!("{scheme}://{hosts}/{database}"),
    }
}

/// A database name no other run uses (names stay well under the 63-character limit).
fn unique_database(story: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let story: String = story.chars().take(30).collect();
    format!(
        "ct_{story}_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn fresh(story: &str) -> Arc<MongoStore> {
    let url = with_database(&server_url(), &unique_database(story));
    Arc::new(
        MongoStore::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {URL_VARIABLE}: {error}")),
    )
}

/// Runs `story` and drops the stores' databases whatever its outcome, then reports it.
async fn run<F, Fut>(stores: Vec<Arc<MongoStore>>, story: F)
where
    F: FnOnce(Vec<DynStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handles: Vec<DynStore> = stores
        .iter()
        .map(|store| Arc::clone(store) as DynStore)
        .collect();
    let outcome = tokio::spawn(story(handles)).await;
    for store in &stores {
        if let Err(error) = store.database().drop().await {
            eprintln!("could not drop {}: {error}", store.database().name());
        }
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Each story runs with every query shaped as for MongoDB (see `route_every_query`) and the
/// driver's command log on: every statement it sends to a sharded collection names one user
/// (`routing_faults`), so a sharded cluster sends it to one shard, and none reads without a
/// bound (`unbounded_reads`: an unanchored regex, an aggregation or count without a limit),
/// and an index the server holds (read back with `listIndexes` after connecting) serves each
/// (`unindexed`). What connecting sends (indexes, migrations) is not a request path and is
/// left out.
macro_rules! stories {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let url = with_database(&server_url(), &unique_database(stringify!($name)));
            let (mut store, log) = monitored_store(&url).await;
            store.route_every_query();
            let indexes = command_log::Indexes::read(store.database(), store.server())
                .await
                .expect("listIndexes");
            take(&log);
            run(vec![Arc::new(store)], |mut stores| async move {
                let store = stores.remove(0);
                conformance::$name(store).await;
            })
            .await;
            command_log::assert_shapes(&take(&log), &indexes);
        }
    )*};
}

conformance::every_story!(stories);

/// Two connections to one database are two app nodes: 8 writers on each append to one
/// conversation at once, and the branch stays linear. FerretDB 1.x updates a document by
/// reading it and writing it whole (see `AppendLocks` in the store), so two processes cannot
/// keep a branch linear there: against it the 16 writers share one connection, whose
/// appends take turns. The two-node run needs a MongoDB named by `CONFAB_TEST_MONGODB_URL`.
#[tokio::test]
async fn concurrent_appends_make_one_branch() {
    let url = with_database(&server_url(), &unique_database("one_branch"));
    let connect = || async {
        Arc::new(
            MongoStore::connect(&url)
                .await
                .unwrap_or_else(|error| panic!("cannot connect to {URL_VARIABLE}: {error}")),
        )
    };
    let first = connect().await;
    let second = match first.server() {
        ServerKind::MongoDb => connect().await,
        ServerKind::FerretDb => {
            eprintln!("FerretDB: the writers share one connection (one node)");
            Arc::clone(&first)
        }
    };
    run(
        vec![first, second],
        conformance::concurrent_appends_make_one_branch,
    )
    .await;
}

/// Two clients of one database are two nodes: which use of a one-time secret wins is decided
/// by the server (the claim's unique insert), also on FerretDB.
#[tokio::test]
async fn one_time_secrets_race_across_nodes() {
    let url = with_database(&server_url(), &unique_database("secrets_race"));
    let connect = || async { Arc::new(MongoStore::connect(&url).await.expect("connect")) };
    let (first, second) = (connect().await, connect().await);
    run(
        vec![first, second],
        conformance::one_time_secrets_race_across_nodes,
    )
    .await;
}

/// Tree links are repaired at connect, and every page is exact after: links an import computed
/// a batch at a time before the `relink_imported_trees` step had jumps too short (here every
/// jump is the root: valid, and a walk a step per message), and messages stored before the
/// links existed have none.
#[tokio::test]
async fn tree_links_are_repaired_at_connect() {
    use futures::TryStreamExt;
    use mongodb::bson::{doc, Document};
    let name = unique_database("relink");
    let url = with_database(&server_url(), &name);
    let store = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    run(vec![store], move |mut stores| async move {
        let first = stores.remove(0);
        let long = conformance::branches::import_long(first, 2_000).await;
        let again = Arc::new(MongoStore::connect(&url).await.expect("connect"));
        let messages = again.database().collection::<Document>("messages");
        let longest_jump = || async {
            let all: Vec<Document> = messages
                .find(doc! {})
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            all.iter()
                .map(|m| m.get_i64("depth").unwrap() - m.get_i64("jump_depth").unwrap())
                .max()
                .unwrap()
        };
        // The main line is over 1,023 deep: the skew-binary jumps reach 1,023 back.
        assert_eq!(longest_jump().await, 1_023);
        let root = messages
            .find_one(doc! { "depth": 0_i64 })
            .await
            .unwrap()
            .unwrap()
            .get_str("_id")
            .unwrap()
            .to_owned();
        messages
            .update_many(
                doc! { "depth": { "$gt": 1_i64 } },
                doc! { "$set": { "jump_id": &root, "jump_depth": 0_i64 } },
            )
            .await
            .unwrap();
        assert!(longest_jump().await > 1_023, "every jump is the root");
        again
            .database()
            .collection::<Document>("migrations")
            .delete_one(doc! { "_id": "relink_imported_trees" })
            .await
            .unwrap();
        let linked = Arc::new(MongoStore::connect(&url).await.expect("connect"));
        assert_eq!(longest_jump().await, 1_023);
        conformance::branches::check_long(linked, &long).await;

        // Messages stored before the tree links existed get them at connect too.
        let unset = messages
            .update_many(
                doc! {},
                doc! { "$unset": { "depth": "", "jump_id": "", "jump_depth": "" } },
            )
            .await
            .unwrap();
        assert_eq!(unset.modified_count, 2_000);
        let unlinked = doc! { "depth": { "$exists": false } };
        assert_eq!(
            messages.count_documents(unlinked.clone()).await.unwrap(),
            2_000
        );
        let backfilled = Arc::new(MongoStore::connect(&url).await.expect("connect"));
        assert_eq!(messages.count_documents(unlinked).await.unwrap(), 0);
        assert_eq!(longest_jump().await, 1_023);
        conformance::branches::check_long(backfilled, &long).await;
    })
    .await;
}

/// A long conversation with a branch every few turns, read a page at a time: 100,000
/// messages on MongoDB, 5,000 on FerretDB (which scans the collection on every read).
#[tokio::test]
async fn long_branched_conversation() {
    let store = fresh("long_branched_conversation").await;
    let info = store
        .database()
        .run_command(mongodb::bson::doc! { "buildInfo": 1 })
        .await
        .expect("buildInfo");
    let total = if info.contains_key("ferretdbVersion") {
        5_000
    } else {
        100_000
    };
    run(vec![store], move |mut stores| async move {
        conformance::branches::long_branched_conversation(stores.remove(0), total).await;
    })
    .await;
}

fn fresh_sqlite() -> (tempfile::TempDir, DynStore) {
    use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open store");
    (dir, Arc::new(store))
}

#[tokio::test]
async fn backup_round_trip_keeps_every_field() {
    let source = fresh("backup_source").await;
    let target = fresh("backup_target").await;
    run(vec![source, target], |mut stores| async move {
        let target = stores.remove(1);
        let source = stores.remove(0);
        conformance::backup_round_trip_keeps_every_field(source, target).await;
    })
    .await;
}

/// A SQLite backup restored into MongoDB and back, and the other way round.
#[tokio::test]
async fn backup_round_trip_across_backends() {
    let mongo = fresh("backup_across").await;
    run(vec![mongo], |mut stores| async move {
        let mongo = stores.remove(0);
        let (_dir, sqlite) = fresh_sqlite();
        conformance::backup_round_trip_keeps_every_field(sqlite.clone(), mongo.clone()).await;
        let (_other, sqlite) = fresh_sqlite();
        conformance::backup_round_trip_keeps_every_field(mongo, sqlite).await;
    })
    .await;
}

/// Generated accounts along SQLite -> MongoDB -> MongoDB -> SQLite: every export equals the
/// one before it through the import's id map.
#[test]
fn backups_round_trip_generated_accounts_across_backends() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let first = runtime.block_on(fresh("prop_first"));
    let second = runtime.block_on(fresh("prop_second"));
    let (_a, sqlite_first) = fresh_sqlite();
    let (_b, sqlite_last) = fresh_sqlite();
    let chain: Vec<DynStore> = vec![sqlite_first, first.clone(), second.clone(), sqlite_last];
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conformance::round_trip::round_trip_property(&runtime, chain, 24)
    }));
    runtime.block_on(async {
        for store in [&first, &second] {
            if let Err(error) = store.database().drop().await {
                eprintln!("could not drop {}: {error}", store.database().name());
            }
        }
    });
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn export_and_import() {
    let source = fresh("export_source").await;
    let target = fresh("export_target").await;
    run(vec![source, target], |mut stores| async move {
        let target = stores.remove(1);
        let source = stores.remove(0);
        conformance::export_and_import(source, target).await;
    })
    .await;
}

#[tokio::test]
async fn reconnecting_keeps_data_and_indexes() {
    let database = unique_database("reconnect");
    let url = with_database(&server_url(), &database);
    let first = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    run(vec![first], |_| async move {
        {
            let store: DynStore = Arc::new(MongoStore::connect(&url).await.expect("connect"));
            conformance::services(store)
                .signup("keep@example.com", "a good password", None, "test")
                .await
                .expect("signup");
        }
        // Connecting again creates the same indexes: a no-op, not an error.
        let mongo = Arc::new(MongoStore::connect(&url).await.expect("reconnect"));
        let mut names = mongo
            .database()
            .collection::<mongodb::bson::Document>("messages")
            .list_index_names()
            .await
            .expect("the messages' indexes");
        names.sort();
        let mut expected = vec![
            "_id_",
            "messages_by_depth",
            "messages_by_parent",
            "messages_by_session",
            "messages_client",
            "messages_source",
            "messages_streaming",
        ];
        // Search's multikey index only where the server reads it.
        if mongo.server() == ServerKind::MongoDb {
            expected.push("messages_terms");
            expected.sort();
        }
        assert_eq!(names, expected);
        let store: DynStore = mongo;
        assert_eq!(store.count_users().await.expect("count"), 1);
        assert!(store.size_bytes().await.expect("size").is_some());
        store.health().await.expect("health");
    })
    .await;
}

#[test]
fn database_names_replace_the_url_path() {
    assert_eq!(
        with_database("mongodb://127.0.0.1:27018/", "x"),
        "mongodb://127.0.0.1:27018/x"
    );
    assert_eq!(
        with_database("mongodb://u:p@a:1,b:2/confab?replicaSet=rs0", "x"),
        "mongodb://u:p@a:1,b:2/x?replicaSet=rs0"
    );
    assert_eq!(
        with_database("mongodb://a:1?w=majority", "x"),
        "mongodb://a:1/x?w=majority"
    );
}

/// Search on MongoDB answers what SQLite answers: the same hits, in the same order, with the
/// same snippets, over a corpus of mixed text (punctuation, accents, other scripts, CJK words
/// next to each other and to Latin letters, long and short messages, several sentences).
#[tokio::test]
async fn search_matches_sqlite() {
    use confab_core::api::{NewMessageInput, SearchInput};
    use confab_core::store::sqlite::{SqliteOptions, SqliteStore};

    const WORDS: &[&str] = &[
        "borrow",
        "checker",
        "Rust's",
        "café",
        "naïve",
        "Résumé",
        "x86_64",
        "C++",
        "e-mail",
        "<tag>",
        "&amp;",
        "don't",
        "well-known",
        "3.14",
        "über",
        "Straße",
        "άλφα",
        "日本語",
        "東京都庁で",
        "京都へ",
        "東京tower",
        "서울에서",
        "学ぶ。",
        "lifetime",
        "LIFETIMES",
        "the",
        "a",
        "of",
        "borrowed",
        "borrowing",
        "checkers",
        "cafe",
        "resume",
        "zucchini",
        "quick",
        "brown",
        "fox",
        "jumps",
        "lazy",
        "dog",
        "\"quoted\"",
        "(paren)",
        "end.",
        "colon:",
        "new\nline",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = move |bound: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % bound
    };
    let corpus: Vec<String> = (0..70)
        .map(|_| {
            let length = 2 + next(70);
            let mut text = String::new();
            for n in 0..length {
                if n > 0 {
                    text.push_str([" ", " ", " ", ", ", ". ", ": ", "\n"][next(7)]);
                }
                text.push_str(WORDS[next(WORDS.len())]);
            }
            text
        })
        .collect();
    let queries = [
        "borrow",
        "borrow checker",
        "the borrow",
        "cafe",
        "CAFÉ",
        "resume",
        "naive",
        "rust",
        "rust s",
        "x86",
        "x86 64",
        "c",
        "amp",
        "tag",
        "don",
        "well known",
        "3 14",
        "uber",
        "straße",
        "αλφα",
        "日本語",
        "日本",
        "東京",
        "京都",
        "東京都",
        "京",
        "東京tower",
        "tower",
        "서울",
        "学ぶ",
        "lifetime",
        "lifetimes",
        "borrowed borrowing",
        "zucch",
        "qu",
        "the a of",
        "quoted paren",
        "end colon",
        "new line",
        "nothing here",
    ];

    let mongo = fresh("search_parity").await;
    run(vec![mongo], move |mut stores| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite: DynStore = Arc::new(
            SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open"),
        );
        let backends = [
            conformance::services(stores.remove(0)),
            conformance::services(sqlite),
        ];
        let mut answers: Vec<Vec<Vec<(String, String)>>> = Vec::new();
        for services in &backends {
            let user = services
                .signup("ada@example.com", "a good password", None, "test")
                .await
                .expect("signup");
            let mut contents = std::collections::HashMap::new();
            let mut session = None;
            for (n, text) in corpus.iter().enumerate() {
                let appended = services
                    .append_message(
                        &user,
                        NewMessageInput {
                            session_id: session.clone(),
                            role: if n % 3 == 0 { "user" } else { "assistant" }.into(),
                            content: text.clone(),
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("append");
                // A few sessions, so that titles differ too.
                session = (n % 20 != 19).then(|| appended.session.id.clone());
                contents.insert(appended.message.id, format!("#{n}"));
            }
            let mut per_query = Vec::new();
            for q in queries {
                for typed in [q.to_owned(), format!("{q} ")] {
                    let page = services
                        .search(
                            &user,
                            SearchInput {
                                q: typed,
                                limit: Some(200),
                                ..Default::default()
                            },
                        )
                        .await
                        .expect("search");
                    per_query.push(
                        page.items
                            .into_iter()
                            .map(|hit| (contents[&hit.message_id].clone(), hit.snippet))
                            .collect(),
                    );
                }
            }
            answers.push(per_query);
        }
        let mut compared = 0;
        for (index, (mongo, sqlite)) in answers[0].iter().zip(&answers[1]).enumerate() {
            let q = queries[index / 2];
            assert_eq!(mongo, sqlite, "query {q:?} (typing: {})", index % 2 == 0);
            compared += mongo.len();
        }
        assert!(compared > 200, "the corpus gives many hits ({compared})");
    })
    .await;
}

/// The purge removes the documents themselves (reads hide orphans, so only the collections
/// can tell), and a session whose purge has started (claimed with `purging`) can no longer be
/// restored: a restore racing with the purge never gets a session without its messages.
#[tokio::test]
async fn purge_removes_the_documents_and_wins_over_a_late_restore() {
    use chrono::{Duration, Utc};
    use confab_core::api::NewMessageInput;
    use mongodb::bson::{doc, Document};

    let store = fresh("purge_documents").await;
    let mongo = Arc::clone(&store);
    run(vec![store], move |mut stores| async move {
        let store = stores.remove(0);
        let services = conformance::services(store.clone());
        let ada = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let mut ids = Vec::new();
        for text in ["purged soon", "claimed by a purge", "kept alive"] {
            let first = services
                .append_message(
                    &ada,
                    NewMessageInput {
                        role: "user".into(),
                        content: text.into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("append");
            services
                .append_message(
                    &ada,
                    NewMessageInput {
                        session_id: Some(first.session.id.clone()),
                        role: "assistant".into(),
                        content: "an answer".into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("append");
            ids.push(first.session.id);
        }
        let database = mongo.database();
        let sessions = database.collection::<Document>("chat_sessions");
        let messages = database.collection::<Document>("messages");
        let count = |session: &str| {
            let filter = doc! { "session_id": session };
            let messages = messages.clone();
            async move { messages.count_documents(filter).await.expect("count") }
        };

        let deleted_at = Utc::now() - Duration::hours(1);
        for id in &ids[..2] {
            assert!(store
                .delete_session(&ada.id, id, deleted_at)
                .await
                .expect("delete"));
        }
        let marked = sessions
            .find_one(doc! { "_id": &ids[0] })
            .await
            .expect("find")
            .expect("the deleted session is kept");
        assert_eq!(
            marked
                .get_datetime("deleted_at")
                .expect("deleted_at")
                .timestamp_millis(),
            deleted_at.timestamp_millis()
        );
        assert_eq!(count(&ids[0]).await, 2, "deleting keeps the messages");

        // A purge that claimed the second session and stopped before removing anything.
        sessions
            .update_one(
                doc! { "_id": &ids[1] },
                doc! { "$set": { "purging": true } },
            )
            .await
            .expect("claim");
        let oldest = chrono::DateTime::<Utc>::MIN_UTC;
        assert!(store
            .restore_session(&ada.id, &ids[1], oldest)
            .await
            .expect("restore")
            .is_none());

        assert_eq!(
            store
                .purge_deleted_sessions(Utc::now())
                .await
                .expect("purge"),
            2
        );
        for id in &ids[..2] {
            assert_eq!(count(id).await, 0);
            assert!(sessions
                .find_one(doc! { "_id": id })
                .await
                .expect("find")
                .is_none());
        }
        assert_eq!(count(&ids[2]).await, 2);
        assert_eq!(
            services
                .get_session(&ada, &ids[2])
                .await
                .expect("the live session")
                .session
                .message_count,
            2
        );
    })
    .await;
}

/// A database written before CJK text was split into bigrams (each CJK run one term, and
/// counted as one word) is migrated at connect: the messages holding CJK text get their
/// bigram terms, their sessions their word counts again, the step is recorded once, and the
/// words inside the sentences are found.
#[tokio::test]
async fn cjk_terms_are_migrated_at_connect() {
    use confab_core::api::NewMessageInput;
    use mongodb::bson::{doc, Document};

    let database = unique_database("cjk_migration");
    let url = with_database(&server_url(), &database);
    let store = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    run(vec![store.clone()], move |mut stores| async move {
        let services = conformance::services(stores.remove(0));
        let ada = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let say = |session_id: Option<String>, content: &str| {
            let services = &services;
            let ada = &ada;
            let content = content.to_owned();
            async move {
                services
                    .append_message(
                        ada,
                        NewMessageInput {
                            session_id,
                            role: "user".into(),
                            content,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("append")
            }
        };
        let first = say(None, "東京都の天気").await;
        let session_id = first.session.id.clone();
        let mixed = say(Some(session_id.clone()), "Rust 東京").await;
        let latin = say(Some(session_id.clone()), "hello world").await;
        let messages = store.database().collection::<Document>("messages");
        let sessions = store.database().collection::<Document>("chat_sessions");
        let migrations = store.database().collection::<Document>("migrations");
        let terms = |id: String| {
            let messages = messages.clone();
            async move {
                let found = messages
                    .find_one(doc! { "_id": id })
                    .await
                    .expect("find")
                    .expect("message");
                found
                    .get_array("terms")
                    .expect("terms")
                    .iter()
                    .map(|term| term.as_str().expect("a string").to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let word_count = || async {
            sessions
                .find_one(doc! { "_id": &session_id })
                .await
                .expect("find")
                .expect("session")
                .get_i64("word_count")
                .expect("word_count")
        };
        let bigrams = ["東京", "京都", "都の", "の天", "天気", "気"];
        assert_eq!(terms(first.message.id.clone()).await, bigrams);
        assert_eq!(word_count().await, 6 + 3 + 2);

        // What the version before wrote.
        for (id, old) in [
            (&first.message.id, vec!["東京都の天気"]),
            (&mixed.message.id, vec!["rust", "東京"]),
        ] {
            messages
                .update_one(doc! { "_id": id }, doc! { "$set": { "terms": old } })
                .await
                .expect("old terms");
        }
        sessions
            .update_one(
                doc! { "_id": &session_id },
                doc! { "$set": { "word_count": 1_i64 + 2 + 2 } },
            )
            .await
            .expect("old count");
        let deleted = migrations
            .delete_one(doc! { "_id": "cjk_bigram_terms" })
            .await
            .expect("forget the step");
        assert_eq!(deleted.deleted_count, 1, "a new database records the step");
        let (services, ada) = (&services, &ada);
        let find = move |q: &'static str| async move {
            conformance::search_for(services, ada, q)
                .await
                .into_iter()
                .map(|hit| hit.snippet)
                .collect::<Vec<_>>()
        };
        assert!(
            find("天気").await.is_empty(),
            "not found before the migration"
        );

        let reconnected = MongoStore::connect(&url).await.expect("reconnect");
        assert_eq!(terms(first.message.id.clone()).await, bigrams);
        assert_eq!(
            terms(mixed.message.id.clone()).await,
            ["rust", "東京", "京"]
        );
        assert_eq!(terms(latin.message.id.clone()).await, ["hello", "world"]);
        assert_eq!(word_count().await, 6 + 3 + 2);
        // This step and the relinking of deep conversations, each recorded once.
        let mut steps: Vec<String> = migrations
            .distinct("_id", doc! {})
            .await
            .expect("steps")
            .into_iter()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
        steps.sort();
        assert_eq!(
            steps,
            [
                "cjk_bigram_terms",
                "relink_imported_trees",
                "session_models",
                "user_totals"
            ]
        );
        assert_eq!(migrations.count_documents(doc! {}).await.expect("count"), 4);
        // The user's totals (search's statistics) follow the recounted words.
        let totals = user_totals(&reconnected, &ada.id).await;
        assert_eq!(totals.get_i64("word_count"), Ok(6 + 3 + 2));
        assert_eq!(find("天気").await, ["東京都の<mark>天気</mark>"]);
        assert_eq!(
            find("東京").await,
            ["Rust <mark>東京</mark>", "<mark>東京</mark>都の天気"]
        );
        // Connecting again finds the step done and changes nothing.
        drop(reconnected);
        MongoStore::connect(&url).await.expect("reconnect");
        assert_eq!(word_count().await, 6 + 3 + 2);
    })
    .await;
}

/// A database written before sessions kept their `models` gets them at connect, from the
/// messages, once (the step `session_models`).
#[tokio::test]
async fn session_models_are_migrated_at_connect() {
    use confab_core::api::NewMessageInput;
    use mongodb::bson::{doc, Document};

    let url = with_database(&server_url(), &unique_database("models_migration"));
    let store = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    run(vec![store.clone()], move |mut stores| async move {
        let services = conformance::services(stores.remove(0));
        let ada = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let mut session_id = None;
        for model in [Some("m-b"), None, Some("m-a"), Some("m-b")] {
            let appended = services
                .append_message(
                    &ada,
                    NewMessageInput {
                        session_id: session_id.clone(),
                        role: "assistant".into(),
                        content: "an answer".into(),
                        model: model.map(str::to_owned),
                        ..Default::default()
                    },
                )
                .await
                .expect("append");
            session_id = Some(appended.session.id);
        }
        let session_id = session_id.expect("a session");
        let empty = services
            .append_message(
                &ada,
                NewMessageInput {
                    role: "user".into(),
                    content: "no model here".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("append")
            .session
            .id;
        // What the version before wrote: no `models` in the sessions.
        let database = store.database();
        database
            .collection::<Document>("chat_sessions")
            .update_many(doc! {}, doc! { "$unset": { "models": "" } })
            .await
            .expect("unset");
        database
            .collection::<Document>("migrations")
            .delete_one(doc! { "_id": "session_models" })
            .await
            .expect("forget the step");
        let detail = services.get_session(&ada, &session_id).await.expect("get");
        assert!(detail.models.is_empty(), "not there before the migration");

        let reconnected = MongoStore::connect(&url).await.expect("reconnect");
        let detail = services.get_session(&ada, &session_id).await.expect("get");
        assert_eq!(detail.models, ["m-a", "m-b"]);
        let detail = services.get_session(&ada, &empty).await.expect("get");
        assert!(detail.models.is_empty());
        let recorded = database
            .collection::<Document>("migrations")
            .count_documents(doc! { "_id": "session_models" })
            .await
            .expect("count");
        assert_eq!(recorded, 1);
        drop(reconnected);
    })
    .await;
}

/// A store on `url` whose every command is recorded in the returned log.
async fn monitored(url: &str) -> (Arc<MongoStore>, CommandLog) {
    let (store, log) = monitored_store(url).await;
    (Arc::new(store), log)
}

async fn monitored_store(url: &str) -> (MongoStore, CommandLog) {
    let log = CommandLog::default();
    let store = MongoStore::connect_with(url, |options| log.monitor(options))
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {URL_VARIABLE}: {error}"));
    log.pooled().await;
    (store, log)
}

/// The log's events since it was last taken, emptying it.
fn take(log: &CommandLog) -> Vec<Sent> {
    log.take()
}

/// Every command started in `events` names `user_id` (see `command_log::routed_to`).
fn assert_routed(events: &[Sent], user_id: &str) {
    for event in events {
        if let Some(command) = &event.command {
            let (_, statements) = command_log::statements(&event.name, command)
                .unwrap_or_else(|| panic!("not on a sharded collection: {command}"));
            for statement in statements {
                assert_eq!(
                    command_log::routed_to(&statement),
                    Some(user_id),
                    "{} {command}",
                    event.name
                );
            }
        }
    }
}

/// Appends cost two round trips on the normal path, as the driver's own command log shows: a
/// message that follows the active leaf, and a reply placeholder under the question it
/// answers, are one `insert`, then one `findAndModify` (counters and the leaf's
/// compare-and-set) sent together with the `update` of the user's totals, each naming the
/// user (the shard key). A second process, which has not
/// seen the session, reads it once first; and after the other process moved the leaf, the
/// first one's append still lands under the newest message.
#[tokio::test]
async fn appends_take_two_round_trips() {
    use confab_core::api::NewMessageInput;
    use confab_core::service::{ServiceConfig, Services};
    use confab_core::store::{LeafRule, NewMessage};

    let url = with_database(&server_url(), &unique_database("round_trips"));
    let (store, log) = monitored(&url).await;
    let (other, other_log) = monitored(&url).await;
    run(vec![store, other], move |stores| async move {
        let node = Services::new(stores[0].clone(), ServiceConfig::default());
        let other = Services::new(stores[1].clone(), ServiceConfig::default());
        let ada = signed_up(&node, "ada@example.com").await;
        // With a client id, as the web UI sends it.
        let say = |session: Option<&str>, content: &str| NewMessageInput {
            client_id: Some(format!("client-{content}")),
            ..say(session, content)
        };
        let first = node
            .append_message(&ada, say(None, "one"))
            .await
            .expect("first");
        let s = first.session.id.clone();
        take(&log);

        let question = node
            .append_message(&ada, say(Some(&s), "two"))
            .await
            .expect("append");
        assert_eq!(
            question.message.parent_id.as_deref(),
            Some(first.message.id.as_str())
        );
        let sent = take(&log);
        // The user's totals (`update`) move alongside the session's counters.
        assert_eq!(
            round_trips(&sent),
            [vec!["insert"], vec!["findAndModify", "update"]],
            "an append: {sent:?}"
        );
        assert_routed(&sent, &ada.id);

        let reply = NewMessage {
            starred_at: None,
            active_leaf: LeafRule::IfLeafIs(question.message.id.clone()),
            ..reply_placeholder(&ada.id, &s, "reply-1", &question.message.id)
        };
        let placed = node
            .store()
            .append_message(reply, None)
            .await
            .expect("reply");
        assert_eq!(placed.session.active_leaf_id.as_deref(), Some("reply-1"));
        let sent = take(&log);
        assert_eq!(
            round_trips(&sent),
            [vec!["insert"], vec!["findAndModify", "update"]],
            "a reply placeholder: {sent:?}"
        );
        assert_routed(&sent, &ada.id);

        // The other node has not seen the session: one read of it first.
        take(&other_log);
        let elsewhere = other
            .append_message(&ada, say(Some(&s), "three"))
            .await
            .expect("other");
        assert_eq!(elsewhere.message.parent_id.as_deref(), Some("reply-1"));
        let sent = take(&other_log);
        // Its pool may still be opening the connection the totals' update goes out on, so
        // that update may leave after the counters' (a round trip more, once).
        let trips = round_trips(&sent);
        assert_eq!(
            trips[..2],
            [vec!["find"], vec!["insert"]],
            "a first append: {sent:?}"
        );
        let mut rest: Vec<&String> = trips[2..].iter().flatten().collect();
        rest.sort();
        assert_eq!(
            rest,
            ["findAndModify", "update"],
            "a first append: {sent:?}"
        );
        assert_routed(&sent, &ada.id);

        // The first node's memory of the leaf is stale now: its append is moved under the
        // newest message all the same, and the branch stays linear.
        let late = node
            .append_message(&ada, say(Some(&s), "four"))
            .await
            .expect("stale");
        assert_eq!(
            late.message.parent_id.as_deref(),
            Some(elsewhere.message.id.as_str())
        );
        assert_eq!(
            late.session.active_leaf_id.as_deref(),
            Some(late.message.id.as_str())
        );
        assert_eq!(late.session.message_count, 5);
        let stored = node
            .store()
            .get_message(&ada.id, &late.message.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.parent_id, late.message.parent_id);
        let page = other
            .branch_page(&ada, &s, confab_core::api::BranchInput::default())
            .await
            .expect("the branch");
        let ids: Vec<&str> = page
            .messages
            .iter()
            .map(|entry| entry.message.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                first.message.id.as_str(),
                question.message.id.as_str(),
                "reply-1",
                elsewhere.message.id.as_str(),
                late.message.id.as_str()
            ]
        );
    })
    .await;
}

/// An empty `streaming` reply `id` under `parent`, which becomes the leaf.
fn reply_placeholder(
    user_id: &str,
    session_id: &str,
    id: &str,
    parent: &str,
) -> confab_core::store::NewMessage {
    confab_core::store::NewMessage {
        starred_at: None,
        id: id.into(),
        user_id: user_id.into(),
        session_id: session_id.into(),
        parent_id: Some(parent.into()),
        role: confab_core::model::Role::Assistant,
        content: String::new(),
        message_type: "chat".into(),
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: confab_core::model::MessageStatus::Streaming,
        status_reason: None,
        client_id: None,
        usage_estimated: false,
        follow_active_leaf: false,
        active_leaf: confab_core::store::LeafRule::Set,
        source_id: None,
        created_at: chrono::Utc::now(),
    }
}

/// Each user's totals in `user_totals` (what search normalises by) equal the sums of their
/// sessions' counters after every kind of write that moves those: appends, a reply whose
/// final text replaces its placeholder, an import, a clear, a delete and its purge; a deleted
/// account leaves no totals; and a database from before the totals gets them at connect.
#[tokio::test]
async fn user_totals_follow_every_write() {
    use chrono::{Duration, Utc};
    use confab_core::store::{ImportSession, NewSession, ReplyOutcome};
    use mongodb::bson::{doc, Document};

    let store = fresh("user_totals").await;
    let mongo = Arc::clone(&store);
    run(vec![store], move |mut stores| async move {
        let store = stores.remove(0);
        let database = mongo.database().clone();
        // (messages, words) by the totals document, and by adding up the sessions.
        let totals = |user_id: String| {
            let database = database.clone();
            async move {
                let stored = database
                    .collection::<Document>("user_totals")
                    .find_one(doc! { "_id": &user_id })
                    .await
                    .expect("read totals")
                    .map(|totals| {
                        (
                            totals.get_i64("message_count").unwrap_or(-1),
                            totals.get_i64("word_count").unwrap_or(-1),
                        )
                    });
                let mut sessions = database
                    .collection::<Document>("chat_sessions")
                    .find(doc! { "user_id": &user_id })
                    .await
                    .expect("read sessions");
                let mut summed = (0, 0);
                while sessions.advance().await.expect("next session") {
                    let session = sessions.deserialize_current().expect("a session");
                    summed.0 += session.get_i64("message_count").expect("message_count");
                    summed.1 += session.get_i64("word_count").expect("word_count");
                }
                (stored, summed)
            }
        };
        let services = conformance::services(store.clone());
        let ada = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let bob = services
            .signup("bob@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let mut sessions = Vec::new();
        for (n, text) in ["one two three", "four five", "six"]
            .into_iter()
            .enumerate()
        {
            let first = services
                .append_message(&ada, say(None, text))
                .await
                .expect("append");
            let s = first.session.id.clone();
            services
                .append_message(&ada, say(Some(&s), "seven eight nine ten"))
                .await
                .expect("append");
            let placeholder =
                reply_placeholder(&ada.id, &s, &format!("reply-{n}"), &first.message.id);
            store
                .append_message(placeholder, None)
                .await
                .expect("reply");
            sessions.push(s);
        }
        services
            .append_message(&bob, say(None, "bob owns words"))
            .await
            .expect("bob");
        assert_eq!(totals(ada.id.clone()).await, (Some((9, 18)), (9, 18)));
        assert_eq!(totals(bob.id.clone()).await, (Some((1, 3)), (1, 3)));

        store
            .finish_reply(
                &ada.id,
                "reply-0",
                ReplyOutcome {
                    content: "an answer of six words here".into(),
                    status: confab_core::model::MessageStatus::Complete,
                    status_reason: None,
                    prompt_tokens: Some(3),
                    completion_tokens: Some(6),
                    latency_ms: Some(10),
                    usage_estimated: false,
                },
            )
            .await
            .expect("finish")
            .expect("the reply");
        assert_eq!(totals(ada.id.clone()).await, (Some((9, 24)), (9, 24)));

        let imported = NewSession {
            folder_id: None,
            id: "imported".into(),
            user_id: ada.id.clone(),
            title: "imported".into(),
            source_id: Some("source".into()),
            created_at: Utc::now(),
        };
        let mut message = reply_placeholder(&ada.id, "imported", "imported-1", "none");
        message.parent_id = None;
        message.role = confab_core::model::Role::User;
        message.status = confab_core::model::MessageStatus::Complete;
        message.content = "imported words".into();
        message.source_id = Some("source:1".into());
        store
            .import_sessions(
                &ada.id,
                vec![ImportSession {
                    forked_from: None,
                    tags: Vec::new(),
                    session: imported,
                    pinned: false,
                    archived: false,
                    is_active: true,
                    updated_at: None,
                    active_leaf_id: None,
                    messages: vec![message],
                }],
            )
            .await
            .expect("import");
        assert_eq!(totals(ada.id.clone()).await, (Some((10, 26)), (10, 26)));

        // The first session: 3 messages, "one two three", "seven eight nine ten" and the
        // six-word answer.
        assert!(store
            .clear_session(&ada.id, &sessions[0], Utc::now())
            .await
            .expect("clear"));
        assert_eq!(totals(ada.id.clone()).await, (Some((7, 13)), (7, 13)));

        // A deleted session still counts until it is purged.
        let deleted_at = Utc::now() - Duration::days(60);
        assert!(store
            .delete_session(&ada.id, &sessions[1], deleted_at)
            .await
            .expect("delete"));
        assert_eq!(totals(ada.id.clone()).await, (Some((7, 13)), (7, 13)));
        assert_eq!(
            store
                .purge_deleted_sessions(Utc::now())
                .await
                .expect("purge"),
            1
        );
        assert_eq!(totals(ada.id.clone()).await, (Some((4, 7)), (4, 7)));

        // From before the totals: the migration sums them at connect.
        database
            .collection::<Document>("user_totals")
            .drop()
            .await
            .expect("drop the totals");
        database
            .collection::<Document>("migrations")
            .delete_one(doc! { "_id": "user_totals" })
            .await
            .expect("forget the migration");
        let url = with_database(&server_url(), database.name());
        let again = MongoStore::connect(&url).await.expect("connect again");
        assert_eq!(totals(ada.id.clone()).await, (Some((4, 7)), (4, 7)));
        assert_eq!(totals(bob.id.clone()).await, (Some((1, 3)), (1, 3)));

        assert!(confab_core::store::Store::delete_user(&again, &bob.id)
            .await
            .expect("delete bob"));
        assert_eq!(totals(bob.id.clone()).await, (None, (0, 0)));
    })
    .await;
}

/// What one process remembers of a session's leaf never outlives a clear made through
/// another: a reply or an edit under the cleared leaf is refused as SQLite refuses it (the
/// parent is not in the session) and leaves nothing stored or counted, and a following
/// message starts the cleared conversation again as its one message.
#[tokio::test]
async fn a_clear_elsewhere_outdates_the_remembered_leaf() {
    use confab_core::service::{ServiceConfig, Services};
    use confab_core::store::{LeafRule, NewMessage, StoreError};
    use mongodb::bson::{doc, Document};

    let url = with_database(&server_url(), &unique_database("clear_elsewhere"));
    let here = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    let there = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    let mongo = Arc::clone(&here);
    run(vec![here, there], move |stores| async move {
        let node = Services::new(stores[0].clone(), ServiceConfig::default());
        let ada = signed_up(&node, "ada@example.com").await;
        let first = node
            .append_message(&ada, say(None, "one"))
            .await
            .expect("one");
        let s = first.session.id.clone();
        let last = node
            .append_message(&ada, say(Some(&s), "two"))
            .await
            .expect("two");
        let cleared = stores[1]
            .clear_session(&ada.id, &s, chrono::Utc::now())
            .await
            .expect("clear");
        assert!(cleared);

        let reply = NewMessage {
            starred_at: None,
            active_leaf: LeafRule::IfLeafIs(last.message.id.clone()),
            ..reply_placeholder(&ada.id, &s, "late-reply", &last.message.id)
        };
        let edit = NewMessage {
            starred_at: None,
            role: confab_core::model::Role::User,
            content: "an edit".into(),
            status: confab_core::model::MessageStatus::Complete,
            ..reply_placeholder(&ada.id, &s, "late-edit", &last.message.id)
        };
        for refused in [reply, edit] {
            let id = refused.id.clone();
            let outcome = stores[0].append_message(refused, None).await;
            assert!(
                matches!(outcome, Err(StoreError::Conflict(_))),
                "{id}: {outcome:?}"
            );
        }

        let again = node
            .append_message(&ada, say(Some(&s), "three"))
            .await
            .expect("three");
        assert_eq!(again.message.parent_id, None);
        assert_eq!(again.session.message_count, 1);
        assert_eq!(
            again.session.active_leaf_id.as_deref(),
            Some(again.message.id.as_str())
        );
        let stored = stores[0].all_messages(&ada.id, &s).await.expect("messages");
        assert_eq!(stored, std::slice::from_ref(&again.message));
        let documents = mongo
            .database()
            .collection::<Document>("messages")
            .count_documents(doc! { "session_id": &s })
            .await
            .expect("count");
        assert_eq!(documents, 1, "nothing refused is left behind");
        let totals = user_totals(&mongo, &ada.id).await;
        assert_eq!(totals.get_i64("message_count"), Ok(1));
        assert_eq!(totals.get_i64("word_count"), Ok(1));
    })
    .await;
}

/// A user's message `content`, in `session` (a new one when `None`).
fn say(session: Option<&str>, content: &str) -> confab_core::api::NewMessageInput {
    confab_core::api::NewMessageInput {
        session_id: session.map(str::to_owned),
        role: "user".into(),
        content: content.into(),
        ..Default::default()
    }
}

/// A new account `email`.
async fn signed_up(
    services: &confab_core::service::Services,
    email: &str,
) -> confab_core::model::User {
    services
        .signup(email, "a good password", None, email)
        .await
        .expect("signup")
}

/// The user's document in `user_totals`, which must exist.
/// A fork's words count like any message's: the new session's `word_count` is its copied
/// messages' words, and the user's totals grow by the copy's messages and words.
#[tokio::test]
async fn a_fork_counts_its_words() {
    use confab_core::api::{ForkInput, NewMessageInput};
    use mongodb::bson::{doc, Document};

    let store = fresh("fork_words").await;
    let mongo = Arc::clone(&store);
    run(vec![store], move |mut stores| async move {
        let store = stores.remove(0);
        let services = conformance::services(store.clone());
        let ada = services
            .signup("ada@example.com", "a good password", None, "test")
            .await
            .expect("signup");
        let say = |session_id: Option<String>, content: &str| {
            let (services, ada) = (services.clone(), ada.clone());
            let content = content.to_owned();
            async move {
                services
                    .append_message(
                        &ada,
                        NewMessageInput {
                            session_id,
                            role: "user".into(),
                            content,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("append")
            }
        };
        // 3 words, 2 words, 4 words.
        let first = say(None, "plan a trip").await;
        let session_id = first.session.id.clone();
        let second = say(Some(session_id.clone()), "day two").await;
        say(Some(session_id.clone()), "and the food then").await;
        let fork = services
            .fork_session(
                &ada,
                &session_id,
                ForkInput {
                    message_id: second.message.id.clone(),
                },
            )
            .await
            .expect("fork");
        let word_count = |id: String| {
            let sessions = mongo.database().collection::<Document>("chat_sessions");
            async move {
                sessions
                    .find_one(doc! { "_id": id })
                    .await
                    .expect("find")
                    .expect("session")
                    .get_i64("word_count")
                    .expect("word_count")
            }
        };
        assert_eq!(word_count(session_id).await, 3 + 2 + 4);
        assert_eq!(word_count(fork.id).await, 3 + 2);
        let totals = user_totals(&mongo, &ada.id).await;
        assert_eq!(
            (
                totals.get_i64("message_count"),
                totals.get_i64("word_count")
            ),
            (Ok(3 + 2), Ok(3 + 2 + 4 + 3 + 2))
        );
    })
    .await;
}

async fn user_totals(store: &MongoStore, user_id: &str) -> mongodb::bson::Document {
    store
        .database()
        .collection::<mongodb::bson::Document>("user_totals")
        .find_one(mongodb::bson::doc! { "_id": user_id })
        .await
        .expect("read the totals")
        .expect("the user's totals")
}

/// An import whose counting stops anywhere (as a crash there would leave it) and is run again
/// leaves every counter exact: each session's messages, tokens, words, last message time and
/// active leaf, and the user's totals, with no marks or claim records left behind. Also when
/// the re-run is another process (a second connection): it leaves a claim younger than the
/// lease alone (the first process may still be at work on it), and finishes an older one.
#[tokio::test]
async fn an_import_stopped_anywhere_counts_each_message_once() {
    use confab_core::store::mongo::CountingStop;
    use confab_core::store::Store;
    use mongodb::bson::{doc, Document};

    let database = unique_database("import_stops");
    let url = with_database(&server_url(), &database);
    let store = Arc::new(MongoStore::connect(&url).await.expect("connect"));
    let mongo = Arc::clone(&store);
    run(vec![store], move |mut stores| async move {
        let store = stores.remove(0);
        let services = conformance::services(store.clone());
        let stops = [
            CountingStop::Inserted,
            CountingStop::Claimed,
            CountingStop::SessionsCounted,
            CountingStop::TotalsCounted,
            CountingStop::Unmarked,
        ];
        for (n, stop) in stops.into_iter().enumerate() {
            let user = signed_up(&services, &format!("stop{n}@example.com")).await;
            let file = counted_import(&user.id, &format!("s{n}"));
            mongo.stop_counting_at(Some(stop));
            store
                .import_sessions(&user.id, file.clone())
                .await
                .expect_err(&format!("the import stopped at {stop:?}"));
            mongo.stop_counting_at(None);
            let again = store
                .import_sessions(&user.id, file)
                .await
                .expect("the import run again");
            assert_eq!(
                (again.sessions, again.messages, again.skipped_messages),
                (0, 0, 5),
                "{stop:?}"
            );
            assert_counted(&mongo, &user.id, &format!("s{n}"), &format!("{stop:?}")).await;
        }

        // Another process's claim: left alone while it may be at work, finished after.
        let user = signed_up(&services, "other@example.com").await;
        let file = counted_import(&user.id, "o");
        mongo.stop_counting_at(Some(CountingStop::SessionsCounted));
        store
            .import_sessions(&user.id, file.clone())
            .await
            .expect_err("stopped");
        mongo.stop_counting_at(None);
        let second = MongoStore::connect(&url).await.expect("a second process");
        second
            .import_sessions(&user.id, file.clone())
            .await
            .expect("the second process's run");
        let session = mongo
            .database()
            .collection::<Document>("chat_sessions")
            .find_one(doc! { "_id": "o-a" })
            .await
            .expect("read")
            .expect("the session");
        assert_eq!(
            session.get_i64("message_count"),
            Ok(3),
            "counted once, by the claim"
        );
        let totals = mongo
            .database()
            .collection::<Document>("user_totals")
            .find_one(doc! { "_id": &user.id })
            .await
            .expect("read the totals");
        assert_eq!(
            totals.map(|totals| totals.get_i64("message_count")),
            None,
            "the totals not counted yet"
        );
        let mut second = second;
        second.set_claim_lease(std::time::Duration::ZERO);
        second
            .import_sessions(&user.id, file)
            .await
            .expect("the second process's run, the claim now old");
        assert_counted(&mongo, &user.id, "o", "a second process").await;
    })
    .await;
}

/// Two conversations of an imported file: `{prefix}-a` (3 messages, its leaf the last) and
/// `{prefix}-b` (2 messages, no leaf given).
fn counted_import(user_id: &str, prefix: &str) -> Vec<confab_core::store::ImportSession> {
    use chrono::{TimeZone, Utc};
    use confab_core::model::{MessageStatus, Role};
    use confab_core::store::{ImportSession, NewSession};

    let conversation = |name: &str, texts: &[(&str, Option<i64>)], leaf: bool| {
        let id = format!("{prefix}-{name}");
        let mut messages = Vec::new();
        for (n, (text, tokens)) in texts.iter().enumerate() {
            let mut message = reply_placeholder(user_id, &id, &format!("{id}-{n}"), "");
            message.parent_id = (n > 0).then(|| format!("{id}-{}", n - 1));
            message.role = if n % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            message.status = MessageStatus::Complete;
            message.content = (*text).into();
            message.prompt_tokens = *tokens;
            message.completion_tokens = tokens.map(|t| t * 2);
            message.source_id = Some(format!("{id}:{n}"));
            message.created_at = Utc.with_ymd_and_hms(2025, 3, 1, 12, n as u32, 0).unwrap();
            messages.push(message);
        }
        ImportSession {
            forked_from: None,
            tags: Vec::new(),
            session: NewSession {
                folder_id: None,
                id: id.clone(),
                user_id: user_id.into(),
                title: name.into(),
                source_id: Some(id.clone()),
                created_at: Utc.with_ymd_and_hms(2025, 3, 1, 11, 0, 0).unwrap(),
            },
            pinned: false,
            archived: false,
            is_active: true,
            updated_at: None,
            active_leaf_id: leaf.then(|| format!("{id}-{}", texts.len() - 1)),
            messages,
        }
    };
    vec![
        conversation(
            "a",
            &[
                ("one two", None),
                ("three four five", Some(4)),
                ("six", None),
            ],
            true,
        ),
        conversation("b", &[("seven", None), ("eight nine", Some(10))], false),
    ]
}

/// The counters of `counted_import(_, prefix)` after it was counted once.
async fn assert_counted(store: &MongoStore, user_id: &str, prefix: &str, case: &str) {
    use mongodb::bson::{doc, Document};

    let database = store.database();
    let sessions = database.collection::<Document>("chat_sessions");
    // (id, messages, prompt, completion, words, last message minute, leaf)
    let expected = [
        ("a", 3, 4, 8, 6, 2, Some(format!("{prefix}-a-2"))),
        ("b", 2, 10, 20, 3, 1, None),
    ];
    for (name, messages, prompt, completion, words, minute, leaf) in expected {
        let id = format!("{prefix}-{name}");
        let session = sessions
            .find_one(doc! { "_id": &id })
            .await
            .expect("read")
            .expect("the session");
        let last =
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, 3, 1, 12, minute, 0).unwrap();
        assert_eq!(
            (
                session.get_i64("message_count"),
                session.get_i64("prompt_tokens"),
                session.get_i64("completion_tokens"),
                session.get_i64("word_count"),
                session
                    .get_datetime("last_message_at")
                    .map(|time| time.timestamp_millis()),
                session.get_str("active_leaf_id").ok().map(str::to_owned),
            ),
            (
                Ok(messages),
                Ok(prompt),
                Ok(completion),
                Ok(words),
                Ok(last.timestamp_millis()),
                leaf
            ),
            "session {id}, {case}"
        );
        let claims = session
            .get_array("counted_claims")
            .map_or(0, |claims| claims.len());
        assert_eq!(claims, 0, "claim records left in {id}, {case}");
    }
    let totals = user_totals(store, user_id).await;
    assert_eq!(
        (
            totals.get_i64("message_count"),
            totals.get_i64("word_count")
        ),
        (Ok(5), Ok(9)),
        "totals, {case}"
    );
    let claims = totals
        .get_array("counted_claims")
        .map_or(0, |claims| claims.len());
    assert_eq!(claims, 0, "claim records left in the totals, {case}");
    let marked = database
        .collection::<Document>("messages")
        .count_documents(doc! { "user_id": user_id, "uncounted": { "$exists": true } })
        .await
        .expect("count marks");
    assert_eq!(marked, 0, "marks left, {case}");
}

/// The round-trip table of `docs/mongodb.md` as (operation, budget), in its order: the first
/// cell up to a parenthesis, and the budget column (which must equal the round-trips column).
fn documented_round_trips() -> Vec<(String, usize)> {
    let docs = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/mongodb.md"
    ));
    docs.lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("| operation | round trips | budget |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].split(" (").next().unwrap_or_default().to_owned();
            let (trips, budget): (usize, usize) = (
                cells[2].parse().expect("round trips"),
                cells[3].parse().expect("budget"),
            );
            assert_eq!(trips, budget, "{name}: the table's two columns differ");
            (name, budget)
        })
        .collect()
}

/// Round trips (as the driver's command log shows them) per operation of the web UI, on a
/// session of 120 messages, each within its declared budget (the table in `docs/mongodb.md`):
/// an append 2, a session's detail 1, the session list filtered by title 2, a search 3, opening
/// a conversation (its newest page) `OPEN_BUDGET`, the page
/// before it `EARLIER_BUDGET`, every command routed to the user's shard.
#[tokio::test]
async fn round_trips_per_operation() {
    use confab_core::api::{BranchInput, SearchInput};

    /// The newest page is one store call from the session's leaf (the session's check, the
    /// leaf and the page's depths sent together when the leaf is remembered); an earlier page
    /// one from its cursor (the depths sent with it when this process read the page below).
    /// Each after the session's own read. The page around a message (a search hit) reads the
    /// session with the message, then the leaf, then the leaf's ancestor at the page's bottom
    /// by the jump links (rounds that grow with the log of the distance: 3 here), then the
    /// page: over the target of 2, measured and held here so that it cannot grow unseen.
    const OPEN_BUDGET: usize = 2;
    const EARLIER_BUDGET: usize = 2;
    const AROUND_BUDGET: usize = 7;

    let url = with_database(&server_url(), &unique_database("round_trips"));
    let (mut store, log) = monitored_store(&url).await;
    store.route_every_query();
    run(vec![Arc::new(store)], move |mut stores| async move {
        let store = stores.remove(0);
        let services = conformance::services(store);
        let ada = signed_up(&services, "ada@example.com").await;
        let first = services
            .append_message(&ada, say(None, "message zero about harbours"))
            .await
            .expect("first");
        let s = first.session.id.clone();
        for n in 1..120 {
            services
                .append_message(
                    &ada,
                    say(Some(&s), &format!("message {n} about lighthouses")),
                )
                .await
                .expect("append");
        }
        let mut table = Vec::new();
        let mut budgets = Vec::new();
        let mut measure = |name: &str, budget: usize, sent: Vec<Sent>| {
            let trips = round_trips(&sent);
            table.push(format!("{name}: {} round trips {trips:?}", trips.len()));
            budgets.push((name.to_owned(), budget));
            assert!(trips.len() <= budget, "{name}: {trips:?} over {budget}");
            assert!(routing_faults(&sent).is_empty(), "{name}");
        };

        take(&log);
        let mut with_model = say(Some(&s), "one more");
        // Its model joins the session's `models` in the counters' update.
        with_model.model = Some("a-model".into());
        services
            .append_message(&ada, with_model)
            .await
            .expect("append");
        measure("append", 2, take(&log));

        let detail = services.get_session(&ada, &s).await.expect("detail");
        assert_eq!(detail.models, ["a-model"]);
        measure("a session's detail", 1, take(&log));
        let listed = services
            .list_sessions(
                &ada,
                confab_core::api::SessionListInput {
                    q: Some("HARBOURS".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("filtered list");
        assert_eq!(listed.items.len(), 1);
        measure("the session list filtered by title", 2, take(&log));

        let page = services
            .branch_page(&ada, &s, BranchInput::default())
            .await
            .expect("newest page");
        assert_eq!(page.messages.len(), 50);
        measure("open a conversation", OPEN_BUDGET, take(&log));
        let earlier = page.earlier.clone().expect("an earlier page");
        let before = services
            .branch_page(
                &ada,
                &s,
                BranchInput {
                    before: Some(earlier),
                    ..BranchInput::default()
                },
            )
            .await
            .expect("earlier page");
        assert_eq!(before.messages.len(), 50);
        measure("the page before it", EARLIER_BUDGET, take(&log));

        let hits = services
            .search(
                &ada,
                SearchInput {
                    q: "harbours".into(),
                    ..SearchInput::default()
                },
            )
            .await
            .expect("search");
        assert_eq!(hits.items.len(), 1);
        measure("search", 3, take(&log));

        // Opening the hit: the page around it, message zero (the root) first.
        let around = services
            .branch_page(
                &ada,
                &s,
                BranchInput {
                    around: Some(hits.items[0].message_id.clone()),
                    ..BranchInput::default()
                },
            )
            .await
            .expect("the page around the hit");
        assert_eq!(
            around.messages[0].message.content,
            "message zero about harbours"
        );
        assert_eq!(around.messages.len(), 50);
        measure("the page around a message", AROUND_BUDGET, take(&log));
        eprintln!("{}", table.join("\n"));
        // docs/mongodb.md publishes these budgets: its table cannot drift from them.
        assert_eq!(documented_round_trips(), budgets);
    })
    .await;
}

/// After `deleting_a_user_removes_everything`, read straight from the database: no document
/// of any collection belongs to an account that is gone (sign-ins, tokens, provider links,
/// chats, messages with their search terms, search totals), and the remaining account's two
/// messages are all that is left.
#[tokio::test]
async fn a_deleted_user_leaves_no_document_behind() {
    use mongodb::bson::{doc, Document};
    let store = fresh("no_document_behind").await;
    let database = store.database().clone();
    run(vec![store], |mut stores| async move {
        conformance::deleting_a_user_removes_everything(stores.remove(0)).await;
        let users: Vec<String> = database
            .collection::<Document>("users")
            .distinct("_id", doc! {})
            .await
            .unwrap()
            .into_iter()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
        assert_eq!(users.len(), 1);
        let orphans = doc! { "user_id": { "$exists": true, "$nin": &users } };
        for name in [
            "identities",
            "auth_sessions",
            "api_tokens",
            "chat_sessions",
            "messages",
        ] {
            let count = database
                .collection::<Document>(name)
                .count_documents(orphans.clone())
                .await
                .unwrap();
            assert_eq!(count, 0, "{name}");
        }
        let totals = database
            .collection::<Document>("user_totals")
            .count_documents(doc! { "_id": { "$nin": &users } })
            .await
            .unwrap();
        assert_eq!(totals, 0, "user_totals");
        let messages = database
            .collection::<Document>("messages")
            .count_documents(doc! {})
            .await
            .unwrap();
        assert_eq!(messages, 2);
    })
    .await;
}
