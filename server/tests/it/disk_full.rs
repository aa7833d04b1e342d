//! A full disk, through the real server: appends answer 507 `storage_full` and store nothing,
//! every acknowledged message stays exactly as it was, `/api/health` reports a store that
//! cannot write, and once space returns writes work again without a restart, on a database
//! that passes SQLite's integrity check.
//!
//! Two ways to fill the disk, and each run says which one it used:
//! - tmpfs: a real 4 MiB filesystem mounted for the test (needs root and a sandbox that lets
//!   it mount), filled by a file that is deleted again to free space;
//! - max_page_count: the database capped a little above its current size, which makes SQLite
//!   answer SQLITE_FULL exactly as on a full disk; raising the cap frees space.
//!
//! Either way about 1 MiB is left free, and messages are appended until the disk refuses one.
//!
//! The first test uses tmpfs where mounting works and max_page_count where it does not; the
//! second always uses max_page_count, so both paths run wherever mounting works.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use crate::support::{Client_, TestApp};
use confab_core::service::error::STORAGE_FULL_MESSAGE;
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::DynStore;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// Free space left when the disk is filled, for the appends to use up.
const ROOM: u64 = 1024 * 1024;
/// Content of the big appends: near the 256 KiB limit on a message.
const BIG: usize = 200_000;
/// Content of the appends that use up what room is left: less than the 64 KiB the health
/// check's probe writes, so that once these fail the probe fails too.
const MEDIUM: usize = 24_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Filling {
    Tmpfs,
    MaxPageCount,
}

/// The data directory, on a small disk that the test fills and frees.
struct SmallDisk {
    dir: tempfile::TempDir,
    filling: Filling,
    store: Arc<SqliteStore>,
}

impl SmallDisk {
    /// A tmpfs if one can be mounted, else a directory whose database gets a size cap.
    fn tmpfs_or_capped() -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => {
                eprintln!("disk_full: using tmpfs (4 MiB at {})", dir.path().display());
                SmallDisk::open(dir, Filling::Tmpfs)
            }
            Ok(output) => {
                eprintln!(
                    "disk_full: mounting a tmpfs was refused ({}): using max_page_count",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                SmallDisk::open(dir, Filling::MaxPageCount)
            }
            Err(error) => {
                eprintln!("disk_full: cannot run mount ({error}): using max_page_count");
                SmallDisk::open(dir, Filling::MaxPageCount)
            }
        }
    }

    fn capped() -> SmallDisk {
        eprintln!("disk_full: using max_page_count");
        SmallDisk::open(
            tempfile::tempdir().expect("temp dir"),
            Filling::MaxPageCount,
        )
    }

    fn open(dir: tempfile::TempDir, filling: Filling) -> SmallDisk {
        let store = SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db")))
            .expect("open the store");
        SmallDisk {
            dir,
            filling,
            store: Arc::new(store),
        }
    }

    fn filler(&self) -> PathBuf {
        self.dir.path().join("filler")
    }

    /// Leaves about `room` bytes free, for the appends that follow to use up (with whatever
    /// room the database has inside its files).
    async fn fill(&self, room: u64) {
        match self.filling {
            Filling::Tmpfs => {
                let mut file = std::fs::File::create(self.filler()).expect("create the filler");
                let block = vec![0xA5_u8; 64 * 1024];
                loop {
                    match file.write_all(&block) {
                        Ok(()) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::StorageFull => break,
                        Err(error) => panic!("writing the filler: {error}"),
                    }
                }
                let full = file.metadata().expect("filler size").len();
                // Shortening a file on tmpfs gives its pages back.
                file.set_len(full.saturating_sub(room))
                    .expect("shorten the filler");
                eprintln!("disk_full: the filler takes {} KiB", (full - room) / 1024);
            }
            Filling::MaxPageCount => {
                // SQLite keeps the cap at least at the database's size: 1 means "as it is".
                let pages = self
                    .store
                    .set_max_page_count(1)
                    .await
                    .expect("cap the database");
                let cap = self
                    .store
                    .set_max_page_count(pages + room / 4096)
                    .await
                    .expect("cap the database");
                eprintln!("disk_full: the database ({pages} pages) is capped at {cap} pages");
            }
        }
    }

    async fn free(&self) {
        match self.filling {
            Filling::Tmpfs => std::fs::remove_file(self.filler()).expect("delete the filler"),
            Filling::MaxPageCount => {
                let cap = self
                    .store
                    .set_max_page_count(1 << 30)
                    .await
                    .expect("raise the cap");
                assert_eq!(cap, 1 << 30);
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.filling == Filling::Tmpfs {
            // Lazily: the store's threads may still hold their files for a moment.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Distinct content of about `bytes` bytes, in words (the full-text index grows as it would).
fn content(bytes: usize, number: usize) -> String {
    let mut text = format!("message {number}:");
    while text.len() < bytes {
        text.push_str(" the quick brown fox jumps over the lazy dog");
    }
    text
}

async fn append(client: &Client_, session_id: Option<&str>, content: &str) -> Response {
    let mut body = json!({ "role": "user", "content": content });
    if let Some(session_id) = session_id {
        body["sessionId"] = json!(session_id);
    }
    client.post("/api/chat/messages", body).await
}

async fn assert_storage_full(response: Response, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::INSUFFICIENT_STORAGE,
        "{what}"
    );
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(
        body,
        json!({ "error": { "code": "storage_full", "message": STORAGE_FULL_MESSAGE } }),
        "{what}"
    );
}

/// Appends messages of `bytes` until the disk refuses one (507), noting each acknowledged one.
async fn append_until_full(
    client: &Client_,
    session_id: &str,
    bytes: usize,
    attempts: usize,
    acknowledged: &mut Vec<(String, String)>,
) {
    for attempt in 0..attempts {
        let text = content(bytes, acknowledged.len());
        let response = append(client, Some(session_id), &text).await;
        match response.status() {
            StatusCode::CREATED => {
                let body: Value = response.json().await.expect("json");
                let id = body["message"]["id"]
                    .as_str()
                    .expect("message id")
                    .to_owned();
                acknowledged.push((id, text));
            }
            StatusCode::INSUFFICIENT_STORAGE => {
                eprintln!("disk_full: full after {attempt} appends of {bytes} bytes");
                return assert_storage_full(response, "the append that found the disk full").await;
            }
            other => panic!(
                "append of {bytes} bytes: {other} {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    panic!("{attempts} appends of {bytes} bytes all succeeded: the disk never filled");
}

/// The session holds exactly the acknowledged messages, with their exact content, and ends
/// with the last of them.
async fn assert_all_there(client: &Client_, session_id: &str, acknowledged: &[(String, String)]) {
    let page: Value = client
        .request(Method::GET, "/api/chat/messages")
        .query(&[("sessionId", session_id), ("limit", "200")])
        .send()
        .await
        .and_then(Response::error_for_status)
        .expect("the messages")
        .json()
        .await
        .expect("json");
    assert_eq!(page["nextCursor"], Value::Null);
    let mut stored: Vec<(String, String)> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| {
            (
                message["id"].as_str().expect("id").to_owned(),
                message["content"].as_str().expect("content").to_owned(),
            )
        })
        .collect();
    // Ids grow with time (UUIDv7), so sorted ids are the order of the appends.
    stored.sort();
    let ids = |messages: &[(String, String)]| -> Vec<String> {
        messages.iter().map(|(id, _)| id.clone()).collect()
    };
    assert_eq!(ids(&stored), ids(acknowledged));
    for ((id, stored), (_, sent)) in stored.iter().zip(acknowledged) {
        // Not assert_eq: the texts run to 200 KB.
        assert!(stored == sent, "the content of message {id} changed");
    }

    let session: Value = client
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(session["messageCount"], json!(acknowledged.len()));
    assert_eq!(
        session["activeLeafId"],
        json!(acknowledged.last().map(|(id, _)| id))
    );
}

async fn assert_health(client: &Client_, status: StatusCode, body: Value) {
    let response = client.get("/api/health").await;
    assert_eq!(response.status(), status);
    assert_eq!(response.json::<Value>().await.expect("json"), body);
}

async fn full_disk_story(disk: SmallDisk) {
    let store: DynStore = disk.store.clone();
    let data_dir = disk.dir.path().to_owned();
    let mut app = TestApp::spawn_with_store(store, move |config| {
        config.data_dir = data_dir;
        // Room for messages near the 256 KiB content limit.
        config.max_body_bytes = 1024 * 1024;
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let session = ada.session("Before the disk filled").await;
    let session_id = session["id"].as_str().expect("session id").to_owned();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for text in [
        "first, while there is room",
        "zweite Nachricht: äöü ß",
        "third 🚀",
    ] {
        let body = ada.message(Some(&session_id), "user", text).await;
        let id = body["message"]["id"].as_str().expect("id").to_owned();
        acknowledged.push((id, text.to_owned()));
    }
    assert_health(&ada, StatusCode::OK, json!({ "status": "ok" })).await;

    disk.fill(ROOM).await;
    append_until_full(&ada, &session_id, BIG, 64, &mut acknowledged).await;
    append_until_full(&ada, &session_id, MEDIUM, 256, &mut acknowledged).await;
    // A refusal does not always leave no room for the next write of the same size: one that
    // needed extra pages (the full-text index merging its segments) can be refused where the
    // next fits. Seen once on a loaded machine (the next append was 201); filling until the
    // refusal comes again leaves none.
    append_until_full(&ada, &session_id, MEDIUM, 256, &mut acknowledged).await;

    // Full: every append is refused whole, with the coded error, over and over (the writer
    // survives each failed commit).
    for attempt in 0..3 {
        let text = content(MEDIUM, 10_000 + attempt);
        let response = append(&ada, Some(&session_id), &text).await;
        assert_storage_full(response, "an append while the disk is full").await;
    }
    // A first message that would create a session: refused, and no empty session is left.
    let response = append(&ada, None, &content(MEDIUM, 20_000)).await;
    assert_storage_full(response, "a new conversation while the disk is full").await;
    let sessions: Value = ada
        .get("/api/chat/sessions")
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| session["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![session_id.as_str()]);
    assert_health(
        &ada,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "status": "degraded",
            "store": "cannot write: storage full",
            "error": { "code": "storage_full", "message": STORAGE_FULL_MESSAGE },
        }),
    )
    .await;
    assert_all_there(&ada, &session_id, &acknowledged).await;

    // Space returns: writes work again in the same process, and health says so.
    disk.free().await;
    assert_health(&ada, StatusCode::OK, json!({ "status": "ok" })).await;
    for text in [
        content(BIG, 30_000),
        "after the disk had room again".to_owned(),
    ] {
        let body = ada.message(Some(&session_id), "user", &text).await;
        let id = body["message"]["id"].as_str().expect("id").to_owned();
        acknowledged.push((id, text));
    }
    assert_health(&ada, StatusCode::OK, json!({ "status": "ok" })).await;
    assert_all_there(&ada, &session_id, &acknowledged).await;

    app.shut_down().await;
    assert_eq!(
        disk.store.integrity_check().await.expect("integrity check"),
        vec!["ok".to_owned()]
    );
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_keeps_every_message_and_recovers() {
    full_disk_story(SmallDisk::tmpfs_or_capped()).await;
}

#[tokio::test]
async fn a_database_at_its_size_cap_behaves_as_a_full_disk() {
    full_disk_story(SmallDisk::capped()).await;
}
