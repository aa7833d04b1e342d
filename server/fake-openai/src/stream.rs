//! Plays a [`Script`] as a `text/event-stream` body, noticing when the client goes away.
//!
//! The body is fed through a channel by a task of its own. When the client closes the
//! connection, hyper drops the body and with it the channel's receiver: a send then fails and
//! `closed()` resolves, which is how the fake knows it was cancelled.

use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::log::{Entry, Outcome};
use crate::mode::{Ending, Script};

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// How long `fake-malformed` keeps the connection open after its broken line.
const MALFORMED_HOLD: Duration = Duration::from_secs(1);
/// How long `fake-stall` waits for the client to leave.
const STALL_HOLD: Duration = Duration::from_secs(600);
/// The pause before a reset, so what was sent reaches the client before the connection breaks.
const RESET_GRACE: Duration = Duration::from_millis(100);

/// The streaming body of `script`; `entry` is kept up to date as it plays.
pub fn body(model: String, script: Script, entry: Entry) -> Body {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        let outcome = play(&model, script, &entry, &sender).await;
        entry.finish(outcome);
    });
    Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

/// One SSE event carrying a chat-completion chunk.
pub fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    event(&json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    }))
}

/// The `usage` object for these token counts.
pub fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens
    })
}

fn event(data: &Value) -> String {
    format!("data: {data}\n\n")
}

async fn play(model: &str, script: Script, entry: &Entry, sender: &Sender) -> Outcome {
    let role = chunk(model, json!({ "role": "assistant", "content": "" }), None);
    if !send(sender, role).await {
        return Outcome::Cancelled;
    }
    for piece in script.pieces {
        if !pause(sender, script.delay).await
            || !send(sender, chunk(model, json!({ "content": piece }), None)).await
        {
            return Outcome::Cancelled;
        }
        entry.chunk_sent();
    }
    let finished = match script.ending {
        Ending::Finish { usage: with_usage } => {
            let mut sent = send(sender, chunk(model, json!({}), Some("stop"))).await;
            if with_usage && sent {
                let usage = event(&json!({
                    "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "choices": [],
                    "usage": usage(script.prompt_tokens, script.completion_tokens)
                }));
                sent = send(sender, usage).await;
            }
            sent && send(sender, "data: [DONE]\n\n".to_owned()).await
        }
        Ending::Clean => true,
        Ending::Reset => {
            pause(sender, RESET_GRACE).await
                && sender
                    .send(Err(std::io::Error::other(
                        "the fake provider cut the stream",
                    )))
                    .await
                    .is_ok()
        }
        Ending::Malformed => {
            send(sender, "data: {\"choices\": [\n\n".to_owned()).await
                && pause(sender, MALFORMED_HOLD).await
        }
        Ending::Stall => pause(sender, STALL_HOLD).await,
    };
    if finished {
        Outcome::Completed
    } else {
        Outcome::Cancelled
    }
}

/// Hands `text` to the connection; false when the client has gone away.
async fn send(sender: &Sender, text: String) -> bool {
    sender.send(Ok(Bytes::from(text))).await.is_ok()
}

/// Waits `delay`; false (at once) when the client goes away meanwhile.
async fn pause(sender: &Sender, delay: Duration) -> bool {
    tokio::select! {
        _ = sender.closed() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}
