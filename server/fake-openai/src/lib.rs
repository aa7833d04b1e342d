//! A model provider for tests: a real HTTP server that speaks the OpenAI chat-completions
//! protocol (`POST /v1/chat/completions`, streamed as SSE chunks: role, content, finish, usage,
//! `data: [DONE]`), deterministic, with a mode chosen by the request's model name:
//!
//! | model | what it streams |
//! |---|---|
//! | `fake-model` (and any unknown name) | the echo word by word, 5 ms apart, then finish, usage (when `stream_options.include_usage`), `[DONE]` |
//! | `fake-slow` | the same, 150 ms apart |
//! | `fake-no-usage` | the same, never a usage chunk |
//! | `fake-error-midstream` | the first three words of the echo, then the connection is aborted mid-body (a reply of three words or fewer ends normally) |
//! | `fake-500` | no stream: HTTP 500 with an OpenAI-style error body whose message is `SERVER_ERROR_MESSAGE` (it quotes `SECRET_IN_ERROR`: what a provider says must not reach Confab's users) |
//! | `fake-cut` | `one`, ` two`, ` three`, then the body ends cleanly: no `finish_reason`, no `[DONE]` |
//! | `fake-reset` | `one`, ` two`, ` three`, then the connection is aborted mid-body |
//! | `fake-malformed` | `one`, ` two`, ` three`, then the line `data: {"choices": [` (broken JSON); the connection stays open 1 s, then closes cleanly |
//! | `fake-stall` | `one`, ` two`, ` three`, then nothing: the connection stays open until the client leaves (10 minutes at most) |
//! | `fake-huge` | 8 MiB of content in chunks of exactly 1024 bytes (CSV-like ASCII lines with one `é` each, at a place that moves), 2 ms apart, then finish and `[DONE]` |
//! | `fake-long` | `w1 w2 … w300`, one word per chunk, 40 ms apart, then finish and `[DONE]` |
//!
//! The echo is `Echo: <last user message>`, or `Reply <n>` (n = messages sent) when that message
//! is `count`. Every stream starts with a role chunk (`{"role": "assistant", "content": ""}`).
//! A request with `"stream": false` gets the whole reply of its mode in one JSON answer.
//!
//! `GET /_requests` answers every chat-completions request received, oldest first: its JSON body
//! with three fields added beside the body's own:
//! - `_outcome`: `"running"`, `"completed"` (the fake sent all its mode asked for), or
//!   `"cancelled"` (the client closed the connection before that, including while `fake-stall`
//!   or `fake-malformed` held it open);
//! - `_chunks`: the content chunks handed to the connection so far;
//! - `_headers`: `idempotency-key` and `x-stainless-retry-count` when the request had them.

mod log;
mod mode;
mod stream;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use log::Outcome;
pub use mode::{
    huge_piece, long_reply, Mode, BROKEN_PIECES, HUGE_CHUNK_BYTES, HUGE_TOTAL_BYTES, LONG_WORDS,
};

use log::RequestLog;

/// A secret-looking string that `fake-500`'s error message quotes, as a provider's error may
/// quote a key or an internal address.
pub const SECRET_IN_ERROR: &str = "sk-fake-5ecret-from-the-error-body";
/// The message of `fake-500`'s error body.
pub const SERVER_ERROR_MESSAGE: &str =
    "the fake provider failed on purpose; key sk-fake-5ecret-from-the-error-body at 10.9.8.7";

/// Serves the fake provider on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .route("/_requests", get(requests))
        .with_state(RequestLog::default());
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
    let data: Vec<Value> = Mode::ALL
        .iter()
        .map(|(id, _)| json!({ "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "fake" }))
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

async fn requests(State(log): State<RequestLog>) -> Json<Vec<Value>> {
    Json(log.snapshot())
}

async fn completions(
    State(log): State<RequestLog>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    let entry = log.record(&request, &headers);
    let model = request["model"].as_str().unwrap_or("fake-model").to_owned();
    let mode = Mode::of_model(&model);
    if mode == Mode::ServerError {
        entry.finish(Outcome::Completed);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": { "message": SERVER_ERROR_MESSAGE, "type": "server_error", "code": null } })),
        )
            .into_response();
    }
    let script = mode.script(&request);
    if request["stream"] != json!(true) {
        let usage = stream::usage(script.prompt_tokens, script.completion_tokens);
        let reply: String = script.pieces.collect();
        entry.finish(Outcome::Completed);
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply }, "finish_reason": "stop" }],
            "usage": usage
        }))
        .into_response();
    }
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        stream::body(model, script, entry),
    )
        .into_response()
}
