//! Storage behind one trait. Each backend lives in its own module and is chosen once at
//! start-up from the database URL; everything above this layer holds an `Arc<dyn Store>`.
//!
//! The trait speaks in domain terms. Every method that touches a user's data takes the user id,
//! and a session or message of another user is simply "not found".

pub mod cjk;
pub mod cursor;
pub mod folder_tree;
pub mod measured;
pub mod mongo;
pub mod paths;
pub mod search_query;
pub mod snippet;
pub mod sqlite;
pub mod title_filter;
pub mod tree;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api::{AuditEntry, UserSummary};
use crate::model::{
    ApiToken, Folder, ForkedFrom, Message, MessageStatus, Page, Role, SearchHit, Session,
    SessionDetail, StarredMessage, StatusReason, User, UserRole,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write that contradicts what is stored: what it contradicts.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// A uniqueness rule of the database was broken (an email already registered, for
    /// instance). The text is the database's own (table, index and column names) and goes to
    /// the log only.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The thing named does not exist (or belongs to someone else).
    #[error("not found")]
    NotFound,
    /// A cursor that this store did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("database error: {0}")]
    Backend(String),
    #[error("the store is shutting down")]
    Closed,
    /// The disk (or the database's size limit) is full: nothing of the write was stored, and
    /// writes work again once space is freed.
    #[error("storage full")]
    Full,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a refused write contradicts. Each says so in Confab's words for the user (its
/// `Display`), and callers decide by the variant, never by the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The parent named for a new message is not a message of its session.
    #[error("the parent message is not in this session")]
    ParentOutsideSession,
    /// An imported conversation's id belongs to a session that is not the importer's.
    #[error("the session id is taken")]
    SessionIdTaken,
    /// An imported conversation's deleted copy is being purged at this moment.
    #[error("a deleted conversation of this file is being removed; import it again later")]
    SessionBeingPurged,
    /// A folder moved into itself or into one of its own subfolders.
    #[error("a folder cannot go into itself or one of its subfolders")]
    FolderCycle,
    /// A folder created or moved where it (or its deepest subfolder) would be deeper than
    /// `crate::folders::MAX_FOLDER_DEPTH` levels.
    #[error("folders nest at most 8 levels deep")]
    FolderTooDeep,
    /// A folder past the user's `crate::folders::MAX_FOLDERS`.
    #[error("you have 1000 folders already")]
    TooManyFolders,
}

/// A user with the secret needed to check a password.
#[derive(Clone, Debug)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: Option<String>,
    /// Since when the account is disabled (it may not sign in), if it is.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The holder of an API token: the active account with its credentials as they are now, and
/// the stamp of the credentials the token was made under (`auth::credentials_stamp`; `None`
/// for a token from before stamps were kept). A token counts only while the two agree.
#[derive(Clone, Debug)]
pub struct TokenHolder {
    pub credentials: UserCredentials,
    pub made_under: Option<String>,
}

/// An invitation as stored: its secret only as a hash (`auth::tokens::hash_secret`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInvitation {
    pub id: String,
    pub token_hash: String,
    /// The email it is bound to (normalized), if any.
    pub email: Option<String>,
    /// The email of the administrator who created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The id of the account created with it.
    pub used_by: Option<String>,
}

#[cfg(feature = "test-hooks")]
impl StoredInvitation {
    /// An unused invitation of ada@example.com's with the secret `secret`, which expired a day
    /// ago: the service never makes one, so tests store it themselves.
    pub fn expired(id: &str, secret: &str) -> StoredInvitation {
        let now = Utc::now();
        StoredInvitation {
            id: id.to_owned(),
            token_hash: crate::auth::tokens::hash_secret(secret),
            email: None,
            created_by: "ada@example.com".into(),
            created_at: now - chrono::Duration::days(8),
            expires_at: now - chrono::Duration::days(1),
            used_at: None,
            used_by: None,
        }
    }

    /// Stores [`StoredInvitation::expired`] as an administrator's change would be, with its
    /// audit entry (by ada@example.com).
    pub async fn store_expired(store: &dyn Store, id: &str, secret: &str) -> StoreResult<()> {
        let invitation = Self::expired(id, secret);
        let entry = AuditEntry {
            id: crate::ids::new_id(),
            at: invitation.created_at,
            actor_id: "ada".into(),
            actor_email: invitation.created_by.clone(),
            action: crate::api::AuditAction::Invite,
            target_id: invitation.id.clone(),
            target_email: None,
            detail: None,
        };
        store
            .audited(AdminChange::CreateInvitation(invitation), entry)
            .await
            .map(drop)
    }
}

/// A password reset as stored: its secret only as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasswordReset {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    /// The provider's account the user signs in with, linked in the same step as the user is
    /// created: an account made through a provider never exists without it.
    pub identity: Option<NewIdentity>,
}

/// An account at an OAuth / OpenID Connect provider, to link to a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIdentity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
}

/// What `list_sessions` may filter on.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    pub limit: usize,
    pub cursor: Option<String>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    /// Case-insensitive substring of the title (`title_filter`): the page then holds the
    /// matches among at most `title_filter::TITLE_FILTER_SCAN` sessions after `cursor`, fewer
    /// than `limit` (even none) with a cursor when more sessions follow.
    pub title_contains: Option<String>,
    /// Only the sessions carrying this tag (a tag as `crate::tags::tag` makes it), in the same
    /// order and with the same cursor as the whole list.
    pub tag: Option<String>,
    /// Only the sessions directly in a folder, or in none; same order and cursor.
    pub folder: Option<crate::api::FolderFilter>,
}

/// A folder to create (`Store::create_folder`); its fields already follow `crate::folders`.
#[derive(Clone, Debug)]
pub struct NewFolder {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub system_prompt: Option<String>,
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What `Store::update_folder` changes: `None` leaves a field as it is; `Some(None)` moves the
/// folder to the top level or clears a default.
#[derive(Clone, Debug, Default)]
pub struct FolderPatch {
    pub name: Option<String>,
    pub parent_id: Option<Option<String>>,
    pub system_prompt: Option<Option<String>>,
    pub model: Option<Option<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct SessionPatch {
    pub title: Option<String>,
    pub is_active: Option<bool>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub active_leaf_id: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct MessageQuery {
    pub limit: usize,
    /// Only messages older than this message id.
    pub before: Option<String>,
    pub message_type: Option<String>,
    pub role: Option<Role>,
}

/// A message to append. The store assigns nothing: ids and times come from the service so that
/// every backend stores the same values.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub id: String,
    pub user_id: String,
    pub session_id: String,
    pub parent_id: Option<String>,
    pub role: Role,
    pub content: String,
    pub message_type: String,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
    pub status: MessageStatus,
    pub status_reason: Option<StatusReason>,
    pub client_id: Option<String>,
    /// The token counts are estimates (the provider reported no usage).
    pub usage_estimated: bool,
    /// Without a `parent_id`: hang the message under the session's active leaf (decided in the
    /// store, with the write, so an append costs no extra round trip).
    pub follow_active_leaf: bool,
    /// Whether the message becomes the session's active leaf.
    pub active_leaf: LeafRule,
    /// Where an imported message came from, so a second import adds nothing.
    pub source_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Since when the user has starred it (a restored backup's star); `None` for a new
    /// message, which is never starred.
    pub starred_at: Option<DateTime<Utc>>,
}

/// How an append moves the session's active leaf (the end of the branch the user is on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LeafRule {
    /// The new message becomes the active leaf.
    #[default]
    Set,
    /// Compare-and-set: the new message becomes the active leaf only while the leaf is still
    /// this message. A reply uses it with its question, so a reply that arrives late never
    /// takes the branch away from a newer exchange the user started.
    IfLeafIs(String),
}

/// The final state of a reply that was streaming: what `finish_reply` stores.
#[derive(Clone, Debug)]
pub struct ReplyOutcome {
    pub content: String,
    pub status: MessageStatus,
    pub status_reason: Option<StatusReason>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub latency_ms: Option<i64>,
    pub usage_estimated: bool,
}

/// A session to create together with its first message.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub source_id: Option<String>,
    /// The folder it is created in: one of the user's (the store checks it in the same write:
    /// `NotFound`), or `None` for the top level.
    pub folder_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The outcome of an append: `created` is false when the client id was seen before and the
/// first message is returned instead.
#[derive(Clone, Debug)]
pub struct Appended {
    pub message: Message,
    pub session: Session,
    pub created: bool,
}

/// A page of the Starred view (`Store::starred_messages`).
#[derive(Clone, Debug, Default)]
pub struct StarredQuery {
    pub limit: usize,
    /// A `next_cursor` of the page before (`cursor::encode_star`).
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// The user's words, already reduced to plain terms (see `search_query`).
    pub terms: Vec<String>,
    /// Whether the last term is matched as a prefix (search as you type).
    pub prefix_last: bool,
    pub limit: usize,
    pub offset: usize,
    pub message_type: Option<String>,
    pub role: Option<Role>,
    pub model: Option<String>,
    pub session_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only messages of sessions carrying this tag. MongoDB looks in the
    /// `TAG_SEARCH_SESSIONS` most recently active of them.
    pub tag: Option<String>,
    /// Only starred messages.
    pub starred: bool,
    /// The messages of archived conversations only (`Some(true)`), of conversations not
    /// archived only (`Some(false)`), or of both (`None`).
    pub archived: Option<bool>,
}

/// How many of the sessions carrying a tag a search filtered by it looks in on MongoDB, the
/// most recently active first: their ids are the bound of the message query's `session_id:
/// {$in: ...}` (one tag may be on any number of sessions). As many as one bulk action names.
pub const TAG_SEARCH_SESSIONS: usize = crate::api::MAX_BULK_SESSIONS;

/// One change made to many sessions at once (`Store::change_sessions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionsChange {
    Archived(bool),
    Pinned(bool),
    /// Marked deleted at this time.
    Deleted(DateTime<Utc>),
    /// Those deleted at or after this time (the oldest deletion still restorable) brought
    /// back.
    Restored(DateTime<Utc>),
    /// The tag put on each live session that does not hold `MAX_TAGS_PER_SESSION` other tags
    /// already; a session that has it is left as it is and counts as applied.
    Tagged(String),
    /// The tag taken off each live session that carries it; the others are skipped.
    Untagged(String),
    /// Each live session moved into this folder (the top level for `None`); one already
    /// there counts as applied. The folder must be the user's (checked by the store, in the
    /// same write: `NotFound` before anything moves).
    Moved(Option<String>),
}

/// One conversation to import: created with its messages in one go, skipped when its source id
/// was imported before (new messages of an updated conversation are still added).
///
/// A new session keeps every time the source gives: `session.created_at`, `updated_at`, and
/// its last activity, which is its newest message's `created_at` (the session list orders by
/// it). A session that exists already keeps its own title, flags and times; only its counters,
/// last activity and `updated_at` move forward with the messages added.
#[derive(Clone, Debug)]
pub struct ImportSession {
    pub session: NewSession,
    pub pinned: bool,
    pub archived: bool,
    /// The session's `is_active` flag (true for sources that have no such notion).
    pub is_active: bool,
    /// When the conversation last changed in the source (a message, a rename, a pin). The
    /// stored `updated_at` is the latest of this, `session.created_at` and the newest message;
    /// `None` when the source does not say.
    pub updated_at: Option<DateTime<Utc>>,
    /// The tags of a new session (each once, valid by `crate::tags::tag`, at most
    /// `MAX_TAGS_PER_SESSION`); a session that exists already keeps its own.
    pub tags: Vec<String>,
    /// The message ending the active branch, when the source says which one it is.
    pub active_leaf_id: Option<String>,
    /// Where a forked conversation came from (a fork, or a backup of one), stored with a new
    /// session as it is; a session that exists already keeps its own.
    pub forked_from: Option<ForkedFrom>,
    /// In parent-before-child order.
    pub messages: Vec<NewMessage>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub sessions: usize,
    pub messages: usize,
    pub skipped_messages: usize,
    /// The id of the session each given conversation went to, in the order given: its own id
    /// when it was created (or existed under it), else the id of the session that holds its
    /// source id from an earlier import.
    pub session_ids: Vec<String>,
}

/// A message with its depth in the conversation's tree (a root is 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeMessage {
    pub message: Message,
    pub depth: i64,
}

/// A stretch of a branch with the siblings of its messages (see `Store::branch_window`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchWindow {
    /// Newest first, as `Store::ancestors`.
    pub messages: Vec<TreeMessage>,
    /// The children of each message's parent (for a root, the session's roots), the messages
    /// themselves included, in no set order.
    pub siblings: Vec<Message>,
}

/// A change an administrator makes (`service::admin`), applied by [`Store::audited`] together
/// with the audit entry that records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminChange {
    /// Stores a run-time setting (`key` = `value`), replacing the one stored before.
    SetSetting { key: String, value: String },
    /// Disables the account from `at` unless it is disabled already, and ends every sign-in
    /// session of it either way. Changed: it was enabled.
    DisableUser { id: String, at: DateTime<Utc> },
    /// Enables the account. Changed: it was disabled.
    EnableUser { id: String },
    /// Deletes the account and everything it owns. Changed: it existed.
    DeleteUser { id: String },
    /// Stores a new invitation. Always a change.
    CreateInvitation(StoredInvitation),
    /// Removes an invitation. Changed: it existed.
    DeleteInvitation { id: String },
    /// Stores a new password reset. Always a change.
    CreatePasswordReset(StoredPasswordReset),
}

/// A stored sign-in (tower-sessions record), keyed by a hash of its id.
#[derive(Clone, Debug)]
pub struct AuthSessionRecord {
    /// The signed-in user, so that deleting the user ends their sign-ins.
    pub user_id: Option<String>,
    pub data: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name, from a fixed set (`sqlite`, `mongodb`): a label of the metrics.
    fn backend(&self) -> &'static str;

    /// Answers when the store can serve requests.
    async fn health(&self) -> StoreResult<()>;

    // Users. The first account created becomes the admin, decided atomically by the store.
    /// Creates the user with its identity, when it has one. `Duplicate` (and no account) when
    /// the email is taken or the identity is linked to another user already.
    async fn create_user(&self, new: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// The account with its credentials, but `None` for a disabled account: whom a sign-in
    /// cookie may stand for, and the password hash its sign-in must still match.
    async fn active_credentials_by_id(&self, id: &str) -> StoreResult<Option<UserCredentials>>;
    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>>;
    async fn count_users(&self) -> StoreResult<i64>;
    /// How many accounts are administrators: an instance with accounts keeps at least one.
    async fn count_admins(&self) -> StoreResult<i64>;
    /// Deletes the user and everything they own.
    async fn delete_user(&self, id: &str) -> StoreResult<bool>;

    /// Notes a successful sign-in of the user at `at` (the user list's last activity).
    async fn record_sign_in(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()>;

    // Administration (issue 14).
    /// Up to `limit` users whose email sorts after `after_email`, in email order, with their
    /// message counts (kept as counters where messages are written, never summed here) and
    /// last activity.
    async fn list_users(
        &self,
        after_email: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserSummary>>;
    /// Makes an administrator's `change` and appends `entry` to the audit log, both or neither:
    /// true when something changed (and the entry was appended), false when there was nothing
    /// to change (no entry). SQLite does both in one transaction. MongoDB (no multi-document
    /// transaction on every server it runs on) appends the entry first and removes it when
    /// nothing changed: a change that fails, or a crash between the two, leaves an entry for
    /// an attempt, never a change without its entry.
    async fn audited(&self, change: AdminChange, entry: AuditEntry) -> StoreResult<bool>;

    /// Up to `limit` invitations, newest first.
    async fn list_invitations(&self, limit: usize) -> StoreResult<Vec<StoredInvitation>>;
    async fn invitation_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredInvitation>>;
    async fn invitation_by_id(&self, id: &str) -> StoreResult<Option<StoredInvitation>>;
    /// Creates the user with the invitation, using it up in the same step: `None` (and no
    /// account) when the invitation is gone, used, or expired at `now`. Of concurrent uses
    /// at most one creates an account; a failed creation (a taken email) leaves the
    /// invitation usable.
    async fn create_invited_user(
        &self,
        invitation_id: &str,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    async fn password_reset_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredPasswordReset>>;
    /// Uses the reset up, and with it every other unused reset of the user: sets the user's
    /// password hash, ends every sign-in session of the user and deletes their API tokens.
    /// `None` when the reset is gone, used, or expired at `now`; of concurrent uses at most
    /// one succeeds. Returns the user's id.
    async fn use_password_reset(
        &self,
        id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;

    /// A setting stored at run time (see `service::admin`), as text.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;

    /// Up to `limit` audit entries older than `before` (time, id), newest first.
    async fn list_audit(
        &self,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>>;

    // Accounts at OAuth / OpenID Connect providers.
    async fn user_by_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<User>>;
    /// Links the provider's account to `user_id`; linking the same one again changes nothing.
    async fn link_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    ) -> StoreResult<()>;

    // Sign-in sessions.
    async fn save_auth_session(&self, key: &str, record: AuthSessionRecord) -> StoreResult<()>;
    async fn load_auth_session(&self, key: &str) -> StoreResult<Option<AuthSessionRecord>>;
    async fn delete_auth_session(&self, key: &str) -> StoreResult<()>;
    async fn delete_expired_auth_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    // API tokens, looked up by the hash of their secret.
    /// Stores a token of `user_id`, made under the credentials stamp `made_under` (the
    /// sign-in's or the token's that asked for it).
    async fn create_token(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        secret_hash: &str,
        made_under: Option<&str>,
    ) -> StoreResult<ApiToken>;
    async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>>;
    async fn delete_token(&self, user_id: &str, id: &str) -> StoreResult<bool>;
    /// The holder of the token with this secret hash, `None` when there is no such token or
    /// its account is disabled.
    async fn token_holder(&self, secret_hash: &str) -> StoreResult<Option<TokenHolder>>;

    // Chat sessions.
    async fn create_session(&self, new: NewSession) -> StoreResult<Session>;
    async fn get_session(&self, user_id: &str, id: &str) -> StoreResult<Option<SessionDetail>>;
    /// The session alone, without what `get_session` gathers from its messages.
    async fn session(&self, user_id: &str, id: &str) -> StoreResult<Option<Session>>;
    async fn list_sessions(&self, user_id: &str, query: SessionQuery)
        -> StoreResult<Page<Session>>;
    async fn update_session(
        &self,
        user_id: &str,
        id: &str,
        patch: SessionPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>>;
    /// Deletes the session at `now`, restorably: from then on it is absent everywhere (get,
    /// list, messages, search, append, update, clear, export) as if it had been removed, but
    /// it and its messages are kept until `purge_deleted_sessions` removes them, and
    /// `restore_session` can bring them back unchanged. False when the user has no such
    /// session (an already deleted one included).
    async fn delete_session(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Brings back a session of the user that was deleted at or after `deleted_since` (the
    /// oldest deletion still restorable), exactly as it was: every field and every message.
    /// `None` when there is no such deleted session: unknown, another user's, deleted earlier
    /// than `deleted_since`, already purged, or not deleted at all (restoring is not a no-op
    /// on a live session, so that a caller can tell "brought back" from "nothing to undo").
    async fn restore_session(
        &self,
        user_id: &str,
        id: &str,
        deleted_since: DateTime<Utc>,
    ) -> StoreResult<Option<Session>>;
    /// Applies `change` to each of `ids` that is a session of the user it applies to, in one
    /// write: live sessions for `Archived`, `Pinned` and `Deleted` (as `update_session` and
    /// `delete_session` do one), and for `Restored` those deleted at or after its time and not
    /// being purged (as `restore_session`), and live sessions for `Tagged` and `Untagged` (see
    /// there). `Archived`, `Pinned`, and `Tagged` and `Untagged` where they change the tags,
    /// set `updated_at` to `now` (never the last activity: the list order stays).
    /// Returns the ids it applied to, in the order of `ids`, each once; the others (unknown,
    /// another user's, deleted, or not deleted for `Restored`) are left as they are.
    async fn change_sessions(
        &self,
        user_id: &str,
        ids: &[String],
        change: SessionsChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    // Tags (`crate::tags`). A tag is the user's while one of their sessions carries it: a
    // live, archived or deleted (not yet purged) one.
    /// The user's tags, each once, in `str` order.
    async fn list_tags(&self, user_id: &str) -> StoreResult<Vec<String>>;
    /// Puts `to` instead of `from` on every session of the user that carries `from` (deleted
    /// ones included), once on a session that carried both; sets their `updated_at` to `now`.
    /// Returns how many sessions carried `from`; `NotFound` when none did.
    async fn rename_tag(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Takes `name` off every session of the user that carries it (deleted ones included) and
    /// sets their `updated_at` to `now`. Returns how many; `NotFound` when none did.
    async fn delete_tag(&self, user_id: &str, name: &str, now: DateTime<Utc>) -> StoreResult<u64>;

    // Folders (`crate::folders`). Each keeps `session_count`, its live, not archived sessions,
    // in the same write as every change that moves it.
    /// Every folder of the user's (at most `MAX_FOLDERS`), in one indexed read: parents before
    /// children, siblings by name then id.
    async fn list_folders(&self, user_id: &str) -> StoreResult<Vec<Folder>>;
    /// Creates the folder. `NotFound` when the parent is not the user's; `Conflict` with
    /// `FolderTooDeep` or `TooManyFolders`.
    async fn create_folder(&self, new: NewFolder) -> StoreResult<Folder>;
    /// Changes the folder and sets its `updated_at` to `now`. `NotFound` when it (or the new
    /// parent) is not the user's; `Conflict` with `FolderCycle` or `FolderTooDeep`.
    async fn update_folder(
        &self,
        user_id: &str,
        id: &str,
        patch: FolderPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Folder>;
    /// Deletes the folder. `Keep`: its sessions (deleted ones included) and subfolders move to
    /// its parent. `Delete`: every live session of its subtree is deleted at `now` (into the
    /// trash) and every folder of the subtree removed. Returns how many live sessions moved
    /// or went to the trash; `NotFound` when it is not the user's.
    async fn delete_folder(
        &self,
        user_id: &str,
        id: &str,
        contents: crate::api::FolderContents,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Removes for good every session (of any user) deleted before `deleted_before`, with its
    /// messages and their search entries. Returns how many sessions were removed. A session
    /// restored meanwhile is kept.
    async fn purge_deleted_sessions(&self, deleted_before: DateTime<Utc>) -> StoreResult<u64>;
    async fn clear_session(&self, user_id: &str, id: &str, now: DateTime<Utc>)
        -> StoreResult<bool>;

    // Messages.
    /// Appends a message, creating `new_session` first when given; the message becomes the
    /// session's active leaf (the end of the branch the user is on). A repeated
    /// `(user, client_id)` returns the stored message with `created = false`.
    /// Fails with `NotFound` when the session (or parent) is not the user's.
    async fn append_message(
        &self,
        message: NewMessage,
        new_session: Option<NewSession>,
    ) -> StoreResult<Appended>;
    async fn list_messages(
        &self,
        user_id: &str,
        session_id: &str,
        query: MessageQuery,
    ) -> StoreResult<Page<Message>>;
    /// Up to `limit` of the user's live sessions whose id is greater than `after`, in id order.
    /// The account export pages with it: unlike the session list's order (last activity), an
    /// id never moves, so a conversation written to during an export is neither missed nor
    /// written twice. Each page is its own read; nothing is held open between pages.
    async fn sessions_by_id(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Session>>;
    /// Which of `ids` name sessions of the user that still exist, deleted (not yet purged)
    /// ones included. A restore of a file that does not say which account it came from keeps
    /// the ids of the sessions found here, so that it adds only what is missing.
    async fn owned_session_ids(
        &self,
        user_id: &str,
        ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>>;
    /// Every message of a session, oldest first (export).
    async fn all_messages(&self, user_id: &str, session_id: &str) -> StoreResult<Vec<Message>>;
    async fn get_message(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>>;

    // The tree of a conversation, read a page at a time (see `tree`). Each reads only what it
    // returns (and, on MongoDB, the messages at the same depths on other branches); none reads
    // the whole session. All are empty (or `None`) when the session is not the user's or is
    // deleted, or `from` is not a message of it.
    /// `from` and its ancestors, newest first: at most `limit` messages, fewer when the root
    /// comes first.
    async fn ancestors(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<Vec<TreeMessage>>;
    /// `ancestors` with the siblings of each message: what a page of the conversation view
    /// shows, read together (on MongoDB in the same query).
    async fn branch_window(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<BranchWindow>;
    /// The ancestor of `from` (or `from` itself) at `depth`; `None` when `depth` is deeper than
    /// `from` or negative.
    async fn ancestor_at(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        depth: i64,
    ) -> StoreResult<Option<TreeMessage>>;
    /// The children of each of `parents` (`None`: the session's roots), in no set order: the
    /// service orders siblings (`service::branch::sibling_order`).
    async fn children(
        &self,
        user_id: &str,
        session_id: &str,
        parents: &[Option<String>],
    ) -> StoreResult<Vec<Message>>;
    /// The end of the branch through `from`: from `from`, the newest child (the last in
    /// sibling order, greatest `(created_at, id)`) again and again until a message without
    /// children, whose id is returned (`from` itself when it has none).
    async fn newest_descendant(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
    ) -> StoreResult<Option<String>>;
    // Stars.
    /// Stars the user's message (`at`: `Some(time)`) or takes its star away (`None`). A
    /// message starred already keeps the time it was first starred, so that starring again
    /// changes nothing. Returns the message as stored afterwards; `None` when it is not a
    /// message of one of the user's live (not deleted) sessions.
    async fn set_star(
        &self,
        user_id: &str,
        id: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<Message>>;
    /// The user's starred messages, the most recently starred first (by `starred_at`, then id),
    /// each with its session's title. A page reads the next `limit` starred messages after the
    /// cursor and the sessions they are in, nothing more: those in deleted sessions are left
    /// out, so a page may hold fewer than `limit` (even none) with a cursor when more follow.
    /// `InvalidCursor` for a cursor this list did not give.
    async fn starred_messages(
        &self,
        user_id: &str,
        query: StarredQuery,
    ) -> StoreResult<Page<StarredMessage>>;

    /// The message stored under `(user, client id)`, if any.
    async fn message_by_client_id(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<Message>>;

    // Replies being generated. A reply is appended with status `streaming` before the model is
    // asked, checkpointed while it streams and finished once; see `service::reply`.
    /// Stores the text a `streaming` reply holds so far and notes the time (a heartbeat, so that
    /// a reply whose node died is recognised). `content` is `None` when the text has not changed
    /// since the last checkpoint (a model still thinking): then only the heartbeat is written,
    /// not the whole text again. A reply a recovery took for left (`interrupted`) is taken back
    /// as `streaming`, with `content` or else the text it holds. Returns `false` when the reply
    /// should no longer be generated: it was stopped through the store (`partial`, `stopped`)
    /// or is gone.
    async fn checkpoint_reply(
        &self,
        user_id: &str,
        id: &str,
        content: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Stores a reply's final text, tokens and latency and moves the session's token counters.
    /// The status becomes `outcome.status`, except that a reply stopped through the store keeps
    /// `partial`/`stopped`. `None` when the message is gone.
    async fn finish_reply(
        &self,
        user_id: &str,
        id: &str,
        outcome: ReplyOutcome,
    ) -> StoreResult<Option<Message>>;
    /// Marks a `streaming` reply `partial`/`stopped` for the node generating it (which sees the
    /// mark at its next checkpoint and finishes with the text it has). Returns the message as
    /// stored afterwards (unchanged when it was not streaming); `None` when it does not exist.
    async fn stop_reply(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>>;
    /// Turns a reply that failed back into an empty `streaming` reply, to be asked again (the
    /// retry of its request), while it is still in the state `from` (a compare-and-set, so
    /// two retries do not both ask). Its token counts stay until the finish, which moves the
    /// session's counters by the difference. Returns whether it was reopened.
    async fn reopen_reply(
        &self,
        user_id: &str,
        id: &str,
        from: (MessageStatus, Option<StatusReason>),
    ) -> StoreResult<bool>;
    /// Turns replies still `streaming` whose last checkpoint is older than `stale_before` into
    /// `partial` (or `error` when empty) with reason `interrupted`: their node is gone. Returns
    /// how many.
    async fn recover_streaming(&self, stale_before: DateTime<Utc>) -> StoreResult<u64>;

    // Search, ranked best first.
    async fn search(&self, user_id: &str, query: SearchQuery) -> StoreResult<Page<SearchHit>>;

    // Import (idempotent by source id).
    async fn import_sessions(
        &self,
        user_id: &str,
        sessions: Vec<ImportSession>,
    ) -> StoreResult<ImportCounts>;

    /// Bytes the store occupies on disk, when it knows.
    async fn size_bytes(&self) -> StoreResult<Option<u64>>;
}

pub type DynStore = Arc<dyn Store>;

/// Role a new account gets: the first one administers the instance.
pub fn role_for_new_user(existing_users: i64) -> UserRole {
    if existing_users == 0 {
        UserRole::Admin
    } else {
        UserRole::User
    }
}
