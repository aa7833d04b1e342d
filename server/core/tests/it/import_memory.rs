//! The memory an import takes, counted by the allocator of this test binary: a file read a piece
//! at a time never holds the file, or a parse tree of it, whole. The counters are the whole
//! process's, and this binary runs other tests beside: each test here measures in a process of
//! its own (`alone`), the binary run again with that test only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use confab_testdata::ChildProcess;

use crate::import_support::*;

/// The system allocator, counting the bytes allocated now and at most.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call goes to the system allocator unchanged; only counters are kept beside.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Set in the process that measures (see `alone`).
const ALONE: &str = "CONFAB_MEASURE_ALONE";

/// Whether this process is the one to measure in. If not, runs the test `name` (its path in
/// this binary) in a new process of this binary, alone, and fails if it fails there.
async fn alone(name: &str) -> bool {
    if std::env::var_os(ALONE).is_some() {
        return true;
    }
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, "1");
    let output = ChildProcess::spawn("the test binary", command, "")
        .finish(Duration::from_secs(600))
        .await;
    assert!(
        output.status.success() && output.stdout.contains("1 passed"),
        "{name}, measured alone, failed ({}):\n{}\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    print!("{}", output.stdout);
    false
}

/// The most bytes allocated at once while `work` ran, beyond what was allocated before.
async fn peak_of<T>(work: impl std::future::Future<Output = T>) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = work.await;
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

/// A LibreChat export (`recursive`: each reply inside its parent's `children`) of `count`
/// messages, in LibreChat's key order. Each message carries, like real ones, more than its
/// text: here `attached` files, which are not imported. Written by hand: the nesting is far
/// deeper than serde_json writes. Returns the file and the bytes of text it holds.
fn librechat_file(count: usize, attached: usize) -> (Vec<u8>, usize) {
    let mut text = String::from(
        r#"{"conversationId":"memory-1","endpoint":"openAI","title":"A long one","exportAt":"10:00:00 GMT+0000","branches":true,"recursive":true,"options":{"model":"gpt-4o","endpoint":"openAI"},"messagesTree":["#,
    );
    let files: Vec<String> = (0..attached)
        .map(|file| {
            format!(
                r#"{{"file_id":"file-{file:04}-6c1d9a3e-2b7f-4c1e-9d4a-0f3b5e7a9c21","filename":"attachment-{file}.png","filepath":"/images/6530b9e4c2f1/attachment-{file}.png","type":"image/png","width":1024,"height":768,"bytes":183422,"embedded":false,"usage":1}}"#
            )
        })
        .collect();
    let files = format!("[{}]", files.join(","));
    let mut text_bytes = 0;
    for i in 0..count {
        let parent = match i {
            0 => "00000000-0000-0000-0000-000000000000".to_owned(),
            _ => format!("m{}", i - 1),
        };
        let body = format!("Message {i}: {}", "lorem ipsum dolor sit amet ".repeat(15));
        text_bytes += body.len();
        text.push_str(&format!(
            r#"{{"messageId":"m{i}","parentMessageId":"{parent}","conversationId":"memory-1","sender":"{}","isCreatedByUser":{},"text":"{body}","createdAt":"2025-05-01T{:02}:{:02}:{:02}.000Z","error":false,"unfinished":false,"files":{files},"children":["#,
            if i % 2 == 0 { "User" } else { "GPT-4o" },
            i % 2 == 0,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        ));
    }
    for _ in 0..count {
        text.push_str("]}");
    }
    text.push_str("]}");
    (text.into_bytes(), text_bytes)
}

/// Imports a LibreChat file into a fresh account and checks that every message arrived.
/// Returns the file's size and the most bytes allocated at once.
async fn import_librechat(count: usize, attached: usize) -> (usize, usize) {
    let account = account().await;
    let (file, text_bytes) = librechat_file(count, attached);
    let file_bytes = file.len();
    let (report, peak) = peak_of(account.services.import_reader(
        &account.user,
        Cursor::new(file),
        |_| {},
    ))
    .await;
    let report = report.expect("import");
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, count));
    let session = account.session("A long one").await;
    let messages = account.messages(&session).await;
    assert_eq!(active_branch(&session, &messages).len(), count);
    println!(
        "LibreChat file of {file_bytes} bytes ({text_bytes} of text): at most {peak} bytes allocated at once"
    );
    (file_bytes, peak)
}

#[tokio::test]
async fn a_long_librechat_conversation_is_read_a_message_at_a_time() {
    if !alone("import_memory::a_long_librechat_conversation_is_read_a_message_at_a_time").await {
        return;
    }
    // The same conversation twice, the second file three times as large with attachments
    // nobody imports.
    let (small_file, small_peak) = import_librechat(2_000, 12).await;
    let (large_file, large_peak) = import_librechat(2_000, 36).await;
    assert!(large_file > 2 * small_file);
    // The file is never held whole (read whole, it would take at least its size, and its
    // parse tree several times more): what is held is the conversation's text and its
    // messages, which the attachments do not change.
    assert!(
        small_peak < small_file,
        "{small_peak} bytes allocated at once for a file of {small_file} bytes"
    );
    assert!(
        large_peak < small_peak + small_peak / 10,
        "{large_peak} bytes allocated at once for a file of {large_file} bytes, {small_peak} for {small_file}"
    );
}
