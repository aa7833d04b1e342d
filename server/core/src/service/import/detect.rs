//! Telling the formats apart from their first bytes and their first conversation, so that no
//! format needs the whole file in memory to be recognised.

use serde_json::Value;

use super::tree::Conversation;
use super::{chatbotui, chatgpt, librechat, openwebui, Problem};

/// What the file is, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Container {
    /// A JSON list, read one element at a time.
    List,
    /// A JSON object, read whole.
    Object,
    Zip,
    Empty,
    Unknown,
}

/// `head` starts at the first byte after any byte order mark and white space.
pub(super) fn container(head: &[u8]) -> Container {
    match head.first() {
        None => Container::Empty,
        Some(b'[') => Container::List,
        Some(b'{') => Container::Object,
        // Every ZIP starts with a local header ("PK\3\4") or, when empty, the end record
        // ("PK\5\6"); the second byte may not have arrived yet.
        Some(b'P') if head.get(1).is_none_or(|&byte| byte == b'K') => Container::Zip,
        Some(_) => Container::Unknown,
    }
}

/// The formats whose conversations can stand alone as list elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    ChatGpt,
    OpenWebUi,
    LibreChat,
    ChatbotUi,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::ChatGpt => "ChatGPT",
            Format::OpenWebUi => "Open WebUI",
            Format::LibreChat => "LibreChat",
            Format::ChatbotUi => "chatbot-ui",
        }
    }

    pub fn read(self, value: Value) -> Result<Conversation, Problem> {
        match self {
            Format::ChatGpt => chatgpt::conversation(value),
            Format::OpenWebUi => openwebui::conversation(value),
            Format::LibreChat => librechat::conversation(value),
            Format::ChatbotUi => chatbotui::conversation(value),
        }
    }
}

/// The format of one list element, when it is recognisable. A list holds one format, so the
/// first recognisable element decides for the others (which may be broken).
pub(super) fn element(value: &Value) -> Option<Format> {
    if !value.is_object() {
        return None;
    }
    if chatgpt::looks_like(value) {
        Some(Format::ChatGpt)
    } else if openwebui::looks_like(value) {
        Some(Format::OpenWebUi)
    } else if librechat::looks_like(value) {
        Some(Format::LibreChat)
    } else if chatbotui::looks_like(value) {
        Some(Format::ChatbotUi)
    } else {
        None
    }
}

/// What a top-level object holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Document {
    /// Confab's own export.
    Confab,
    /// chatbot-ui's export: its conversations are in `history`.
    ChatbotUiExport,
    /// A single conversation.
    Single(Format),
}

pub(super) fn object(value: &Value) -> Option<Document> {
    if value.get("format").and_then(Value::as_str) == Some(super::super::export::EXPORT_FORMAT) {
        Some(Document::Confab)
    } else if chatbotui::is_export(value) {
        Some(Document::ChatbotUiExport)
    } else {
        element(value).map(Document::Single)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers() {
        assert_eq!(container(b"[{"), Container::List);
        assert_eq!(container(b"{\"a\""), Container::Object);
        assert_eq!(container(b"PK\x03\x04"), Container::Zip);
        assert_eq!(container(b""), Container::Empty);
        assert_eq!(container(b"hello"), Container::Unknown);
        assert_eq!(container(b"Please"), Container::Unknown);
    }

    #[test]
    fn elements() {
        assert_eq!(
            element(&json!({"title": "t", "mapping": {}})),
            Some(Format::ChatGpt)
        );
        assert_eq!(
            element(&json!({"title": "Corrupted entry", "conversation_id": "x"})),
            Some(Format::ChatGpt)
        );
        assert_eq!(
            element(&json!({"id": "x", "chat": {"history": {}}})),
            Some(Format::OpenWebUi)
        );
        assert_eq!(
            element(&json!({"conversationId": "x", "messages": []})),
            Some(Format::LibreChat)
        );
        assert_eq!(
            element(&json!({"name": "x", "messages": [{"role": "user", "content": "hi"}]})),
            Some(Format::ChatbotUi)
        );
        assert_eq!(element(&json!({"hello": 1})), None);
        assert_eq!(element(&json!(3)), None);
    }

    #[test]
    fn documents() {
        assert_eq!(
            object(&json!({"format": "confab", "version": 1})),
            Some(Document::Confab)
        );
        assert_eq!(
            object(&json!({"version": 4, "history": [], "folders": []})),
            Some(Document::ChatbotUiExport)
        );
        assert_eq!(
            object(&json!({"conversationId": "x", "messagesTree": []})),
            Some(Document::Single(Format::LibreChat))
        );
        assert_eq!(object(&json!({"something": "else"})), None);
    }
}
