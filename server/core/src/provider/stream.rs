//! Streaming a reply from an OpenAI-compatible provider, reduced to what Confab needs: text
//! deltas, usage, the `finish_reason` and the `[DONE]` marker.
//!
//! The stream is read with reqwest and `eventsource-stream` rather than async-openai, whose
//! stream ends the same way on `[DONE]` and on a connection the provider closed early: Confab
//! must tell a finished reply from a cut one. Protocol: the chat-completions streaming format
//! (`data: {chunk}` events, then `data: [DONE]`), as OpenAI documents it and as Ollama, vLLM
//! and llama.cpp serve it.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::error::reqwest_detail;
use super::{failure_of_status, Failure, Provider, ProviderError};
use crate::model::Role;

/// Longest line of the provider's event stream, in bytes. A chunk is a few hundred bytes; a
/// provider that sends megabytes without a line break is broken, and must not make Confab
/// buffer without bound.
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Most of an error answer's body that is read (to quote its message).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Characters of a provider's text quoted in an error message.
const QUOTE_CHARS: usize = 200;

/// One message of the context sent to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
}

/// What the provider's stream reports, in order: deltas, a finish, usage, done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyEvent {
    /// More text of the reply.
    Delta(String),
    Usage {
        prompt_tokens: i64,
        completion_tokens: i64,
    },
    /// The model ended the reply (`finish_reason`: `stop`, `length`, …). A stream that ends
    /// without one was cut.
    Finished(String),
    /// `data: [DONE]`: nothing follows.
    Done,
}

pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<ReplyEvent, ProviderError>> + Send>>;

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
}

/// The first `QUOTE_CHARS` characters of `text` (never a byte slice: the text is the
/// provider's and may be any UTF-8).
fn quote(text: &str) -> String {
    let mut quoted: String = text.chars().take(QUOTE_CHARS).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    quoted
}

/// The message of an OpenAI-style error (`{"error": {"message": …}}` or `{"error": "…"}`).
fn error_message(error: &serde_json::Value) -> String {
    match error {
        serde_json::Value::String(text) => quote(text),
        other => other
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map(quote)
            .unwrap_or_else(|| quote(&other.to_string())),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Assistant => "assistant",
        // Tool results without their call cannot be sent as tool messages; as user text the
        // model still sees them.
        Role::User | Role::Tool => "user",
    }
}

/// What went wrong in a stream, and the detail for the log.
type StreamFailure = (Failure, String);

/// The events of one `data:` payload.
fn parse_data(data: &str) -> Vec<Result<ReplyEvent, StreamFailure>> {
    if data.trim() == "[DONE]" {
        return vec![Ok(ReplyEvent::Done)];
    }
    let chunk: Chunk = match serde_json::from_str(data) {
        Ok(chunk) => chunk,
        Err(error) => {
            return vec![Err((
                Failure::BadAnswer,
                format!("a malformed chunk ({error}): {}", quote(data)),
            ))]
        }
    };
    if let Some(error) = chunk.error {
        return vec![Err((
            Failure::Upstream { status: None },
            format!("an error in the stream: {}", error_message(&error)),
        ))];
    }
    let mut events = Vec::new();
    for choice in chunk.choices {
        if let Some(text) = choice
            .delta
            .and_then(|delta| delta.content)
            .filter(|text| !text.is_empty())
        {
            events.push(Ok(ReplyEvent::Delta(text)));
        }
        if let Some(reason) = choice.finish_reason {
            events.push(Ok(ReplyEvent::Finished(reason)));
        }
    }
    if let Some(usage) = chunk.usage {
        events.push(Ok(ReplyEvent::Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }));
    }
    events
}

/// Passes the body on, failing once a line grows past `MAX_LINE_BYTES`.
fn bounded_lines<B: AsRef<[u8]> + Send + 'static>(
    body: impl Stream<Item = reqwest::Result<B>> + Send + 'static,
) -> impl Stream<Item = Result<B, String>> + Send + 'static {
    body.scan(0usize, |line, chunk| {
        let item = match chunk {
            Err(error) => Err(reqwest_detail(error)),
            Ok(bytes) => {
                let data = bytes.as_ref();
                *line = match data.iter().rposition(|byte| *byte == b'\n') {
                    Some(end) => data.len() - end - 1,
                    None => line.saturating_add(data.len()),
                };
                if *line > MAX_LINE_BYTES {
                    Err(format!(
                        "a line of the event stream is longer than {MAX_LINE_BYTES} bytes"
                    ))
                } else {
                    Ok(bytes)
                }
            }
        };
        futures::future::ready(Some(item))
    })
}

impl Provider {
    /// Starts a streamed reply. Fails when the provider cannot be reached, refuses, or sends
    /// no answer within `first_answer` (`ProviderError::Stalled`). Dropping the stream closes
    /// the connection, which cancels the generation at the provider.
    pub async fn stream_reply(
        &self,
        model: &str,
        turns: &[ChatTurn],
        first_answer: Duration,
    ) -> Result<ReplyStream, ProviderError> {
        let base = self.settings.base_url.trim_end_matches('/').to_owned();
        let url = format!("{base}/chat/completions");
        let messages: Vec<serde_json::Value> = turns
            .iter()
            .map(|turn| json!({ "role": role_name(turn.role), "content": turn.content }))
            .collect();
        let body = json!({
            "model": model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = match tokio::time::timeout(first_answer, request.send()).await {
            Err(_) => {
                let seconds = first_answer.as_secs();
                return Err(self.failed(
                    Failure::TimedOut { seconds },
                    format!("no answer to a chat request within {seconds} seconds"),
                ));
            }
            Ok(Err(error)) => {
                let failure = if error.is_connect() || error.is_timeout() || error.is_request() {
                    Failure::Unreachable
                } else {
                    Failure::BadAnswer
                };
                return Err(self.failed(failure, reqwest_detail(error)));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let detail = error_body(response).await;
            return Err(self.failed(
                failure_of_status(status.as_u16()),
                format!("HTTP {status}: {detail}"),
            ));
        }
        let name = self.settings.name.clone();
        let events = bounded_lines(response.bytes_stream())
            .eventsource()
            .flat_map(move |event| {
                let events = match event {
                    Ok(event) => parse_data(&event.data),
                    Err(error) => vec![Err((Failure::Interrupted, error.to_string()))],
                };
                let events: Vec<Result<ReplyEvent, ProviderError>> = events
                    .into_iter()
                    .map(|event| {
                        event.map_err(|(failure, detail)| {
                            ProviderError::new(&name, &base, failure, detail)
                        })
                    })
                    .collect();
                futures::stream::iter(events)
            });
        Ok(Box::pin(events))
    }
}

/// What an error answer says, read up to `MAX_ERROR_BODY_BYTES`.
async fn error_body(response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        let room = MAX_ERROR_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY_BYTES {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => match value.get("error") {
            Some(error) => error_message(error),
            None => quote(&text),
        },
        Err(_) => quote(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_become_events() {
        let events =
            parse_data(r#"{"choices":[{"delta":{"content":"héllo 👋"},"finish_reason":null}]}"#);
        assert_eq!(events, vec![Ok(ReplyEvent::Delta("héllo 👋".into()))]);
        let events = parse_data(
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
        );
        assert_eq!(
            events,
            vec![
                Ok(ReplyEvent::Finished("stop".into())),
                Ok(ReplyEvent::Usage {
                    prompt_tokens: 3,
                    completion_tokens: 5
                })
            ]
        );
        assert_eq!(parse_data("[DONE]"), vec![Ok(ReplyEvent::Done)]);
    }

    #[test]
    fn a_malformed_chunk_or_an_error_object_is_an_error() {
        let broken = parse_data(r#"{"choices": ["#);
        assert!(
            matches!(&broken[..], [Err((Failure::BadAnswer, detail))] if detail.starts_with("a malformed chunk (")),
            "{broken:?}"
        );
        let refused = parse_data(r#"{"error":{"message":"model overloaded"}}"#);
        assert_eq!(
            refused,
            [Err((
                Failure::Upstream { status: None },
                "an error in the stream: model overloaded".to_owned()
            ))]
        );
    }

    #[test]
    fn quotes_cut_at_characters_not_bytes() {
        let text = "语".repeat(QUOTE_CHARS + 10);
        let quoted = quote(&text);
        assert_eq!(quoted.chars().count(), QUOTE_CHARS + 1);
        assert!(quoted.ends_with('…'));
    }
}
