//! Starred messages over REST: `PUT`/`DELETE /api/chat/messages/{id}/star` and
//! `GET /api/chat/starred`, their answers whole, and what another user or a stranger gets.

use crate::support::{error_code, TestApp};
use confab_core::model::{Message, StarredMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(a_star_is_kept_listed_and_private, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada
        .post_message(None, "user", "Where do herons nest?")
        .await;
    let session = first.session.id.clone();
    let reply = ada
        .post_message(Some(&session), "assistant", "In colonies, high in trees.")
        .await;
    let other = ada.post_message(None, "user", "Another question").await;

    // PUT answers the message starred, with the time; again, the same answer.
    let starred = ada.set_star(&reply.message.id, true).await;
    let at = starred.starred_at.expect("a time");
    assert_eq!(
        starred,
        Message {
            starred: true,
            starred_at: Some(at),
            ..reply.message.clone()
        }
    );
    assert_eq!(ada.set_star(&reply.message.id, true).await, starred);
    // The wire names: `starred` and `starredAt` beside the message's other fields.
    let raw: Value = ada
        .get_json(&format!("/api/chat/messages/{}", reply.message.id))
        .await;
    assert_eq!(raw["starred"], json!(true));
    assert_eq!(
        raw["starredAt"],
        json!(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    );
    assert_eq!(ada.messages(&session).await.messages[1], starred);

    std::thread::sleep(std::time::Duration::from_millis(3));
    let question = ada.set_star(&other.message.id, true).await;
    let item = |message: &Message, title: &str| StarredMessage {
        message: message.clone(),
        session_id: message.session_id.clone(),
        session_title: title.to_owned(),
    };
    let all = ada.starred("").await;
    assert_eq!(
        all.items,
        [
            item(&question, "Another question"),
            item(&starred, "Where do herons nest?")
        ]
    );
    assert_eq!(all.next_cursor, None);
    let first_page = ada.starred("?limit=1").await;
    assert_eq!(first_page.items, all.items[..1]);
    let cursor = first_page.next_cursor.expect("one more");
    let second_page = ada.starred(&format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(
        (second_page.items, second_page.next_cursor),
        (all.items[1..].to_vec(), None)
    );
    let bad = ada.get("/api/chat/starred?cursor=bm90IGEgY3Vyc29y").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(bad).await, "invalid_cursor");

    // Another user's message is not found either way, and their view is their own.
    let path = format!("/api/chat/messages/{}/star", reply.message.id);
    let refused = bob.put(&path, json!({})).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(refused).await, "not_found");
    let refused = bob.delete(&path).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(refused).await, "not_found");
    let unknown = ada
        .put("/api/chat/messages/not-an-id/star", json!({}))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bobs = bob.starred("").await;
    assert_eq!((bobs.items, bobs.next_cursor), (vec![], None));
    // A stranger is asked to sign in.
    let anonymous = app.client().delete(&path).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // DELETE takes the star away, twice alike; a deleted conversation leaves the view.
    let unstarred = ada.set_star(&other.message.id, false).await;
    assert_eq!(unstarred, other.message);
    assert_eq!(ada.set_star(&other.message.id, false).await, other.message);
    assert_eq!(
        ada.starred("").await.items,
        [item(&starred, "Where do herons nest?")]
    );
    let deleted = ada.delete(&format!("/api/chat/sessions/{session}")).await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let empty = ada.starred("").await;
    assert_eq!((empty.items, empty.next_cursor), (vec![], None));
    assert_eq!(
        ada.put(&path, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
});

/// The Starred page's server function sends the start of each message only: every field as
/// the REST API gives it but the text, which is its first 280 characters and "…".
#[tokio::test]
async fn the_starred_page_is_sent_the_start_of_each_message() {
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let long = format!("{}尾巴", "鹭鸟在树上筑巢。".repeat(40));
    let short = "A short one.";
    let mut expected = Vec::new();
    for content in [long.as_str(), short] {
        let posted = ada.post_message(None, "user", content).await;
        ada.set_star(&posted.message.id, true).await;
    }
    for mut item in ada.starred("").await.items {
        if item.message.content == long {
            item.message.content = format!("{}…", long.chars().take(280).collect::<String>());
        }
        expected.push(item);
    }
    let path = <app::server_fns::ListStarred as ServerFn>::PATH;
    let response = ada
        .request(reqwest::Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let page: confab_core::model::Page<StarredMessage> = response.json().await.expect("a page");
    assert_eq!(page.items, expected);
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].message.content, short);
    assert_eq!(page.items[1].message.content.chars().count(), 281);
}
