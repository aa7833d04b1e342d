//! The stored shape of each collection and its mapping to domain types.
//!
//! Times are BSON dates (millisecond precision, like the SQLite backend's integers), so a value
//! read back equals the one written and range queries and `$max` compare them natively.

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Binary};
use serde::{Deserialize, Serialize};

use super::terms;
use crate::model::{ApiToken, Message, MessageStatus, Role, Session, StatusReason, User, UserRole};
use crate::store::{AuthSessionRecord, NewMessage, NewSession, StoreError, StoreResult};

pub fn to_bson_time(time: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(time.timestamp_millis())
}

pub fn from_bson_time(time: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or_default()
}

/// What a round trip through the store makes of a time: milliseconds.
pub fn stored_time(time: DateTime<Utc>) -> DateTime<Utc> {
    from_bson_time(to_bson_time(time))
}

fn malformed(what: &str, id: &str) -> StoreError {
    StoreError::Backend(format!("malformed {what} in stored document {id}"))
}

/// `admin_slot` of the first account: a unique index lets exactly one account hold it, which
/// decides "the first account is the admin" atomically without a transaction.
pub const FIRST_ADMIN_SLOT: &str = "first";

/// An account at an OAuth / OpenID Connect provider, keyed by provider and subject.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityDoc {
    /// `provider` + U+001F + `subject`: unique by construction.
    #[serde(rename = "_id")]
    pub key: String,
    pub user_id: String,
    pub provider: String,
    pub subject: String,
    #[serde(default)]
    pub email: Option<String>,
    pub created_at: bson::DateTime,
}

pub fn identity_key(provider: &str, subject: &str) -> String {
    format!("{provider}\u{1f}{subject}")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    /// The email as the unique index compares it (SQLite's `COLLATE NOCASE`: ASCII only).
    pub email_key: String,
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub password_hash: Option<String>,
    pub created_at: bson::DateTime,
    /// `FIRST_ADMIN_SLOT` for the first account, the account's own id otherwise.
    pub admin_slot: String,
    /// Since when the account is disabled (absent while it is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<bson::DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<bson::DateTime>,
}

pub fn email_key(email: &str) -> String {
    email.to_ascii_lowercase()
}

impl UserDoc {
    pub fn to_user(&self) -> StoreResult<User> {
        Ok(User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: UserRole::parse(&self.role).ok_or_else(|| malformed("role", &self.id))?,
            created_at: from_bson_time(self.created_at),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuthSessionDoc {
    /// The hashed sign-in id.
    #[serde(rename = "_id")]
    pub key: String,
    #[serde(default)]
    pub user_id: Option<String>,
    pub data: Binary,
    pub expires_at: bson::DateTime,
}

impl AuthSessionDoc {
    pub fn into_record(self) -> AuthSessionRecord {
        AuthSessionRecord {
            user_id: self.user_id,
            data: self.data.bytes,
            expires_at: from_bson_time(self.expires_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub secret_hash: String,
    pub created_at: bson::DateTime,
    #[serde(default)]
    pub last_used_at: Option<bson::DateTime>,
    /// The credentials stamp the token was made under (absent on tokens from before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_under: Option<String>,
}

impl TokenDoc {
    pub fn to_token(&self) -> ApiToken {
        ApiToken {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: from_bson_time(self.created_at),
            last_used_at: self.last_used_at.map(from_bson_time),
        }
    }
}

/// `source_key` (and `client_key` of messages) stand in for SQLite's partial unique indexes
/// `(user_id, source_id) WHERE source_id IS NOT NULL`: FerretDB has no partial indexes, and a
/// sparse compound index on MongoDB still indexes documents that lack only one of its fields.
/// A row without the optional id gets a key derived from its own `_id`, unique anyway.
pub fn source_key(source_id: Option<&str>, id: &str) -> String {
    match source_id {
        Some(source) => format!("s:{source}"),
        None => format!("id:{id}"),
    }
}

pub fn client_key(client_id: Option<&str>, id: &str) -> String {
    match client_id {
        Some(client) => format!("c:{client}"),
        None => format!("id:{id}"),
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub is_active: bool,
    pub pinned: bool,
    pub archived: bool,
    pub message_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Words in its messages (as search counts them): with `message_count`, summed over a
    /// user's sessions, the average message length that search ranking normalises by.
    #[serde(default)]
    pub word_count: i64,
    #[serde(default)]
    pub source_id: Option<String>,
    pub source_key: String,
    #[serde(default)]
    pub active_leaf_id: Option<String>,
    /// The active leaf's spine (`tree::Spine`), so that an append following the leaf reads
    /// no message. Written only by appends, in the update that moves `active_leaf_id`; every
    /// other write of `active_leaf_id` removes it, and an append without it reads the leaf
    /// and its jump chain instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_spine: Option<crate::store::tree::Spine>,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
    /// Absent until the first message (and after clearing), so that `$max` sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<bson::DateTime>,
    /// max(created_at, last message): the sort key of the session list.
    pub activity_at: bson::DateTime,
    /// When the session was deleted; absent while it lives (see `chat::live`). A purge that
    /// has started also sets `purging: true`, after which the session can no longer be
    /// restored (the field is only ever filtered on, never read into this type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<bson::DateTime>,
    /// The models its messages name (`Message::model`), each once, in no set order: added with
    /// `$addToSet` by the write that counts a message (an append's counter update, an
    /// import's counting), emptied by a clear; the session's detail sorts them. Absent in a
    /// session written before it, until the migration `SESSION_MODELS` fills it.
    #[serde(default)]
    pub models: Vec<String>,
    /// Where a forked conversation came from (`Session::forked_from`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFromDoc>,
    /// Its tags (`Session::tags`), in no set order (`$addToSet` adds them); the reads sort
    /// them. Absent in a session written before tags, which has none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Its folder (`Session::folder_id`); absent or null at the top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<String>,
}

/// `ForkedFrom` as stored: the source's session and message ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForkedFromDoc {
    pub session_id: String,
    pub message_id: String,
}

impl SessionDoc {
    pub fn new(new: &NewSession, pinned: bool, archived: bool) -> SessionDoc {
        let created = to_bson_time(new.created_at);
        SessionDoc {
            id: new.id.clone(),
            user_id: new.user_id.clone(),
            title: new.title.clone(),
            is_active: true,
            pinned,
            archived,
            message_count: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            word_count: 0,
            source_id: new.source_id.clone(),
            source_key: source_key(new.source_id.as_deref(), &new.id),
            active_leaf_id: None,
            leaf_spine: None,
            created_at: created,
            updated_at: created,
            last_message_at: None,
            activity_at: created,
            deleted_at: None,
            models: Vec::new(),
            forked_from: None,
            tags: Vec::new(),
            folder_id: new.folder_id.clone(),
        }
    }

    pub fn into_session(self) -> Session {
        Session {
            id: self.id,
            title: self.title,
            is_active: self.is_active,
            pinned: self.pinned,
            archived: self.archived,
            message_count: self.message_count,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            created_at: from_bson_time(self.created_at),
            updated_at: from_bson_time(self.updated_at),
            last_message_at: self.last_message_at.map(from_bson_time),
            active_leaf_id: self.active_leaf_id,
            forked_from: self.forked_from.map(|fork| crate::model::ForkedFrom {
                session_id: fork.session_id,
                message_id: fork.message_id,
            }),
            tags: crate::tags::normalized(self.tags),
            folder_id: self.folder_id,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub session_id: String,
    pub user_id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub role: String,
    pub content: String,
    #[serde(rename = "type")]
    pub message_type: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub prompt_tokens: Option<i64>,
    #[serde(default)]
    pub completion_tokens: Option<i64>,
    #[serde(default)]
    pub latency_ms: Option<i64>,
    pub status: String,
    /// Why the status is `partial` or `error` (`StatusReason::as_str`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// A streaming reply's last checkpoint (its heartbeat), then when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<bson::DateTime>,
    #[serde(default)]
    pub client_id: Option<String>,
    pub client_key: String,
    #[serde(default)]
    pub source_id: Option<String>,
    pub source_key: String,
    pub created_at: bson::DateTime,
    #[serde(default)]
    pub usage_estimated: bool,
    /// The distinct search terms of `content` (see `terms`): what search matches on. Reads
    /// leave it out (`WITHOUT_TERMS`), it can be as large as the content.
    #[serde(default)]
    pub terms: Vec<String>,
    /// Depth in the conversation's tree and jump pointer (see `store::tree`), set at write
    /// time; absent only on documents from before they existed, until `branch::link_missing`
    /// (run at connect) sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump_depth: Option<i64>,
    /// Present on an imported message until its session's counters count it (see `counting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncounted: Option<super::counting::Uncounted>,
    /// Since when the user has starred the message; absent (not null) when it is not starred,
    /// so that the partial index `messages_starred` holds the starred messages only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starred_at: Option<bson::DateTime>,
    /// Words in `content`, for the session's `word_count` (not stored with the message).
    #[serde(skip)]
    pub word_count: i64,
}

/// The search terms and word count a message of this status and content contributes. A reply
/// that is still streaming contributes none: its text changes at every checkpoint, and is
/// indexed once, when it ends.
pub fn searchable(status: MessageStatus, content: &str) -> (Vec<String>, i64) {
    if status == MessageStatus::Streaming {
        return (Vec::new(), 0);
    }
    let words = terms::tokens(content);
    let count = i64::try_from(words.len()).unwrap_or(i64::MAX);
    (terms::distinct_terms(words), count)
}

/// Projection for reading messages without their search terms.
pub fn without_terms() -> bson::Document {
    bson::doc! { "terms": 0 }
}

impl MessageDoc {
    pub fn new(message: &NewMessage) -> MessageDoc {
        let (terms, word_count) = searchable(message.status, &message.content);
        MessageDoc {
            id: message.id.clone(),
            session_id: message.session_id.clone(),
            user_id: message.user_id.clone(),
            parent_id: message.parent_id.clone(),
            role: message.role.as_str().to_owned(),
            content: message.content.clone(),
            message_type: message.message_type.clone(),
            model: message.model.clone(),
            prompt_tokens: message.prompt_tokens,
            completion_tokens: message.completion_tokens,
            latency_ms: message.latency_ms,
            status: message.status.as_str().to_owned(),
            status_reason: message
                .status_reason
                .map(|reason| reason.as_str().to_owned()),
            updated_at: Some(to_bson_time(message.created_at)),
            client_id: message.client_id.clone(),
            client_key: client_key(message.client_id.as_deref(), &message.id),
            source_id: message.source_id.clone(),
            source_key: source_key(message.source_id.as_deref(), &message.id),
            created_at: to_bson_time(message.created_at),
            usage_estimated: message.usage_estimated,
            starred_at: message.starred_at.map(to_bson_time),
            uncounted: None,
            word_count,
            terms,
            depth: None,
            jump_id: None,
            jump_depth: None,
        }
    }

    /// The tree links stored with this message, if it has them.
    pub fn links(&self) -> Option<crate::store::tree::TreeLinks> {
        Some(crate::store::tree::TreeLinks {
            depth: self.depth?,
            jump_id: self.jump_id.clone()?,
            jump_depth: self.jump_depth?,
        })
    }

    pub fn set_links(&mut self, links: crate::store::tree::TreeLinks) {
        self.depth = Some(links.depth);
        self.jump_id = Some(links.jump_id);
        self.jump_depth = Some(links.jump_depth);
    }

    pub fn into_message(self) -> StoreResult<Message> {
        Ok(Message {
            role: Role::parse(&self.role).ok_or_else(|| malformed("role", &self.id))?,
            status: MessageStatus::parse(&self.status)
                .ok_or_else(|| malformed("status", &self.id))?,
            id: self.id,
            session_id: self.session_id,
            parent_id: self.parent_id,
            content: self.content,
            message_type: self.message_type,
            model: self.model,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            latency_ms: self.latency_ms,
            client_id: self.client_id,
            created_at: from_bson_time(self.created_at),
            usage_estimated: self.usage_estimated,
            // A reason this build does not know (written by a newer one) reads as none.
            status_reason: self.status_reason.as_deref().and_then(StatusReason::parse),
            starred: self.starred_at.is_some(),
            starred_at: self.starred_at.map(from_bson_time),
        })
    }
}

/// A number from a server reply, whatever numeric type the server chose.
pub fn as_u64(value: Option<&bson::Bson>) -> Option<u64> {
    match value? {
        bson::Bson::Int32(n) => u64::try_from(*n).ok(),
        bson::Bson::Int64(n) => u64::try_from(*n).ok(),
        bson::Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

/// The `_id` alone, for existence checks.
#[derive(Debug, Deserialize)]
pub struct IdOnly {
    #[serde(rename = "_id")]
    pub id: String,
}
