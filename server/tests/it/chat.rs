//! Chatting with a model through `/api/chat` and the OpenAI-compatible `/v1` endpoint, against
//! a real HTTP server that speaks the OpenAI streaming protocol (`fake-openai`).

use std::time::Duration;

use crate::support::{
    error_code, named, provider_requests, sse_events, ChatEvents, Client_, TestApp,
};
use confab_core::chat_stream::ChatEvent;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Sends a chat request and reads its whole stream of events.
async fn chat(client: &Client_, body: Value) -> Vec<(String, Value)> {
    let response = client.post("/api/chat", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // nginx then passes each event on even where its configuration buffers.
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    ChatEvents::new(response)
        .all()
        .await
        .iter()
        .map(named)
        .collect()
}

/// Reads a chat stream up to its first delta; returns the id of the session it created.
async fn session_then_first_delta(events: &mut ChatEvents) -> String {
    let Some(ChatEvent::Message {
        session: Some(session),
        ..
    }) = events.next().await
    else {
        panic!("the stream starts with the message and the session it created");
    };
    events.until("delta").await;
    session.id
}

async fn messages(client: &Client_, session_id: &str) -> Vec<Value> {
    let page: Value = client
        .get(&format!(
            "/api/chat/messages?sessionId={session_id}&limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    page["messages"].as_array().unwrap().clone()
}

/// Polls until the session holds `count` messages, none of them still streaming (replies
/// finish in the background).
async fn wait_for_messages(client: &Client_, session_id: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = messages(client, session_id).await;
        if found.len() >= count && found.iter().all(|message| message["status"] != "streaming") {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the session never reached {count} messages");
}

#[tokio::test]
async fn a_reply_streams_in_and_both_sides_are_saved() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;

    let events = chat(&ada, json!({ "content": "hello there model" })).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(
        names.iter().filter(|name| **name == "delta").count() >= 3,
        "{names:?}"
    );
    let session = &events[0].1["session"];
    assert_eq!(
        session["title"], "hello there model",
        "a new session is titled from the message"
    );
    let streamed: String = events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, "Echo: hello there model");

    let done = &events.last().unwrap().1["message"];
    assert_eq!(done["content"], "Echo: hello there model");
    assert_eq!(done["model"], "fake-model");
    assert_eq!(done["status"], "complete");
    assert_eq!(
        done["completionTokens"], 4,
        "from the provider's usage chunk"
    );
    assert_eq!(done["usageEstimated"], false);
    assert_eq!(done["promptTokens"], 10);
    assert!(done["parentId"] == events[0].1["message"]["id"]);

    let saved = messages(&ada, session["id"].as_str().unwrap()).await;
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[0]["role"], "user");
    assert_eq!(saved[1]["content"], "Echo: hello there model");

    let sent = provider_requests(&provider).await;
    assert_eq!(sent[0]["stream_options"]["include_usage"], true);
    assert_eq!(sent[0]["model"], "fake-model");
}

#[tokio::test]
async fn the_context_is_the_active_branch_and_branches_are_kept() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;

    let first = chat(&ada, json!({ "content": "first question" })).await;
    let session_id = first[0].1["session"]["id"].as_str().unwrap().to_owned();
    let first_question = first[0].1["message"].clone();
    let first_reply = first.last().unwrap().1["message"].clone();

    // Regenerate: a second reply beside the first.
    let response = ada
        .post(
            "/api/chat/regenerate",
            json!({ "messageId": first_reply["id"] }),
        )
        .await;
    let regenerated: Vec<(String, Value)> = ChatEvents::new(response)
        .all()
        .await
        .iter()
        .map(named)
        .collect();
    let second_reply = regenerated.last().unwrap().1["message"].clone();
    assert_eq!(second_reply["parentId"], first_question["id"]);
    let siblings: Value = ada
        .get(&format!(
            "/api/chat/messages/{}/siblings",
            first_reply["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(siblings["messages"].as_array().unwrap().len(), 2);

    // The next message continues the active branch, which now ends at the regenerated reply.
    let next = chat(&ada, json!({ "sessionId": session_id, "content": "count" })).await;
    assert_eq!(next[0].1["message"]["parentId"], second_reply["id"]);
    assert_eq!(
        next.last().unwrap().1["message"]["content"],
        "Reply 3",
        "question, one reply, new question"
    );
    let sent = provider_requests(&provider).await;
    let context: Vec<&str> = sent.last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(context, ["first question", "Echo: first question", "count"]);

    // Edit the first question: a sibling user message with its own reply.
    let edited = chat(
        &ada,
        json!({ "content": "edited question", "editOf": first_question["id"] }),
    )
    .await;
    assert!(
        edited[0].1["message"]["parentId"].is_null(),
        "a sibling of the root is a root"
    );
    let branch: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}/branch"))
        .await
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = branch["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["edited question", "Echo: edited question"]);

    // Everything is kept: 2 questions + 2 replies + count + its reply + edit + its reply.
    assert_eq!(messages(&ada, &session_id).await.len(), 7);

    // Switching back to the first branch.
    let leaf = next.last().unwrap().1["message"]["id"].clone();
    let switched = ada
        .put(
            &format!("/api/chat/sessions/{session_id}"),
            json!({ "activeLeafId": leaf }),
        )
        .await;
    assert_eq!(switched.status(), StatusCode::OK);
    let branch: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}/branch"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(branch["messages"].as_array().unwrap().len(), 4);
    let foreign = ada
        .put(
            &format!("/api/chat/sessions/{session_id}"),
            json!({ "activeLeafId": confab_core::ids::new_id() }),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_reply_is_saved_when_the_client_disconnects() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let response = ada
        .post(
            "/api/chat",
            json!({ "content": "a slow answer please", "model": "fake-slow" }),
        )
        .await;
    let mut events = ChatEvents::new(response);
    let session_id = session_then_first_delta(&mut events).await;
    drop(events); // the browser tab closes after the first delta

    let saved = wait_for_messages(&ada, &session_id, 2).await;
    assert_eq!(saved[1]["content"], "Echo: a slow answer please");
    assert_eq!(saved[1]["status"], "complete");
}

#[tokio::test]
async fn a_provider_failure_mid_stream_saves_the_partial_reply() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let events = chat(
        &ada,
        json!({ "content": "one two three four five", "model": "fake-error-midstream" }),
    )
    .await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "provider_interrupted");
    assert_eq!(data["message"]["status"], "partial");
    assert_eq!(data["message"]["statusReason"], "provider_interrupted");
    let partial = data["message"]["content"].as_str().unwrap();
    assert_eq!(partial, "Echo: one two", "what had arrived is kept");
    let session_id = events[0].1["session"]["id"].as_str().unwrap();
    let saved = messages(&ada, session_id).await;
    assert_eq!(saved.len(), 2);
    assert_eq!(
        saved[1], data["message"],
        "what the client was told is what is stored"
    );
}

#[tokio::test]
async fn provider_errors_are_reported_clearly() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let events = chat(&ada, json!({ "content": "hi", "model": "fake-500" })).await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "provider_error");
    // The provider by its configured name, what failed in Confab's words: neither its URL
    // nor its own text (server/tests/exposure.rs checks that nothing of them shows).
    assert_eq!(
        data["error"]["message"],
        "the model provider \"default\" answered with an error (HTTP 500)"
    );
    // Nothing arrived: the reply is kept as a failed, empty reply that says why, so the
    // conversation shows the failure after a reload too.
    assert_eq!(data["message"]["status"], "error");
    assert_eq!(data["message"]["statusReason"], "provider_error");
    assert_eq!(data["message"]["content"], "");
    let session_id = events[0].1["session"]["id"].as_str().unwrap();
    let saved = messages(&ada, session_id).await;
    assert_eq!(saved.len(), 2, "the user message and the failed reply");
    assert_eq!(saved[0]["content"], "hi");
    assert_eq!(saved[1], data["message"]);

    // No usage chunk: tokens are estimated.
    let events = chat(
        &ada,
        json!({ "content": "estimate me", "model": "fake-no-usage" }),
    )
    .await;
    let done = &events.last().unwrap().1["message"];
    assert_eq!(done["status"], "complete");
    assert!(done["completionTokens"].as_i64().unwrap() > 0);
    assert_eq!(done["usageEstimated"], true, "estimated, and marked so");

    // Nobody listening at the provider's address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let down = TestApp::spawn_with_provider(&dead_url).await;
    let bob = down.user("bob@example.com").await;
    let events = chat(&bob, json!({ "content": "anyone there?" })).await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "provider_unreachable");
    assert_eq!(
        data["error"]["message"],
        "the model provider \"default\" could not be reached"
    );
    let models: Value = bob.get("/api/models").await.json().await.unwrap();
    assert_eq!(
        models,
        json!({ "models": [], "errors": ["the model provider \"default\" could not be reached"] })
    );
}

#[tokio::test]
async fn models_come_from_the_provider() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let models: Value = ada.get("/api/models").await.json().await.unwrap();
    let ids: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"fake-model") && ids.contains(&"fake-slow"),
        "{ids:?}"
    );
    assert_eq!(models["models"][0]["default"], true);
}

#[tokio::test]
async fn shutdown_finishes_replies_in_flight() {
    let provider = fake_openai::spawn().await;
    let mut app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let response = ada
        .post(
            "/api/chat",
            json!({ "content": "finish me before you go", "model": "fake-slow" }),
        )
        .await;
    let mut events = ChatEvents::new(response);
    let session_id = session_then_first_delta(&mut events).await;
    drop(events);
    let user_id = {
        let me: Value = ada.get("/api/auth/me").await.json().await.unwrap();
        me["user"]["id"].as_str().unwrap().to_owned()
    };
    app.shut_down().await; // like SIGTERM: returns once in-flight replies are saved
    let stored = app.store.all_messages(&user_id, &session_id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].content, "Echo: finish me before you go");
}

#[tokio::test]
async fn the_openai_compatible_endpoint_records_conversations() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let mut sdk = app.client();
    sdk.token = Some(ada.new_api_token("sdk").await);

    let response = sdk
        .post("/v1/chat/completions", json!({ "model": "fake-model", "messages": [{ "role": "system", "content": "be kind" }, { "role": "user", "content": "hi from the sdk" }] }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session_id = response.headers()["x-confab-session"]
        .to_str()
        .unwrap()
        .to_owned();
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "Echo: hi from the sdk"
    );
    assert_eq!(completion["usage"]["completion_tokens"], 5);

    // Continue the same session, streaming, with the whole history as SDKs send it.
    let response = sdk
        .request(reqwest::Method::POST, "/v1/chat/completions")
        .header("X-Confab-Session", &session_id)
        .json(&json!({ "model": "fake-model", "stream": true, "stream_options": { "include_usage": true }, "messages": [
            { "role": "system", "content": "be kind" }, { "role": "user", "content": "hi from the sdk" },
            { "role": "assistant", "content": "Echo: hi from the sdk" }, { "role": "user", "content": "and again" }
        ] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let body = response.text().await.unwrap();
    let mut events = sse_events(&body);
    assert_eq!(
        events.pop(),
        Some(("message".into(), "[DONE]".into())),
        "{body}"
    );
    let chunks: Vec<Value> = events.into_iter().map(|(_, data)| data).collect();
    assert!(chunks.iter().all(Value::is_object), "{body}");
    let text: String = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Echo: and again");
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_i64()
            .unwrap()
            > 0
    );

    let saved = messages(&ada, &session_id).await;
    let roles: Vec<&str> = saved.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant"],
        "each message once"
    );

    let models: Value = sdk.get("/v1/models").await.json().await.unwrap();
    assert_eq!(models["object"], "list");
    let anonymous = app
        .client()
        .post("/v1/chat/completions", json!({ "messages": [] }))
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let empty = sdk
        .post("/v1/chat/completions", json!({ "messages": [] }))
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(empty).await, "empty_messages");

    // Every /v1 error is in OpenAI's shape, also those the shared extractors answer: no
    // sign-in, a body that is not JSON, a JSON body that is not an object, an unknown role.
    let openai_error = |status: StatusCode, code: &str, message: &str| {
        let kind = match status.is_server_error() {
            true => "server_error",
            false => "invalid_request_error",
        };
        (
            status,
            json!({ "error": { "message": message, "type": kind, "code": code } }),
        )
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status();
        (
            status,
            response.json::<Value>().await.expect("a JSON error"),
        )
    };
    let anonymous = app.client().get("/v1/models").await;
    assert_eq!(
        answer(anonymous).await,
        openai_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required"
        )
    );
    let not_json = sdk
        .request(reqwest::Method::POST, "/v1/chat/completions")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("request");
    let (status, body) = answer(not_json).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    // A cross-site write with a cookie is refused before any route, in OpenAI's shape too.
    let cross_site = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", app.address))
        .header("cookie", "confab_session=whatever")
        .header("origin", "https://evil.example.com")
        .json(&json!({ "messages": [] }))
        .send()
        .await
        .expect("request");
    let (status, body) = answer(cross_site).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "csrf", "{body}");
    let array = sdk.post("/v1/chat/completions", json!([1, 2])).await;
    assert_eq!(
        answer(array).await,
        openai_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the body must be a JSON object"
        )
    );
    let role = sdk
        .post(
            "/v1/chat/completions",
            json!({ "messages": [{ "role": "robot", "content": "hi" }] }),
        )
        .await;
    assert_eq!(
        answer(role).await,
        openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_role",
            "unknown role \"robot\""
        )
    );
}
