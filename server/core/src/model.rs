//! The domain types Confab stores and serves. They are shared with the WASM client, so this
//! module has no server-only dependencies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest message content a client may send, in bytes. A single message larger than this is
/// almost certainly a mistake (or an attack) and would make every page that shows it slow.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;
/// Default bound of a model's reply, in bytes (`CONFAB_MAX_REPLY_BYTES`): room for long answers
/// (a CSV in a code block, a whole file), not for a model that loops forever.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;
/// Longest content any stored message may hold, in bytes: the largest reply bound that can be
/// configured. Restore and import accept up to this, so whatever an export holds comes back.
pub const MAX_STORED_CONTENT_BYTES: usize = 8 * 1024 * 1024;
/// Longest session title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest message type slug.
pub const MAX_TYPE_CHARS: usize = 32;
/// Longest model name.
pub const MAX_MODEL_CHARS: usize = 128;
/// Longest client-chosen idempotency key.
pub const MAX_CLIENT_ID_CHARS: usize = 128;
/// Page size bounds for every list.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;

/// Clamps a requested page size into `1..=MAX_PAGE`, defaulting when absent.
pub fn clamp_limit(limit: Option<i64>) -> usize {
    match limit {
        None => DEFAULT_PAGE,
        Some(n) if n < 1 => 1,
        Some(n) => (n as usize).min(MAX_PAGE),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    User,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::User => "user",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(UserRole::Admin),
            "user" => Some(UserRole::User),
            _ => None,
        }
    }
}

/// A user as the API shows it (never with the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
}

/// An API token's public face: the secret is shown once at creation and never stored in clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A chat session (a conversation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub title: String,
    pub is_active: bool,
    pub pinned: bool,
    pub archived: bool,
    pub message_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    /// The last message of the branch the user is on (branches share their earlier messages).
    pub active_leaf_id: Option<String>,
    /// The conversation and message it was forked from ("Continue in a new conversation"),
    /// absent for a conversation that was not. Kept when the source is deleted: it then
    /// names nothing the user can open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
    /// The tags the user put on it (`crate::tags`): each once, in `str` order, none for a new
    /// conversation. A fork starts without tags: they describe the source, not what the fork
    /// goes on to say. Absent from backups made before tags, which read as none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The folder it is in (`Folder::id`), absent at the top level. A fork starts in its
    /// source's folder. Absent from backups made before folders, which read as the top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<String>,
}

/// A folder of conversations (`crate::folders`): nested at most `MAX_FOLDER_DEPTH` levels,
/// with the defaults a conversation started in it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    pub id: String,
    /// 1 to 128 characters (`crate::folders::folder_name`); siblings may share a name.
    pub name: String,
    /// The folder it is in, absent for a top-level folder.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The system prompt a conversation started in it begins with (at most 32,768
    /// characters).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The model a conversation started in it uses when a chat request names none (at most
    /// 256 characters).
    #[serde(default)]
    pub model: Option<String>,
    /// The live (not deleted), not archived conversations directly in it: what the sidebar
    /// lists under it. A counter kept with every change that moves it, exact.
    pub session_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a forked conversation came from: the source session and the message whose path from
/// the root the fork copied (ids as they were in the source).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ForkedFrom {
    pub session_id: String,
    pub message_id: String,
}

/// A session with the aggregates the detail view shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    pub models: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Tool];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    #[default]
    Complete,
    Streaming,
    Partial,
    Error,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 4] = [
        MessageStatus::Complete,
        MessageStatus::Streaming,
        MessageStatus::Partial,
        MessageStatus::Error,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Streaming => "streaming",
            MessageStatus::Partial => "partial",
            MessageStatus::Error => "error",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        MessageStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// Why a reply is not `complete` (status `partial` or `error`). Stored and exported as the
/// snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// The provider's stream ended without a `finish_reason` (closed, reset, malformed chunk).
    ProviderInterrupted,
    /// The provider sent nothing for longer than the idle timeout.
    ProviderStalled,
    /// The provider refused the request or sent an error.
    ProviderError,
    /// The provider could not be reached.
    ProviderUnreachable,
    /// The reply reached the reply bound (`CONFAB_MAX_REPLY_BYTES`); what came before is kept.
    TooLong,
    /// The user pressed Stop.
    Stopped,
    /// Confab was shut down before the reply finished (after the grace period).
    Shutdown,
    /// Confab stopped without a shutdown (a crash, `kill -9`, power loss): the text is what the
    /// last checkpoint held.
    Interrupted,
}

impl StatusReason {
    pub const ALL: [StatusReason; 8] = [
        StatusReason::ProviderInterrupted,
        StatusReason::ProviderStalled,
        StatusReason::ProviderError,
        StatusReason::ProviderUnreachable,
        StatusReason::TooLong,
        StatusReason::Stopped,
        StatusReason::Shutdown,
        StatusReason::Interrupted,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::ProviderInterrupted => "provider_interrupted",
            StatusReason::ProviderStalled => "provider_stalled",
            StatusReason::ProviderError => "provider_error",
            StatusReason::ProviderUnreachable => "provider_unreachable",
            StatusReason::TooLong => "too_long",
            StatusReason::Stopped => "stopped",
            StatusReason::Shutdown => "shutdown",
            StatusReason::Interrupted => "interrupted",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        StatusReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

/// What an imported or restored message's status becomes: a reply still `streaming` in a file
/// has no process that will finish it, so it is a reply left by an interruption (as after a
/// crash); anything else stays as it is.
pub fn settled_status(
    status: MessageStatus,
    reason: Option<StatusReason>,
    content: &str,
) -> (MessageStatus, Option<StatusReason>) {
    match status {
        MessageStatus::Streaming if content.is_empty() => {
            (MessageStatus::Error, Some(StatusReason::Interrupted))
        }
        MessageStatus::Streaming => (MessageStatus::Partial, Some(StatusReason::Interrupted)),
        other => (other, reason),
    }
}

/// The message types the UI offers; any other short slug is accepted too.
pub const KNOWN_MESSAGE_TYPES: &[&str] = &[
    "chat",
    "code_review",
    "code",
    "explain",
    "summarize",
    "translate",
    "brainstorm",
];
pub const DEFAULT_MESSAGE_TYPE: &str = "chat";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub parent_id: Option<String>,
    pub role: Role,
    pub content: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
    pub status: MessageStatus,
    /// Why the status is `partial` or `error`; `None` for `complete` and `streaming`.
    #[serde(default)]
    pub status_reason: Option<StatusReason>,
    pub client_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The token counts are estimates: the provider reported no usage.
    #[serde(default)]
    pub usage_estimated: bool,
    /// Whether the user starred the message: always `starred_at.is_some()`, spelled out for
    /// clients that only show the star.
    #[serde(default)]
    pub starred: bool,
    /// When the user starred the message (the Starred view's order); `None` when not starred.
    #[serde(default)]
    pub starred_at: Option<DateTime<Utc>>,
}

/// Where a message stands among its siblings (siblings: the messages of its session with the same
/// parent, or for a root the session's roots; in sibling order, oldest first by creation time
/// then id; see `service::branch`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SiblingPlace {
    /// How many siblings, the message included (1 when it has none).
    pub count: usize,
    /// Its place among them, from 0.
    pub index: usize,
    /// The sibling before it, if any.
    pub previous_id: Option<String>,
    /// The sibling after it, if any.
    pub next_id: Option<String>,
}

/// A message of the branch with its place among its siblings. In JSON the message's own
/// fields and `siblings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BranchEntry {
    #[serde(flatten)]
    pub message: Message,
    pub siblings: SiblingPlace,
}

/// A page of a session's active branch, root side first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BranchPage {
    pub session: Session,
    pub messages: Vec<BranchEntry>,
    /// `before` for the page above; `None` when this page starts at the root.
    pub earlier: Option<String>,
    /// `after` for the page below; `None` when this page ends at the branch's last message.
    pub later: Option<String>,
}

/// One page of a cursor-paginated list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One item of the Starred view: a starred message with the conversation it is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StarredMessage {
    pub message: Message,
    /// The id of the message's conversation (the same as `message.sessionId`).
    pub session_id: String,
    /// The conversation's title as it is now.
    pub session_title: String,
}

/// One search result. `snippet` is HTML: escaped text with `<mark>` around the hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub message_id: String,
    pub session_id: String,
    pub session_title: String,
    pub role: Role,
    #[serde(rename = "type")]
    pub message_type: String,
    pub snippet: String,
    pub created_at: DateTime<Utc>,
    /// Whether the hit's conversation is archived (search finds archived conversations'
    /// messages unless asked not to: `-is:archived`).
    pub archived: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        assert_eq!(clamp_limit(None), DEFAULT_PAGE);
        assert_eq!(clamp_limit(Some(0)), 1);
        assert_eq!(clamp_limit(Some(-5)), 1);
        assert_eq!(clamp_limit(Some(10_000)), MAX_PAGE);
        assert_eq!(clamp_limit(Some(20)), 20);
    }

    #[test]
    fn status_reasons_round_trip() {
        for reason in StatusReason::ALL {
            assert_eq!(StatusReason::parse(reason.as_str()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).ok(),
                Some(serde_json::Value::String(reason.as_str().to_owned()))
            );
        }
        assert_eq!(StatusReason::parse("bored"), None);
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("wizard"), None);
    }
}
