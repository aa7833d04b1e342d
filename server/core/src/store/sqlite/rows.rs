//! Mapping between SQLite rows and domain types.

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::model::{
    ApiToken, ForkedFrom, Message, MessageStatus, Role, Session, StatusReason, User, UserRole,
};

pub fn to_ms(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn bad_value(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unexpected {what}").into(),
    )
}

pub const USER_COLUMNS: &str = "id, email, name, role, created_at";

pub fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        role: UserRole::parse(&role).ok_or_else(|| bad_value(3, "role"))?,
        created_at: from_ms(row.get(4)?),
    })
}

pub const TOKEN_COLUMNS: &str = "id, name, created_at, last_used_at";

pub fn token(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: from_ms(row.get(2)?),
        last_used_at: row.get::<_, Option<i64>>(3)?.map(from_ms),
    })
}

pub const SESSION_COLUMNS: &str = "id, title, is_active, pinned, archived, message_count, \
     prompt_tokens, completion_tokens, created_at, updated_at, last_message_at, active_leaf_id, activity_at, \
     forked_from_session, forked_from_message, \
     (SELECT group_concat(tag, char(31)) FROM session_tags WHERE session_id = chat_sessions.id), \
     folder_id";

/// What separates a session's tags in `SESSION_COLUMNS`' last column: U+001F, a control
/// character, which no tag holds (`crate::tags::tag`).
const TAG_SEPARATOR: char = '\u{1f}';

pub fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        title: row.get(1)?,
        is_active: row.get(2)?,
        pinned: row.get(3)?,
        archived: row.get(4)?,
        message_count: row.get(5)?,
        prompt_tokens: row.get(6)?,
        completion_tokens: row.get(7)?,
        created_at: from_ms(row.get(8)?),
        updated_at: from_ms(row.get(9)?),
        last_message_at: row.get::<_, Option<i64>>(10)?.map(from_ms),
        active_leaf_id: row.get(11)?,
        forked_from: match (row.get(13)?, row.get(14)?) {
            (Some(session_id), Some(message_id)) => Some(ForkedFrom {
                session_id,
                message_id,
            }),
            _ => None,
        },
        tags: crate::tags::normalized(
            row.get::<_, Option<String>>(15)?
                .map(|tags| tags.split(TAG_SEPARATOR).map(str::to_owned).collect())
                .unwrap_or_default(),
        ),
        folder_id: row.get(16)?,
    })
}

pub const MESSAGE_COLUMNS: &str = "id, session_id, parent_id, role, content, type, model, \
     prompt_tokens, completion_tokens, latency_ms, status, client_id, created_at, usage_estimated, \
     status_reason, starred_at";

/// The index of the first column after `MESSAGE_COLUMNS` in a row that selects more.
pub const AFTER_MESSAGE_COLUMNS: usize = 16;

pub fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = row.get(3)?;
    let status: String = row.get(10)?;
    let starred_at = row.get::<_, Option<i64>>(15)?.map(from_ms);
    Ok(Message {
        id: row.get(0)?,
        session_id: row.get(1)?,
        parent_id: row.get(2)?,
        role: Role::parse(&role).ok_or_else(|| bad_value(3, "role"))?,
        content: row.get(4)?,
        message_type: row.get(5)?,
        model: row.get(6)?,
        prompt_tokens: row.get(7)?,
        completion_tokens: row.get(8)?,
        latency_ms: row.get(9)?,
        status: MessageStatus::parse(&status).ok_or_else(|| bad_value(10, "status"))?,
        client_id: row.get(11)?,
        created_at: from_ms(row.get(12)?),
        usage_estimated: row.get(13)?,
        // A reason this build does not know (written by a newer one) reads as none.
        status_reason: row
            .get::<_, Option<String>>(14)?
            .as_deref()
            .and_then(StatusReason::parse),
        starred: starred_at.is_some(),
        starred_at,
    })
}
