//! Import speed: generates a ChatGPT export of 100,000 messages and imports it into a fresh
//! SQLite store, then imports it again (everything skipped).
//!
//! cargo run --release -p confab-core --example import_bench -- [messages] [--no-fts]
//!
//! `--no-fts` drops the full-text trigger first, to show what the index costs (search then
//! finds nothing: it is a measurement, never a mode of the product).

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Instant;

use confab_core::api::SearchInput;
use confab_core::service::{ServiceConfig, Services};
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::DynStore;
use serde_json::Value;

const MESSAGES_PER_CONVERSATION: usize = 20;

const WORDS: &[&str] = &[
    "the",
    "a",
    "rust",
    "database",
    "query",
    "index",
    "search",
    "message",
    "session",
    "import",
    "export",
    "branch",
    "model",
    "token",
    "server",
    "client",
    "async",
    "thread",
    "memory",
    "file",
    "stream",
    "batch",
    "commit",
    "trigger",
    "table",
    "column",
    "error",
    "result",
    "value",
    "type",
    "function",
    "closure",
    "iterator",
    "vector",
    "string",
    "buffer",
    "parser",
    "format",
    "json",
    "schema",
    "migration",
    "writer",
    "reader",
    "lock",
    "channel",
    "future",
    "runtime",
    "tokio",
    "benchmark",
    "latency",
    "throughput",
    "cache",
    "disk",
    "network",
    "request",
    "response",
    "handler",
    "route",
    "template",
    "component",
    "signal",
    "resource",
    "effect",
    "action",
    "because",
    "therefore",
    "however",
    "quickly",
    "carefully",
    "simply",
    "usually",
    "often",
    "weather",
    "recipe",
    "garden",
    "travel",
    "history",
    "music",
    "physics",
    "chemistry",
    "poetry",
];

/// A small deterministic generator, so every run imports the same text.
struct Words(u64);

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        WORDS[(self.0 >> 33) as usize % WORDS.len()]
    }

    fn sentence(&mut self, words: usize) -> String {
        let mut text = String::with_capacity(words * 8);
        for i in 0..words {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.next());
        }
        text
    }
}

/// Conversation `index` in today's ChatGPT shape (`confab_testdata`): short questions, longer
/// answers.
fn conversation(index: usize, words: &mut Words) -> Value {
    let id = format!("bench-{index:06}");
    confab_testdata::ChatGptConversation {
        id: &id,
        title: &format!("Benchmark conversation {index}"),
        start: 1_600_000_000.0 + index as f64 * 3_600.0,
        messages: MESSAGES_PER_CONVERSATION,
        seconds_apart: 7.25,
    }
    .to_json(|i| words.sentence(if i % 2 == 0 { 20 } else { 120 }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let messages: usize = args
        .iter()
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(100_000);
    let no_fts = args.iter().any(|arg| arg == "--no-fts");
    let conversations = messages.div_ceil(MESSAGES_PER_CONVERSATION);

    let dir = tempfile::tempdir()?;
    let export = dir.path().join("conversations.json");
    {
        let mut out = BufWriter::new(std::fs::File::create(&export)?);
        let mut words = Words(42);
        out.write_all(b"[")?;
        for index in 0..conversations {
            if index > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, &conversation(index, &mut words))?;
        }
        out.write_all(b"]")?;
        out.flush()?;
    }
    let size = std::fs::metadata(&export)?.len();
    println!(
        "generated {conversations} conversations, {} messages, {:.1} MiB",
        conversations * MESSAGES_PER_CONVERSATION,
        size as f64 / 1024.0 / 1024.0
    );

    let db = dir.path().join("confab.db");
    let store: DynStore = Arc::new(SqliteStore::open(SqliteOptions::new(&db))?);
    if no_fts {
        rusqlite::Connection::open(&db)?.execute_batch("DROP TRIGGER messages_fts_insert")?;
        println!("full-text trigger dropped (measurement only)");
    }
    let services = Services::new(store, ServiceConfig::default());
    let user = services
        .signup("bench@example.com", "a good password", None, "bench")
        .await?;

    for round in ["first import", "re-import"] {
        let file = std::fs::File::open(&export)?;
        let started = Instant::now();
        let report = services.import_reader(&user, file, |_| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        let handled = report.messages + report.skipped;
        println!(
            "{round}: {} sessions, {} messages added, {} skipped, {} problems in {seconds:.2} s = {:.0} messages/s",
            report.sessions,
            report.messages,
            report.skipped,
            report.errors.len(),
            handled as f64 / seconds
        );
    }

    let started = Instant::now();
    let hits = services
        .search(
            &user,
            SearchInput {
                q: "throughput benchmark".into(),
                limit: Some(20),
                ..Default::default()
            },
        )
        .await?;
    println!(
        "search right after the import: {} hits in {:.1} ms",
        hits.items.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "database size: {:.1} MiB",
        services.store().size_bytes().await?.unwrap_or(0) as f64 / 1024.0 / 1024.0
    );
    Ok(())
}
