//! The import page's path: a file uploaded as bytes (a ZIP stays a ZIP), followed while it runs
//! at `GET /api/import/progress/{id}`, ending in the same report the upload answers.

use std::io::Write;
use std::time::Duration;

use crate::support::{error_code, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A ChatGPT conversation in today's shape: a chain of `count` messages under a hidden root.
fn chatgpt_conversation(id: &str, count: usize) -> Value {
    confab_testdata::ChatGptConversation {
        id,
        title: &format!("Conversation {id}"),
        start: 1_750_000_000.0,
        messages: count,
        seconds_apart: 1.0,
    }
    .to_json(|i| format!("{id} message {i}"))
}

fn conversations(count: usize, messages_each: usize) -> Vec<Value> {
    (0..count)
        .map(|i| chatgpt_conversation(&format!("c{i:05}"), messages_each))
        .collect()
}

async fn progress(client: &crate::support::Client_, id: &str) -> Value {
    client.get_json(&format!("/api/import/progress/{id}")).await
}

#[tokio::test]
async fn an_import_is_followed_while_it_runs_and_ends_with_its_report() {
    let app = TestApp::spawn_with(|config| config.max_import_bytes = 64 << 20).await;
    let alice = app.user("alice@example.com").await;
    // 1,500 conversations of 4 messages: 6,000 messages, several batches of the pipeline.
    let file = serde_json::to_vec(&conversations(1_500, 4)).expect("json");
    let half = file.len() / 2;
    let (first, rest) = (file[..half].to_vec(), file[half..].to_vec());

    // The body arrives in two parts; the second waits until the progress has moved.
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let chunks = futures::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|chunk| (chunk, receive))
    });
    let body = reqwest::Body::wrap_stream(chunks);
    let upload = {
        let request = alice
            .request(Method::POST, "/api/import?progress=page-42")
            .header("content-type", "application/octet-stream")
            .body(body);
        tokio::spawn(async move { request.send().await })
    };
    send.send(Ok(first)).await.expect("first half");

    let mut running = Value::Null;
    // Until the first batch is stored: seconds in a debug build, more on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let response = alice.get("/api/import/progress/page-42").await;
        if response.status() == StatusCode::OK {
            running = response.json().await.expect("json");
            if running["messages"].as_u64().unwrap_or(0) > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(running["state"], "running", "{running}");
    let stored = running["messages"].as_u64().expect("messages");
    assert!(
        (2_000..6_000).contains(&stored) && stored.is_multiple_of(4),
        "whole conversations of the first half are stored: {running}"
    );
    assert_eq!(running["conversations"].as_u64(), Some(stored / 4));
    let read = running["bytesRead"].as_u64().expect("bytesRead");
    assert!(
        read > 0 && read <= half as u64,
        "only the first half was sent: {read} of {half}"
    );
    assert_eq!(running["skipped"], 0);
    assert!(running.get("report").is_none(), "{running}");

    // Another user does not see it; an id in the wrong shape is refused.
    let bob = app.user("bob@example.com").await;
    assert_eq!(
        error_code(bob.get("/api/import/progress/page-42").await).await,
        "not_found"
    );
    assert_eq!(
        error_code(alice.get("/api/import/progress/bad%20id").await).await,
        "invalid_progress_id"
    );
    // The same id cannot start a second import while the first runs.
    let twice = alice
        .request(Method::POST, "/api/import?progress=page-42")
        .body("[]")
        .send()
        .await
        .expect("request");
    assert_eq!(twice.status(), StatusCode::CONFLICT);

    send.send(Ok(rest)).await.expect("second half");
    drop(send);
    let answer = upload.await.expect("task").expect("response");
    assert_eq!(answer.status(), StatusCode::OK);
    let report: Value = answer.json().await.expect("report");
    assert_eq!(
        report,
        json!({"sessions": 1_500, "messages": 6_000, "skipped": 0, "errors": []})
    );

    let done = progress(&alice, "page-42").await;
    assert_eq!(
        done,
        json!({
            "state": "done",
            "conversations": 1_500,
            "messages": 6_000,
            "skipped": 0,
            "bytesRead": file.len(),
            "report": report,
        })
    );
}

#[tokio::test]
async fn a_zip_uploaded_as_bytes_imports_and_a_failed_import_says_why() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    // The ChatGPT download: a ZIP holding conversations.json, with one broken conversation.
    let mut listed = conversations(2, 2);
    listed.push(json!({"id": "broken", "title": "Broken one", "mapping": 7}));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "conversations.json",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("zip entry");
    zip.write_all(&serde_json::to_vec(&listed).expect("json"))
        .expect("zip write");
    let bytes = zip.finish().expect("zip").into_inner();

    let answer = alice
        .request(Method::POST, "/api/import?progress=zip-1")
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::OK);
    let report: Value = answer.json().await.expect("report");
    assert_eq!(report["sessions"], 2, "{report}");
    assert_eq!(report["messages"], 4, "{report}");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["title"], "Broken one");
    let done = progress(&alice, "zip-1").await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["report"], report);
    assert_eq!(done["bytesRead"].as_u64(), Some(bytes.len() as u64));

    // A file that is not an export fails, and its progress says so with the same error.
    let answer = alice
        .request(Method::POST, "/api/import?progress=junk-1")
        .body("this is not an export")
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = answer.json().await.expect("error body");
    let failed = progress(&alice, "junk-1").await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"]["code"], error["error"]["code"]);
    assert_eq!(failed["error"]["message"], error["error"]["message"]);
}

#[tokio::test]
/// Whatever ends the request, the progress entry ends too (never `running` for ever): here the
/// body breaks off, and what was read is kept and reported, the rest named as not read.
async fn an_upload_that_breaks_off_ends_its_progress_with_what_was_imported() {
    let app = TestApp::spawn_with(|config| config.max_import_bytes = 64 << 20).await;
    let alice = app.user("alice@example.com").await;
    let file = serde_json::to_vec(&conversations(10, 2)).expect("json");
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let chunks = futures::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|chunk| (chunk, receive))
    });
    let upload = {
        let request = alice
            .request(Method::POST, "/api/import?progress=gone-1")
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(chunks));
        tokio::spawn(async move { request.send().await })
    };
    send.send(Ok(file[..file.len() / 2].to_vec()))
        .await
        .expect("first half");
    let mut running = Value::Null;
    for _ in 0..200 {
        let response = alice.get("/api/import/progress/gone-1").await;
        if response.status() == StatusCode::OK {
            running = response.json().await.expect("json");
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(running["state"], "running", "{running}");

    // The client goes away in the middle of its upload.
    upload.abort();
    drop(send);
    let mut ended = Value::Null;
    for _ in 0..200 {
        ended = progress(&alice, "gone-1").await;
        if ended["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(ended["state"], "done", "{ended}");
    let report = &ended["report"];
    assert_eq!(
        (&report["sessions"], &report["messages"], &report["skipped"]),
        (&json!(5), &json!(10), &json!(0)),
        "{ended}"
    );
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{ended}");
    assert_eq!(errors[0]["title"], "Rest of the file");
    let reason = errors[0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("the file is not valid JSON: "),
        "{reason}"
    );
}
