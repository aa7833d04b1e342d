//! Chat sessions, messages and search.

use chrono::{DateTime, Utc};

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{
    MessageListInput, NewMessageInput, SearchInput, SessionListInput, SessionPatchInput,
    SessionsBulkAction, SessionsBulkInput, SessionsBulkResult, MAX_BULK_SESSIONS,
};
use crate::ids::new_id;
use crate::model::{
    clamp_limit, Message, MessageStatus, Page, Role, SearchHit, Session, SessionDetail, User,
    DEFAULT_MESSAGE_TYPE,
};
use crate::search_syntax;
use crate::store::search_query;
use crate::store::{
    Appended, LeafRule, MessageQuery, NewMessage, NewSession, SearchQuery, SessionPatch,
    SessionQuery, SessionsChange,
};

const MAX_QUERY_CHARS: usize = 500;

/// Where a new message hangs in the session's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParentChoice {
    /// Under this message (a branch when it already has children).
    Message(String),
    /// At the root (editing a first message).
    Root,
    /// Under the end of the session's active branch.
    ActiveLeaf,
}

fn parse_role(text: &str) -> ServiceResult<Role> {
    Role::parse(text.trim()).ok_or_else(|| {
        ServiceError::invalid(
            "invalid_role",
            format!(
                "role must be one of system, user, assistant, tool (got {:?})",
                truncate(text, 20)
            ),
        )
    })
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

fn parse_time(field: &'static str, text: &str) -> ServiceResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            ServiceError::invalid("invalid_time", format!("{field} must be an RFC 3339 time"))
        })
}

impl Services {
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn create_session(&self, user: &User, title: Option<&str>) -> ServiceResult<Session> {
        self.create_session_in(user, title, None).await
    }

    /// `create_session` in a folder of the user's (`NotFound` when it is not theirs); the top
    /// level for `None`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn create_session_in(
        &self,
        user: &User,
        title: Option<&str>,
        folder_id: Option<&str>,
    ) -> ServiceResult<Session> {
        if let Some(folder_id) = folder_id {
            validate::existing_id(folder_id)?;
        }
        let title = match title {
            Some(title) => validate::title(title)?,
            None => "New chat".to_owned(),
        };
        Ok(self
            .store()
            .create_session(NewSession {
                folder_id: folder_id.map(str::to_owned),
                id: new_id(),
                user_id: user.id.clone(),
                title,
                source_id: None,
                created_at: Utc::now(),
            })
            .await?)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn get_session(&self, user: &User, id: &str) -> ServiceResult<SessionDetail> {
        validate::existing_id(id)?;
        self.store()
            .get_session(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// A page of the user's sessions, newest activity first. With `q` (trimmed, at most
    /// `MAX_QUERY_CHARS` characters) the page holds the sessions whose title holds it, among a
    /// bounded number looked at (`store::title_filter`): fewer than `limit`, even none, with a
    /// cursor when more follow. Errors: `InvalidCursor` for a cursor the list did not give.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn list_sessions(
        &self,
        user: &User,
        input: SessionListInput,
    ) -> ServiceResult<Page<Session>> {
        let title_contains = input
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
            .map(|q| truncate(&q, MAX_QUERY_CHARS));
        Ok(self
            .store()
            .list_sessions(
                &user.id,
                SessionQuery {
                    limit: clamp_limit(input.limit),
                    cursor: input.cursor.filter(|cursor| !cursor.is_empty()),
                    archived: input.archived,
                    pinned: input.pinned,
                    title_contains,
                    tag: input
                        .tag
                        .as_deref()
                        .map(super::tags::valid_tag)
                        .transpose()?,
                    folder: input.folder,
                },
            )
            .await?)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn update_session(
        &self,
        user: &User,
        id: &str,
        input: SessionPatchInput,
    ) -> ServiceResult<Session> {
        validate::existing_id(id)?;
        let patch = SessionPatch {
            title: input.title.as_deref().map(validate::title).transpose()?,
            is_active: input.is_active,
            pinned: input.pinned,
            archived: input.archived,
            active_leaf_id: None,
        };
        let patch = match input.active_leaf_id {
            Some(leaf) => {
                validate::existing_id(&leaf)?;
                let message = self.store().get_message(&user.id, &leaf).await?;
                if message.is_none_or(|message| message.session_id != id) {
                    return Err(ServiceError::invalid(
                        "invalid_branch",
                        "activeLeafId is not a message of this session",
                    ));
                }
                SessionPatch {
                    active_leaf_id: Some(leaf),
                    ..patch
                }
            }
            None => patch,
        };
        self.store()
            .update_session(&user.id, id, patch, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Deletes the session at once, restorably: it is gone from every list, search and read,
    /// and `restore_session` brings it back within the retention time
    /// (`ServiceConfig::deleted_retention`); after that the purge removes it for good.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn delete_session(&self, user: &User, id: &str) -> ServiceResult<()> {
        validate::existing_id(id)?;
        if self
            .store()
            .delete_session(&user.id, id, Utc::now())
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Brings back a session deleted less than the retention time ago, exactly as it was.
    /// `NotFound` when there is nothing to bring back: no such session, one that is not
    /// deleted, or one deleted longer ago (even if the purge has not removed it yet).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn restore_session(&self, user: &User, id: &str) -> ServiceResult<Session> {
        validate::existing_id(id)?;
        self.store()
            .restore_session(&user.id, id, self.restorable_since(Utc::now()))
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// One action on up to `MAX_BULK_SESSIONS` of the user's sessions, in one store write
    /// (`Store::change_sessions`). Errors: `invalid_ids` for no ids, too many, or one that is
    /// not an id at all; `invalid_tag` for a `tag` or `untag` without a valid tag, or a tag
    /// given with another action; `too_many_tags` for a `tag` that would be the user's
    /// `MAX_TAGS + 1`st. Ids that are not the user's live sessions (for `restore`, restorable deleted
    /// ones) are listed as skipped, not refused, so that a selection made before another tab
    /// changed some of it still applies to the rest.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, action = ?input.action, count = input.ids.len()))]
    pub async fn change_sessions(
        &self,
        user: &User,
        input: SessionsBulkInput,
    ) -> ServiceResult<SessionsBulkResult> {
        let ids = selected_ids(&input.ids)?;
        let tag = input
            .tag
            .as_deref()
            .map(super::tags::valid_tag)
            .transpose()?;
        let now = Utc::now();
        if input.folder_id.is_some() && input.action != SessionsBulkAction::Move {
            return Err(ServiceError::invalid(
                "invalid_folder",
                "only move takes a folder (\"folderId\")",
            ));
        }
        let change = match (input.action, tag) {
            (SessionsBulkAction::Move, None) => {
                if let Some(folder_id) = &input.folder_id {
                    validate::existing_id(folder_id)?;
                }
                SessionsChange::Moved(input.folder_id.clone())
            }
            (SessionsBulkAction::Tag, Some(tag)) => {
                self.check_new_tag(user, &tag).await?;
                SessionsChange::Tagged(tag)
            }
            (SessionsBulkAction::Untag, Some(tag)) => SessionsChange::Untagged(tag),
            (SessionsBulkAction::Tag | SessionsBulkAction::Untag, None) => {
                return Err(ServiceError::invalid(
                    "invalid_tag",
                    "tag and untag take the tag to put on or take off (\"tag\")",
                ));
            }
            (_, Some(_)) => {
                return Err(ServiceError::invalid(
                    "invalid_tag",
                    "only tag and untag take a tag",
                ));
            }
            (SessionsBulkAction::Archive, None) => SessionsChange::Archived(true),
            (SessionsBulkAction::Unarchive, None) => SessionsChange::Archived(false),
            (SessionsBulkAction::Pin, None) => SessionsChange::Pinned(true),
            (SessionsBulkAction::Unpin, None) => SessionsChange::Pinned(false),
            (SessionsBulkAction::Delete, None) => SessionsChange::Deleted(now),
            (SessionsBulkAction::Restore, None) => {
                SessionsChange::Restored(self.restorable_since(now))
            }
        };
        let applied = self
            .store()
            .change_sessions(&user.id, &ids, change, now)
            .await?;
        let done: std::collections::HashSet<&String> = applied.iter().collect();
        let skipped = ids
            .iter()
            .filter(|id| !done.contains(id))
            .cloned()
            .collect();
        Ok(SessionsBulkResult { applied, skipped })
    }

    /// Removes for good the sessions deleted longer than the retention time ago, with their
    /// messages; returns how many. Run at start-up and then hourly by the server.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn purge_deleted_sessions(&self) -> ServiceResult<u64> {
        Ok(self
            .store()
            .purge_deleted_sessions(self.restorable_since(Utc::now()))
            .await?)
    }

    /// The oldest deletion that can still be undone at `now`.
    fn restorable_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::TimeDelta::from_std(self.config().deleted_retention)
            .ok()
            .and_then(|retention| now.checked_sub_signed(retention))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn clear_session(&self, user: &User, id: &str) -> ServiceResult<()> {
        validate::existing_id(id)?;
        if self.store().clear_session(&user.id, id, Utc::now()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Saves a message. Without a session id a session is created, titled from the content.
    /// Without a parent the message continues the session's active branch; either way it
    /// becomes the end of the active branch. A repeated client id returns the first message
    /// (`created = false`), never a duplicate.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = ?input.session_id))]
    pub async fn append_message(
        &self,
        user: &User,
        input: NewMessageInput,
    ) -> ServiceResult<Appended> {
        let parent = match input.parent_id.clone() {
            Some(parent) => ParentChoice::Message(parent),
            None => ParentChoice::ActiveLeaf,
        };
        self.append_under(user, input, parent, MessageStatus::Complete)
            .await
    }

    pub(crate) async fn append_under(
        &self,
        user: &User,
        input: NewMessageInput,
        parent: ParentChoice,
        status: MessageStatus,
    ) -> ServiceResult<Appended> {
        let role = parse_role(&input.role)?;
        validate::content(&input.content)?;
        let message_type = match input.message_type.as_deref() {
            Some(slug) => validate::message_type(slug)?,
            None => DEFAULT_MESSAGE_TYPE.to_owned(),
        };
        let model = input.model.as_deref().map(validate::model).transpose()?;
        let client_id = input
            .client_id
            .as_deref()
            .map(validate::client_id)
            .transpose()?;
        let prompt_tokens = validate::tokens("promptTokens", input.prompt_tokens)?;
        let completion_tokens = validate::tokens("completionTokens", input.completion_tokens)?;
        let latency_ms = validate::tokens("latencyMs", input.latency_ms)?;
        if let ParentChoice::Message(parent_id) = &parent {
            validate::id("parentId", parent_id.as_str())?;
        }
        let now = Utc::now();
        let follow_active = parent == ParentChoice::ActiveLeaf;
        let parent_id = match parent {
            ParentChoice::Message(parent_id) => Some(parent_id),
            ParentChoice::Root | ParentChoice::ActiveLeaf => None,
        };
        let (session_id, new_session) = match input.session_id {
            Some(session_id) => {
                validate::existing_id(&session_id)?;
                (session_id, None)
            }
            None => {
                let session = NewSession {
                    folder_id: None,
                    id: new_id(),
                    user_id: user.id.clone(),
                    title: validate::title_from_content(&input.content),
                    source_id: None,
                    created_at: now,
                };
                (session.id.clone(), Some(session))
            }
        };
        let message = NewMessage {
            starred_at: None,
            id: new_id(),
            user_id: user.id.clone(),
            session_id,
            parent_id,
            role,
            content: input.content,
            message_type,
            model,
            prompt_tokens,
            completion_tokens,
            latency_ms,
            status,
            status_reason: None,
            client_id,
            source_id: None,
            created_at: now,
            usage_estimated: input.usage_estimated,
            follow_active_leaf: follow_active,
            active_leaf: LeafRule::Set,
        };
        match self.store().append_message(message, new_session).await {
            Err(crate::store::StoreError::Conflict(
                crate::store::Conflict::ParentOutsideSession,
            )) => Err(ServiceError::invalid(
                "invalid_parent",
                "parentId is not a message of this session",
            )),
            other => Ok(other?),
        }
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %input.session_id))]
    pub async fn list_messages(
        &self,
        user: &User,
        input: MessageListInput,
    ) -> ServiceResult<Page<Message>> {
        validate::existing_id(&input.session_id)?;
        let before = input.before.filter(|before| !before.is_empty());
        if let Some(before) = &before {
            if !crate::ids::is_valid_id(before) {
                return Err(ServiceError::invalid(
                    "invalid_cursor",
                    "before is not a message id",
                ));
            }
        }
        let query = MessageQuery {
            limit: clamp_limit(input.limit),
            before,
            message_type: input
                .message_type
                .as_deref()
                .map(validate::message_type)
                .transpose()?,
            role: input.role.as_deref().map(parse_role).transpose()?,
        };
        Ok(self
            .store()
            .list_messages(&user.id, &input.session_id, query)
            .await?)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, message_id = %id))]
    pub async fn get_message(&self, user: &User, id: &str) -> ServiceResult<Message> {
        validate::existing_id(id)?;
        self.store()
            .get_message(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn search(&self, user: &User, input: SearchInput) -> ServiceResult<Page<SearchHit>> {
        if input.q.chars().count() > MAX_QUERY_CHARS {
            return Err(ServiceError::invalid(
                "query_too_long",
                format!("the search text is longer than {MAX_QUERY_CHARS} characters"),
            ));
        }
        let typed = search_syntax::split(&input.q);
        let (terms, prefix_last) = search_query::terms(&typed.text);
        let offset = match input.cursor.as_deref().filter(|cursor| !cursor.is_empty()) {
            Some(cursor) => crate::store::cursor::decode_offset(cursor)?,
            None => 0,
        };
        if let Some(session_id) = &input.session_id {
            validate::existing_id(session_id)?;
        }
        let mut filters = SearchFilters {
            message_type: input
                .message_type
                .as_deref()
                .map(validate::message_type)
                .transpose()?,
            role: input.role.as_deref().map(parse_role).transpose()?,
            model: input.model.as_deref().map(validate::model).transpose()?,
            from: input
                .from
                .as_deref()
                .map(|text| parse_time("from", text))
                .transpose()?,
            to: input
                .to
                .as_deref()
                .map(|text| parse_time("to", text))
                .transpose()?,
            tag: input
                .tag
                .as_deref()
                .map(super::tags::valid_tag)
                .transpose()?,
            // `starred=false` asks for nothing: every message, starred or not.
            starred: input.starred.filter(|starred| *starred),
            archived: input.archived,
        };
        for (key, value) in &typed.filters {
            filters.add(*key, value)?;
        }
        let query = SearchQuery {
            terms,
            prefix_last,
            limit: clamp_limit(input.limit),
            offset,
            message_type: filters.message_type,
            role: filters.role,
            model: filters.model,
            session_id: input.session_id,
            from: filters.from,
            to: filters.to,
            tag: filters.tag,
            starred: filters.starred.unwrap_or(false),
            archived: filters.archived,
        };
        Ok(self.store().search(&user.id, query).await?)
    }
}

/// A search's filters, from its parameters and from the query's `key:value` items
/// (`search_syntax`), each checked by one rule whichever way it came.
struct SearchFilters {
    message_type: Option<String>,
    role: Option<Role>,
    model: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tag: Option<String>,
    /// `Some(true)` for `is:starred`.
    starred: Option<bool>,
    /// `Some(true)` for `is:archived`, `Some(false)` for `-is:archived`.
    archived: Option<bool>,
}

impl SearchFilters {
    /// Adds the query's filter `key:value`. Errors: the value's own (`invalid_role`,
    /// `invalid_tag`, ...; `invalid_time` for a date that is neither `YYYY-MM-DD` nor RFC
    /// 3339; `invalid_filter` for `is:` with another value than `starred` or `archived`, or
    /// `-is:` with another than `archived`), and
    /// `conflicting_filter` when the filter was already given (as a parameter or earlier in
    /// the query) with another value.
    fn add(&mut self, key: search_syntax::Key, value: &str) -> ServiceResult<()> {
        use search_syntax::Key;
        match key {
            Key::Model => set_once(&mut self.model, key, validate::model(value)?),
            // Typed by people: `role:User` and `type:Code` mean what their lower case does.
            Key::Type => set_once(
                &mut self.message_type,
                key,
                validate::message_type(&value.to_lowercase())?,
            ),
            Key::Role => set_once(&mut self.role, key, parse_role(&value.to_lowercase())?),
            Key::After => set_once(&mut self.from, key, parse_day(key, value)?),
            Key::Before => set_once(&mut self.to, key, parse_day(key, value)?),
            Key::Tag => set_once(&mut self.tag, key, super::tags::valid_tag(value)?),
            // `is:Starred` means what its lower case does, as `role:` and `type:`.
            Key::Is if value.trim().eq_ignore_ascii_case("starred") => {
                set_once(&mut self.starred, key, true)
            }
            Key::Is if value.trim().eq_ignore_ascii_case("archived") => {
                set_once(&mut self.archived, key, true)
            }
            Key::Is => Err(ServiceError::invalid(
                "invalid_filter",
                format!(
                    "is: takes starred or archived (got {:?})",
                    truncate(value.trim(), 20)
                ),
            )),
            // `-is:archived` and `is:archived` (or `archived=true`) together conflict.
            Key::IsNot if value.trim().eq_ignore_ascii_case("archived") => {
                set_once(&mut self.archived, key, false)
            }
            Key::IsNot => Err(ServiceError::invalid(
                "invalid_filter",
                format!(
                    "-is: takes only archived (got {:?})",
                    truncate(value.trim(), 20)
                ),
            )),
        }
    }
}

fn set_once<T: PartialEq>(
    slot: &mut Option<T>,
    key: search_syntax::Key,
    value: T,
) -> ServiceResult<()> {
    match slot {
        Some(given) if *given != value => Err(ServiceError::invalid(
            "conflicting_filter",
            format!("{}: is given twice with different values", key.name()),
        )),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// A date (`2026-11-01`, its midnight UTC) or an RFC 3339 time.
fn parse_day(key: search_syntax::Key, text: &str) -> ServiceResult<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            ServiceError::invalid(
                "invalid_time",
                format!(
                    "{}: takes a date (YYYY-MM-DD) or an RFC 3339 time (got {:?})",
                    key.name(),
                    truncate(text, 40)
                ),
            )
        })
}

/// The path from the root to `leaf`, root first. Stops on a cycle in stored data.
pub fn branch_to(messages: &[Message], leaf: &str) -> Vec<Message> {
    let by_id: std::collections::HashMap<&str, &Message> = messages
        .iter()
        .map(|message| (message.id.as_str(), message))
        .collect();
    let mut branch = Vec::new();
    let mut cursor = by_id.get(leaf).copied();
    while let Some(message) = cursor {
        if branch.len() > messages.len() {
            break;
        }
        branch.push(message.clone());
        cursor = message
            .parent_id
            .as_deref()
            .and_then(|parent| by_id.get(parent).copied());
    }
    branch.reverse();
    branch
}

/// The ids of a selection (a bulk action's, an export's), each once, in the order first
/// given. Errors: `invalid_ids` for none, more than `MAX_BULK_SESSIONS`, or one that is not an
/// id at all (a mistake of the caller's, unlike an id that names nothing).
pub(super) fn selected_ids(given: &[String]) -> ServiceResult<Vec<String>> {
    if given.is_empty() || given.len() > MAX_BULK_SESSIONS {
        return Err(ServiceError::invalid(
            "invalid_ids",
            format!("give 1 to {MAX_BULK_SESSIONS} session ids"),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(given.len());
    let mut named = std::collections::HashSet::new();
    for (index, id) in given.iter().enumerate() {
        if !crate::ids::is_valid_id(id) {
            return Err(ServiceError::invalid(
                "invalid_ids",
                format!("ids[{index}] is not a session id"),
            ));
        }
        if named.insert(id.as_str()) {
            ids.push(id.clone());
        }
    }
    Ok(ids)
}
