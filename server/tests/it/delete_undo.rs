//! Deleting a conversation, undoing it, and the purge, through the real server: a delete
//! takes effect on the server at once, Undo (`POST /api/chat/sessions/{id}/restore`) brings
//! back everything exactly, and after the retention time the conversation is gone for good.

use std::time::{Duration, Instant};

use crate::support::{error_code, Client_, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Everything a client can read about one conversation (and the account around it).
#[derive(Debug, PartialEq)]
struct Seen {
    session: Value,
    messages: Value,
    branch: Value,
    siblings: Value,
    search: Value,
    list: Value,
    export: Value,
}

async fn seen(client: &Client_, id: &str, first_message: &str) -> Seen {
    Seen {
        session: client.get_json(&format!("/api/chat/sessions/{id}")).await,
        messages: client
            .get_json(&format!("/api/chat/messages?sessionId={id}&limit=200"))
            .await,
        branch: client
            .get_json(&format!("/api/chat/sessions/{id}/branch"))
            .await,
        siblings: client
            .get_json(&format!("/api/chat/messages/{first_message}/siblings"))
            .await,
        search: client.get_json("/api/chat/search?q=gazpacho").await,
        list: client.get_json("/api/chat/sessions").await,
        export: client
            .get_json(&format!("/api/chat/sessions/{id}/export?format=json"))
            .await
            .get("sessions")
            .cloned()
            .expect("exported sessions"),
    }
}

/// The session id in `field` of each element of the array `items`.
fn session_ids(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item[field].as_str().expect("an id").to_owned())
        .collect()
}

/// A user message sent with a client id (what a tab retries with).
fn question(content: &str, client_id: &str) -> Value {
    json!({ "role": "user", "content": content, "clientId": client_id })
}

/// Posts a message; the answer as it came.
async fn post_message(client: &Client_, body: Value) -> reqwest::Response {
    client.post("/api/chat/messages", body).await
}

/// Posts a message that must be created (201) and returns the answer.
async fn created(client: &Client_, body: Value) -> Value {
    let response = post_message(client, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("json")
}

async fn status_and_code(response: reqwest::Response) -> (StatusCode, String) {
    (response.status(), error_code(response).await)
}

fn not_found() -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, "not_found".to_owned())
}

#[tokio::test]
async fn a_delete_is_immediate_and_undo_brings_everything_back() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;

    let first = created(&ada, question("how do I make gazpacho?", "tab:1")).await;
    let id = first["session"]["id"].as_str().unwrap().to_owned();
    let first_id = first["message"]["id"].as_str().unwrap().to_owned();
    for (content, model) in [
        ("gazpacho: tomatoes, cucumber, bread", "qwen"),
        ("gazpacho, the quick way", "llama"),
    ] {
        created(
            &ada,
            json!({
                "sessionId": id, "role": "assistant", "content": content, "model": model,
                "parentId": first_id, "promptTokens": 11, "completionTokens": 42,
                "type": "explain",
            }),
        )
        .await;
    }
    let renamed = ada
        .put(
            &format!("/api/chat/sessions/{id}"),
            json!({ "title": "Cold soup", "pinned": true }),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let other = ada.message(None, "user", "gazpacho or salmorejo?").await;
    let other_id = other["session"]["id"].as_str().unwrap().to_owned();

    let before = seen(&ada, &id, &first_id).await;
    assert_eq!(before.messages["messages"].as_array().unwrap().len(), 3);
    assert_eq!(before.search["results"].as_array().unwrap().len(), 4);
    assert_eq!(before.list["sessions"].as_array().unwrap().len(), 2);

    let deleted = ada.delete(&format!("/api/chat/sessions/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Gone everywhere, at once.
    for path in [
        format!("/api/chat/sessions/{id}"),
        format!("/api/chat/messages?sessionId={id}"),
        format!("/api/chat/sessions/{id}/branch"),
        format!("/api/chat/messages/{first_id}/siblings"),
        format!("/api/chat/sessions/{id}/export?format=json"),
        format!("/api/chat/sessions/{id}/export?format=markdown"),
    ] {
        assert_eq!(
            status_and_code(ada.get(&path).await).await,
            not_found(),
            "GET {path}"
        );
    }
    let list = ada.get_json("/api/chat/sessions").await;
    assert_eq!(session_ids(&list["sessions"], "id"), vec![other_id.clone()]);
    let search = ada.get_json("/api/chat/search?q=gazpacho").await;
    assert_eq!(
        session_ids(&search["results"], "sessionId"),
        vec![other_id.clone()]
    );
    assert_eq!(search["nextCursor"], Value::Null);
    let account = ada.get_json("/api/export").await;
    assert_eq!(
        session_ids(&account["sessions"], "id"),
        vec![other_id.clone()],
        "the account export leaves it out"
    );
    let append = post_message(
        &ada,
        json!({ "sessionId": id, "role": "user", "content": "still there?" }),
    )
    .await;
    assert_eq!(status_and_code(append).await, not_found());
    let retried = post_message(&ada, question("how do I make gazpacho?", "tab:1")).await;
    assert_eq!(status_and_code(retried).await, not_found());
    let rename = ada
        .put(&format!("/api/chat/sessions/{id}"), json!({ "title": "x" }))
        .await;
    assert_eq!(status_and_code(rename).await, not_found());
    let clear = ada
        .delete(&format!("/api/chat/sessions/{id}/messages"))
        .await;
    assert_eq!(status_and_code(clear).await, not_found());
    let twice = ada.delete(&format!("/api/chat/sessions/{id}")).await;
    assert_eq!(status_and_code(twice).await, not_found());

    // Only a deleted session of one's own can be restored.
    let restore = format!("/api/chat/sessions/{id}/restore");
    assert_eq!(
        status_and_code(bob.post(&restore, json!({})).await).await,
        not_found()
    );
    let live = ada
        .post(&format!("/api/chat/sessions/{other_id}/restore"), json!({}))
        .await;
    assert_eq!(status_and_code(live).await, not_found());
    let unknown = ada
        .post(
            "/api/chat/sessions/0190f3c2-0000-7000-8000-000000000000/restore",
            json!({}),
        )
        .await;
    assert_eq!(status_and_code(unknown).await, not_found());
    let malformed = ada
        .post("/api/chat/sessions/not-an-id/restore", json!({}))
        .await;
    assert_eq!(status_and_code(malformed).await, not_found());
    let signed_out = app.client().post(&restore, json!({})).await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);

    // Undo: the session as it was, and everything else exactly as before.
    let restored = ada.post(&restore, json!({})).await;
    assert_eq!(restored.status(), StatusCode::OK);
    let restored: Value = restored.json().await.unwrap();
    let listed_before = before.list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["id"] == id.as_str())
        .cloned()
        .expect("listed before");
    assert_eq!(restored, listed_before);
    assert_eq!(seen(&ada, &id, &first_id).await, before);
    let again = ada.post(&restore, json!({})).await;
    assert_eq!(status_and_code(again).await, not_found(), "restoring twice");
    let retried = post_message(&ada, question("how do I make gazpacho?", "tab:1")).await;
    assert_eq!(retried.status(), StatusCode::OK, "a known client id again");
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["message"], first["message"]);
}

/// Appends with a client id first used in the deleted conversation: 404 while it is kept,
/// 201 (a new conversation) once the purge has removed it. Polls for up to 60 seconds (a
/// loaded machine).
async fn wait_until_purged(client: &Client_, content: &str, client_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = post_message(client, question(content, client_id)).await;
        match response.status() {
            StatusCode::CREATED => return response.json().await.unwrap(),
            StatusCode::NOT_FOUND if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("the conversation was not purged: {other}"),
        }
    }
}

#[tokio::test]
async fn deleted_conversations_are_purged_after_the_retention_time() {
    let app = TestApp::spawn_with(|config| {
        config.deleted_retention = 1;
        config.purge_every = Duration::from_millis(200);
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let doomed = created(&ada, question("soon purged", "tab:purge")).await;
    let doomed_id = doomed["session"]["id"].as_str().unwrap().to_owned();
    let kept = ada.message(None, "user", "kept forever").await;
    let kept_id = kept["session"]["id"].as_str().unwrap().to_owned();
    let kept_before = ada.get_json(&format!("/api/chat/sessions/{kept_id}")).await;

    let deleted = ada.delete(&format!("/api/chat/sessions/{doomed_id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = wait_until_purged(&ada, "soon purged", "tab:purge").await;
    assert_ne!(again["session"]["id"], doomed_id.as_str());
    assert_ne!(again["message"]["id"], doomed["message"]["id"]);
    let restore = ada
        .post(
            &format!("/api/chat/sessions/{doomed_id}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(
        status_and_code(restore).await,
        not_found(),
        "too late to undo"
    );
    assert_eq!(
        ada.get_json(&format!("/api/chat/sessions/{kept_id}")).await,
        kept_before,
        "a live conversation is never purged"
    );
}

#[tokio::test]
async fn the_purge_also_runs_at_start_up() {
    let data = tempfile::tempdir().expect("temp dir");
    let path = data.path().to_owned();
    let mut first = TestApp::spawn_with({
        let path = path.clone();
        move |config| {
            config.data_dir = path;
            config.deleted_retention = 1;
        }
    })
    .await;
    let ada = first.user("ada@example.com").await;
    let doomed = created(&ada, question("purged at start", "tab:start")).await;
    let doomed_id = doomed["session"]["id"].as_str().unwrap().to_owned();
    let deleted = ada.delete(&format!("/api/chat/sessions/{doomed_id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // The first server's purge ran when it started, long before this deletion, and its next
    // run is an hour away: the conversation is still kept.
    let retried = post_message(&ada, question("purged at start", "tab:start")).await;
    assert_eq!(status_and_code(retried).await, not_found());
    first.shut_down().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let second = TestApp::spawn_with(move |config| {
        config.data_dir = path;
        config.deleted_retention = 1;
    })
    .await;
    let ada = second.client();
    assert_eq!(
        ada.login("ada@example.com", "a good password")
            .await
            .status(),
        StatusCode::OK
    );
    let again = wait_until_purged(&ada, "purged at start", "tab:start").await;
    assert_ne!(again["session"]["id"], doomed_id.as_str());
}
