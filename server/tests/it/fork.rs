//! `POST /api/chat/sessions/{id}/fork`: "Continue in a new conversation" over HTTP.

use confab_core::api::MessagePage;
use confab_core::model::{ForkedFrom, Message, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{error_code, TestApp};

#[tokio::test]
async fn forking_continues_in_a_new_conversation() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada.post_message(None, "user", "Plan a trip").await;
    let session_id = first.session.id.clone();
    let reply = ada
        .post(
            "/api/chat/messages",
            json!({
                "sessionId": session_id, "role": "assistant", "content": "Day one: Alfama",
                "parentId": first.message.id, "model": "llama3.2", "promptTokens": 12,
                "completionTokens": 34, "latencyMs": 560
            }),
        )
        .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
    let reply: Message =
        serde_json::from_value(reply.json::<Value>().await.unwrap()["message"].clone()).unwrap();
    let later = ada
        .post_message(Some(&session_id), "user", "And day two?")
        .await;
    let source: MessagePage = ada.messages(&session_id).await;

    let response = ada.fork(&session_id, &reply.id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["forkedFrom"],
        json!({ "sessionId": session_id, "messageId": reply.id })
    );
    let fork: Session = serde_json::from_value(body).unwrap();
    assert_eq!(
        fork,
        Session {
            id: fork.id.clone(),
            title: "Plan a trip".into(),
            is_active: true,
            pinned: false,
            archived: false,
            message_count: 2,
            prompt_tokens: 12,
            completion_tokens: 34,
            created_at: fork.created_at,
            updated_at: fork.created_at,
            last_message_at: Some(reply.created_at),
            active_leaf_id: fork.active_leaf_id.clone(),
            forked_from: Some(ForkedFrom {
                session_id: session_id.clone(),
                message_id: reply.id.clone(),
            }),
            tags: Vec::new(),
            folder_id: None,
        }
    );
    let copied = ada.messages(&fork.id).await.messages;
    assert_eq!(
        copied
            .iter()
            .map(|m| (m.role, m.content.as_str(), m.model.as_deref()))
            .collect::<Vec<_>>(),
        [
            (first.message.role, "Plan a trip", None),
            (reply.role, "Day one: Alfama", Some("llama3.2")),
        ]
    );
    assert!(copied
        .iter()
        .all(|m| m.id != first.message.id && m.id != reply.id));
    assert_eq!(copied[1].parent_id.as_ref(), Some(&copied[0].id));
    assert_eq!(fork.active_leaf_id.as_ref(), Some(&copied[1].id));
    // Newest first in the list; the source as it was.
    assert_eq!(ada.sessions().await.sessions[0].id, fork.id);
    assert_eq!(ada.messages(&session_id).await, source);
    let shown: Value = ada
        .get_json(&format!("/api/chat/sessions/{}", fork.id))
        .await;
    assert_eq!(shown["forkedFrom"]["messageId"], json!(reply.id));

    // Another user's conversation or message: not found. A message of another of one's own
    // conversations: refused. An unknown message: not found.
    let bobs = bob.post_message(None, "user", "Bob's own").await;
    for response in [
        bob.fork(&session_id, &reply.id).await,
        bob.fork(&bobs.session.id, &reply.id).await,
        ada.fork(&bobs.session.id, &bobs.message.id).await,
        ada.fork(&session_id, "01900000-0000-7000-8000-000000000000")
            .await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(response).await, "not_found");
    }
    let elsewhere = ada.post_message(None, "user", "Another chat").await;
    let refused = ada.fork(&session_id, &elsewhere.message.id).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(refused).await, "message_not_in_session");
    let no_body = ada
        .post(&format!("/api/chat/sessions/{session_id}/fork"), json!({}))
        .await;
    assert_eq!(no_body.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Nothing of the refusals was written: ada has the source, the fork and "Another chat".
    assert_eq!(ada.sessions().await.sessions.len(), 3);
    assert_eq!(later.session.id, session_id);
    let anonymous = app.client();
    let response = anonymous.fork(&session_id, &reply.id).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
