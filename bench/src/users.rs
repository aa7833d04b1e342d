//! What users do (`--users`): many accounts share one store, and the requests are the ones the
//! UI sends, spread over conversations and search words, each answer checked.
//!
//! The dataset: `--users` accounts (100) and `--messages` messages in all (1,000,000). The
//! heaviest account owns `HEAVY_SHARE` of them (220,000 of a million): a 100,000-message and a
//! 10,000-message conversation that branch every few turns (a regenerated reply every 5th
//! turn, an edited question with its own reply every 25th), 300 conversations of 20 messages
//! (what the delete measurement deletes) and conversations of 60 messages for the rest. The
//! other accounts share the remainder in conversations of 60 messages. Every message is
//! created through `POST /api/import` (a version 2 Confab backup of the account, so the ids
//! given here are the ids stored, and the checks below can name them).
//!
//! Planted words: `RARE_WORDS` words, each in 10 messages of the heaviest account and in 3
//! messages of each of 5 other accounts; `COMMON_WORDS` words, each in 2% of all messages. A
//! search answer is checked against what was planted for that account: every rare-word hit
//! and nothing else, and only planted messages for a common word.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::text::{TextGenerator, MODELS, TYPES};
use crate::{
    check, measure, percentile, print_rows, rss_kib, sign_in, sign_up, start_server, status_kib,
    wait_for, Options, Row,
};

/// The heaviest account's share of all messages.
const HEAVY_SHARE: f64 = 0.22;
/// Messages in the two long conversations of the heaviest account.
const LONG_SESSIONS: [usize; 2] = [100_000, 10_000];
/// Conversations of 20 messages the heaviest account owns (deleted by the delete measurement).
const SHORT_SESSIONS: usize = 300;
/// Messages in every other conversation.
const SESSION_SIZE: usize = 60;
/// Distinct rare words, and the messages of the heaviest account that hold each.
const RARE_WORDS: usize = 50;
const RARE_PER_HEAVY: usize = 10;
/// Words in 2% of the messages each (none is a word of the generated text, or a prefix of one:
/// the last word of a search is a prefix).
const COMMON_WORDS: [&str; 10] = [
    "quantum", "nebula", "saffron", "glacier", "lantern", "meadow", "cobalt", "falcon", "orchid",
    "tundra",
];

/// The rare word `n`: "zanzibar" and two letters, so that no rare word is a prefix of another.
fn rare_word(n: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    format!(
        "zanzibar{}{}",
        letters[n / 26 % 26] as char,
        letters[n % 26] as char
    )
}

/// One account: its id, and a client that sends its API token.
struct Account {
    id: String,
    api: reqwest::Client,
}

/// A long branched conversation: its id, and pairs of messages to switch between (an
/// abandoned variant and the one on the active branch at the same place).
struct LongSession {
    id: String,
    size: usize,
    switches: Vec<(String, String)>,
    /// The last message of the active branch.
    leaf: String,
}

/// What the seeding planted, for the checks.
#[derive(Default)]
struct Planted {
    /// Rare word -> the heaviest account's messages holding it.
    rare: HashMap<String, HashSet<String>>,
    /// Common word -> the heaviest account's messages holding it.
    common: HashMap<String, HashSet<String>>,
    long: Vec<LongSession>,
    short: Vec<String>,
}

/// Ids in the shape Confab keeps (UUIDs, version 7 layout): the time in milliseconds, then a
/// counter, so that they sort in the order they are made, as Confab's own do.
struct Ids {
    counter: u64,
}

impl Ids {
    fn next(&mut self, at: chrono::DateTime<chrono::Utc>) -> String {
        self.counter += 1;
        let ms = at.timestamp_millis() as u64;
        let c = self.counter;
        format!(
            "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            (c >> 48) & 0xfff,
            (c >> 36) & 0xfff,
            c & 0xffff_ffff_ffff
        )
    }
}

/// Builds one account's backup a chunk at a time and uploads each chunk.
struct Seeder<'a> {
    base: &'a str,
    account: &'a Account,
    text: TextGenerator,
    ids: Ids,
    clock: chrono::DateTime<chrono::Utc>,
    chunk: Vec<Value>,
    chunk_messages: usize,
    /// Messages left to plant per rare word for this account.
    rare_quota: Vec<(String, usize)>,
    /// A rare word goes into every `rare_every`-th message until the quotas are met.
    rare_every: u64,
    made: u64,
    heavy: bool,
    planted: &'a mut Planted,
    stored: &'a AtomicU64,
}

impl Seeder<'_> {
    /// The text of the next message, with the planted words it holds; records them.
    fn content(&mut self, id: &str) -> String {
        let mut content = self.text.message();
        for word in COMMON_WORDS {
            if self.text.below(50) == 0 {
                content.push_str(&format!(" The {word} answer."));
                if self.heavy {
                    self.planted
                        .common
                        .entry(word.to_owned())
                        .or_default()
                        .insert(id.to_owned());
                }
            }
        }
        self.made += 1;
        if self.made.is_multiple_of(self.rare_every) {
            if let Some((word, left)) = self.rare_quota.iter_mut().find(|(_, left)| *left > 0) {
                *left -= 1;
                content.push_str(&format!(" A {word} appears."));
                if self.heavy {
                    self.planted
                        .rare
                        .entry(word.clone())
                        .or_default()
                        .insert(id.to_owned());
                }
            }
        }
        content
    }

    fn message(&mut self, session: &str, parent: Option<&str>, assistant: bool) -> (String, Value) {
        self.clock += chrono::Duration::seconds(7);
        let id = self.ids.next(self.clock);
        let content = self.content(&id);
        let pick = self.text.below(24) as usize;
        let value = json!({
            "id": id, "sessionId": session, "parentId": parent,
            "role": if assistant { "assistant" } else { "user" },
            "content": content,
            "type": TYPES[pick % TYPES.len()],
            "model": if assistant { Some(MODELS[pick % MODELS.len()]) } else { None },
            "promptTokens": if assistant { Some(120) } else { None },
            "completionTokens": if assistant { Some(300) } else { None },
            "latencyMs": null, "status": "complete", "clientId": null,
            "createdAt": self.clock.to_rfc3339(),
        });
        (id, value)
    }

    /// A conversation of `size` messages; `branched` makes it branch as a long one does.
    /// Returns its id and the switch pairs.
    async fn session(
        &mut self,
        title: &str,
        size: usize,
        branched: bool,
    ) -> Result<(String, Vec<(String, String)>, Option<String>), String> {
        self.clock += chrono::Duration::minutes(3);
        let created = self.clock;
        let session_id = self.ids.next(created);
        let mut messages = Vec::with_capacity(size);
        let mut switches = Vec::new();
        let mut parent: Option<String> = None;
        let mut turn = 0usize;
        while messages.len() < size {
            turn += 1;
            let room = size - messages.len();
            // An edited question: the earlier version and its reply stay beside the new one.
            if branched && turn.is_multiple_of(25) && room >= 4 {
                let (old_question, value) = self.message(&session_id, parent.as_deref(), false);
                messages.push(value);
                let (_, value) = self.message(&session_id, Some(&old_question), true);
                messages.push(value);
                let (question, value) = self.message(&session_id, parent.as_deref(), false);
                messages.push(value);
                switches.push((old_question, question.clone()));
                parent = Some(question);
            } else {
                let (question, value) = self.message(&session_id, parent.as_deref(), false);
                messages.push(value);
                parent = Some(question);
            }
            if messages.len() == size {
                break;
            }
            // A regenerated reply: the first answer stays as a sibling of the second.
            if branched && turn.is_multiple_of(5) && size - messages.len() >= 2 {
                let (first, value) = self.message(&session_id, parent.as_deref(), true);
                messages.push(value);
                let (second, value) = self.message(&session_id, parent.as_deref(), true);
                messages.push(value);
                switches.push((first, second.clone()));
                parent = Some(second);
            } else {
                let (answer, value) = self.message(&session_id, parent.as_deref(), true);
                messages.push(value);
                parent = Some(answer);
            }
        }
        self.chunk_messages += messages.len();
        self.chunk.push(json!({
            "id": session_id, "title": title, "isActive": true, "pinned": false,
            "archived": false, "messageCount": messages.len(), "promptTokens": 0,
            "completionTokens": 0, "createdAt": created.to_rfc3339(),
            "updatedAt": self.clock.to_rfc3339(), "lastMessageAt": self.clock.to_rfc3339(),
            "activeLeafId": parent, "messages": messages,
        }));
        if self.chunk_messages >= 20_000 {
            self.flush().await?;
        }
        Ok((session_id, switches, parent))
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let document = json!({
            "format": "confab", "version": 2, "exportedAt": chrono::Utc::now().to_rfc3339(),
            "accountId": self.account.id, "sessions": std::mem::take(&mut self.chunk),
        });
        let report = check(
            self.account
                .api
                .post(format!("{}/api/import", self.base))
                .json(&document)
                .send()
                .await,
        )
        .await?;
        if report["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            return Err(format!("import reported errors: {}", report["errors"]));
        }
        let messages = report["messages"].as_u64().unwrap_or(0);
        if messages != self.chunk_messages as u64 {
            return Err(format!(
                "import stored {messages} of {} messages: {report}",
                self.chunk_messages
            ));
        }
        let total = self.stored.fetch_add(messages, Ordering::Relaxed) + messages;
        eprint!("\rseeded {total} messages");
        self.chunk_messages = 0;
        Ok(())
    }
}

/// Signs up account `n`.
async fn account(base: &str, n: usize) -> Result<Account, String> {
    let email = format!("user-{n}-{}@example.com", std::process::id());
    let (user, api) = sign_up(base, &email).await?;
    let id = user["user"]["id"]
        .as_str()
        .ok_or_else(|| format!("no user id in {user}"))?
        .to_owned();
    Ok(Account { id, api })
}

/// Seeds every account. Returns the accounts (the heaviest first) and what was planted.
async fn seed(base: &str, options: &Options) -> Result<(Vec<Account>, Planted, u64), String> {
    let users = options.users.unwrap_or(100).max(7);
    let mut accounts = Vec::with_capacity(users);
    for n in 0..users {
        accounts.push(account(base, n).await?);
    }
    let stored = AtomicU64::new(0);
    let mut planted = Planted::default();
    let heavy_messages = (options.messages as f64 * HEAVY_SHARE) as usize;
    let others = options.messages.saturating_sub(heavy_messages) / (users - 1);
    let start = chrono::Utc::now() - chrono::Duration::days(400);
    let mut ids = Ids { counter: 0 };
    for (n, account) in accounts.iter().enumerate() {
        let heavy = n == 0;
        let quota = match n {
            0 => RARE_PER_HEAVY,
            1..=5 => 3,
            _ => 0,
        };
        let mut seeder = Seeder {
            base,
            account,
            text: TextGenerator::new(0x5eed + n as u64),
            ids,
            clock: start,
            chunk: Vec::new(),
            chunk_messages: 0,
            rare_quota: (0..RARE_WORDS).map(|w| (rare_word(w), quota)).collect(),
            rare_every: 1,
            made: 0,
            heavy,
            planted: &mut planted,
            stored: &stored,
        };
        let mut budget = if heavy { heavy_messages } else { others };
        // Spread the rare words over the account's messages, with room to spare.
        seeder.rare_every = (budget / (RARE_WORDS * quota.max(1) * 2)).max(1) as u64;
        if heavy {
            for size in LONG_SESSIONS {
                let title = format!("a conversation of {size} messages");
                let (id, switches, leaf) = seeder.session(&title, size, true).await?;
                let leaf = leaf.ok_or("an empty long conversation")?;
                seeder.planted.long.push(LongSession {
                    id,
                    size,
                    switches,
                    leaf,
                });
                budget = budget.saturating_sub(size);
            }
            for s in 0..SHORT_SESSIONS {
                let (id, _, _) = seeder
                    .session(&format!("short conversation {s}"), 20, false)
                    .await?;
                seeder.planted.short.push(id);
                budget = budget.saturating_sub(20);
            }
        }
        while budget > 0 {
            let size = budget.min(SESSION_SIZE);
            let title = seeder.text.sentence().chars().take(60).collect::<String>();
            seeder.session(&title, size, false).await?;
            budget -= size;
        }
        seeder.flush().await?;
        if let Some((word, left)) = seeder.rare_quota.iter().find(|(_, left)| *left > 0) {
            return Err(format!(
                "account {n} has too few messages to hold {word} {left} more times"
            ));
        }
        ids = seeder.ids;
    }
    eprintln!();
    Ok((accounts, planted, stored.load(Ordering::Relaxed)))
}

/// Every hit of `word` for the heaviest account, all pages.
async fn search_all(api: &reqwest::Client, base: &str, word: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/chat/search?q={word}&limit=50");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = check(api.get(url).send().await).await?;
        for hit in page["results"].as_array().ok_or("no results")? {
            ids.push(hit["messageId"].as_str().ok_or("no messageId")?.to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(ids),
        }
    }
}

/// Search ranks the newest 1,000 hits of a query (`store::sqlite::search::CANDIDATES`).
const RANKED_HITS: usize = 1_000;

/// Pages through the search for each of `words` and compares every hit with the messages the
/// word was planted in: all of them, or for a word in more messages than search ranks, that
/// many, each one planted.
async fn find_all_planted(
    api: &reqwest::Client,
    base: &str,
    words: &[(&String, &HashSet<String>)],
) -> Result<(), String> {
    for (word, expected) in words {
        let found: HashSet<String> = search_all(api, base, word).await?.into_iter().collect();
        let right = if expected.len() > RANKED_HITS {
            found.len() == RANKED_HITS && found.is_subset(expected)
        } else {
            &&found == expected
        };
        if !right {
            return Err(format!(
                "search for {word}: {} hits, {} planted, {} in common",
                found.len(),
                expected.len(),
                found.intersection(expected).count()
            ));
        }
    }
    Ok(())
}

pub async fn run(options: &Options) -> Result<(), String> {
    let server = start_server(options)?;
    let base = server.url.clone();
    wait_for(&server).await?;
    let seeded = Instant::now();
    let (accounts, planted, messages) = seed(&base, options).await?;
    let seed_seconds = seeded.elapsed().as_secs_f64();
    eprintln!(
        "seeded {messages} messages of {} accounts in {seed_seconds:.1}s",
        accounts.len()
    );
    let heavy = &accounts[0];
    let api = &heavy.api;
    let samples = options.samples;
    let mut rows = Vec::new();

    // Search, the heaviest account: every answer checked against what was planted.
    let rare: Vec<(&String, &HashSet<String>)> = planted.rare.iter().collect();
    find_all_planted(api, &base, &rare).await?;
    let (p50, p99) = measure(samples, |i| {
        let (word, expected) = rare[i % rare.len()];
        let url = format!("{base}/api/chat/search?q={word}&limit=20");
        let expected = expected.len();
        async move {
            let page = check(api.get(url).send().await).await?;
            let hits = page["results"].as_array().map_or(0, Vec::len);
            if hits != expected {
                return Err(format!(
                    "search for {word}: {hits} hits, {expected} planted"
                ));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "search, a rare word ({} words, {RARE_PER_HEAVY} hits each, all checked)",
            rare.len()
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    });
    let common: Vec<(&String, &HashSet<String>)> = planted.common.iter().collect();
    find_all_planted(api, &base, &common).await?;
    let (p50, p99) = measure(samples, |i| {
        let (word, expected) = common[i % common.len()];
        let url = format!("{base}/api/chat/search?q={word}&limit=20");
        async move {
            let page = check(api.get(url).send().await).await?;
            let hits = page["results"].as_array().ok_or("no results")?;
            if hits.len() != 20 || page["nextCursor"].is_null() {
                return Err(format!("search for {word}: a page of {} hits", hits.len()));
            }
            for hit in hits {
                let id = hit["messageId"].as_str().unwrap_or_default();
                if !expected.contains(id) {
                    return Err(format!(
                        "search for {word} found {id}, which does not hold it"
                    ));
                }
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "search, a word in 2% of messages ({} words, {} to {} hits each, all checked)",
            common.len(),
            common.iter().map(|(_, s)| s.len()).min().unwrap_or(0),
            common.iter().map(|(_, s)| s.len()).max().unwrap_or(0)
        ),
        p50,
        p99,
        target: "p99 ≤ 50 ms".into(),
    });

    // The conversation view, as the UI reads it (the same service method as its server
    // function): the newest page of the active branch, with sibling counts.
    let long = &planted.long;
    let (p50, p99) = measure(samples, |i| {
        let session = &long[i % long.len()];
        let url = format!("{base}/api/chat/sessions/{}/branch", session.id);
        let leaf = session.leaf.clone();
        async move {
            let page = check(api.get(url).send().await).await?;
            let messages = page["messages"].as_array().ok_or("no messages")?;
            let last = messages.last().and_then(|m| m["id"].as_str());
            if messages.len() != 50 || last != Some(leaf.as_str()) {
                return Err(format!(
                    "the newest page: {} messages, last {last:?}",
                    messages.len()
                ));
            }
            if messages
                .iter()
                .any(|m| m["siblings"]["count"].as_u64().is_none_or(|c| c < 1))
            {
                return Err("a message of the page has no sibling count".into());
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "open a conversation: newest page of the active branch ({} and {} messages)",
            long[0].size, long[1].size
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    });
    // Earlier pages: the cursors of the 40 pages above the newest, asked in a scattered order.
    let mut cursors = Vec::new();
    let mut before: Option<String> = None;
    for _ in 0..40 {
        let mut url = format!("{base}/api/chat/sessions/{}/branch", long[0].id);
        if let Some(cursor) = &before {
            url.push_str(&format!("?before={cursor}"));
        }
        let page = check(api.get(url).send().await).await?;
        match page["earlier"].as_str() {
            Some(cursor) => {
                cursors.push(cursor.to_owned());
                before = Some(cursor.to_owned());
            }
            None => return Err("the long conversation ends after a few pages".into()),
        }
    }
    let (p50, p99) = measure(samples, |i| {
        let cursor = &cursors[(i * 7) % cursors.len()];
        let url = format!(
            "{base}/api/chat/sessions/{}/branch?before={cursor}",
            long[0].id
        );
        async move {
            let page = check(api.get(url).send().await).await?;
            let got = page["messages"].as_array().map_or(0, Vec::len);
            if got != 50 {
                return Err(format!("an earlier page of {got} messages"));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "an earlier page of the {}-message conversation",
            long[0].size
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    });
    // Switching branch: to an abandoned variant and back, at places all along the conversation.
    let switches = &long[0].switches;
    let (p50, p99) = measure(samples, |i| {
        let (abandoned, kept) = &switches[(i / 2 * 37) % switches.len()];
        let target = if i % 2 == 0 { abandoned } else { kept }.clone();
        let url = format!("{base}/api/chat/sessions/{}/branch", long[0].id);
        async move {
            let page = check(
                api.post(url)
                    .json(&json!({"messageId": target}))
                    .send()
                    .await,
            )
            .await
            .map_err(|error| format!("switching to {target}: {error}"))?;
            let messages = page["messages"].as_array().ok_or("no messages")?;
            if !messages
                .iter()
                .any(|m| m["id"].as_str() == Some(target.as_str()))
            {
                return Err(format!(
                    "the page after switching to {target} does not hold it"
                ));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "switch branch in the {}-message conversation ({} branch points)",
            long[0].size,
            switches.len()
        ),
        p50,
        p99,
        target: "p99 ≤ 10 ms".into(),
    });

    // The REST list of a long conversation's latest messages (not what the UI reads: kept to
    // compare with the earlier tables).
    let (p50, p99) = measure(samples, |i| {
        let session = &long[i % long.len()];
        let url = format!("{base}/api/chat/messages?sessionId={}&limit=50", session.id);
        let size = session.size;
        async move {
            let page = check(api.get(url).send().await).await?;
            let got = page["messages"].as_array().map_or(0, Vec::len);
            if got != 50 {
                return Err(format!(
                    "{got} of the latest 50 messages of a {size}-message conversation"
                ));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: format!(
            "REST list, latest 50 messages of the {}- and {}-message conversations ({} branch points)",
            long[0].size,
            long[1].size,
            long.iter().map(|l| l.switches.len()).sum::<usize>()
        ),
        p50,
        p99,
        target: "p99 ≤ 10 ms".into(),
    });

    // Deleting a 20-message conversation, as the sidebar does (restorable for a week).
    let deletes = planted.short.len().min(samples);
    // `measure` warms up on the indexes after the measured ones (up to 50 more): every index
    // must name a conversation of its own, and the first is measured (it is checked below).
    let measured = if deletes >= 100 {
        deletes - 50
    } else {
        deletes / 2
    };
    let (p50, p99) = measure(measured, |i| {
        let url = format!("{base}/api/chat/sessions/{}", planted.short[i]);
        async move {
            let response = api.delete(url).send().await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("delete answered {}", response.status()));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: "delete a 20-message conversation (restorable)".into(),
        p50,
        p99,
        target: "p99 ≤ 10 ms".into(),
    });
    let gone = api
        .get(format!("{base}/api/chat/sessions/{}", planted.short[0]))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status();
    if gone != reqwest::StatusCode::NOT_FOUND {
        return Err(format!("a deleted conversation answers {gone}"));
    }

    // Appends from 16 accounts at once, each into a conversation of its own.
    let (rate, times) =
        appends_under_load(&accounts, &base, options.clients, options.seconds).await?;
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    rows.push(Row {
        what: format!("append while {} clients append", options.clients),
        p50,
        p99,
        target: "p99 ≤ 5 ms and ≤ 3 × p50".into(),
    });

    let rss = rss_kib(&server);
    println!(
        "### What users do, SQLite ({}, {} accounts, {} messages)\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        accounts.len(),
        messages
    );
    print_rows(&rows);
    println!(
        "| appends while {} clients append, {} s | {rate:.0} messages/s | | | |",
        options.clients, options.seconds
    );
    println!(
        "| seeding through POST /api/import | {:.0} messages/s | | | |",
        messages as f64 / seed_seconds
    );
    // What the RSS is made of: the process's own memory (heap, SQLite's page caches) and the
    // pages of the database file it has mapped (`mmap_size`), which the kernel may drop.
    let anonymous = status_kib(&server, "RssAnon:")
        .map_or("?".to_owned(), |kib| format!("{:.0}", kib as f64 / 1024.0));
    let file = status_kib(&server, "RssFile:")
        .map_or("?".to_owned(), |kib| format!("{:.0}", kib as f64 / 1024.0));
    if let Some(rss) = rss {
        let mib = rss as f64 / 1024.0;
        println!(
            "| server memory after the run (RSS; {anonymous} MiB anonymous, {file} MiB mapped files) | {mib:.0} MiB | | ≤ 150 MB | {} |",
            if rss as f64 * 1024.0 <= 150e6 {
                "yes"
            } else {
                "no"
            }
        );
    }
    Ok(())
}

/// Only the appends under load, against a server seeded before (`--url`, with `--users` and
/// `--appends-only`): `clients` new accounts append for `seconds`. Finding where the write
/// tail comes from takes this against a server that logs its writer's slow batches.
pub async fn appends_only(options: &Options) -> Result<(), String> {
    let server = start_server(options)?;
    let base = server.url.clone();
    wait_for(&server).await?;
    let mut accounts = Vec::new();
    for n in 0..=options.clients {
        accounts.push(match options.seeded_by {
            Some(pid) => {
                let email = format!("user-{n}-{pid}@example.com");
                let (user, api) = sign_in(&base, &email).await?;
                Account {
                    id: user["user"]["id"].as_str().unwrap_or_default().to_owned(),
                    api,
                }
            }
            None => account(&base, 1_000 + n).await?,
        });
    }
    let (rate, times) =
        appends_under_load(&accounts, &base, options.clients, options.seconds).await?;
    let at = |p: f64| percentile(&times, p);
    println!(
        "{} appends by {} clients in {} s: {rate:.0}/s; p50 {:.2} ms, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        times.len(),
        options.clients,
        options.seconds,
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        at(1.0),
    );
    Ok(())
}

/// `clients` accounts append to a conversation each for `seconds`; every request is timed.
/// Returns messages/s and every request's time, sorted.
async fn appends_under_load(
    accounts: &[Account],
    base: &str,
    clients: usize,
    seconds: u64,
) -> Result<(f64, Vec<Duration>), String> {
    let failed = Arc::new(AtomicU64::new(0));
    let mut sessions = Vec::new();
    for n in 0..clients {
        let account = &accounts[1 + n % (accounts.len() - 1)];
        let session = check(
            account
                .api
                .post(format!("{base}/api/chat/sessions"))
                .json(&json!({"title": format!("load {n}")}))
                .send()
                .await,
        )
        .await?;
        let id = session["id"].as_str().ok_or("no id")?.to_owned();
        sessions.push((account.api.clone(), id));
    }
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (api, session) in sessions {
        let url = format!("{base}/api/chat/messages");
        let failed = Arc::clone(&failed);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut n = 0u64;
            while started.elapsed() < duration {
                n += 1;
                let body = json!({"sessionId": session, "role": "user",
                    "content": format!("load message {n} with a little text to index")});
                let sent = Instant::now();
                match api.post(&url).json(&body).send().await {
                    Ok(response) if response.status().is_success() => times.push(sent.elapsed()),
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.map_err(|error| error.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!("{failures} appends failed under load"));
    }
    times.sort();
    Ok((times.len() as f64 / elapsed, times))
}
