//! A model provider for tests: a real HTTP server that speaks the OpenAI chat-completions
//! protocol (SSE chunks: role, content, finish, usage, `[DONE]`), deterministic, with modes
//! chosen by the model name:
//!
//! - `fake-model`: the reply streams in word by word, then a usage chunk.
//! - `fake-slow`: the same, 150 ms between chunks.
//! - `fake-no-usage`: no usage chunk.
//! - `fake-error-midstream`: a few chunks, then the connection is cut.
//! - `fake-500`: HTTP 500 with an OpenAI-style error body.
//!
//! The reply is `Echo: <last user message>` (or `Reply <n>` when the message is `count`).
//! Every request body is recorded; `GET /_requests` returns them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const MODELS: &[&str] = &[
    "fake-model",
    "fake-slow",
    "fake-no-usage",
    "fake-error-midstream",
    "fake-500",
];

#[derive(Clone, Default)]
struct Recorder {
    requests: Arc<Mutex<Vec<Value>>>,
}

/// Serves the fake provider on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .route("/_requests", get(requests))
        .with_state(Recorder::default());
    axum::serve(listener, app).await
}

/// Starts the fake provider on a random local port; returns its base URL (`http://…/v1`).
pub async fn spawn() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake provider");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = serve(listener).await;
    });
    format!("http://{address}/v1")
}

async fn models() -> Json<Value> {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "fake" }))
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

async fn requests(State(recorder): State<Recorder>) -> Json<Value> {
    let requests = recorder
        .requests
        .lock()
        .map(|requests| requests.clone())
        .unwrap_or_default();
    Json(Value::Array(requests))
}

fn reply_for(request: &Value) -> String {
    let last_user = request["messages"]
        .as_array()
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|message| message["role"] == "user")
        })
        .and_then(|message| message["content"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let count = request["messages"].as_array().map(Vec::len).unwrap_or(0);
    if last_user.trim() == "count" {
        format!("Reply {count}")
    } else {
        format!("Echo: {last_user}")
    }
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    let body = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    });
    format!("data: {body}\n\n")
}

async fn completions(State(recorder): State<Recorder>, Json(request): Json<Value>) -> Response {
    if let Ok(mut requests) = recorder.requests.lock() {
        requests.push(request.clone());
    }
    let model = request["model"].as_str().unwrap_or("fake-model").to_owned();
    if model == "fake-500" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": { "message": "the fake provider failed on purpose", "type": "server_error", "code": null } })),
        )
            .into_response();
    }
    let reply = reply_for(&request);
    let prompt_tokens = request["messages"]
        .as_array()
        .map(|m| m.len() as u64 * 10)
        .unwrap_or(0);
    let completion_tokens = reply.split_whitespace().count() as u64;
    if request["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens }
        }))
        .into_response();
    }
    let include_usage =
        request["stream_options"]["include_usage"] == json!(true) && model != "fake-no-usage";
    let delay = if model == "fake-slow" {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(5)
    };
    let cut_after = (model == "fake-error-midstream").then_some(3usize);
    let mut pieces: Vec<String> = Vec::new();
    for (index, word) in reply.split(' ').enumerate() {
        pieces.push(if index == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    let stream = async_stream(
        model,
        pieces,
        include_usage,
        delay,
        cut_after,
        prompt_tokens,
        completion_tokens,
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn async_stream(
    model: String,
    pieces: Vec<String>,
    include_usage: bool,
    delay: Duration,
    cut_after: Option<usize>,
    prompt_tokens: u64,
    completion_tokens: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let send = |text: String| {
            let sender = sender.clone();
            async move { sender.send(Ok(Bytes::from(text))).await.is_ok() }
        };
        if !send(chunk(
            &model,
            json!({ "role": "assistant", "content": "" }),
            None,
        ))
        .await
        {
            return;
        }
        for (index, piece) in pieces.iter().enumerate() {
            if cut_after == Some(index) {
                // Let what was sent reach the client before the connection breaks.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = sender
                    .send(Err(std::io::Error::other(
                        "the fake provider cut the stream",
                    )))
                    .await;
                return;
            }
            tokio::time::sleep(delay).await;
            if !send(chunk(&model, json!({ "content": piece }), None)).await {
                return;
            }
        }
        send(chunk(&model, json!({}), Some("stop"))).await;
        if include_usage {
            let usage = json!({
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [],
                "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens }
            });
            send(format!("data: {usage}\n\n")).await;
        }
        send("data: [DONE]\n\n".to_owned()).await;
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
