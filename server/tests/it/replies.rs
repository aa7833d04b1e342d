//! Nothing the user saw is lost: replies cut by the provider, stalled, too long, stopped,
//! retried, shut down or crashed are saved with what arrived, a status and its reason; a late
//! reply never takes the branch. Each story runs on SQLite and on the MongoDB wire protocol,
//! against `fake-openai` (a real HTTP server speaking the OpenAI streaming protocol).

use std::time::{Duration, Instant};

use crate::support::{named, Backend, ChatEvents, Client_, TestApp, TestProcess};
use confab_core::chat_stream::ChatEvent;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// A reply stream read event by event, as a browser would, with every delta's text so far.
struct Events {
    events: ChatEvents,
    /// Every delta's text so far, in order.
    text: String,
}

impl Events {
    fn new(response: Response) -> Events {
        Events {
            events: ChatEvents::new(response),
            text: String::new(),
        }
    }

    /// The next event, or `None` when the stream ended (a body cut by a server that was
    /// killed ends it too, like a closed one).
    async fn next(&mut self) -> Option<(String, Value)> {
        let event = self.events.next_unless_cut().await?;
        if let ChatEvent::Delta { text } = &event {
            self.text.push_str(text);
        }
        Some(named(&event))
    }

    /// Reads until an event named `name`, returning its data.
    async fn until(&mut self, name: &str) -> Value {
        while let Some((event, data)) = self.next().await {
            if event == name {
                return data;
            }
        }
        panic!("the stream ended before a {name:?} event");
    }

    /// Reads until `count` deltas have arrived in all.
    async fn deltas(&mut self, count: usize) {
        let mut seen = 0;
        while seen < count {
            match self.next().await {
                Some((name, _)) if name == "delta" => seen += 1,
                Some(_) => {}
                None => panic!("the stream ended after {seen} deltas"),
            }
        }
    }

    /// Reads to the end; returns the last event.
    async fn last(&mut self) -> (String, Value) {
        let mut last = None;
        while let Some(event) = self.next().await {
            last = Some(event);
        }
        last.expect("at least one event")
    }
}

async fn start_chat(client: &Client_, body: Value) -> Events {
    Events::new(client.post("/api/chat", body).await)
}

async fn messages(client: &Client_, session_id: &str) -> Vec<Value> {
    let page: Value = client
        .get(&format!(
            "/api/chat/messages?sessionId={session_id}&limit=200"
        ))
        .await
        .json()
        .await
        .expect("JSON");
    page["messages"].as_array().expect("messages").clone()
}

async fn message(client: &Client_, id: &str) -> Value {
    let response = client.get(&format!("/api/chat/messages/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK, "GET message {id}");
    response.json().await.expect("JSON")
}

/// Polls until the message is no longer `streaming`.
async fn settled(client: &Client_, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let found = message(client, id).await;
        if found["status"] != "streaming" {
            return found;
        }
        assert!(Instant::now() < deadline, "still streaming: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn provider_log(provider: &str) -> Vec<Value> {
    let url = format!("{}/_requests", provider.trim_end_matches("/v1"));
    reqwest::get(url)
        .await
        .expect("provider log")
        .json()
        .await
        .expect("JSON")
}

/// Polls the provider's log until request `index` is no longer running.
async fn provider_outcome(provider: &str, index: usize) -> Value {
    for _ in 0..100 {
        let log = provider_log(provider).await;
        if let Some(entry) = log.get(index) {
            if entry["_outcome"] != "running" {
                return entry.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("provider request {index} never ended");
}

/// The fields of a stored reply that a test compares as a whole.
fn status_of(message: &Value) -> (String, Value, String) {
    (
        message["status"].as_str().unwrap_or_default().to_owned(),
        message["statusReason"].clone(),
        message["content"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn app_with(
    backend: Backend,
    provider: &str,
    configure: impl FnOnce(&mut confab::config::Config),
) -> TestApp {
    let provider = provider.to_owned();
    TestApp::spawn_with_on(backend, move |config| {
        config.openai_base_url = provider.into();
        config.default_model = "fake-model".into();
        configure(config);
    })
    .await
}

async fn a_cut_stream_is_partial_not_complete(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    for model in ["fake-cut", "fake-reset", "fake-malformed"] {
        let mut events = start_chat(&ada, json!({ "content": "hello", "model": model })).await;
        let reply = events.until("reply").await["message"].clone();
        assert_eq!(reply["status"], "streaming", "{model}");
        assert_eq!(reply["content"], "", "{model}");
        let (name, data) = events.last().await;
        assert_eq!(
            name,
            "error",
            "{model}: {data} {:?}",
            provider_log(&provider).await
        );
        assert_eq!(data["error"]["code"], "provider_interrupted", "{model}");
        assert_eq!(events.text, "one two three", "{model}");
        let expected = (
            "partial".to_owned(),
            json!("provider_interrupted"),
            "one two three".to_owned(),
        );
        assert_eq!(status_of(&data["message"]), expected, "{model}");
        let stored = message(&ada, reply["id"].as_str().unwrap()).await;
        assert_eq!(
            stored, data["message"],
            "{model}: the event is what is stored"
        );
        assert_eq!(stored["parentId"], reply["parentId"]);
    }
}

async fn a_stalled_provider_is_partial_and_cancelled(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |config| {
        config.provider_idle_timeout = 1;
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let started = Instant::now();
    let mut events = start_chat(&ada, json!({ "content": "hello", "model": "fake-stall" })).await;
    let (name, data) = events.last().await;
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "provider_stalled");
    assert_eq!(
        status_of(&data["message"]),
        (
            "partial".to_owned(),
            json!("provider_stalled"),
            "one two three".to_owned()
        )
    );
    // The idle timeout here is 1 s and the default 120 s: 60 s tells them apart on a
    // loaded machine too.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the idle timeout applies: {:?}",
        started.elapsed()
    );
    let logged = provider_outcome(&provider, 0).await;
    assert_eq!(
        logged["_outcome"], "cancelled",
        "the upstream request is closed"
    );
}

async fn a_reply_past_its_bound_keeps_what_arrived(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let bound = 300 * 1024;
    let app = app_with(backend, &provider, |config| {
        config.max_reply_bytes = bound;
        config.max_import_bytes = 4 * 1024 * 1024;
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let mut events = start_chat(
        &ada,
        json!({ "content": "a big CSV", "model": "fake-huge" }),
    )
    .await;
    let (name, data) = events.last().await;
    assert_eq!(name, "error", "{}", data["error"]);
    assert_eq!(data["error"]["code"], "too_long");
    let saved = &data["message"];
    let content = saved["content"].as_str().unwrap();
    assert_eq!(saved["status"], "partial");
    assert_eq!(saved["statusReason"], "too_long");
    assert!(
        content.len() <= bound && content.len() > bound - 4,
        "cut at the bound, on a character boundary: {} bytes",
        content.len()
    );
    assert_eq!(content, events.text, "what streamed is what is saved");
    let logged = provider_outcome(&provider, 0).await;
    assert_eq!(
        logged["_outcome"], "cancelled",
        "the provider is no longer read"
    );
    assert!(logged["_chunks"].as_u64().unwrap() < 8 * 1024);

    // The long partial reply survives export and restore (into another account).
    let export = ada.get("/api/export").await;
    assert_eq!(export.status(), StatusCode::OK);
    let file = export.bytes().await.unwrap();
    let bob = app.user("bob@example.com").await;
    let imported = bob
        .request(reqwest::Method::POST, "/api/import")
        .header("content-type", "application/json")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(
        imported.status(),
        StatusCode::OK,
        "{}",
        imported.text().await.unwrap()
    );
    let sessions: Value = bob.get("/api/chat/sessions").await.json().await.unwrap();
    let session_id = sessions["sessions"][0]["id"].as_str().unwrap();
    let restored = messages(&bob, session_id).await;
    assert_eq!(restored.len(), 2);
    assert_eq!(
        status_of(&restored[1]),
        ("partial".to_owned(), json!("too_long"), content.to_owned())
    );
}

async fn stop_cancels_the_provider_and_keeps_the_text(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let mut events = start_chat(&ada, json!({ "content": "talk", "model": "fake-long" })).await;
    let reply = events.until("reply").await["message"].clone();
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    events.deltas(5).await;
    let stopped = ada
        .post(&format!("/api/chat/messages/{reply_id}/stop"), json!({}))
        .await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let stopped: Value = stopped.json().await.unwrap();
    let stopped = stopped["message"].clone();
    assert_eq!(stopped["status"], "partial");
    assert_eq!(stopped["statusReason"], "stopped");
    let (name, data) = events.last().await;
    assert_eq!(name, "done", "a stop is not an error: {data}");
    assert_eq!(data["message"], stopped);
    assert_eq!(stopped["content"].as_str().unwrap(), events.text);
    assert!(events.text.starts_with("w1 w2 w3 w4 w5"), "{}", events.text);
    let logged = provider_outcome(&provider, 0).await;
    assert_eq!(logged["_outcome"], "cancelled");
    let chunks = logged["_chunks"].as_u64().unwrap();
    assert!(
        chunks < 300,
        "the provider stopped after {chunks} of 300 chunks"
    );

    // Nothing more is generated or saved afterwards; stopping again answers the same reply.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(message(&ada, &reply_id).await, stopped);
    let again: Value = ada
        .post(&format!("/api/chat/messages/{reply_id}/stop"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["message"], stopped);
    assert_eq!(provider_log(&provider).await.len(), 1);
    // Another user cannot stop it, nor learn that it exists.
    let eve = app.user("eve@example.com").await;
    let foreign = eve
        .post(&format!("/api/chat/messages/{reply_id}/stop"), json!({}))
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

async fn a_late_reply_never_takes_the_branch(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let mut first = start_chat(
        &ada,
        json!({ "content": "one two three four five six", "model": "fake-slow" }),
    )
    .await;
    let question = first.until("message").await["message"].clone();
    let late = first.until("reply").await["message"].clone();
    // While the first reply still streams, the user edits the question: a newer exchange.
    let mut edit = start_chat(
        &ada,
        json!({ "content": "something else", "editOf": question["id"] }),
    )
    .await;
    let edited = edit.until("message").await["message"].clone();
    let (name, newer) = edit.last().await;
    assert_eq!(name, "done");
    let newer = newer["message"].clone();
    let (name, finished) = first.last().await;
    assert_eq!(name, "done");
    assert_eq!(finished["message"]["status"], "complete");
    assert_eq!(
        finished["message"]["parentId"], question["id"],
        "a reply keeps its question"
    );
    assert_eq!(finished["message"]["id"], late["id"]);
    let session_id = question["sessionId"].as_str().unwrap();
    let session: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["activeLeafId"], newer["id"],
        "the newer exchange keeps the branch"
    );
    let branch: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}/branch"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = branch["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&edited["id"], &newer["id"]]);
}

async fn shutdown_saves_what_streamed_after_the_grace(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let mut app = app_with(backend, &provider, |config| {
        config.shutdown_grace = 1;
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let mut events = start_chat(&ada, json!({ "content": "talk", "model": "fake-long" })).await;
    let reply_id = events.until("reply").await["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    events.deltas(3).await;
    let started = Instant::now();
    let reading = tokio::spawn(async move {
        let last = events.last().await;
        (last, events.text)
    });
    app.shut_down().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the grace period bounds the shutdown: {:?}",
        started.elapsed()
    );
    let ((name, data), streamed) = reading.await.unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "shutdown");
    app.restart().await;
    let mut ada = ada;
    ada.follow(&app.address);
    let saved = message(&ada, &reply_id).await;
    assert_eq!(
        status_of(&saved),
        ("partial".to_owned(), json!("shutdown"), streamed.clone())
    );
    assert!(streamed.starts_with("w1 w2 w3"), "{streamed}");
    assert_eq!(
        provider_outcome(&provider, 0).await["_outcome"],
        "cancelled"
    );
}

async fn a_crash_keeps_the_last_checkpoint(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let mut node = TestProcess::start(
        backend,
        &[
            ("CONFAB_OPENAI_BASE_URL", provider.as_str()),
            ("CONFAB_DEFAULT_MODEL", "fake-long"),
            ("CONFAB_REPLY_CHECKPOINT_MS", "200"),
        ],
    )
    .await;
    let ada = node.client();
    ada.sign_up("ada@example.com", "a good password").await;
    let mut events = start_chat(&ada, json!({ "content": "talk" })).await;
    let reply_id = events.until("reply").await["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    events.deltas(25).await;
    // Until a checkpoint holding at least 20 words is stored (one every 200 ms while the
    // reply streams): a fixed pause could end before a loaded machine has written one.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = message(&ada, &reply_id).await;
        let words = stored["content"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .count();
        if words >= 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of 20 words: {stored}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill_9();
    // What reached the client before the kill (the stream may hold a little more).
    while events.next().await.is_some() {}
    let streamed = events.text.clone();
    node.restart().await;
    let mut ada = ada;
    ada.follow(&node.url);
    assert_eq!(
        ada.login("ada@example.com", "a good password")
            .await
            .status(),
        StatusCode::OK
    );
    let saved = settled(&ada, &reply_id, Duration::from_secs(20)).await;
    assert_eq!(saved["status"], "partial", "{saved}");
    assert_eq!(saved["statusReason"], "interrupted");
    let kept = saved["content"].as_str().unwrap();
    assert!(
        streamed.starts_with(kept) && kept.split(' ').count() >= 20,
        "the last checkpoint (at most 200 ms old) is kept: {kept:?} of {streamed:?}"
    );
}

async fn a_retried_request_follows_the_first_reply(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |_| {}).await;
    let ada = app.user("ada@example.com").await;
    let body = json!({
        "content": "one two three four five six seven",
        "model": "fake-slow",
        "clientId": "compose-1",
    });
    let mut first = start_chat(&ada, body.clone()).await;
    let question = first.until("message").await["message"].clone();
    let reply = first.until("reply").await["message"].clone();
    first.deltas(2).await;
    drop(first); // the connection drops; the browser sends the request again

    let mut retry = start_chat(&ada, body.clone()).await;
    assert_eq!(retry.until("message").await["message"], question);
    assert_eq!(retry.until("reply").await["message"]["id"], reply["id"]);
    let (name, done) = retry.last().await;
    assert_eq!(name, "done");
    let expected = "Echo: one two three four five six seven";
    assert_eq!(retry.text, expected, "the whole reply, from its first word");
    assert_eq!(done["message"]["content"], expected);
    assert_eq!(done["message"]["status"], "complete");

    // Once more after it finished: the same reply, at once.
    let mut late = start_chat(&ada, body).await;
    let (name, again) = late.last().await;
    assert_eq!(name, "done");
    assert_eq!(again["message"], done["message"]);
    assert_eq!(late.text, expected);

    let session_id = question["sessionId"].as_str().unwrap();
    assert_eq!(
        messages(&ada, session_id).await.len(),
        2,
        "one question, one reply"
    );
    assert_eq!(
        provider_log(&provider).await.len(),
        1,
        "the model was asked once"
    );
}

async fn openai_endpoint_retries_store_nothing_twice(backend: Backend) {
    let provider = fake_openai::spawn().await;
    let app = app_with(backend, &provider, |_| {}).await;
    let mut ada = app.user("ada@example.com").await;
    ada.token = Some(ada.new_api_token("sdk").await);
    let body = json!({
        "model": "fake-500",
        "messages": [{ "role": "user", "content": "is anyone there" }],
    });
    // The SDK's own retries of a 5xx answer: the same token, the same body.
    let mut sessions = Vec::new();
    for attempt in 0..3 {
        let response = ada
            .request(reqwest::Method::POST, "/v1/chat/completions")
            .header("x-stainless-retry-count", attempt.to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        sessions.push(
            response.headers()["x-confab-session"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(sessions.iter().all(|id| *id == sessions[0]), "{sessions:?}");
    let saved = messages(&ada, &sessions[0]).await;
    assert_eq!(
        saved.len(),
        2,
        "the question and one failed reply: {saved:?}"
    );
    assert_eq!(saved[0]["content"], "is anyone there");
    assert_eq!(
        status_of(&saved[1]),
        ("error".to_owned(), json!("provider_error"), String::new())
    );
    assert_eq!(
        provider_log(&provider).await.len(),
        3,
        "each retry of a failed reply asks again, into the same reply"
    );

    // An Idempotency-Key names the request whatever the body says.
    let mut answers = Vec::new();
    for content in ["first wording", "second wording"] {
        let response = ada
            .request(reqwest::Method::POST, "/v1/chat/completions")
            .header("idempotency-key", "key-42")
            .json(&json!({ "model": "fake-model", "messages": [{ "role": "user", "content": content }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        answers.push(answer["choices"][0]["message"]["content"].clone());
    }
    assert_eq!(
        answers,
        vec![json!("Echo: first wording"), json!("Echo: first wording")]
    );
    assert_eq!(provider_log(&provider).await.len(), 4);
}

both_backends!(a_cut_stream_is_partial, |backend| {
    a_cut_stream_is_partial_not_complete(backend)
});
both_backends!(a_stalled_provider, |backend| {
    a_stalled_provider_is_partial_and_cancelled(backend)
});
both_backends!(a_reply_past_its_bound, |backend| {
    a_reply_past_its_bound_keeps_what_arrived(backend)
});
both_backends!(stop, |backend| {
    stop_cancels_the_provider_and_keeps_the_text(backend)
});
both_backends!(a_late_reply, |backend| {
    a_late_reply_never_takes_the_branch(backend)
});
both_backends!(shutdown, |backend| {
    shutdown_saves_what_streamed_after_the_grace(backend)
});
both_backends!(a_crash, |backend| {
    a_crash_keeps_the_last_checkpoint(backend)
});
both_backends!(a_retried_request, |backend| {
    a_retried_request_follows_the_first_reply(backend)
});
both_backends!(openai_retries, |backend| {
    openai_endpoint_retries_store_nothing_twice(backend)
});

/// Two nodes on one MongoDB database: a retry and a stop that reach the node that is not
/// generating the reply are honoured through the store, and the model is asked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_follows_and_stops_a_reply() {
    let provider = fake_openai::spawn().await;
    let node_a = app_with(Backend::Mongo, &provider, |config| {
        config.reply_checkpoint_ms = 200;
    })
    .await;
    let shared = node_a.data.database_url.clone();
    let node_b = app_with(Backend::Mongo, &provider, move |config| {
        config.database_url = shared.map(Into::into);
        config.reply_checkpoint_ms = 200;
    })
    .await;
    let on_a = node_a.user("ada@example.com").await;
    let on_b = Client_::browser(&node_b.address);
    assert_eq!(
        on_b.login("ada@example.com", "a good password")
            .await
            .status(),
        StatusCode::OK
    );
    let body = json!({ "content": "talk", "model": "fake-long", "clientId": "compose-7" });
    let mut first = start_chat(&on_a, body.clone()).await;
    let question = first.until("message").await["message"].clone();
    let reply = first.until("reply").await["message"].clone();
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    first.deltas(10).await;

    // The browser reconnects through the other node: it follows the same reply.
    let mut retry = start_chat(&on_b, body).await;
    assert_eq!(retry.until("message").await["message"], question);
    assert_eq!(retry.until("reply").await["message"]["id"], reply["id"]);
    retry.deltas(2).await;

    // Stop, through the other node too.
    let stopped = on_b
        .post(&format!("/api/chat/messages/{reply_id}/stop"), json!({}))
        .await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let (name, done) = first.last().await;
    assert_eq!(name, "done", "{done}");
    let saved = done["message"].clone();
    assert_eq!(saved["status"], "partial");
    assert_eq!(saved["statusReason"], "stopped");
    assert_eq!(saved["content"].as_str().unwrap(), first.text);
    let (name, followed) = retry.last().await;
    assert_eq!(name, "done");
    assert_eq!(followed["message"], saved);
    assert_eq!(
        retry.text, first.text,
        "the follower got every word, from the first"
    );
    assert_eq!(message(&on_b, &reply_id).await, saved);
    let log = provider_log(&provider).await;
    assert_eq!(log.len(), 1, "the model was asked once");
    assert_eq!(
        provider_outcome(&provider, 0).await["_outcome"],
        "cancelled"
    );
}

/// The disk fills while a reply streams: its save is retried, then the whole text goes to the
/// client (to keep and save again), counted in the metrics; once space is back, writes work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_cannot_be_saved_goes_to_the_client_whole() {
    use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
    let provider = fake_openai::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = std::sync::Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).unwrap(),
    );
    let store: confab_core::store::DynStore = sqlite.clone();
    let url = provider.clone();
    let app = TestApp::spawn_with_store(store, move |config| {
        config.openai_base_url = url.into();
        config.default_model = "fake-huge".into();
        config.max_reply_bytes = 300 * 1024;
        config.reply_save_retry = 1;
    })
    .await;
    let ada = app.user("ada@example.com").await;
    // Fill the database up to a cap at its size, then leave room for small writes (the
    // question, the reply's first row) but not for a 300 KiB reply.
    let pages = sqlite.set_max_page_count(1).await.unwrap();
    let filler = ada.session("filler").await;
    let mut full = false;
    for _ in 0..200 {
        let response = ada
            .post(
                "/api/chat/messages",
                json!({ "sessionId": filler["id"], "role": "user", "content": "x".repeat(30_000) }),
            )
            .await;
        if response.status() == StatusCode::INSUFFICIENT_STORAGE {
            full = true;
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert!(full, "the capped database never filled");
    let cap = sqlite.set_max_page_count(1).await.unwrap();
    sqlite.set_max_page_count(cap + 16).await.unwrap();
    eprintln!("the database ({pages} pages at first) is full at {cap} pages, +16 for small writes");
    let mut events = start_chat(&ada, json!({ "content": "a big CSV please" })).await;
    let question = events.until("message").await["message"].clone();
    events.until("reply").await;
    let (name, data) = events.last().await;
    assert_eq!(name, "error");
    assert_eq!(data["error"]["code"], "storage_full", "{}", data["error"]);
    assert!(data["message"].is_null());
    let expected = events.text.clone();
    assert!(expected.len() > 300 * 1024 - 4, "{}", expected.len());
    assert_eq!(
        data["text"],
        json!(expected),
        "the whole reply reaches the client"
    );
    let metrics = ada.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("confab_reply_save_failures_total 1\n"),
        "{metrics}"
    );

    // Space is back: writes work again without a restart.
    sqlite.set_max_page_count(1 << 30).await.unwrap();
    let saved = ada
        .post(
            "/api/chat/messages",
            json!({ "sessionId": question["sessionId"], "role": "user", "content": "still here?" }),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::CREATED);
}

/// A reply whose final save fails (the disk is full) reaches the client as text, with the
/// stored reply it belongs to; saved again, it lands in that same reply, whatever its size
/// (here about 600 KiB, more than one message may hold when sent as a new one).
#[tokio::test]
async fn a_reply_whose_save_failed_is_saved_again_into_the_same_reply() {
    let provider = fake_openai::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(
        confab_core::store::sqlite::SqliteStore::open(
            confab_core::store::sqlite::SqliteOptions::new(dir.path().join("confab.db")),
        )
        .expect("open the store"),
    );
    let bound = 600 * 1024;
    let app = TestApp::spawn_with_store(store.clone(), {
        let provider = provider.clone();
        move |config| {
            config.openai_base_url = provider.into();
            config.default_model = "fake-model".into();
            config.max_reply_bytes = bound;
            config.reply_save_retry = 1;
        }
    })
    .await;
    let ada = app.user("ada@example.com").await;
    let mut events = start_chat(
        &ada,
        json!({ "content": "a big CSV", "model": "fake-huge" }),
    )
    .await;
    let placeholder = events.until("reply").await["message"].clone();
    let id = placeholder["id"].as_str().expect("id").to_owned();
    let session_id = placeholder["sessionId"]
        .as_str()
        .expect("session")
        .to_owned();
    // The disk fills up while the reply streams (SQLite keeps a cap of 1 at its size).
    store.set_max_page_count(1).await.expect("cap");

    let data = events.until("error").await;
    assert_eq!(data["error"]["code"], "storage_full", "{data}");
    assert_eq!(data["message"], Value::Null);
    assert_eq!(
        data["unsaved"],
        json!({ "id": id, "status": "partial", "statusReason": "too_long" })
    );
    let text = data["text"].as_str().expect("text").to_owned();
    assert_eq!(text, events.text, "the text is all that streamed");
    assert!(
        text.len() > 512 * 1024 && text.len() <= bound,
        "{}",
        text.len()
    );

    // Saving while the disk is still full fails and changes nothing.
    let body = json!({ "content": text, "status": "partial", "statusReason": "too_long" });
    let path = format!("/api/chat/messages/{id}/save");
    let refused = ada.post(&path, body.clone()).await;
    assert_eq!(refused.status(), StatusCode::INSUFFICIENT_STORAGE);

    store.set_max_page_count(1 << 30).await.expect("uncap");
    let saved = ada.post(&path, body.clone()).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.expect("JSON");
    assert_eq!(
        status_of(&saved["message"]),
        ("partial".to_owned(), json!("too_long"), text.clone())
    );
    assert_eq!(saved["message"]["id"], id.as_str());
    let all = messages(&ada, &session_id).await;
    assert_eq!(all.len(), 2, "the question and its one reply");
    assert_eq!(
        all[1], saved["message"],
        "what was answered is what is stored"
    );

    // Saved once: a second save, or another user's, changes nothing.
    let again = ada.post(&path, body.clone()).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let bob = app.user("bob@example.com").await;
    assert_eq!(bob.post(&path, body).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(messages(&ada, &session_id).await, all);
}
