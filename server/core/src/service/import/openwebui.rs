//! Open WebUI's export: a list of chats, each with `chat.history.messages` keyed by id, linked by
//! `parentId`/`childrenIds`, and `chat.history.currentId` naming the message the user was on.
//! Its tags are in `meta.tags` (recent versions: the tags' ids, which are their names lower
//! cased with `_` for spaces) or `chat.tags` (older ones), as strings or `{name}` objects; both
//! are read. Its folders (`folder_id`) are not imported.

use serde_json::Value;

use super::fields;
use super::render::details_to_markdown;
use super::tree::{Conversation, Node, Turn};
use super::Problem;
use crate::model::{MessageStatus, Role};

pub(super) const SOURCE: &str = "openwebui";

pub(super) fn looks_like(value: &Value) -> bool {
    value
        .get("chat")
        .is_some_and(|chat| chat.get("history").is_some() || chat.get("messages").is_some())
}

pub(super) fn conversation(mut value: Value) -> Result<Conversation, Problem> {
    let mut chat = value.get_mut("chat").map(Value::take).unwrap_or_default();
    let title = fields::text(&value, "title")
        .or_else(|| fields::text(&chat, "title"))
        .map(str::to_owned);
    let problem = |reason: &str| Problem::new(title.as_deref(), reason);
    let key = fields::id(&value, "id")
        .or_else(|| fields::id(&chat, "id"))
        .ok_or_else(|| problem("the chat has no id"))?;
    let default_model = chat
        .get("models")
        .and_then(Value::as_array)
        .and_then(|models| models.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    let current = chat
        .get("history")
        .and_then(|history| fields::id(history, "currentId"));
    // The keyed history holds every branch; older exports only have the flat list.
    let messages: Vec<(Option<String>, Value)> =
        match chat.pointer_mut("/history/messages").map(Value::take) {
            Some(Value::Object(messages)) => messages
                .into_iter()
                .map(|(key, m)| (Some(key), m))
                .collect(),
            _ => match chat.get_mut("messages").map(Value::take) {
                Some(Value::Array(messages)) => messages.into_iter().map(|m| (None, m)).collect(),
                _ => return Err(problem("it has no messages (`chat.history.messages`)")),
            },
        };
    let nodes = messages
        .into_iter()
        .filter_map(|(key, message)| node(key, &message, default_model.as_deref()))
        .collect();
    let mut tags = fields::tags(value.pointer("/meta/tags"));
    tags.extend(fields::tags(chat.get("tags")));
    Ok(Conversation {
        source: SOURCE,
        key,
        title,
        time: fields::time(&value, "created_at").or_else(|| fields::time(&chat, "timestamp")),
        updated: fields::time(&value, "updated_at"),
        pinned: fields::flag(&value, "pinned"),
        archived: fields::flag(&value, "archived"),
        nodes,
        current,
        tags,
    })
}

fn node(key: Option<String>, message: &Value, default_model: Option<&str>) -> Option<Node> {
    let key = fields::id(message, "id").or(key)?;
    let children = message
        .get("childrenIds")
        .and_then(Value::as_array)
        .map(|children| {
            children
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(Node {
        key,
        parent: fields::id(message, "parentId"),
        children,
        message: turn(message, default_model),
    })
}

fn turn(message: &Value, default_model: Option<&str>) -> Option<Turn> {
    let role = match message.get("role").and_then(Value::as_str)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        _ => return None,
    };
    let mut text = match message.get("content") {
        Some(Value::String(content)) => details_to_markdown(content),
        // Some versions keep a user's text and images as OpenAI-style parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("image_url") => Some("[Image]".to_owned()),
                _ => fields::text(part, "text").map(str::to_owned),
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        text = output_text(message);
    }
    let error = message
        .get("error")
        .filter(|error| !error.is_null() && error.as_bool() != Some(false));
    if let Some(error) = error {
        let detail = error
            .as_str()
            .or_else(|| fields::text(error, "content"))
            .unwrap_or("the reply failed");
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!("**Error**: {detail}"));
    }
    for file in message
        .get("files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = fields::text(file, "name");
        let kind = fields::text(file, "type").unwrap_or("file");
        let line = match (kind, name) {
            ("image", Some(name)) => format!("[Image: {name}]"),
            ("image", None) => "[Image]".to_owned(),
            (_, Some(name)) => format!("[File: {name}]"),
            (_, None) => "[File]".to_owned(),
        };
        text = if text.is_empty() {
            line
        } else {
            format!("{text}\n\n{line}")
        };
    }
    let status = if error.is_some() {
        MessageStatus::Error
    } else if message.get("done").and_then(Value::as_bool) == Some(false) {
        MessageStatus::Partial
    } else {
        MessageStatus::Complete
    };
    let model = fields::model(fields::text(message, "model")).or_else(|| {
        (role == Role::Assistant)
            .then(|| fields::model(default_model))
            .flatten()
    });
    let usage = message
        .get("usage")
        .or_else(|| message.pointer("/info/usage"));
    Some(Turn {
        model,
        status,
        time: fields::time(message, "timestamp"),
        prompt_tokens: usage.and_then(|usage| fields::tokens(usage, "prompt_tokens")),
        completion_tokens: usage.and_then(|usage| fields::tokens(usage, "completion_tokens")),
        ..Turn::new(role, text)
    })
}

/// The final answer from the structured `output` list, for messages whose `content` is empty.
fn output_text(message: &Value) -> String {
    let Some(output) = message.get("output").and_then(Value::as_array) else {
        return String::new();
    };
    output
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"))
        .flat_map(|item| {
            item.get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|part| fields::text(part, "text"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_errors_files_and_unfinished_replies() {
        let parts = json!({"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
        ]});
        assert_eq!(turn(&parts, None).unwrap().text, "What is this?\n\n[Image]");

        let failed =
            json!({"role": "assistant", "content": "", "error": {"content": "quota exceeded"}});
        let failed = turn(&failed, Some("gpt-4o")).unwrap();
        assert_eq!(failed.text, "**Error**: quota exceeded");
        assert_eq!(failed.status, MessageStatus::Error);
        assert_eq!(failed.model.as_deref(), Some("gpt-4o"));

        let unfinished = json!({"role": "assistant", "content": "Half", "done": false,
            "files": [{"type": "file", "name": "notes.pdf"}]});
        let unfinished = turn(&unfinished, None).unwrap();
        assert_eq!(unfinished.status, MessageStatus::Partial);
        assert_eq!(unfinished.text, "Half\n\n[File: notes.pdf]");

        let from_output = json!({"role": "assistant", "content": "", "output": [
            {"type": "reasoning", "content": [{"type": "output_text", "text": "thinking"}]},
            {"type": "message", "content": [{"type": "output_text", "text": "Answer"}]}
        ]});
        assert_eq!(turn(&from_output, None).unwrap().text, "Answer");
        assert!(turn(&json!({"role": "system", "content": "x"}), None).is_none());
    }
}
