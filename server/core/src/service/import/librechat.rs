//! LibreChat's export: one conversation per file, its messages either flat (`messages` linked by
//! `parentMessageId`) or nested (`messagesTree`, or `messages` with `recursive: true`, each
//! reply inside its parent's `children`). Nesting makes the JSON as deep as the conversation is
//! long, so the file is read with `deep_json` and walked here with an explicit stack.

use serde_json::Value;

use super::deep_json::{depth, dismantle};
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

pub(super) fn looks_like(value: &Value) -> bool {
    value.get("conversationId").is_some()
        && (value.get("messages").is_some_and(Value::is_array)
            || value.get("messagesTree").is_some_and(Value::is_array))
}

pub(super) fn conversation(mut value: Value) -> Result<Conversation, Problem> {
    let title = fields::text(&value, "title")
        .or_else(|| {
            value
                .get("options")
                .and_then(|options| fields::text(options, "title"))
        })
        .map(str::to_owned);
    let key = match fields::id(&value, "conversationId") {
        Some(key) => key,
        None => {
            dismantle(value);
            return Err(Problem::new(title.as_deref(), "the conversation has no id"));
        }
    };
    let default_model = fields::text(&value, "model")
        .or_else(|| {
            value
                .get("options")
                .and_then(|options| fields::text(options, "model"))
        })
        .map(str::to_owned);
    let time = fields::time(&value, "createdAt");
    let updated = fields::time(&value, "updatedAt");
    let top = match value.get_mut("messagesTree").map(Value::take) {
        Some(Value::Array(messages)) => messages,
        _ => match value.get_mut("messages").map(Value::take) {
            Some(Value::Array(messages)) => messages,
            _ => Vec::new(),
        },
    };
    dismantle(value);

    let mut nodes = Vec::new();
    let mut stack: Vec<(Value, Option<String>)> =
        top.into_iter().rev().map(|m| (m, None)).collect();
    while let Some((mut message, enclosing)) = stack.pop() {
        let children = match message.get_mut("children").map(Value::take) {
            Some(Value::Array(children)) => children,
            Some(other) => {
                dismantle(other);
                Vec::new()
            }
            None => Vec::new(),
        };
        let key = fields::id(&message, "messageId").or_else(|| fields::id(&message, "_id"));
        let child_keys: Vec<String> = children
            .iter()
            .filter_map(|child| fields::id(child, "messageId"))
            .collect();
        // A message without an id cannot be linked to; its replies hang from its parent.
        let inherited = key.clone().or_else(|| enclosing.clone());
        stack.extend(
            children
                .into_iter()
                .rev()
                .map(|child| (child, inherited.clone())),
        );
        let Some(key) = key else {
            dismantle(message);
            continue;
        };
        let parent = fields::id(&message, "parentMessageId")
            .filter(|parent| parent != NO_PARENT)
            .or(enclosing);
        let turn = if depth(&message) <= MAX_MESSAGE_DEPTH {
            turn(&message, default_model.as_deref())
        } else {
            None
        };
        dismantle(message);
        nodes.push(Node {
            key,
            parent,
            children: child_keys,
            message: turn,
        });
    }
    Ok(Conversation {
        source: SOURCE,
        key,
        title,
        time,
        updated,
        pinned: false,
        archived: false,
        nodes,
        current: None,
    })
}

fn turn(message: &Value, default_model: Option<&str>) -> Option<Turn> {
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
    let model = fields::model(fields::text(message, "model")).or_else(|| {
        (role == Role::Assistant)
            .then(|| fields::model(default_model))
            .flatten()
    });
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
