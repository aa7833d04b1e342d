//! chatbot-ui's export: `{version, history: [conversation], folders, prompts}` (older versions: the
//! bare list). A conversation is a flat list of `{role, content}` without ids or times, so each
//! message is known by its position and the list is one branch.

use serde_json::Value;

use super::fields;
use super::tree::{Conversation, Node, Turn};
use super::Problem;
use crate::model::Role;

pub(super) const SOURCE: &str = "chatbot-ui";

/// Whether an object is the whole export.
pub(super) fn is_export(value: &Value) -> bool {
    value.get("history").is_some_and(Value::is_array)
        && (value.get("version").is_some() || value.get("folders").is_some())
}

/// Whether a list element is one conversation.
pub(super) fn looks_like(value: &Value) -> bool {
    value.get("name").is_some()
        && value
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(|messages| {
                messages
                    .iter()
                    .all(|m| m.get("role").is_some() && m.get("content").is_some())
            })
}

pub(super) fn conversation(value: Value) -> Result<Conversation, Problem> {
    let title = fields::text(&value, "name").map(str::to_owned);
    let problem = |reason: &str| Problem::new(title.as_deref(), reason);
    let key = fields::id(&value, "id").ok_or_else(|| problem("the conversation has no id"))?;
    let Some(messages) = value.get("messages").and_then(Value::as_array) else {
        return Err(problem("it has no `messages` list"));
    };
    let model = value
        .get("model")
        .and_then(|model| fields::text(model, "id").or_else(|| model.as_str()));
    let nodes = messages
        .iter()
        .enumerate()
        .map(|(position, message)| {
            let role = match message.get("role").and_then(Value::as_str) {
                Some("user") => Some(Role::User),
                Some("assistant") => Some(Role::Assistant),
                _ => None,
            };
            let text = fields::text(message, "content").unwrap_or("").to_owned();
            Node {
                key: position.to_string(),
                parent: position.checked_sub(1).map(|previous| previous.to_string()),
                children: Vec::new(),
                message: role.map(|role| Turn {
                    model: (role == Role::Assistant)
                        .then(|| fields::model(model))
                        .flatten(),
                    ..Turn::new(role, text)
                }),
            }
        })
        .collect();
    Ok(Conversation {
        source: SOURCE,
        key,
        title,
        time: None,
        updated: None,
        pinned: false,
        archived: false,
        nodes,
        current: None,
        tags: Vec::new(),
    })
}
