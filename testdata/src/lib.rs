//! Import files made to order, for the tests and the benchmark: one generator of ChatGPT's data
//! export, so that the import tests, the API tests and `confab-bench --imports` read the same
//! shape.
//!
//! The shape is today's export (2025): `conversations.json` split over `conversations-000.json`,
//! … in a ZIP beside `chat.html`, `user.json` and the `__MACOSX/` entries a Mac adds; each
//! conversation a `mapping` of node id to `{id, message, parent, children}` under a root node
//! without a message; user messages without `metadata`; the model only in
//! `default_model_slug`.
//!
//! Also a log kept in memory (`CapturedLog`), for the tests that read what was logged, and the
//! one way the tests run a child process (`ChildProcess`).

mod log;
mod process;

use std::io::{Cursor, Write};

use serde_json::{json, Map, Value};
use zip::result::ZipResult;
use zip::write::SimpleFileOptions;

pub use log::CapturedLog;
pub use process::{ChildProcess, Finished};

/// The root node ChatGPT puts above the first message.
pub const CHATGPT_ROOT: &str = "client-created-root";

/// One ChatGPT conversation to make: a single branch of `messages` messages, user first, then
/// taking turns with the assistant.
#[derive(Clone, Debug)]
pub struct ChatGptConversation<'a> {
    /// The conversation's `id` and `conversation_id`; node `i` is `{id}-{i}`.
    pub id: &'a str,
    pub title: &'a str,
    /// `create_time` of the conversation and of its first message, in seconds.
    pub start: f64,
    pub messages: usize,
    /// Seconds between two messages.
    pub seconds_apart: f64,
}

impl ChatGptConversation<'_> {
    /// The conversation as it appears in `conversations.json`; `text(i)` is message `i`'s text.
    /// The last message is the `current_node`.
    pub fn to_json(&self, mut text: impl FnMut(usize) -> String) -> Value {
        let id = self.id;
        let mut mapping = Map::new();
        mapping.insert(
            CHATGPT_ROOT.into(),
            json!({"id": CHATGPT_ROOT, "message": null, "parent": null,
                   "children": [format!("{id}-0")]}),
        );
        for position in 0..self.messages {
            let key = format!("{id}-{position}");
            let parent = match position {
                0 => CHATGPT_ROOT.to_owned(),
                _ => format!("{id}-{}", position - 1),
            };
            let children: Vec<String> = (position + 1 < self.messages)
                .then(|| format!("{id}-{}", position + 1))
                .into_iter()
                .collect();
            let assistant = position % 2 == 1;
            let mut message = json!({
                "id": key,
                "author": {"role": if assistant { "assistant" } else { "user" }},
                "create_time": self.time(position),
                "content": {"content_type": "text", "parts": [text(position)]},
                "status": "finished_successfully",
                "weight": 1.0,
                "recipient": "all",
            });
            if assistant {
                message["metadata"] = json!({"finish_details": {"type": "stop"}});
            }
            mapping.insert(
                key.clone(),
                json!({"id": key, "message": message, "parent": parent, "children": children}),
            );
        }
        json!({
            "title": self.title,
            "create_time": self.start,
            "update_time": self.time(self.messages.saturating_sub(1)),
            "mapping": mapping,
            "current_node": format!("{id}-{}", self.messages.saturating_sub(1)),
            "conversation_id": id,
            "id": id,
            "default_model_slug": "gpt-4o",
            "is_archived": false,
            "is_starred": null,
        })
    }

    /// `create_time` of message `position`.
    pub fn time(&self, position: usize) -> f64 {
        self.start + position as f64 * self.seconds_apart
    }
}

/// A ChatGPT data export ZIP written a shard at a time, so that a large one is never held as
/// JSON values all at once.
pub struct ChatGptZip {
    zip: zip::ZipWriter<Cursor<Vec<u8>>>,
    shards: usize,
}

impl Default for ChatGptZip {
    fn default() -> Self {
        ChatGptZip::new()
    }
}

impl ChatGptZip {
    pub fn new() -> Self {
        ChatGptZip {
            zip: zip::ZipWriter::new(Cursor::new(Vec::new())),
            shards: 0,
        }
    }

    fn options() -> SimpleFileOptions {
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
    }

    /// Adds `conversations-NNN.json` holding `conversations`, and the AppleDouble file a Mac
    /// adds beside it (`__MACOSX/._conversations-NNN.json`, binary).
    pub fn shard(&mut self, conversations: &[Value]) -> ZipResult<()> {
        let name = format!("conversations-{:03}.json", self.shards);
        self.shards += 1;
        self.zip.start_file(&name, Self::options())?;
        serde_json::to_writer(&mut self.zip, conversations).map_err(std::io::Error::from)?;
        self.zip
            .start_file(format!("__MACOSX/._{name}"), Self::options())?;
        self.zip
            .write_all(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")?;
        Ok(())
    }

    /// Adds the files that are not conversations (`chat.html`, `user.json`) and returns the
    /// ZIP.
    pub fn finish(mut self) -> ZipResult<Vec<u8>> {
        self.zip.start_file("chat.html", Self::options())?;
        self.zip.write_all(b"<html>not imported</html>")?;
        self.zip.start_file("user.json", Self::options())?;
        self.zip
            .write_all(b"{\"email\": \"someone@example.com\"}")?;
        Ok(self.zip.finish()?.into_inner())
    }
}

/// `conversations` split over `shards` files in a ChatGPT data export ZIP.
pub fn sharded_chatgpt_zip(conversations: &[Value], shards: usize) -> ZipResult<Vec<u8>> {
    let mut zip = ChatGptZip::new();
    let per_shard = conversations.len().div_ceil(shards.max(1)).max(1);
    for part in conversations.chunks(per_shard) {
        zip.shard(part)?;
    }
    zip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_conversation_in_todays_shape() {
        let conversation = ChatGptConversation {
            id: "c1",
            title: "Two",
            start: 100.0,
            messages: 2,
            seconds_apart: 15.0,
        }
        .to_json(|i| format!("text {i}"));
        assert_eq!(
            conversation,
            json!({
                "title": "Two", "create_time": 100.0, "update_time": 115.0,
                "current_node": "c1-1", "conversation_id": "c1", "id": "c1",
                "default_model_slug": "gpt-4o", "is_archived": false, "is_starred": null,
                "mapping": {
                    "client-created-root": {"id": "client-created-root", "message": null,
                        "parent": null, "children": ["c1-0"]},
                    "c1-0": {"id": "c1-0", "parent": "client-created-root", "children": ["c1-1"],
                        "message": {"id": "c1-0", "author": {"role": "user"}, "create_time": 100.0,
                            "content": {"content_type": "text", "parts": ["text 0"]},
                            "status": "finished_successfully", "weight": 1.0, "recipient": "all"}},
                    "c1-1": {"id": "c1-1", "parent": "c1-0", "children": [],
                        "message": {"id": "c1-1", "author": {"role": "assistant"}, "create_time": 115.0,
                            "content": {"content_type": "text", "parts": ["text 1"]},
                            "status": "finished_successfully", "weight": 1.0, "recipient": "all",
                            "metadata": {"finish_details": {"type": "stop"}}}}
                }
            })
        );
    }

    #[test]
    fn a_sharded_zip_holds_every_conversation_once() {
        let conversations: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let bytes = sharded_chatgpt_zip(&conversations, 2).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|name| name.unwrap().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "conversations-000.json",
                "__MACOSX/._conversations-000.json",
                "conversations-001.json",
                "__MACOSX/._conversations-001.json",
                "chat.html",
                "user.json",
            ]
        );
        let mut text = String::new();
        archive
            .by_name("conversations-001.json")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, r#"[{"id":3},{"id":4}]"#);
    }
}
