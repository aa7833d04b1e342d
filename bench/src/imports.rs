//! Import measurements (`--imports`): restoring a large Confab backup and importing a sharded
//! ChatGPT data export ZIP through `POST /api/import`, each into a server of its own so that
//! its peak memory (`VmHWM`, the most it ever held) belongs to that import alone.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use confab_testdata::{ChatGptConversation, ChatGptZip};
use serde_json::{json, Value};

use crate::text::TextGenerator;
use crate::{check, connect, start_server, status_kib, Options};

/// Messages per session of the backup and per conversation of the ZIP.
const PER_CONVERSATION: usize = 20;
/// Conversations per `conversations-NNN.json` in the ZIP, as ChatGPT splits them.
const CONVERSATIONS_PER_SHARD: usize = 1_000;

/// One import measured.
struct Measured {
    what: String,
    messages: usize,
    seconds: f64,
    peak_rss_kib: Option<u64>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
}

pub async fn run(options: &Options) -> Result<(), String> {
    // `--backup-mb 0` measures the ZIP alone.
    let restore = if options.backup_mb == 0 {
        None
    } else {
        Some(restore_backup(options).await?)
    };
    let (zip, zip_messages) = sharded_chatgpt_zip(options.zip_messages)?;
    eprintln!(
        "made a ChatGPT ZIP of {zip_messages} messages, {:.1} MB",
        zip.len() as f64 / 1e6
    );
    let chatgpt = import_file(
        options,
        format!("import a sharded ChatGPT ZIP of {zip_messages} messages"),
        zip,
        zip_messages,
    )
    .await?;

    println!(
        "### Imports, {} ({})\n",
        options.label,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!("| measurement | messages/s | server max RSS | target | met |");
    println!("|---|---:|---:|---|---|");
    let mib = |row: &Measured| {
        row.peak_rss_kib.map_or("?".to_owned(), |kib| {
            format!("{:.0} MiB", kib as f64 / 1024.0)
        })
    };
    if let Some(restore) = &restore {
        let restore_met = restore
            .peak_rss_kib
            .is_some_and(|kib| (kib as f64) * 1024.0 < 200e6);
        println!(
            "| {} ({:.1} s) | {:.0} | {} | max RSS < 200 MB | {} |",
            restore.what,
            restore.seconds,
            restore.rate(),
            mib(restore),
            if restore_met { "yes" } else { "no" }
        );
    }
    println!(
        "| {} ({:.1} s) | {:.0} | {} | ≥ 30,000 messages/s | {} |",
        chatgpt.what,
        chatgpt.seconds,
        chatgpt.rate(),
        mib(&chatgpt),
        if chatgpt.rate() >= 30_000.0 {
            "yes"
        } else {
            "no"
        }
    );
    Ok(())
}

/// Writes a Confab backup of `--backup-mb` and restores it into a fresh server.
async fn restore_backup(options: &Options) -> Result<Measured, String> {
    let backup =
        std::env::temp_dir().join(format!("confab-bench-backup-{}.json", std::process::id()));
    let (backup_messages, backup_bytes) = write_backup(&backup, options.backup_mb * 1_000_000)?;
    eprintln!(
        "wrote a Confab backup of {backup_messages} messages, {:.0} MB",
        backup_bytes as f64 / 1e6
    );
    let restore = import_file(
        options,
        format!(
            "restore a {:.0} MB Confab backup",
            backup_bytes as f64 / 1e6
        ),
        std::fs::read(&backup).map_err(|error| error.to_string())?,
        backup_messages,
    )
    .await;
    let _ = std::fs::remove_file(&backup);
    restore
}

/// Uploads `body` to a fresh server and checks that every message was imported.
async fn import_file(
    options: &Options,
    what: String,
    body: Vec<u8>,
    expected: usize,
) -> Result<Measured, String> {
    let server = start_server(options)?;
    let api = connect(&server).await?;
    let started = Instant::now();
    let report = check(
        api.post(format!("{}/api/import", server.url))
            .body(body)
            .send()
            .await,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let messages = report["messages"].as_u64().unwrap_or(0) as usize;
    if messages != expected || report["errors"].as_array().is_some_and(|e| !e.is_empty()) {
        return Err(format!(
            "{what}: imported {messages} of {expected} messages, errors {}",
            report["errors"]
        ));
    }
    let peak_rss_kib = status_kib(&server, "VmHWM:");
    eprintln!("{what}: {messages} messages in {seconds:.1} s");
    Ok(Measured {
        what,
        messages,
        seconds,
        peak_rss_kib,
    })
}

/// Writes a Confab backup (the account export's shape) of at least `bytes` bytes, a session at
/// a time. Returns its messages and size.
fn write_backup(path: &Path, bytes: usize) -> Result<(usize, usize), String> {
    let file = std::fs::File::create(path).map_err(|error| error.to_string())?;
    let mut out = Counting {
        inner: BufWriter::new(file),
        written: 0,
    };
    let mut text = TextGenerator::new(0xbac_c0de);
    let start = chrono::Utc::now() - chrono::Duration::days(400);
    let io = |error: std::io::Error| error.to_string();
    write!(
        out,
        "{{\"format\":\"confab\",\"version\":1,\"exportedAt\":\"{}\",\"sessions\":[",
        chrono::Utc::now().to_rfc3339()
    )
    .map_err(io)?;
    let mut messages = 0;
    let mut session = 0;
    while out.written < bytes {
        let created = start + chrono::Duration::seconds(session as i64 * 300);
        let id = format!("00000000-0000-7000-8000-{session:012}");
        let mut list = Vec::with_capacity(PER_CONVERSATION);
        let mut parent: Option<String> = None;
        for position in 0..PER_CONVERSATION {
            messages += 1;
            let message_id = format!("00000000-0000-7000-9000-{messages:012}");
            let assistant = position % 2 == 1;
            list.push(json!({
                "id": message_id, "sessionId": id, "parentId": parent,
                "role": if assistant { "assistant" } else { "user" },
                "content": text.message(), "type": "chat",
                "model": if assistant { Some("llama3.1:8b") } else { None },
                "promptTokens": if assistant { Some(120) } else { None },
                "completionTokens": if assistant { Some(300) } else { None },
                "latencyMs": null, "status": "complete", "clientId": null,
                "createdAt": (created + chrono::Duration::seconds(position as i64 * 15)).to_rfc3339(),
            }));
            parent = Some(message_id);
        }
        let record = json!({
            "id": id, "title": text.sentence().chars().take(60).collect::<String>(),
            "isActive": true, "pinned": false, "archived": false,
            "messageCount": PER_CONVERSATION, "promptTokens": 0, "completionTokens": 0,
            "createdAt": created.to_rfc3339(), "updatedAt": created.to_rfc3339(),
            "lastMessageAt": null, "activeLeafId": parent, "messages": list,
        });
        if session > 0 {
            out.write_all(b",").map_err(io)?;
        }
        serde_json::to_writer(&mut out, &record).map_err(|error| error.to_string())?;
        session += 1;
    }
    out.write_all(b"]}").map_err(io)?;
    out.flush().map_err(io)?;
    Ok((messages, out.written))
}

/// Counts what goes through.
struct Counting<W> {
    inner: W,
    written: usize,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.written += written;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// ChatGPT's data export as it comes today (`confab_testdata`): `conversations-000.json`, … of
/// at most `CONVERSATIONS_PER_SHARD` conversations, beside `chat.html` and the `__MACOSX/`
/// entries a Mac adds. Returns the ZIP and its messages.
fn sharded_chatgpt_zip(messages: usize) -> Result<(Vec<u8>, usize), String> {
    let mut text = TextGenerator::new(0xc4a7);
    let conversations = messages.div_ceil(PER_CONVERSATION);
    let mut zip = ChatGptZip::new();
    let zip_error = |error: zip::result::ZipError| error.to_string();
    let mut made = 0;
    for shard in 0..conversations.div_ceil(CONVERSATIONS_PER_SHARD) {
        let first = shard * CONVERSATIONS_PER_SHARD;
        let last = (first + CONVERSATIONS_PER_SHARD).min(conversations);
        let mut list: Vec<Value> = Vec::with_capacity(last - first);
        for number in first..last {
            let count = PER_CONVERSATION.min(messages - made);
            made += count;
            let id = format!("6830{number:04x}-0000-8000-9000-{number:012}");
            let title: String = text.sentence().chars().take(60).collect();
            list.push(
                ChatGptConversation {
                    id: &id,
                    title: &title,
                    start: 1.7e9 + number as f64 * 600.0,
                    messages: count,
                    seconds_apart: 15.0,
                }
                .to_json(|_| text.message()),
            );
        }
        zip.shard(&list).map_err(zip_error)?;
    }
    Ok((zip.finish().map_err(zip_error)?, made))
}
