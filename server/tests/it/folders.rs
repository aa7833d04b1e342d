//! Conversation folders over REST: `GET`/`POST /api/chat/folders`, `PATCH`/`DELETE
//! /api/chat/folders/{id}`, the bulk action `move`, the list filtered by `?folder=`, and a
//! conversation started in a folder with a system prompt and a model: the stored system
//! message, and the model the provider was asked for.

use crate::support::{error_code, named, provider_requests, ChatEvents, TestApp};
use confab_core::api::{FolderDeleted, FolderList, SessionPage, SessionsBulkResult};
use confab_core::model::{Folder, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(folders_over_rest, |backend| async move {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider_on(backend, &provider).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;

    // Create, with defaults; the answer whole.
    let response = ada
        .post(
            "/api/chat/folders",
            json!({ "name": " Research ", "systemPrompt": "Answer in French.", "model": "fake-no-usage" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let research: Folder = response.json().await.unwrap();
    assert_eq!(
        research,
        Folder {
            id: research.id.clone(),
            name: "Research".into(),
            parent_id: None,
            system_prompt: Some("Answer in French.".into()),
            model: Some("fake-no-usage".into()),
            session_count: 0,
            created_at: research.created_at,
            updated_at: research.created_at,
        }
    );
    let response = ada
        .post(
            "/api/chat/folders",
            json!({ "name": "Papers", "parentId": research.id }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let papers: Folder = response.json().await.unwrap();
    assert_eq!(papers.parent_id.as_deref(), Some(research.id.as_str()));

    // Refusals: the name rule, the cycle, another user's folder.
    let response = ada.post("/api/chat/folders", json!({ "name": "  " })).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(response).await, "invalid_folder");
    let response = ada
        .request(Method::PATCH, &format!("/api/chat/folders/{}", research.id))
        .json(&json!({ "parentId": papers.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "folder_cycle");
    let response = bob
        .request(Method::PATCH, &format!("/api/chat/folders/{}", research.id))
        .json(&json!({ "name": "mine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let listed: FolderList = bob.get_as("/api/chat/folders").await;
    assert_eq!(listed.folders, Vec::<Folder>::new());

    // PATCH: `null` moves to the top level; an absent field stays.
    let response = ada
        .request(Method::PATCH, &format!("/api/chat/folders/{}", papers.id))
        .json(&json!({ "parentId": null, "name": "Papers 📄" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let moved: Folder = response.json().await.unwrap();
    assert_eq!(moved.parent_id, None);
    assert_eq!(moved.name, "Papers 📄");
    assert_eq!(moved.system_prompt, None);

    // A conversation started in the folder: created in it, its system prompt stored first,
    // the folder's model asked for.
    let response = ada
        .post(
            "/api/chat",
            json!({ "content": "bonjour model", "folderId": research.id }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let events: Vec<(String, Value)> = ChatEvents::new(response)
        .all()
        .await
        .iter()
        .map(named)
        .collect();
    assert_eq!(events.last().unwrap().0, "done");
    let session: Session = serde_json::from_value(events[0].1["session"].clone()).unwrap();
    assert_eq!(session.folder_id.as_deref(), Some(research.id.as_str()));
    let done = &events.last().unwrap().1["message"];
    assert_eq!(done["model"], "fake-no-usage");
    let saved: Value = ada
        .get(&format!(
            "/api/chat/messages?sessionId={}&limit=200",
            session.id
        ))
        .await
        .json()
        .await
        .unwrap();
    let saved = saved["messages"].as_array().unwrap();
    assert_eq!(saved.len(), 3);
    assert_eq!(saved[0]["role"], "system");
    assert_eq!(saved[0]["content"], "Answer in French.");
    assert_eq!(saved[1]["role"], "user");
    assert_eq!(saved[1]["content"], "bonjour model");
    assert_eq!(saved[1]["parentId"], saved[0]["id"]);
    let sent = provider_requests(&provider).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "fake-no-usage");
    assert_eq!(
        sent[0]["messages"],
        json!([
            { "role": "system", "content": "Answer in French." },
            { "role": "user", "content": "bonjour model" },
        ])
    );
    // A follow-up naming no model uses the folder's too.
    let response = ada
        .post(
            "/api/chat",
            json!({ "content": "encore", "sessionId": session.id }),
        )
        .await;
    let events = ChatEvents::new(response).all().await;
    assert!(!events.is_empty());
    let sent = provider_requests(&provider).await;
    assert_eq!(sent[1]["model"], "fake-no-usage");

    // An empty conversation in a folder, the bulk move, the list by folder, the counts.
    let response = ada
        .post(
            "/api/chat/sessions",
            json!({ "title": "Empty", "folderId": papers.id }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let empty: Session = response.json().await.unwrap();
    assert_eq!(empty.folder_id.as_deref(), Some(papers.id.as_str()));
    let response = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [session.id, "0178b5f2-0000-7000-8000-0000000000ff"], "action": "move", "folderId": papers.id }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let result: SessionsBulkResult = response.json().await.unwrap();
    assert_eq!(result.applied, std::slice::from_ref(&session.id));
    assert_eq!(result.skipped, ["0178b5f2-0000-7000-8000-0000000000ff"]);
    let response = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [session.id], "action": "move", "folderId": "0178b5f2-0000-7000-8000-0000000000ff" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page: SessionPage = ada
        .get_as(&format!("/api/chat/sessions?folder={}", papers.id))
        .await;
    let ids: Vec<String> = page.sessions.iter().map(|s| s.id.clone()).collect();
    // Newest activity first: the empty one was created after the chat's last message.
    assert_eq!(ids, [empty.id.clone(), session.id.clone()]);
    let page: SessionPage = ada.get_as("/api/chat/sessions?folder=top").await;
    assert!(page.sessions.is_empty());
    let listed: FolderList = ada.get_as("/api/chat/folders").await;
    let counts: Vec<(String, i64)> = listed
        .folders
        .iter()
        .map(|folder| (folder.name.clone(), folder.session_count))
        .collect();
    assert_eq!(
        counts,
        [("Papers 📄".to_owned(), 2), ("Research".to_owned(), 0)]
    );

    // Delete keeping the contents, then with them.
    let response = ada
        .delete(&format!("/api/chat/folders/{}?contents=keep", papers.id))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let deleted: FolderDeleted = response.json().await.unwrap();
    assert_eq!(deleted, FolderDeleted { sessions: 2 });
    let page: SessionPage = ada.get_as("/api/chat/sessions?folder=top").await;
    assert_eq!(page.sessions.len(), 2);
    let response = ada
        .delete(&format!(
            "/api/chat/folders/{}?contents=delete",
            research.id
        ))
        .await;
    let deleted: FolderDeleted = response.json().await.unwrap();
    assert_eq!(deleted, FolderDeleted { sessions: 0 });
    let listed: FolderList = ada.get_as("/api/chat/folders").await;
    assert_eq!(listed.folders, Vec::<Folder>::new());
    let response = ada
        .delete(&format!("/api/chat/folders/{}", research.id))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
});
