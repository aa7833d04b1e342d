//! The chosen conversations as one file (`POST /api/chat/sessions/export`), as JSON and as a
//! page's form: exactly what each conversation's own export holds, in the documented order,
//! and every refusal before a byte of the file. (A cross-site form post is refused by the
//! CSRF check every write passes, tested in `api.rs`.)

use crate::support::{error_code, Client_, TestApp};
use confab_core::service::export::{ExportDocument, ExportedSession};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

fn disposition(response: &Response) -> String {
    response.headers()["content-disposition"]
        .to_str()
        .expect("an ASCII header")
        .to_owned()
}

/// The one conversation of its own JSON export.
async fn exported_alone(client: &Client_, id: &str) -> ExportedSession {
    let response = client
        .get(&format!("/api/chat/sessions/{id}/export?format=json"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut document: ExportDocument = response.json().await.expect("a backup document");
    assert_eq!(document.sessions.len(), 1);
    document.sessions.remove(0)
}

async fn markdown_alone(client: &Client_, id: &str) -> String {
    let response = client
        .get(&format!("/api/chat/sessions/{id}/export?format=markdown"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("text")
}

fn form_post(client: &Client_, body: &str) -> reqwest::RequestBuilder {
    client
        .request(Method::POST, "/api/chat/sessions/export")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
}

both_backends!(chosen_conversations_as_one_file, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    // A branched conversation with a star, one in Chinese, one archived, one left out.
    let first = ada.post_message(None, "user", "branched question").await;
    let s1 = first.session.id.clone();
    for answer in ["first answer", "second answer"] {
        let reply = ada
            .post(
                "/api/chat/messages",
                json!({ "sessionId": s1, "role": "assistant", "content": answer,
                        "model": "qwen2", "parentId": first.message.id }),
            )
            .await;
        assert_eq!(reply.status(), StatusCode::CREATED);
    }
    ada.set_star(&first.message.id, true).await;
    let s2 = ada
        .post_message(None, "user", "你好，世界：导出测试")
        .await
        .session
        .id;
    let s3 = ada
        .post_message(None, "user", "archived one")
        .await
        .session
        .id;
    let archived = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [s3], "action": "archive" }),
        )
        .await;
    assert_eq!(archived.status(), StatusCode::OK);
    let left_out = ada
        .post_message(None, "user", "not chosen")
        .await
        .session
        .id;

    // JSON: the chosen conversations, each named once, in id order, each exactly as its own
    // export holds it (every branch, the star, the archived flag).
    let chosen = [s3.clone(), s1.clone(), s2.clone(), s1.clone()];
    let response = ada
        .post(
            "/api/chat/sessions/export",
            json!({ "ids": chosen, "format": "json" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let name = disposition(&response);
    assert!(
        name.starts_with("attachment; filename=\"confab-conversations-")
            && name.ends_with(".json\""),
        "{name}"
    );
    let document: ExportDocument = response.json().await.expect("one backup document");
    assert_eq!(document.format, "confab");
    assert_eq!(document.version, 2);
    let me = ada.get_json("/api/auth/me").await;
    assert_eq!(document.account_id.as_deref(), me["user"]["id"].as_str());
    let mut in_id_order = vec![s1.clone(), s2.clone(), s3.clone()];
    in_id_order.sort();
    let mut expected = Vec::new();
    for id in &in_id_order {
        expected.push(exported_alone(&ada, id).await);
    }
    assert_eq!(document.sessions, expected);
    assert!(document
        .sessions
        .iter()
        .all(|exported| exported.session.id != left_out));
    let branched = document
        .sessions
        .iter()
        .find(|exported| exported.session.id == s1)
        .expect("the branched conversation");
    assert_eq!(branched.messages.len(), 3, "every branch");
    let starred: Vec<&str> = branched
        .messages
        .iter()
        .filter(|message| message.starred_at.is_some())
        .map(|message| message.id.as_str())
        .collect();
    assert_eq!(starred, [first.message.id.as_str()]);

    // Restored into a fresh account, the file gives the same conversations.
    let carol = app.user("carol@example.com").await;
    let restored = carol
        .post("/api/import", serde_json::to_value(&document).unwrap())
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    let report: Value = restored.json().await.unwrap();
    assert_eq!(report["sessions"], 3);
    assert_eq!(report["messages"], 5);

    // Markdown: each conversation's own Markdown, in the order chosen, a rule between two.
    let response = ada
        .post(
            "/api/chat/sessions/export",
            json!({ "ids": [s3, s1, s2], "format": "markdown" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    assert!(disposition(&response).ends_with(".md\""));
    let text = response.text().await.unwrap();
    let expected = format!(
        "{}\n---\n\n{}\n---\n\n{}",
        markdown_alone(&ada, &s3).await,
        markdown_alone(&ada, &s1).await,
        markdown_alone(&ada, &s2).await
    );
    assert_eq!(text, expected);
    assert!(text.contains("你好，世界：导出测试"));

    // A page's form: ids comma-separated; the same file as the JSON request's.
    let form = form_post(&ada, &format!("ids={s2}%2C{s1}&format=markdown"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(
        form.text().await.unwrap(),
        format!(
            "{}\n---\n\n{}",
            markdown_alone(&ada, &s2).await,
            markdown_alone(&ada, &s1).await
        )
    );
    let form_json = form_post(&ada, &format!("ids={s1}")).send().await.unwrap();
    assert_eq!(form_json.status(), StatusCode::OK);
    let from_form: ExportDocument = form_json.json().await.unwrap();
    assert_eq!(from_form.sessions, vec![exported_alone(&ada, &s1).await]);

    // Refusals, each before any of the file.
    let refusal = |body: Value| {
        let ada = &ada;
        async move {
            let response = ada.post("/api/chat/sessions/export", body).await;
            (response.status(), error_code(response).await)
        }
    };
    let bobs = bob.post_message(None, "user", "bob's").await.session.id;
    assert_eq!(
        refusal(json!({ "ids": [s1, bobs] })).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned()),
        "another user's conversation"
    );
    let deleted = ada.delete(&format!("/api/chat/sessions/{left_out}")).await;
    assert!(deleted.status().is_success());
    assert_eq!(
        refusal(json!({ "ids": [left_out] })).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned()),
        "a deleted conversation"
    );
    assert_eq!(
        refusal(json!({ "ids": [] })).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ids".to_owned())
    );
    let too_many: Vec<String> = (0..1001)
        .map(|n| format!("0178b5f2-0000-7000-8000-{n:012}"))
        .collect();
    assert_eq!(
        refusal(json!({ "ids": too_many })).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ids".to_owned())
    );
    assert_eq!(
        refusal(json!({ "ids": ["not an id"] })).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_ids".to_owned())
    );
    assert_eq!(
        refusal(json!({ "ids": [s1], "format": "pdf" })).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format".to_owned()
        )
    );
    let no_ids = form_post(&ada, "format=json").send().await.unwrap();
    assert_eq!(no_ids.status(), StatusCode::BAD_REQUEST);
    let anonymous = app
        .client()
        .post("/api/chat/sessions/export", json!({ "ids": [s1] }))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
});
