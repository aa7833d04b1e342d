//! ChatGPT's `conversations.json`: a list of conversations, each a `mapping` of node id to
//! `{message, parent, children}`, with `current_node` naming the leaf the user was on.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::fields;
use super::render::{fence, link, quote};
use super::tree::{Conversation, Node, Turn};
use super::Problem;
use crate::model::{MessageStatus, Role};

pub(super) const SOURCE: &str = "chatgpt";

/// Whether a list element is a ChatGPT conversation (a broken one still names its id).
pub(super) fn looks_like(value: &Value) -> bool {
    value.get("mapping").is_some_and(Value::is_object)
        || (value.get("conversation_id").is_some() && value.get("title").is_some())
        || value.get("current_node").is_some()
}

pub(super) fn conversation(mut value: Value) -> Result<Conversation, Problem> {
    let title = fields::text(&value, "title").map(str::to_owned);
    let problem = |reason: &str| Problem::new(title.as_deref(), reason);
    let mapping = match value.get_mut("mapping").map(Value::take) {
        Some(Value::Object(mapping)) => mapping,
        Some(_) => return Err(problem("its `mapping` (the messages) is not an object")),
        None => return Err(problem("it has no `mapping`, so no messages")),
    };
    let key = fields::id(&value, "conversation_id")
        .or_else(|| fields::id(&value, "id"))
        .unwrap_or_else(|| content_key(&value, &mapping));
    let default_model = fields::text(&value, "default_model_slug").map(str::to_owned);
    let nodes = mapping
        .into_iter()
        .filter_map(|(key, node)| self::node(key, node, default_model.as_deref()))
        .collect();
    Ok(Conversation {
        source: SOURCE,
        key,
        title,
        time: fields::time(&value, "create_time").or_else(|| fields::time(&value, "update_time")),
        updated: fields::time(&value, "update_time"),
        pinned: fields::flag(&value, "is_starred"),
        archived: fields::flag(&value, "is_archived"),
        nodes,
        current: fields::id(&value, "current_node"),
        tags: Vec::new(),
    })
}

/// A stable id for a conversation the export gives none: a digest of what does not change when
/// the conversation goes on or is renamed, its creation time and where its tree starts (each
/// root node and its first child). The same conversation gets the same id in every export, so
/// importing it again adds nothing.
fn content_key(value: &Value, mapping: &Map<String, Value>) -> String {
    let mut starts: Vec<String> = mapping
        .iter()
        .filter(|(_, node)| {
            node.get("parent")
                .and_then(Value::as_str)
                .is_none_or(|parent| !mapping.contains_key(parent))
        })
        .map(|(key, node)| {
            let first_child = node
                .pointer("/children/0")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{key}>{first_child}")
        })
        .collect();
    starts.sort();
    let created = value.get("create_time").map(Value::to_string);
    let digest = Sha256::new()
        .chain_update(created.as_deref().unwrap_or("").as_bytes())
        .chain_update([0])
        .chain_update(starts.join("\n").as_bytes())
        .finalize();
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("content-{hex}")
}

fn node(key: String, node: Value, default_model: Option<&str>) -> Option<Node> {
    let Value::Object(mut node) = node else {
        return None;
    };
    let parent = node
        .get("parent")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let children = match node.get("children") {
        Some(Value::Array(children)) => children
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let message = match node.remove("message") {
        Some(Value::Object(message)) => turn(message, default_model),
        _ => None,
    };
    Some(Node {
        key,
        parent,
        children,
        message,
    })
}

/// A visible message, or `None` for system, hidden and context nodes.
fn turn(message: Map<String, Value>, default_model: Option<&str>) -> Option<Turn> {
    let message = Value::Object(message);
    let role = match message.pointer("/author/role").and_then(Value::as_str)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        // System prompts and anything unknown are ChatGPT's own plumbing, never shown.
        _ => return None,
    };
    let empty = Value::Null;
    let metadata = message.get("metadata").unwrap_or(&empty);
    if fields::flag(metadata, "is_visually_hidden_from_conversation")
        || fields::flag(metadata, "is_user_system_message")
    {
        return None;
    }
    let content = message.get("content")?;
    let (text, failed) = render(content, metadata)?;
    let finish = metadata
        .pointer("/finish_details/type")
        .and_then(Value::as_str);
    let status = if failed {
        MessageStatus::Error
    } else if matches!(
        message.get("status").and_then(Value::as_str),
        Some("in_progress" | "finished_partial_completion")
    ) || matches!(finish, Some("interrupted" | "max_tokens"))
    {
        MessageStatus::Partial
    } else {
        MessageStatus::Complete
    };
    let model = fields::model(fields::text(metadata, "model_slug")).or_else(|| {
        if role == Role::Assistant {
            fields::model(fields::text(metadata, "default_model_slug").or(default_model))
        } else {
            None
        }
    });
    Some(Turn {
        model,
        status,
        time: fields::time(&message, "create_time")
            .or_else(|| fields::time(&message, "update_time")),
        ..Turn::new(role, text)
    })
}

/// The content as Markdown, and whether it reports an error. `None` for content that is not
/// meant to be shown.
fn render(content: &Value, metadata: &Value) -> Option<(String, bool)> {
    let kind = content
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let text = |key: &str| content.get(key).and_then(Value::as_str).unwrap_or("");
    let rendered = match kind {
        "user_editable_context" | "model_editable_context" => return None,
        "text" | "multimodal_text" => with_citations(parts(content), metadata),
        "code" => fence(text("language"), text("text")),
        "execution_output" => fence("", text("text")),
        "tether_quote" => {
            let source = match (fields::text(content, "title"), fields::text(content, "url")) {
                (title, Some(url)) => link(title.unwrap_or(""), url),
                (Some(title), None) => title.to_owned(),
                (None, None) => fields::text(content, "domain").unwrap_or("").to_owned(),
            };
            let quoted = quote(text("text"));
            match (source.is_empty(), quoted.is_empty()) {
                (false, false) => format!("{source}\n\n{quoted}"),
                (false, true) => source,
                _ => quoted,
            }
        }
        "tether_browsing_display" => {
            let result = text("result").trim();
            let summary = text("summary").trim();
            [summary, result]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n")
        }
        "system_error" => {
            let name = text("name");
            let detail = text("text");
            let message = if name.is_empty() {
                detail.to_owned()
            } else {
                format!("**{name}**: {detail}")
            };
            return Some((message, true));
        }
        "thoughts" => content
            .get("thoughts")
            .and_then(Value::as_array)
            .map(|thoughts| {
                thoughts
                    .iter()
                    .map(|thought| {
                        let summary = fields::text(thought, "summary").unwrap_or("");
                        let body = fields::text(thought, "content").unwrap_or("");
                        let block = if summary.is_empty() {
                            body.to_owned()
                        } else {
                            format!("**{summary}**\n\n{body}")
                        };
                        quote(&block)
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .unwrap_or_default(),
        "reasoning_recap" => match fields::text(content, "content") {
            Some(recap) => format!("_{}_", recap.trim()),
            None => String::new(),
        },
        // Newer content types: whatever text they carry.
        _ => {
            if content.get("parts").is_some() {
                parts(content)
            } else if let Some(text) = fields::text(content, "text") {
                text.to_owned()
            } else {
                fields::text(content, "result").unwrap_or("").to_owned()
            }
        }
    };
    if rendered.trim().is_empty() {
        None
    } else {
        Some((rendered, false))
    }
}

/// `parts` as text: strings as they are, attachments as a short placeholder.
fn parts(content: &Value) -> String {
    let Some(parts) = content.get("parts").and_then(Value::as_array) else {
        return String::new();
    };
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for part in parts {
        let piece = match part {
            Value::String(text) => text.clone(),
            Value::Object(_) => {
                let kind = fields::text(part, "content_type").unwrap_or("attachment");
                match kind {
                    "image_asset_pointer" => {
                        let name = fields::text(part, "asset_pointer")
                            .map(|pointer| pointer.rsplit("://").next().unwrap_or(pointer));
                        match name {
                            Some(name) => format!("[Image: {name}]"),
                            None => "[Image]".to_owned(),
                        }
                    }
                    "audio_transcription" => fields::text(part, "text").unwrap_or("").to_owned(),
                    "audio_asset_pointer" => "[Audio]".to_owned(),
                    "real_time_user_audio_video_asset_pointer" => "[Audio/video]".to_owned(),
                    _ => match fields::text(part, "text") {
                        Some(text) => text.to_owned(),
                        None => format!("[{kind}]"),
                    },
                }
            }
            _ => String::new(),
        };
        if !piece.trim().is_empty() {
            out.push(piece);
        }
    }
    out.join("\n\n")
}

/// Replaces the `【3:0†source】` markers that citations point at with ` ([title](url))`, the
/// way LibreChat shows them. A citation whose span is not such a marker is left alone.
fn with_citations(text: String, metadata: &Value) -> String {
    let mut text = text;
    if let Some(references) = metadata.get("content_references").and_then(Value::as_array) {
        for reference in references {
            let Some(matched) = fields::text(reference, "matched_text") else {
                continue;
            };
            let replacement = fields::text(reference, "alt")
                .map(|alt| format!(" {}", alt.trim()))
                .or_else(|| {
                    let items = reference.get("items").and_then(Value::as_array)?;
                    let links: Vec<String> = items
                        .iter()
                        .filter_map(|item| {
                            fields::text(item, "url").map(|url| {
                                format!(
                                    " ({})",
                                    link(fields::text(item, "title").unwrap_or(""), url)
                                )
                            })
                        })
                        .collect();
                    (!links.is_empty()).then(|| links.concat())
                });
            if let Some(replacement) = replacement {
                text = text.replacen(matched, &replacement, 1);
            }
        }
    }
    let Some(citations) = metadata.get("citations").and_then(Value::as_array) else {
        return text;
    };
    if citations.is_empty() {
        return text;
    }
    // The indexes count characters; map each to its byte offset once.
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(offset, _)| offset)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut spans: Vec<(usize, usize, String)> = citations
        .iter()
        .filter_map(|citation| {
            let start = usize::try_from(citation.get("start_ix")?.as_u64()?).ok()?;
            let end = usize::try_from(citation.get("end_ix")?.as_u64()?).ok()?;
            let (&from, &to) = (offsets.get(start)?, offsets.get(end)?);
            let marker = text.get(from..to)?;
            if !(marker.starts_with('【') && marker.ends_with('】')) {
                return None;
            }
            let meta = citation.get("metadata")?;
            let url = fields::text(meta, "url")?;
            let title = fields::text(meta, "title").unwrap_or("");
            Some((from, to, format!(" ({})", link(title, url))))
        })
        .collect();
    spans.sort_by_key(|span| std::cmp::Reverse(span.0));
    let mut last_start = usize::MAX;
    for (from, to, replacement) in spans {
        // Overlapping citations would cut a replacement in two.
        if to <= last_start {
            text.replace_range(from..to, &replacement);
            last_start = from;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn citations_become_links() {
        let text = "Fast【6†source】【7†source】.".to_owned();
        let start = text.chars().position(|c| c == '【').unwrap();
        let marker = "【6†source】".chars().count();
        let metadata = json!({"citations": [
            {"start_ix": start, "end_ix": start + marker, "metadata": {"title": "One", "url": "https://one"}},
            {"start_ix": start + marker, "end_ix": start + 2 * marker, "metadata": {"title": "Two", "url": "https://two"}},
            {"start_ix": 0, "end_ix": 2, "metadata": {"title": "Bad", "url": "https://bad"}},
        ]});
        assert_eq!(
            with_citations(text, &metadata),
            "Fast ([One](https://one)) ([Two](https://two))."
        );
    }

    #[test]
    fn content_references_use_their_alt_text() {
        let metadata = json!({"content_references": [
            {"matched_text": "\u{e200}cite\u{e202}turn0\u{e201}", "alt": "([Site](https://site))"}
        ]});
        assert_eq!(
            with_citations("Yes\u{e200}cite\u{e202}turn0\u{e201}.".into(), &metadata),
            "Yes ([Site](https://site))."
        );
    }

    #[test]
    fn content_types_render_as_markdown() {
        let code = json!({"content_type": "code", "language": "python", "text": "print(1)"});
        assert_eq!(
            render(&code, &Value::Null).unwrap().0,
            "```python\nprint(1)\n```"
        );
        let output = json!({"content_type": "execution_output", "text": "1\n"});
        assert_eq!(render(&output, &Value::Null).unwrap().0, "```\n1\n```");
        let quote = json!({"content_type": "tether_quote", "url": "https://a.b", "title": "A", "text": "line"});
        assert_eq!(
            render(&quote, &Value::Null).unwrap().0,
            "[A](https://a.b)\n\n> line"
        );
        let image = json!({"content_type": "multimodal_text", "parts": [
            {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-123"},
            "What is this?"
        ]});
        assert_eq!(
            render(&image, &Value::Null).unwrap().0,
            "[Image: file-123]\n\nWhat is this?"
        );
        let hidden = json!({"content_type": "user_editable_context", "user_profile": "x"});
        assert!(render(&hidden, &Value::Null).is_none());
        let empty = json!({"content_type": "text", "parts": [""]});
        assert!(render(&empty, &Value::Null).is_none());
        let error = json!({"content_type": "system_error", "name": "tool_error", "text": "boom"});
        assert_eq!(
            render(&error, &Value::Null).unwrap(),
            ("**tool_error**: boom".into(), true)
        );
    }
}
