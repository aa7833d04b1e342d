//! Issue 16's filtered search, in process: the query of the HTTP benchmark's "word in 2% of
//! messages, model: + after: + before: + tag:" row (`bench/src/main.rs`), run through
//! `Services::search` on a SQLite store seeded like the benchmark's (its text generator, 15,000
//! sessions, one of 10,000 messages, the common word in every 50th message, four reply models,
//! every other conversation tagged `project`), without HTTP. Prints p50 and p99 in
//! milliseconds of the filtered search and of the same word unfiltered, and writes every
//! ranked hit id of a set of queries (each walked page by page to the end) to `answers.txt`
//! beside the database, so that two builds' answers can be compared with `diff`.
//!
//! The database is kept at `DB`: a second run opens it (migrating it if this build's schema is
//! newer, timed) instead of seeding again.
//!
//! cargo run --release -p confab-core --example search_bench -- DB [messages] [samples]
//!
//! With `SEARCH_BENCH_SQL` set, runs that statement instead (`samples` times, with its plan):
//! named parameters `:user`, `:match`, `:model`, `:from`, `:to` (ms), `:tag`, `:limit`.

#[path = "../../../bench/src/text.rs"]
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use confab_core::api::SearchInput;
use confab_core::ids::derived_id;
use confab_core::model::User;
use confab_core::model::{MessageStatus, Role};
use confab_core::service::{ServiceConfig, Services};
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::{DynStore, ImportSession, LeafRule, NewMessage, NewSession};

use text::{TextGenerator, MODELS, TYPES};

const COMMON_WORD: &str = "quantum";
const RARE_WORD: &str = "zanzibarite";
const TAG: &str = "project";
const SESSIONS: usize = 15_000;
const LONG_SESSION: usize = 10_000;
const EMAIL: &str = "bench@example.com";

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let db = PathBuf::from(
        args.first()
            .ok_or("usage: search_bench DB [messages] [samples]")?,
    );
    let total: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let samples: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000);

    let existed = db.exists();
    let opened = Instant::now();
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(db.clone()))?);
    println!(
        "opened {} in {:.2} s (migrations included)",
        db.display(),
        opened.elapsed().as_secs_f64()
    );
    let services = Services::new(store.clone(), ServiceConfig::default());
    let start = Utc
        .with_ymd_and_hms(2025, 12, 1, 0, 0, 0)
        .single()
        .ok_or("time")?;
    let user = if existed {
        store
            .credentials_by_email(EMAIL)
            .await?
            .ok_or("the database has no bench user")?
            .user
    } else {
        let user = services
            .signup(EMAIL, "a good password", None, "bench")
            .await?;
        let seeded = Instant::now();
        seed(&store, &user.id, total, start).await?;
        println!(
            "seeded {total} messages in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );
        user
    };

    // As the benchmark: the middle 80% of the sessions' span, the first model.
    let span = chrono::Duration::seconds(SESSIONS as i64 * 600);
    let (after, before) = (start + span / 10, start + span * 9 / 10);
    let stamp = |time: DateTime<Utc>| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let filtered = format!(
        "{COMMON_WORD} model:{} after:{} before:{} tag:{TAG}",
        MODELS[0],
        stamp(after),
        stamp(before)
    );

    if let Ok(sql) = std::env::var("SEARCH_BENCH_SQL") {
        return run_sql(&db, &sql, &user.id, after, before, samples);
    }

    let answers = answers(&services, &user, &filtered).await?;
    let answers_path = db.with_extension("answers.txt");
    std::fs::write(&answers_path, &answers)?;
    println!(
        "answers: {} lines in {}",
        answers.lines().count(),
        answers_path.display()
    );

    for (what, query) in [
        ("filtered (model: after: before: tag:)", filtered.as_str()),
        ("unfiltered", COMMON_WORD),
    ] {
        let (p50, p99) = measure(&services, &user, query, samples).await?;
        println!("search {what}, {samples} samples: p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
    Ok(())
}

/// p50 and p99 in milliseconds of the first page (20 hits) of `query`, after 50 unmeasured.
async fn measure(
    services: &Services,
    user: &User,
    query: &str,
    samples: usize,
) -> Result<(f64, f64), Error> {
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    for i in 0..samples + 50 {
        let started = Instant::now();
        let page = services.search(user, input(query, None)).await?;
        let took = started.elapsed();
        if page.items.is_empty() {
            return Err(format!("no hits for {query}").into());
        }
        if i >= 50 {
            times.push(took);
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    Ok((at(0.50), at(0.99)))
}

fn input(query: &str, cursor: Option<String>) -> SearchInput {
    SearchInput {
        q: query.to_owned(),
        limit: Some(20),
        cursor,
        ..SearchInput::default()
    }
}

/// Every hit (message id, role, time) of each query, page by page, one line each.
async fn answers(services: &Services, user: &User, filtered: &str) -> Result<String, Error> {
    let mut out = String::new();
    let queries = [
        filtered.to_owned(),
        COMMON_WORD.to_owned(),
        RARE_WORD.to_owned(),
        format!("{COMMON_WORD} tag:{TAG}"),
        format!("{COMMON_WORD} model:{}", MODELS[2]),
        format!("{COMMON_WORD} role:user type:chat"),
        format!("{COMMON_WORD} after:2026-01-20 before:2026-02-10"),
        "answer quan".to_owned(),
    ];
    for query in queries {
        let mut cursor = None;
        let mut count = 0;
        loop {
            let page = services.search(user, input(&query, cursor.take())).await?;
            for hit in &page.items {
                count += 1;
                writeln!(
                    out,
                    "{query}\t{}\t{}\t{:?}\t{}",
                    hit.message_id,
                    hit.session_id,
                    hit.role,
                    hit.created_at.to_rfc3339()
                )?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        println!("{count:>5} hits: {query}");
    }
    Ok(out)
}

/// Runs `sql` `samples` times (after 20 unmeasured) and prints its plan, its row count, the
/// digest of its rows and p50/p99.
fn run_sql(
    db: &Path,
    sql: &str,
    user: &str,
    after: DateTime<Utc>,
    before: DateTime<Utc>,
    samples: usize,
) -> Result<(), Error> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut params: BTreeMap<&str, rusqlite::types::Value> = BTreeMap::new();
    params.insert(":user", user.to_owned().into());
    params.insert(":match", format!("\"{COMMON_WORD}\"").into());
    params.insert(":model", MODELS[0].to_owned().into());
    params.insert(":from", after.timestamp_millis().into());
    params.insert(":to", before.timestamp_millis().into());
    params.insert(":tag", TAG.to_owned().into());
    params.insert(":limit", 1000i64.into());
    let bind = |statement: &mut rusqlite::Statement| -> rusqlite::Result<()> {
        for (name, value) in &params {
            if let Some(index) = statement.parameter_index(name)? {
                statement.raw_bind_parameter(index, value)?;
            }
        }
        Ok(())
    };
    let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    bind(&mut explain)?;
    let mut rows = explain.raw_query();
    while let Some(row) = rows.next()? {
        println!("  plan: {}", row.get::<_, String>(3)?);
    }
    drop(rows);
    let mut statement = conn.prepare(sql)?;
    let mut times = Vec::with_capacity(samples);
    let mut digest = String::new();
    let mut count = 0;
    for i in 0..samples + 20 {
        bind(&mut statement)?;
        let started = Instant::now();
        let mut rows = statement.raw_query();
        let mut text = String::new();
        let mut n = 0;
        while let Some(row) = rows.next()? {
            n += 1;
            let value: rusqlite::types::Value = row.get(0)?;
            let _ = write!(text, "{value:?},");
        }
        let took = started.elapsed();
        if i >= 20 {
            times.push(took);
        }
        count = n;
        digest = text;
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    let hash = digest.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    });
    println!(
        "{count} rows (first column's digest {hash:016x}), {samples} samples: p50 {:.2} ms, p99 {:.2} ms",
        at(0.50),
        at(0.99)
    );
    Ok(())
}

/// The benchmark's dataset (`bench/src/main.rs`, `seed`), imported in parts of about 20,000
/// messages as its `POST /api/import` requests are.
async fn seed(
    store: &DynStore,
    user_id: &str,
    total: usize,
    start: DateTime<Utc>,
) -> Result<(), Error> {
    let mut text = TextGenerator::new(0x5eed);
    let others = SESSIONS - 1;
    let per_session = total.saturating_sub(LONG_SESSION) / others;
    let mut extra = total.saturating_sub(LONG_SESSION) % others;
    let mut message_number: u64 = 0;
    let mut part: Vec<ImportSession> = Vec::new();
    let mut part_messages = 0;
    for session_number in 0..SESSIONS {
        let (title, count) = if session_number == 0 {
            ("the-long-session".to_owned(), LONG_SESSION.min(total))
        } else {
            let bonus = usize::from(extra > 0);
            extra = extra.saturating_sub(1);
            (
                text.sentence().chars().take(60).collect::<String>(),
                per_session + bonus,
            )
        };
        let created = start + chrono::Duration::seconds(session_number as i64 * 600);
        let source = format!("s{session_number}");
        let session_id = derived_id(created, 0, user_id, &source);
        let mut messages = Vec::with_capacity(count);
        let mut parent: Option<String> = None;
        for position in 0..count {
            message_number += 1;
            let mut content = text.message();
            if message_number.is_multiple_of(50) {
                content.push_str(&format!(" The {COMMON_WORD} answer."));
            }
            if message_number % 50_000 == 7 {
                content.push_str(&format!(" A {RARE_WORD} appears."));
            }
            let assistant = position % 2 == 1;
            let at = created + chrono::Duration::seconds(position as i64 * 20);
            let source_id = format!("bench-{message_number:09}");
            let id = derived_id(at, (position % 4096) as u16, user_id, &source_id);
            messages.push(NewMessage {
                id: id.clone(),
                user_id: user_id.to_owned(),
                session_id: session_id.clone(),
                parent_id: parent.replace(id),
                role: if assistant {
                    Role::Assistant
                } else {
                    Role::User
                },
                content,
                message_type: TYPES[(message_number % TYPES.len() as u64) as usize].to_owned(),
                model: assistant.then(|| MODELS[(message_number % 4) as usize].to_owned()),
                prompt_tokens: assistant.then_some(120),
                completion_tokens: assistant.then_some(300),
                latency_ms: None,
                status: MessageStatus::Complete,
                status_reason: None,
                client_id: None,
                usage_estimated: false,
                follow_active_leaf: false,
                active_leaf: LeafRule::Set,
                source_id: Some(source_id),
                created_at: at,
                starred_at: None,
            });
        }
        part_messages += messages.len();
        part.push(ImportSession {
            session: NewSession {
                id: session_id,
                user_id: user_id.to_owned(),
                title,
                source_id: Some(source),
                created_at: created,
                folder_id: None,
            },
            pinned: false,
            archived: false,
            is_active: true,
            updated_at: None,
            tags: if session_number % 2 == 0 {
                vec![TAG.to_owned()]
            } else {
                Vec::new()
            },
            active_leaf_id: parent,
            forked_from: None,
            messages,
        });
        if part_messages >= 20_000 || session_number + 1 == SESSIONS {
            store
                .import_sessions(user_id, std::mem::take(&mut part))
                .await?;
            part_messages = 0;
            eprint!("\rseeded {message_number} messages");
        }
    }
    eprintln!();
    Ok(())
}
