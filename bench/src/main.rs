//! Benchmarks a release build of Confab over HTTP: seeds a realistic dataset through the API
//! (import and messages), then measures latency percentiles of the hot requests, sustained
//! appends with concurrent clients, memory and database size. Prints a Markdown table.

mod folders;
mod imports;
mod text;
mod users;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use crate::text::{TextGenerator, MODELS, TYPES};

const RARE_WORD: &str = "zanzibarite";
const COMMON_WORD: &str = "quantum";

#[derive(Parser, Debug)]
#[command(about = "Benchmark a running Confab over HTTP")]
struct Options {
    /// The confab binary to start (with a fresh data directory) ...
    #[arg(long, default_value = "target/release/confab")]
    server: PathBuf,
    /// ... or the URL of a Confab that is already running.
    #[arg(long)]
    url: Option<String>,
    /// Extra environment for the started server, e.g. CONFAB_DATABASE_URL=mongodb://...
    #[arg(long = "server-env")]
    server_env: Vec<String>,
    /// Sessions to create.
    #[arg(long, default_value_t = 15_000)]
    sessions: usize,
    /// Messages in all (one session gets `long_session` of them).
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 10_000)]
    long_session: usize,
    /// Requests per latency measurement.
    #[arg(long, default_value_t = 1_000)]
    samples: usize,
    /// Concurrent clients for the sustained append test, and its duration in seconds.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A label for the table (e.g. "SQLite").
    #[arg(long, default_value = "SQLite")]
    label: String,
    /// The target of "append one message": its p99 at most this many milliseconds (the
    /// MongoDB benchmark, bench/run-mongodb, has its own).
    #[arg(long, default_value_t = 5.0)]
    append_p99_ms: f64,
    /// The target of the sustained appends, in messages per second.
    #[arg(long, default_value_t = 5_000.0)]
    appends_target: f64,
    /// At most this many seconds for each latency row (warm-up included): a row stops
    /// sampling there, with at least one sample, and says how many it took. For a store that
    /// answers in seconds (FerretDB); unlimited when not given.
    #[arg(long)]
    row_seconds: Option<u64>,
    /// Measure imports instead: restoring a Confab backup and importing a sharded ChatGPT ZIP,
    /// each into a fresh server.
    #[arg(long)]
    imports: bool,
    /// Size of the Confab backup restored by `--imports`, in MB (10^6 bytes).
    #[arg(long, default_value_t = 500)]
    backup_mb: usize,
    /// Measure what users do instead, with this many accounts sharing the store (see
    /// `users.rs`; `--messages` is the total, `--samples` the requests per measurement).
    #[arg(long)]
    users: Option<usize>,
    /// With `--users` and `--url`: only the appends under load, on what the server holds.
    #[arg(long)]
    appends_only: bool,
    /// With `--appends-only`: append as the accounts an earlier run (of this process id)
    /// seeded, as the full run does, instead of new ones.
    #[arg(long)]
    seeded_by: Option<u32>,
    /// Messages in the ChatGPT ZIP imported by `--imports`.
    #[arg(long, default_value_t = 100_000)]
    zip_messages: usize,
}

struct Server {
    child: Option<Child>,
    url: String,
    _data: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(data) = &self._data {
            let _ = std::fs::remove_dir_all(data);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or(3999)
}

fn start_server(options: &Options) -> Result<Server, String> {
    if let Some(url) = &options.url {
        return Ok(Server {
            child: None,
            url: url.trim_end_matches('/').to_owned(),
            _data: None,
        });
    }
    let port = free_port();
    let data = std::env::temp_dir().join(format!("confab-bench-{}", std::process::id()));
    let mut command = Command::new(&options.server);
    command
        .arg("serve")
        .env("CONFAB_ADDR", format!("127.0.0.1:{port}"))
        .env("CONFAB_DATA_DIR", &data)
        .env("CONFAB_LOG", "warn")
        // The benchmark signs up all its accounts from one address.
        .env("CONFAB_SIGNUP_ATTEMPTS", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for pair in &options.server_env {
        if let Some((key, value)) = pair.split_once('=') {
            command.env(key, value);
        }
    }
    let child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", options.server.display()))?;
    Ok(Server {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}"),
        _data: Some(data),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

struct Row {
    what: String,
    p50: f64,
    p99: f64,
    target: String,
}

/// Prints the table's header and `rows`; a row meets its target when its p99 is at most the
/// number in it ("p99 ≤ 5 ms"), and at most 3 × its p50 when the target says so.
fn print_rows(rows: &[Row]) {
    println!("| measurement | p50 (ms) | p99 (ms) | target | met |");
    println!("|---|---:|---:|---|---|");
    for row in rows {
        let limit: f64 = row
            .target
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::MAX);
        let met = row.p99 <= limit && (!row.target.contains("× p50") || row.p99 <= 3.0 * row.p50);
        println!(
            "| {} | {:.2} | {:.2} | {} | {} |",
            row.what,
            row.p50,
            row.p99,
            row.target,
            if met { "yes" } else { "no" }
        );
    }
}

async fn measure<F, Fut>(samples: usize, request: F) -> Result<(f64, f64), String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    measure_within(samples, None, request)
        .await
        .map(|(p50, p99, _)| (p50, p99))
}

/// `measure` in at most `budget` (when given): the warm-up stops after a fifth of it, the
/// samples when it is spent, each after at least one request. Also returns the samples taken.
async fn measure_within<F, Fut>(
    samples: usize,
    budget: Option<Duration>,
    mut request: F,
) -> Result<(f64, f64, usize), String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let spent =
        |share: f64| budget.is_some_and(|budget| started.elapsed() >= budget.mul_f64(share));
    // Warm up caches and connections first; they are not what we measure. The warm-up takes
    // the indexes after the measured ones: a request may use its index only once (a delete).
    for i in samples..samples + samples.min(50) {
        request(i).await?;
        if spent(0.2) {
            break;
        }
    }
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let sent = Instant::now();
        request(i).await?;
        times.push(sent.elapsed());
        if spent(1.0) {
            break;
        }
    }
    times.sort();
    Ok((
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times.len(),
    ))
}

/// A row's name, with the samples it took when a time budget cut them short.
fn sampled(what: String, taken: usize, samples: usize) -> String {
    if taken < samples {
        format!("{what} ({taken} samples in the time allowed)")
    } else {
        what
    }
}

async fn check(response: Result<reqwest::Response, reqwest::Error>) -> Result<Value, String> {
    let response = response.map_err(|error| error.to_string())?;
    let status = response.status();
    // The path says which measurement failed.
    let path = response.url().path().to_owned();
    let body = response.text().await.map_err(|error| error.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status} from {path}: {}",
            body.chars().take(300).collect::<String>()
        ));
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn rss_kib(server: &Server) -> Option<u64> {
    status_kib(server, "VmRSS:")
}

/// A memory figure of the started server from `/proc/PID/status` (Linux only), in KiB:
/// `VmRSS:` now, `VmHWM:` the most it ever held.
fn status_kib(server: &Server, field: &str) -> Option<u64> {
    let pid = server.child.as_ref()?.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    if let Err(error) = run(options).await {
        eprintln!("bench: {error}");
        std::process::exit(1);
    }
}

/// The id of the first session whose title holds `title`. A filtered page holds the matches
/// among a bounded number of sessions (it may be empty with a cursor), so pages are followed
/// until one holds a match or the cursor ends.
async fn session_titled(api: &reqwest::Client, base: &str, title: &str) -> Result<String, String> {
    let mut cursor: Option<String> = None;
    loop {
        let mut request = api
            .get(format!("{base}/api/chat/sessions"))
            .query(&[("q", title)]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page = check(request.send().await).await?;
        if let Some(id) = page["sessions"][0]["id"].as_str() {
            return Ok(id.to_owned());
        }
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return Err("long session not found".into());
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    if options.imports {
        return imports::run(&options).await;
    }
    if options.users.is_some() && options.appends_only {
        return users::appends_only(&options).await;
    }
    if options.users.is_some() {
        return users::run(&options).await;
    }
    let server = start_server(&options)?;
    let base = server.url.clone();
    let api = connect(&server).await?;

    let seeded = Instant::now();
    let (long_session_title, seed_start) = seed(&api, &base, &options).await?;
    let seed_seconds = seeded.elapsed().as_secs_f64();
    eprintln!("seeded {} messages in {} sessions in {seed_seconds:.1}s ({:.0} messages/s through the import API)", options.messages, options.sessions, options.messages as f64 / seed_seconds);

    let long_id = session_titled(&api, &base, &long_session_title).await?;
    let append_session = check(
        api.post(format!("{base}/api/chat/sessions"))
            .json(&json!({"title": "appends"}))
            .send()
            .await,
    )
    .await?;
    let append_id = append_session["id"]
        .as_str()
        .ok_or("no session id")?
        .to_owned();

    let mut rows = Vec::new();
    let samples = options.samples;
    let budget = options.row_seconds.map(Duration::from_secs);
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let api = api.clone();
        let url = format!("{base}/api/chat/sessions");
        async move { check(api.get(url).send().await).await.map(|_| ()) }
    })
    .await?;
    rows.push(Row {
        what: sampled(
            format!("first page of sessions ({} sessions)", options.sessions),
            taken,
            samples,
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    });
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let api = api.clone();
        let url = format!("{base}/api/chat/messages?sessionId={long_id}&limit=50");
        async move { check(api.get(url).send().await).await.map(|_| ()) }
    })
    .await?;
    rows.push(Row {
        what: sampled(
            format!(
                "latest 50 messages of a {}-message session",
                options.long_session
            ),
            taken,
            samples,
        ),
        p50,
        p99,
        target: "p99 ≤ 10 ms".into(),
    });
    let (p50, p99, taken) = measure_within(samples, budget, |i| {
        let api = api.clone();
        let url = format!("{base}/api/chat/messages");
        let body = json!({"sessionId": append_id, "role": "user", "content": format!("append number {i}: a short message about nothing")});
        async move { check(api.post(url).json(&body).send().await).await.map(|_| ()) }
    }).await?;
    rows.push(Row {
        what: sampled("append one message".into(), taken, samples),
        p50,
        p99,
        target: format!("p99 ≤ {} ms", options.append_p99_ms),
    });
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let api = api.clone();
        let url = format!("{base}/api/chat/search?q={RARE_WORD}");
        async move { check(api.get(url).send().await).await.map(|_| ()) }
    })
    .await?;
    rows.push(Row {
        what: sampled(
            format!("search, rare word ({} messages)", options.messages),
            taken,
            samples,
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    });
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let api = api.clone();
        let url = format!("{base}/api/chat/search?q={COMMON_WORD}");
        async move { check(api.get(url).send().await).await.map(|_| ()) }
    })
    .await?;
    rows.push(Row {
        what: sampled("search, word in 2% of messages".into(), taken, samples),
        p50,
        p99,
        target: "p99 ≤ 50 ms".into(),
    });

    // Issue 16's filtered search: the common word, one model, the middle 80% of the sessions'
    // time span and a tag on every other conversation keep about a tenth of its hits (the
    // word is planted in every 50th message, whose model is MODELS[0] or MODELS[2] when it is
    // a reply). Each answer is checked: hits, all replies, all inside the range; and once,
    // before the timing, that each hit's conversation carries the tag.
    let span = chrono::Duration::seconds(options.sessions as i64 * 600);
    let (after, before) = (seed_start + span / 10, seed_start + span * 9 / 10);
    let stamp = |time: chrono::DateTime<chrono::Utc>| {
        time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let filtered = format!(
        "{COMMON_WORD} model:{} after:{} before:{} tag:{BENCH_TAG}",
        MODELS[0],
        stamp(after),
        stamp(before)
    );
    check_tagged_hits(&api, &base, &filtered).await?;
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let request = api
            .get(format!("{base}/api/chat/search"))
            .query(&[("q", filtered.as_str()), ("limit", "20")]);
        async move {
            let page = check(request.send().await).await?;
            let hits = page["results"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                return Err(format!("filtered search: no hits ({page})"));
            }
            for hit in &hits {
                let created = hit["createdAt"]
                    .as_str()
                    .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                    .map(|time| time.with_timezone(&chrono::Utc));
                let inside = created.is_some_and(|time| time >= after && time < before);
                if hit["role"] != "assistant" || !inside {
                    return Err(format!("filtered search: a hit outside the filter: {hit}"));
                }
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: sampled(
            "search, word in 2% of messages, model: + after: + before: + tag: (a tenth of its hits)"
                .into(),
            taken,
            samples,
        ),
        p50,
        p99,
        target: "p99 ≤ 20 ms".into(),
    });

    // Issue 16's bulk action: 1,000 sessions (the newest of the list) archived, then
    // unarchived, in turn, each one request whose answer must name all 1,000 as applied.
    let mut selected = folders::session_ids(&api, &base, Some(1000)).await?;
    selected.truncate(1000);
    let selected = Arc::new(selected);
    let (p50, p99, taken) = measure_within(samples.min(50), budget, |i| {
        let action = if i % 2 == 0 { "archive" } else { "unarchive" };
        let body = json!({ "ids": selected.as_slice(), "action": action });
        let request = api
            .post(format!("{base}/api/chat/sessions/bulk"))
            .json(&body);
        let count = selected.len();
        async move {
            let answer = check(request.send().await).await?;
            let applied = answer["applied"].as_array().map_or(0, Vec::len);
            if applied != count {
                return Err(format!(
                    "bulk {action}: {applied} of {count} applied ({answer})"
                ));
            }
            Ok(())
        }
    })
    .await?;
    rows.push(Row {
        what: sampled(
            format!(
                "bulk archive or unarchive of {} sessions, one request",
                selected.len()
            ),
            taken,
            samples.min(50),
        ),
        p50,
        p99,
        target: "≤ 500 ms".into(),
    });
    // After every row that reads the whole list: filing conversations in folders takes them
    // off the top level.
    rows.push(folders::sidebar_row(&api, &base, samples, budget).await?);

    let rate = sustained_appends(
        &api,
        &base,
        options.clients,
        Duration::from_secs(options.seconds),
    )
    .await?;
    let rss = rss_kib(&server);
    let metrics = api
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|error| error.to_string())?
        .text()
        .await
        .unwrap_or_default();
    let db_bytes = metrics
        .lines()
        .find(|line| line.starts_with("confab_store_size_bytes "))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<f64>().ok());

    println!(
        "### {} ({})\n",
        options.label,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    print_rows(&rows);
    println!(
        "| sustained appends, {} clients, {} s | {:.0} messages/s | | ≥ {}/s | {} |",
        options.clients,
        options.seconds,
        rate,
        thousands(options.appends_target),
        if rate >= options.appends_target {
            "yes"
        } else {
            "no"
        }
    );
    println!(
        "| seeding through POST /api/import | {:.0} messages/s | | | |",
        options.messages as f64 / seed_seconds
    );
    if let Some(rss) = rss {
        println!(
            "| server memory (RSS) | {:.0} MiB | | | |",
            rss as f64 / 1024.0
        );
    }
    if let Some(bytes) = db_bytes {
        println!(
            "| database size | {:.0} MiB | | | |",
            bytes / (1024.0 * 1024.0)
        );
    }
    Ok(())
}

/// A whole number with thousands separated by commas ("5,000").
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 {
        grouped.insert(0, '-');
    }
    grouped
}

/// Waits for the server, signs up and returns a client that sends an API token.
async fn connect(server: &Server) -> Result<reqwest::Client, String> {
    wait_for(server).await?;
    let email = format!("bench-{}@example.com", std::process::id());
    sign_up(&server.url, &email).await.map(|(_, api)| api)
}

/// Waits until the server answers its health check (20 s at most).
async fn wait_for(server: &Server) -> Result<(), String> {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("{}/api/health", server.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the server did not start".into())
}

/// Signs up `email` and creates an API token. Returns the sign-up answer and a client that
/// sends the token (everything after uses it).
async fn sign_up(base: &str, email: &str) -> Result<(Value, reqwest::Client), String> {
    sign_on(base, email, "signup").await
}

/// Signs in to an account created by an earlier run, with an API token of its own.
async fn sign_in(base: &str, email: &str) -> Result<(Value, reqwest::Client), String> {
    sign_on(base, email, "login").await
}

/// `POST /api/auth/{how}` (signup or login) with the benchmark's password, then a token.
async fn sign_on(base: &str, email: &str, how: &str) -> Result<(Value, reqwest::Client), String> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .map_err(|error| error.to_string())?;
    let user = check(
        browser
            .post(format!("{base}/api/auth/{how}"))
            .header("Origin", base)
            .json(&json!({"email": email, "password": "benchmark password"}))
            .send()
            .await,
    )
    .await?;
    let token = check(
        browser
            .post(format!("{base}/api/tokens"))
            .header("Origin", base)
            .json(&json!({"name": "bench"}))
            .send()
            .await,
    )
    .await?;
    let token = token["token"].as_str().ok_or("no token")?.to_owned();
    let api = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .default_headers({
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().map_err(|_| "bad token")?,
            );
            headers
        })
        .build()
        .map_err(|error| error.to_string())?;
    Ok((user, api))
}

/// The tag every other seeded conversation carries.
const BENCH_TAG: &str = "project";

/// Checks once that every hit of the first page of `query` is in a conversation carrying
/// [`BENCH_TAG`] (the timed answers are checked for what a hit itself says).
async fn check_tagged_hits(api: &reqwest::Client, base: &str, query: &str) -> Result<(), String> {
    let request = api
        .get(format!("{base}/api/chat/search"))
        .query(&[("q", query), ("limit", "20")]);
    let page = check(request.send().await).await?;
    let hits = page["results"].as_array().cloned().unwrap_or_default();
    if hits.is_empty() {
        return Err(format!("tagged search: no hits ({page})"));
    }
    for hit in &hits {
        let session_id = hit["sessionId"].as_str().unwrap_or_default();
        let session = check(
            api.get(format!("{base}/api/chat/sessions/{session_id}"))
                .send()
                .await,
        )
        .await?;
        let tagged = session["tags"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|tag| tag == BENCH_TAG));
        if !tagged {
            return Err(format!(
                "tagged search: a hit in an untagged conversation: {hit}"
            ));
        }
    }
    Ok(())
}

/// Creates the sessions and messages through `POST /api/import` in chunks. Returns the title of
/// the long session.
/// Seeds the dataset; returns the long session's title and the time the first session starts
/// (sessions then start every 10 minutes).
async fn seed(
    api: &reqwest::Client,
    base: &str,
    options: &Options,
) -> Result<(String, chrono::DateTime<chrono::Utc>), String> {
    let mut text = TextGenerator::new(0x5eed);
    let long_title = "the-long-session".to_owned();
    let others = options.sessions.saturating_sub(1).max(1);
    let per_session = options.messages.saturating_sub(options.long_session) / others;
    let mut extra = options.messages.saturating_sub(options.long_session) % others;
    let start = chrono::Utc::now() - chrono::Duration::days(365);
    let mut message_number: u64 = 0;
    let mut chunk: Vec<Value> = Vec::new();
    let mut chunk_messages = 0;
    for session_number in 0..options.sessions {
        let (title, count) = if session_number == 0 {
            (long_title.clone(), options.long_session)
        } else {
            let bonus = usize::from(extra > 0);
            extra = extra.saturating_sub(1);
            (
                text.sentence().chars().take(60).collect::<String>(),
                per_session + bonus,
            )
        };
        let created = start + chrono::Duration::seconds(session_number as i64 * 600);
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
            let id = format!("bench-{message_number:09}");
            let assistant = position % 2 == 1;
            messages.push(json!({
                "id": id, "sessionId": format!("s{session_number}"), "parentId": parent,
                "role": if assistant { "assistant" } else { "user" },
                "content": content,
                "type": TYPES[(message_number % TYPES.len() as u64) as usize],
                "model": if assistant { Some(MODELS[(message_number % 4) as usize]) } else { None },
                "promptTokens": if assistant { Some(120) } else { None },
                "completionTokens": if assistant { Some(300) } else { None },
                "latencyMs": null, "status": "complete", "clientId": null,
                "createdAt": (created + chrono::Duration::seconds(position as i64 * 20)).to_rfc3339(),
            }));
            parent = Some(id);
        }
        chunk_messages += messages.len();
        chunk.push(json!({
            "id": format!("s{session_number}"), "title": title, "isActive": true, "pinned": false,
            "archived": false, "messageCount": count, "promptTokens": 0, "completionTokens": 0,
            // Every other conversation carries the tag the filtered search narrows to.
            "tags": if session_number % 2 == 0 { vec![BENCH_TAG] } else { Vec::new() },
            "createdAt": created.to_rfc3339(), "updatedAt": created.to_rfc3339(), "lastMessageAt": null,
            "messages": messages,
        }));
        if chunk_messages >= 20_000 || session_number + 1 == options.sessions {
            let document = json!({ "format": "confab", "version": 1, "exportedAt": chrono::Utc::now().to_rfc3339(), "sessions": std::mem::take(&mut chunk) });
            let report = check(
                api.post(format!("{base}/api/import"))
                    .json(&document)
                    .send()
                    .await,
            )
            .await?;
            if report["errors"]
                .as_array()
                .is_some_and(|errors| !errors.is_empty())
            {
                return Err(format!("import reported errors: {}", report["errors"]));
            }
            chunk_messages = 0;
            eprint!("\rseeded {message_number} messages");
        }
    }
    eprintln!();
    Ok((long_title, start))
}

async fn sustained_appends(
    api: &reqwest::Client,
    base: &str,
    clients: usize,
    duration: Duration,
) -> Result<f64, String> {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut sessions = Vec::new();
    for n in 0..clients {
        let session = check(
            api.post(format!("{base}/api/chat/sessions"))
                .json(&json!({"title": format!("load {n}")}))
                .send()
                .await,
        )
        .await?;
        sessions.push(session["id"].as_str().ok_or("no id")?.to_owned());
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in sessions {
        let (api, url, done, failed) = (
            api.clone(),
            format!("{base}/api/chat/messages"),
            done.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < duration {
                n += 1;
                let body = json!({"sessionId": session, "role": "user", "content": format!("load message {n} with a little text to index")});
                match api.post(&url).json(&body).send().await {
                    Ok(response) if response.status().is_success() => { done.fetch_add(1, Ordering::Relaxed); }
                    _ => { failed.fetch_add(1, Ordering::Relaxed); }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!("{failures} appends failed under load"));
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}
