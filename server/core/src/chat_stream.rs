//! A chat reply on the wire: the events of `POST /api/chat` and `/api/chat/regenerate` as
//! Server-Sent Events, and the one decoder of Server-Sent Events that Confab's readers use (the
//! WASM client, the tests). The server writes each `ChatEvent` with `encode`; readers get it
//! back from `chat_events`, so the two cannot drift apart.
//!
//! Each event's SSE name is its kind (`message`, `reply`, `delta`, `done`, `error`) and its data
//! the kind's fields as one line of JSON: JSON escapes line breaks, so no text of a reply can
//! end an event or start a field.

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::api::UnsavedReply;
use crate::model::{Message, Session};

/// What a chat reply stream reports, in order: the saved user message, the stored reply,
/// deltas, then done or error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum ChatEvent {
    /// The user message is saved (and the session, when this message created it).
    Message {
        message: Message,
        session: Option<Session>,
    },
    /// The reply is stored (status `streaming`, no text yet): its id is what Stop names.
    Reply {
        message: Message,
    },
    Delta {
        text: String,
    },
    /// The reply ended and is saved: `complete`, or `partial` with reason `stopped`.
    Done {
        message: Message,
    },
    /// The reply did not complete. `error.code` is the status reason (`provider_interrupted`,
    /// `too_long`, …) and `message` the reply as saved (`partial` with what had arrived, or
    /// `error` when nothing had); or `error.code` is `save_failed` (or `storage_full`) with no
    /// `message`, and `text` holds the whole reply so the client can keep it and save it again
    /// into the same stored reply named by `unsaved` (`POST /api/chat/messages/{id}/save`).
    Error {
        error: ChatError,
        message: Option<Message>,
        text: Option<String>,
        unsaved: Option<UnsavedReply>,
    },
}

/// Why a reply did not complete: a code for programs and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatError {
    pub code: String,
    pub message: String,
}

impl ChatError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ChatError {
        ChatError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// How the event is tagged in its serde form (`{"event": name, "data": fields}`), which the SSE
/// encoding splits into the event's name and data.
const NAME: &str = "event";
const DATA: &str = "data";

impl ChatEvent {
    /// The event's SSE name and data.
    pub fn encode(&self) -> (String, String) {
        let mut tagged = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(tagged)) => tagged,
            // A derived Serialize of plain data fails only on non-string map keys; there are none.
            _ => unreachable!("a chat event serializes to a JSON object"),
        };
        let name = match tagged.remove(NAME) {
            Some(serde_json::Value::String(name)) => name,
            _ => unreachable!("a chat event is tagged with its name"),
        };
        let data = tagged.remove(DATA).unwrap_or_default().to_string();
        (name, data)
    }

    /// The event named `name` with the JSON `data`.
    pub fn decode(name: &str, data: &str) -> Result<ChatEvent, serde_json::Error> {
        let data: serde_json::Value = serde_json::from_str(data)?;
        let mut tagged = serde_json::Map::new();
        tagged.insert(NAME.into(), name.into());
        tagged.insert(DATA.into(), data);
        serde_json::from_value(serde_json::Value::Object(tagged))
    }
}

/// One Server-Sent Event: its name (`message` when it has none) and its data.
pub type ServerSentEvent = eventsource_stream::Event;

/// Why a stream of events could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError<E> {
    /// The bytes did not arrive (the connection failed, or the reader was cancelled).
    #[error("the event stream was cut: {0}")]
    Transport(E),
    /// The bytes are not a stream of events (not UTF-8, or not the SSE syntax).
    #[error("the event stream is malformed: {0}")]
    Malformed(String),
    /// An event is not a chat event.
    #[error("the {name:?} event does not decode: {source}")]
    Event {
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

impl<E> From<EventStreamError<E>> for DecodeError<E> {
    fn from(error: EventStreamError<E>) -> Self {
        match error {
            EventStreamError::Transport(error) => DecodeError::Transport(error),
            EventStreamError::Utf8(error) => DecodeError::Malformed(error.to_string()),
            EventStreamError::Parser(error) => DecodeError::Malformed(error.to_string()),
        }
    }
}

/// The events of a Server-Sent Events body, as it arrives in chunks of bytes; comments and
/// events without data (keep-alives) are skipped.
pub fn server_sent_events<S, B, E>(
    bytes: S,
) -> impl Stream<Item = Result<ServerSentEvent, DecodeError<E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    bytes
        .flat_map(|chunk| futures::stream::iter(line_by_line(chunk)))
        .eventsource()
        .map(|event| event.map_err(DecodeError::from))
}

/// A chunk of bytes cut after each line break. The SSE parser moves what follows each line it
/// reads to a new buffer, so a chunk of many lines (a whole body) would cost its length times
/// their number; fed a line at a time it costs each line's length.
fn line_by_line<B: AsRef<[u8]>, E>(chunk: Result<B, E>) -> Vec<Result<Vec<u8>, E>> {
    match chunk {
        Ok(bytes) => bytes
            .as_ref()
            .split_inclusive(|byte| *byte == b'\n')
            .map(|line| Ok(line.to_vec()))
            .collect(),
        Err(error) => vec![Err(error)],
    }
}

/// The chat events of a reply stream's body.
pub fn chat_events<S, B, E>(bytes: S) -> impl Stream<Item = Result<ChatEvent, DecodeError<E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    server_sent_events(bytes).map(|event| {
        let event = event?;
        ChatEvent::decode(&event.event, &event.data).map_err(|source| DecodeError::Event {
            name: event.event,
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageStatus, Role, StatusReason};
    use chrono::TimeZone;

    fn message(content: &str) -> Message {
        Message {
            id: "m1".into(),
            session_id: "s1".into(),
            parent_id: Some("m0".into()),
            role: Role::Assistant,
            content: content.into(),
            message_type: "text".into(),
            model: Some("fake-model".into()),
            prompt_tokens: Some(10),
            completion_tokens: Some(4),
            latency_ms: Some(12),
            status: MessageStatus::Partial,
            status_reason: Some(StatusReason::ProviderInterrupted),
            client_id: Some("c1".into()),
            created_at: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            usage_estimated: true,
            starred: false,
            starred_at: None,
        }
    }

    /// Texts that could break an event if they were not escaped.
    const AWKWARD: [&str; 6] = [
        "line one\nline two\n\nafter a blank line",
        "carriage\r\nreturn\rlone",
        "data: not a field\nevent: error\n\n",
        ": a comment?\nid: 7\nretry: 1",
        "汉字和标点，。 and emoji 👩‍🚀🎉",
        "",
    ];

    fn every_kind(text: &str) -> Vec<ChatEvent> {
        let at = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let session = Session {
            id: "s1".into(),
            title: text.into(),
            is_active: true,
            pinned: false,
            archived: false,
            message_count: 2,
            prompt_tokens: 10,
            completion_tokens: 4,
            created_at: at,
            updated_at: at,
            last_message_at: Some(at),
            active_leaf_id: Some("m1".into()),
            forked_from: None,
            tags: Vec::new(),
            folder_id: None,
        };
        vec![
            ChatEvent::Message {
                message: message(text),
                session: Some(session),
            },
            ChatEvent::Message {
                message: message(text),
                session: None,
            },
            ChatEvent::Reply {
                message: message(""),
            },
            ChatEvent::Delta { text: text.into() },
            ChatEvent::Done {
                message: message(text),
            },
            ChatEvent::Error {
                error: ChatError::new("provider_interrupted", text),
                message: Some(message(text)),
                text: None,
                unsaved: None,
            },
            ChatEvent::Error {
                error: ChatError::new("save_failed", "the reply could not be saved"),
                message: None,
                text: Some(text.into()),
                unsaved: Some(UnsavedReply {
                    id: "m1".into(),
                    status: MessageStatus::Partial,
                    status_reason: Some(StatusReason::Stopped),
                }),
            },
        ]
    }

    /// The SSE text of events as the server's `axum` Sse response writes them.
    fn sse_body(events: &[ChatEvent]) -> String {
        let mut body = String::from(": a keep-alive comment\n\n");
        for event in events {
            let (name, data) = event.encode();
            body.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        }
        body
    }

    fn decode_all(chunks: Vec<Vec<u8>>) -> Vec<ChatEvent> {
        let bytes = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        futures::executor::block_on(chat_events(bytes).collect::<Vec<_>>())
            .into_iter()
            .map(|event| event.expect("a chat event"))
            .collect()
    }

    #[test]
    fn every_event_survives_the_wire_whatever_its_text() {
        for text in AWKWARD {
            let events = every_kind(text);
            let body = sse_body(&events);
            assert_eq!(
                decode_all(vec![body.clone().into_bytes()]),
                events,
                "{body}"
            );
            // The network splits anywhere, inside a line or a character.
            let bytes = body.into_bytes();
            let split: Vec<Vec<u8>> = bytes.chunks(3).map(<[u8]>::to_vec).collect();
            assert_eq!(decode_all(split), events);
        }
    }

    #[test]
    fn the_wire_format_is_the_one_the_ui_reads() {
        let (name, data) = ChatEvent::Delta {
            text: "a\nb".into(),
        }
        .encode();
        assert_eq!(
            (name.as_str(), data.as_str()),
            ("delta", r#"{"text":"a\nb"}"#)
        );
        let (name, data) = ChatEvent::Error {
            error: ChatError::new("save_failed", "not saved"),
            message: None,
            text: Some("t".into()),
            unsaved: None,
        }
        .encode();
        assert_eq!(name, "error");
        assert_eq!(
            data,
            r#"{"error":{"code":"save_failed","message":"not saved"},"message":null,"text":"t","unsaved":null}"#
        );
    }

    #[test]
    fn an_unknown_event_is_an_error_that_names_it() {
        let body = "event: surprise\ndata: {}\n\n".as_bytes().to_vec();
        let bytes = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
        let decoded = futures::executor::block_on(chat_events(bytes).collect::<Vec<_>>());
        assert!(
            matches!(&decoded[..], [Err(DecodeError::Event { name, .. })] if name == "surprise"),
            "{decoded:?}"
        );
    }
}
