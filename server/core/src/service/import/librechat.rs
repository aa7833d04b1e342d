//! LibreChat's export: one conversation per file, its messages either flat (`messages` linked by
//! `parentMessageId`) or nested (`messagesTree`, or `messages` with `recursive: true`, each
//! reply inside its parent's `children`). Nesting makes the JSON as deep as the conversation is
//! long, so it is never parsed recursively: a file is read with `deep_json` a message at a time
//! (`read_messages`), and a conversation already parsed whole (a list element) is walked with
//! an explicit stack. Either way each message is reduced to what is imported as soon as it is
//! read (`Messages`), so a long conversation holds its text once, not the file and its tree.

use std::io::BufRead;
use std::panic::{self, AssertUnwindSafe};

use serde_json::{Map, Value};

use super::deep_json::{depth, dismantle, JsonError, JsonReader};
use super::fields;
use super::render::{fence, quote};
use super::tree::{Conversation, Node, Turn};
use super::Problem;
use crate::model::{MessageStatus, Role};

pub(super) const SOURCE: &str = "librechat";

/// LibreChat's parent id for the first message.
const NO_PARENT: &str = "00000000-0000-0000-0000-000000000000";
/// Deepest a single message (without its children) may be; real ones are a few levels deep.
const MAX_MESSAGE_DEPTH: usize = 64;
/// The fields of a message the import reads (`Messages::close`, `turn`, `parts`). Every other
/// field is dropped as soon as it is read, on both ways in, so that a message waiting for its
/// nested replies holds no more than these (real messages carry far more: files, feedback,
/// plugin state).
const READ_FIELDS: [&str; 14] = [
    "messageId",
    "_id",
    "parentMessageId",
    "isCreatedByUser",
    "sender",
    "text",
    "content",
    "error",
    "unfinished",
    "model",
    "promptTokens",
    "tokenCount",
    "createdAt",
    "updatedAt",
];
/// The two keys that hold the messages; the tree wins when a file has both.
pub(super) const MESSAGES: &str = "messages";
pub(super) const MESSAGES_TREE: &str = "messagesTree";

pub(super) fn looks_like(value: &Value) -> bool {
    value.get("conversationId").is_some()
        && (value.get(MESSAGES).is_some_and(Value::is_array)
            || value.get(MESSAGES_TREE).is_some_and(Value::is_array))
}

/// A conversation parsed whole: its messages are walked parents first, and each is taken apart
/// once read.
pub(super) fn conversation(mut value: Value) -> Result<Conversation, Problem> {
    let top = match value.get_mut(MESSAGES_TREE).map(Value::take) {
        Some(Value::Array(messages)) => messages,
        _ => match value.get_mut(MESSAGES).map(Value::take) {
            Some(Value::Array(messages)) => messages,
            _ => Vec::new(),
        },
    };
    let mut messages = Messages::default();
    let mut stack: Vec<(Value, Option<usize>)> = top.into_iter().rev().map(|m| (m, None)).collect();
    while let Some((mut message, enclosing)) = stack.pop() {
        let children = match message.get_mut("children").map(Value::take) {
            Some(Value::Array(children)) => children,
            Some(other) => {
                dismantle(other);
                Vec::new()
            }
            None => Vec::new(),
        };
        let levels = depth(&message);
        let Value::Object(mut fields) = message else {
            dismantle(message);
            // Not a message: its replies (none, it holds no `children`) have nothing to hang from.
            continue;
        };
        fields.retain(|key, _| READ_FIELDS.contains(&key.as_str()));
        let index = messages.open(enclosing);
        stack.extend(children.into_iter().rev().map(|child| (child, Some(index))));
        let message = Value::Object(fields);
        messages.close(index, &message, levels);
        dismantle(message);
    }
    let conversation = messages.into_conversation(&value);
    dismantle(value);
    conversation
}

/// Reads the list of messages the reader is at (`messages` or `messagesTree`), a message at a
/// time: each message's own fields are read whole (they are shallow), its `children` are
/// descended into with an explicit stack. `depth` is how many levels enclose the list (1 for a
/// list in the top-level object); nesting past `max_depth` fails the file, like any JSON
/// nested that deep.
pub(super) fn read_messages<R: BufRead>(
    reader: &mut JsonReader<R>,
    messages: &mut Messages,
    depth: usize,
    max_depth: usize,
) -> Result<(), JsonError> {
    /// A list of messages being read, and the message it is the `children` of.
    struct List {
        enclosing: Option<usize>,
        first: bool,
    }
    reader.begin_array()?;
    let mut lists = vec![List {
        enclosing: None,
        first: true,
    }];
    let mut open: Vec<Open> = Vec::new();
    loop {
        // The innermost thing being read is a list when there are more lists than messages.
        if lists.len() > open.len() {
            let Some(list) = lists.last_mut() else {
                return Ok(());
            };
            if !reader.next_element(&mut list.first)? {
                lists.pop();
                if lists.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let enclosing = list.enclosing;
            // Each level of replies is a list and an object.
            let level = depth + 2 * lists.len();
            if reader.peek()? != Some(b'{') {
                // Not a message: read and dropped.
                let (value, _) = reader.value(max_depth.saturating_sub(level - 1))?;
                dismantle(value);
                continue;
            }
            if level > max_depth {
                return Err(JsonError::Syntax(format!(
                    "the JSON is nested more than {max_depth} levels deep"
                )));
            }
            reader.begin_object()?;
            open.push(Open {
                index: messages.open(enclosing),
                level,
                first: true,
                fields: Map::new(),
                deepest: 0,
                settled: None,
            });
            continue;
        }
        let Some(message) = open.last_mut() else {
            return Ok(());
        };
        match reader.next_key(&mut message.first)? {
            Some(key) if key == "children" => {
                if reader.peek()? == Some(b'[') {
                    // Converted before its replies are read, so that it does not wait for them
                    // as fields (replies nest: the whole chain would be held).
                    message.settle(messages, true);
                    reader.begin_array()?;
                    let enclosing = Some(message.index);
                    lists.push(List {
                        enclosing,
                        first: true,
                    });
                } else {
                    // Replies that are not a list are none.
                    let (value, _) = reader.value(max_depth.saturating_sub(message.level))?;
                    dismantle(value);
                }
            }
            Some(key) => {
                let (value, levels) = reader.value(max_depth.saturating_sub(message.level))?;
                message.deepest = message.deepest.max(levels);
                if !READ_FIELDS.contains(&key.as_str()) {
                    dismantle(value);
                } else if let Some(replaced) = message.fields.insert(key, value) {
                    dismantle(replaced);
                }
            }
            None => {
                if let Some(mut done) = open.pop() {
                    done.settle(messages, false);
                }
            }
        }
    }
}

/// A message of `read_messages` whose fields are being read.
struct Open {
    index: usize,
    /// How deep the message is in the file.
    level: usize,
    first: bool,
    /// Its `READ_FIELDS` read since it was last settled.
    fields: Map<String, Value>,
    /// How deep its deepest field is, dropped ones included.
    deepest: usize,
    /// What it was settled with, in case more fields come after its replies.
    settled: Option<Settled>,
}

/// The fields a message was converted with (as JSON text: far smaller than values) and how
/// deep it was then.
struct Settled {
    fields: Vec<u8>,
    levels: usize,
}

/// The fields that link a message, all that is kept of one too deep to import.
const LINK_FIELDS: [&str; 3] = ["messageId", "_id", "parentMessageId"];

impl Open {
    /// Converts the message from every field read so far (`Messages::close`), unless nothing
    /// changed since it last was. `keep`: more fields may follow, so what it was converted
    /// with is kept, as text.
    fn settle(&mut self, messages: &mut Messages, keep: bool) {
        let levels = self.deepest + 1;
        let too_deep = levels > MAX_MESSAGE_DEPTH;
        if let Some(settled) = &self.settled {
            if self.fields.is_empty() && (settled.levels > MAX_MESSAGE_DEPTH) == too_deep {
                return;
            }
        }
        // Our own text of fields at most `MAX_MESSAGE_DEPTH` deep: it reads back.
        let mut all: Map<String, Value> = self
            .settled
            .take()
            .and_then(|settled| serde_json::from_slice(&settled.fields).ok())
            .unwrap_or_default();
        for (key, value) in std::mem::take(&mut self.fields) {
            if let Some(replaced) = all.insert(key, value) {
                dismantle(replaced);
            }
        }
        if too_deep {
            all.retain(|key, _| LINK_FIELDS.contains(&key.as_str()));
        }
        let message = Value::Object(all);
        messages.close(self.index, &message, levels);
        if keep {
            self.settled = Some(Settled {
                fields: serde_json::to_vec(&message).unwrap_or_default(),
                levels,
            });
        }
        dismantle(message);
    }
}

/// A conversation's messages as they are met, parents before their replies, each already
/// reduced to what is imported. The conversation's own fields (id, title, model) may come
/// after the messages, so what depends on them is settled at the end (`into_conversation`).
#[derive(Default)]
pub(super) struct Messages {
    entries: Vec<Entry>,
    /// Why the conversation cannot be imported, when reading one of its messages failed.
    failed: Option<String>,
}

#[derive(Default)]
struct Entry {
    /// `messageId`, or else `_id`; a message with neither is not imported.
    key: Option<String>,
    /// `messageId` alone: what its parent's list of children names.
    message_id: Option<String>,
    /// The message the `children` list it was in belongs to.
    enclosing: Option<usize>,
    /// `parentMessageId`, unless it says "no parent".
    parent: Option<String>,
    turn: Option<Turn>,
}

impl Messages {
    /// A message starts, inside `enclosing`'s `children` (`None` at the top): its index, which
    /// its replies name as theirs.
    fn open(&mut self, enclosing: Option<usize>) -> usize {
        self.entries.push(Entry {
            enclosing,
            ..Entry::default()
        });
        self.entries.len() - 1
    }

    /// Converts a message from its fields (`READ_FIELDS` of them); `levels` is how deep the
    /// whole message nests without its `children`. Called again when more fields come, it
    /// converts anew. A panic costs the conversation, reported as its problem, never the file.
    fn close(&mut self, index: usize, message: &Value, levels: usize) {
        if self.failed.is_none() {
            let read = panic::catch_unwind(AssertUnwindSafe(|| {
                let key = fields::id(message, "messageId").or_else(|| fields::id(message, "_id"));
                let parent =
                    fields::id(message, "parentMessageId").filter(|parent| parent != NO_PARENT);
                let message_id = fields::id(message, "messageId");
                let turn = if key.is_some() && levels <= MAX_MESSAGE_DEPTH {
                    turn(message)
                } else {
                    None
                };
                (key, message_id, parent, turn)
            }));
            match read {
                Ok((key, message_id, parent, turn)) => {
                    if let Some(entry) = self.entries.get_mut(index) {
                        entry.key = key;
                        entry.message_id = message_id;
                        entry.parent = parent;
                        entry.turn = turn;
                    }
                }
                Err(payload) => self.failed = Some(super::pipeline::panicked(payload.as_ref())),
            }
        }
    }

    /// The conversation, from its own fields (`header`, without its messages) and the messages
    /// read.
    pub fn into_conversation(self, header: &Value) -> Result<Conversation, Problem> {
        let title = fields::text(header, "title")
            .or_else(|| {
                header
                    .get("options")
                    .and_then(|options| fields::text(options, "title"))
            })
            .map(str::to_owned);
        if let Some(reason) = self.failed {
            return Err(Problem::new(title.as_deref(), reason));
        }
        let Some(key) = fields::id(header, "conversationId") else {
            return Err(Problem::new(title.as_deref(), "the conversation has no id"));
        };
        let default_model = fields::model(fields::text(header, "model").or_else(|| {
            header
                .get("options")
                .and_then(|options| fields::text(options, "model"))
        }));
        let entries = self.entries;
        // A message without an id cannot be linked to: its replies hang from the nearest
        // enclosing message that has one. Parents come before their replies.
        let mut linkable: Vec<Option<usize>> = Vec::with_capacity(entries.len());
        let mut children: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
        for (index, entry) in entries.iter().enumerate() {
            let up = entry
                .enclosing
                .and_then(|up| linkable.get(up).copied().flatten());
            linkable.push(if entry.key.is_some() { Some(index) } else { up });
            if let (Some(enclosing), Some(id)) = (entry.enclosing, &entry.message_id) {
                if let Some(list) = children.get_mut(enclosing) {
                    list.push(id.clone());
                }
            }
        }
        let enclosing_keys: Vec<Option<String>> = entries
            .iter()
            .map(|entry| {
                entry
                    .enclosing
                    .and_then(|up| linkable.get(up).copied().flatten())
                    .and_then(|up| entries.get(up))
                    .and_then(|up| up.key.clone())
            })
            .collect();
        let nodes = entries
            .into_iter()
            .zip(children)
            .zip(enclosing_keys)
            .filter_map(|((entry, children), enclosing)| {
                let key = entry.key?;
                let message = entry.turn.map(|mut turn| {
                    if turn.role == Role::Assistant && turn.model.is_none() {
                        turn.model = default_model.clone();
                    }
                    turn
                });
                Some(Node {
                    key,
                    parent: entry.parent.or(enclosing),
                    children,
                    message,
                })
            })
            .collect();
        Ok(Conversation {
            source: SOURCE,
            key,
            title,
            time: fields::time(header, "createdAt"),
            updated: fields::time(header, "updatedAt"),
            pinned: false,
            archived: false,
            nodes,
            current: None,
            // A conversation's tags (LibreChat's bookmarks): a list of names.
            tags: fields::tags(header.get("tags")),
        })
    }
}

/// A message's turn; an assistant's without a model of its own takes the conversation's later.
fn turn(message: &Value) -> Option<Turn> {
    let from_user = match message.get("isCreatedByUser").and_then(Value::as_bool) {
        Some(flag) => flag,
        None => fields::text(message, "sender")
            .is_some_and(|sender| sender.eq_ignore_ascii_case("user")),
    };
    let role = if from_user {
        Role::User
    } else {
        Role::Assistant
    };
    let mut text = fields::text(message, "text").unwrap_or("").to_owned();
    if text.trim().is_empty() {
        text = parts(message);
    }
    let failed = fields::flag(message, "error");
    let status = if failed {
        MessageStatus::Error
    } else if fields::flag(message, "unfinished") {
        MessageStatus::Partial
    } else {
        MessageStatus::Complete
    };
    let model = fields::model(fields::text(message, "model"));
    let (prompt_tokens, completion_tokens) = if role == Role::Assistant {
        (
            fields::tokens(message, "promptTokens"),
            fields::tokens(message, "tokenCount"),
        )
    } else {
        (None, None)
    };
    Some(Turn {
        model,
        status,
        time: fields::time(message, "createdAt").or_else(|| fields::time(message, "updatedAt")),
        prompt_tokens,
        completion_tokens,
        ..Turn::new(role, text)
    })
}

/// The structured `content` of agent replies: text, thinking, tool calls and images.
fn parts(message: &Value) -> String {
    let Some(parts) = message.get("content").and_then(Value::as_array) else {
        return String::new();
    };
    let mut out = Vec::new();
    for part in parts {
        let kind = fields::text(part, "type").unwrap_or("text");
        let piece = match kind {
            "text" => match part.get("text") {
                Some(Value::String(text)) => text.clone(),
                Some(text) => fields::text(text, "value").unwrap_or("").to_owned(),
                None => String::new(),
            },
            "think" => fields::text(part, "think")
                .map(|think| quote(&format!("**Thinking**\n\n{think}")))
                .unwrap_or_default(),
            "tool_call" => {
                let call = part.get("tool_call").unwrap_or(part);
                let name = fields::text(call, "name").unwrap_or("tool");
                let mut block = format!("**Tool call: {name}**");
                if let Some(args) = fields::text(call, "args") {
                    block.push_str("\n\n");
                    block.push_str(&fence("json", args));
                }
                if let Some(output) = fields::text(call, "output") {
                    block.push_str("\n\n");
                    block.push_str(&fence("", output));
                }
                block
            }
            "image_file" | "image_url" => "[Image]".to_owned(),
            "error" => fields::text(part, "error").unwrap_or("").to_owned(),
            _ => fields::text(part, kind).unwrap_or("").to_owned(),
        };
        if !piece.trim().is_empty() {
            out.push(piece);
        }
    }
    out.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_messages_and_agent_content() {
        let export = json!({
            "conversationId": "c1",
            "title": "Agents",
            "endpoint": "agents",
            "messages": [
                {"messageId": "u1", "parentMessageId": NO_PARENT, "isCreatedByUser": true,
                 "text": "Weather?", "createdAt": "2024-06-01T10:00:00.000Z"},
                {"messageId": "a1", "parentMessageId": "u1", "isCreatedByUser": false, "text": "",
                 "model": "gpt-4o", "unfinished": true, "createdAt": "2024-06-01T10:00:05.000Z",
                 "content": [
                    {"type": "think", "think": "Look it up."},
                    {"type": "tool_call", "tool_call": {"name": "weather", "args": "{\"city\":\"Oslo\"}", "output": "4C"}},
                    {"type": "text", "text": {"value": "It is 4C."}}
                 ]}
            ]
        });
        let conversation = conversation(export).unwrap();
        assert_eq!(conversation.title.as_deref(), Some("Agents"));
        assert_eq!(conversation.nodes.len(), 2);
        assert_eq!(conversation.nodes[0].parent, None);
        assert_eq!(conversation.nodes[1].parent.as_deref(), Some("u1"));
        let answer = conversation.nodes[1].message.as_ref().unwrap();
        assert_eq!(answer.status, MessageStatus::Partial);
        assert_eq!(
            answer.text,
            "> **Thinking**\n>\n> Look it up.\n\n**Tool call: weather**\n\n```json\n{\"city\":\"Oslo\"}\n```\n\n```\n4C\n```\n\nIt is 4C."
        );
    }

    #[test]
    fn replies_inherit_their_enclosing_parent() {
        let export = json!({"conversationId": "c2", "messagesTree": [
            {"messageId": "q", "text": "question", "isCreatedByUser": true, "children": [
                {"messageId": "r", "text": "reply", "sender": "GPT-4"}
            ]}
        ]});
        let conversation = conversation(export).unwrap();
        assert_eq!(conversation.nodes[1].parent.as_deref(), Some("q"));
        assert_eq!(conversation.nodes[0].children, vec!["r".to_owned()]);
        assert_eq!(
            conversation.nodes[1].message.as_ref().unwrap().role,
            Role::Assistant
        );
    }
}
