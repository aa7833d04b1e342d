//! The context of a reply in a long conversation, in process: what `chat` and `regenerate`
//! build before they ask the model (issue "Long conversations", item 7). Imports a session of
//! `messages` messages (default 100,000) that branches every few turns, in parts of 2,000 as
//! the import service writes them, into a fresh SQLite store; then builds the context for
//! questions all along its main line and prints p50 and p99 in milliseconds.
//!
//! cargo run --release -p confab-core --example context_bench -- [messages] [samples]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use confab_core::model::{MessageStatus, Role};
use confab_core::service::{ServiceConfig, Services};
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::{DynStore, ImportSession, LeafRule, NewMessage, NewSession};

/// About 600 characters, as the benchmark's messages (`bench/src/main.rs`).
fn text(n: usize) -> String {
    let words = [
        "rust", "query", "index", "branch", "token", "reply", "model", "store",
    ];
    let mut text = format!("message {n}:");
    let mut i = n;
    while text.len() < 600 {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push(' ');
        text.push_str(words[(i >> 33) % words.len()]);
    }
    text
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let samples: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);

    let dir = tempfile::tempdir()?;
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(
        dir.path().join("confab.db"),
    ))?);
    let services = Services::new(store.clone(), ServiceConfig::default());
    let user = services
        .signup("bench@example.com", "a good password", None, "bench")
        .await?;
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .ok_or("time")?;
    let session_id = confab_core::ids::derived_id(start, 0, &user.id, "context:session");

    // A main line of questions and answers; every 5th answer was regenerated (the first one
    // stays beside it as a sibling).
    let mut messages = Vec::with_capacity(total);
    let mut main = Vec::new();
    let mut parent: Option<String> = None;
    while messages.len() < total {
        let n = messages.len();
        let role = if main.len() % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        if role == Role::Assistant && main.len() % 10 == 9 && total - n >= 2 {
            messages.push(new_message(
                &user.id,
                &session_id,
                parent.clone(),
                role,
                n,
                start,
            ));
        }
        let n = messages.len();
        let message = new_message(&user.id, &session_id, parent.clone(), role, n, start);
        parent = Some(message.id.clone());
        main.push(message.id.clone());
        messages.push(message);
    }
    let started = Instant::now();
    for part in messages.chunks(2_000) {
        store
            .import_sessions(
                &user.id,
                vec![ImportSession {
                    forked_from: None,
                    tags: Vec::new(),
                    session: NewSession {
                        folder_id: None,
                        id: session_id.clone(),
                        user_id: user.id.clone(),
                        title: "Long".into(),
                        source_id: Some("context:session".into()),
                        created_at: start,
                    },
                    pinned: false,
                    archived: false,
                    is_active: true,
                    updated_at: None,
                    active_leaf_id: parent.clone(),
                    messages: part.to_vec(),
                }],
            )
            .await?;
    }
    println!(
        "imported {total} messages ({} on the main line) in {:.1} s",
        main.len(),
        started.elapsed().as_secs_f64()
    );

    // Questions all along the main line, in a scattered order.
    let on_main: std::collections::HashSet<&String> = main.iter().collect();
    let questions: Vec<_> = messages
        .iter()
        .filter(|message| message.role == Role::User && on_main.contains(&message.id))
        .step_by(97)
        .map(|message| message.id.clone())
        .collect();
    let mut stored = Vec::new();
    for id in &questions {
        let found = store
            .ancestors(&user.id, &session_id, id, 1)
            .await?
            .pop()
            .ok_or("a question is missing")?;
        stored.push(found.message);
    }
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let mut turns = 0;
    for i in 0..samples + 50 {
        let question = &stored[(i * 31) % stored.len()];
        let started = Instant::now();
        let context = services.context(&user, question).await?;
        let took = started.elapsed();
        if context.is_empty() {
            return Err("an empty context".into());
        }
        if i >= 50 {
            times.push(took);
            turns += context.len();
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "context for a new message ({samples} samples over {} questions, {} turns on average): p50 {:.2} ms, p99 {:.2} ms",
        stored.len(),
        turns / samples,
        at(0.50),
        at(0.99)
    );
    Ok(())
}

fn new_message(
    user_id: &str,
    session_id: &str,
    parent_id: Option<String>,
    role: Role,
    n: usize,
    start: chrono::DateTime<Utc>,
) -> NewMessage {
    NewMessage {
        starred_at: None,
        id: confab_core::ids::derived_id(
            start,
            (n % 65_536) as u16,
            user_id,
            &format!("context:{n}"),
        ),
        user_id: user_id.to_owned(),
        session_id: session_id.to_owned(),
        parent_id,
        role,
        content: text(n),
        message_type: "chat".into(),
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: MessageStatus::Complete,
        status_reason: None,
        client_id: None,
        usage_estimated: false,
        follow_active_leaf: false,
        active_leaf: LeafRule::Set,
        source_id: Some(format!("context:{n}")),
        created_at: start + chrono::Duration::seconds(n as i64),
    }
}
