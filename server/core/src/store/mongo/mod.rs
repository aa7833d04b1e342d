//! The MongoDB backend (any server speaking the MongoDB wire protocol: MongoDB itself as a
//! replica set or sharded cluster, or FerretDB, which the tests run against).
//!
//! Collections: `users`, `auth_sessions`, `api_tokens`, `chat_sessions`, `messages`, in the
//! database named in the URL path (`confab` when none is given), `health`, one document
//! the health check writes, and `migrations`, the data migrations applied (see `migrations`).
//!
//! # Without transactions
//!
//! No operation uses a multi-document transaction (FerretDB 1.x has none, and a sharded
//! cluster makes them costly). Each operation instead orders its single-document writes so
//! that a failure at any point leaves nothing an acknowledged message depends on, and readers
//! never see a half-done write as data:
//!
//! - A message is written before the counters of its session move, so a failure between the
//!   two can leave counters one message short, never a counted message that does not exist.
//! - A repeated `client_id` is caught by a unique index, not by a read: two concurrent appends
//!   with the same client id store one message; the loser removes the session it created for
//!   it (only while that session is still empty) and answers with the winner's message.
//! - Deleting a conversation is one write: its session is marked `deleted_at`, and every
//!   read of its messages checks that their session lives, so all of it vanishes at once and
//!   comes back at once when restored.
//! - Removing for good walks from the leaves up (messages, then their session; a user's
//!   sign-ins and tokens, then their chats, then the user) and sweeps again after the parent
//!   is gone, so a retried purge finishes the job and a concurrent append cannot leave a
//!   visible orphan. Reads of messages also check that their session exists, so an orphan is
//!   never shown. A purge first claims the session (`purging`), so that a restore racing with
//!   it either wins before the claim or is refused, never gets a session without messages.
//! - The first account is the admin because it holds a slot in a unique index
//!   (`documents::FIRST_ADMIN_SLOT`), not because a count said so.
//! - An account made through a provider is written before its identity, and removed again
//!   when the identity cannot be written, so it is not left behind without the provider's
//!   account it was made for (only a crash between the two writes, or a failed removal, can
//!   leave one; signing in with a verified email links it later). An invitation used for it is
//!   given back with the removal.
//!
//! What does not hold: a concurrent `clear_session` and append on the same session may leave
//! its counters off until the next clear; an import interrupted half-way has imported part of
//! a conversation (running it again adds the rest, as imports are idempotent).

mod accounts;
mod admin;
mod branch;
mod chat;
#[cfg(feature = "test-hooks")]
pub mod command_log;
mod counting;
mod depths;
mod documents;
mod errors;
mod folders;
mod import;
mod indexes;
mod leaves;
mod migrations;
mod search;
mod snippet;
mod stars;
mod tags;
mod terms;
mod totals;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

pub use self::counting::CountingStop;
use self::documents::{
    as_u64, AuthSessionDoc, IdentityDoc, MessageDoc, SessionDoc, TokenDoc, UserDoc,
};
use self::errors::db_error;
pub(crate) use self::search::snippet_for;
use super::{
    AdminChange, Appended, AuthSessionRecord, BranchWindow, ImportCounts, ImportSession,
    MessageQuery, NewMessage, NewSession, NewUser, ReplyOutcome, SearchQuery, SessionPatch,
    SessionQuery, SessionsChange, StarredQuery, Store, StoreError, StoreResult, StoredInvitation,
    StoredPasswordReset, TokenHolder, TreeMessage, UserCredentials,
};
use crate::api::{AuditEntry, FolderContents, UserSummary};
use crate::model::{
    ApiToken, Folder, Message, MessageStatus, Page, SearchHit, Session, SessionDetail,
    StarredMessage, StatusReason, User,
};
use crate::store::{FolderPatch, NewFolder};

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "confab";

/// The terms of `text`'s tokens in order, as this store indexes them (SQLite's tests compare).
#[cfg(test)]
pub(crate) fn index_tokens(text: &str) -> Vec<String> {
    terms::tokens(text)
        .into_iter()
        .map(|token| token.term)
        .collect()
}

/// Typed handles on the five collections.
#[derive(Clone)]
pub(crate) struct Collections {
    users: Collection<UserDoc>,
    identities: Collection<IdentityDoc>,
    auth_sessions: Collection<AuthSessionDoc>,
    api_tokens: Collection<TokenDoc>,
    chat_sessions: Collection<SessionDoc>,
    messages: Collection<MessageDoc>,
    /// Each user's totals for search (see `totals`).
    user_totals: Collection<totals::TotalsDoc>,
    /// Administration (see `admin`).
    invitations: Collection<admin::InvitationDoc>,
    password_resets: Collection<admin::PasswordResetDoc>,
    settings: Collection<admin::SettingDoc>,
    audit_log: Collection<admin::AuditDoc>,
    claims: Collection<admin::ClaimDoc>,
    /// Each user's tags with how many sessions carry each (see `tags`).
    tags: Collection<tags::TagDoc>,
    /// Each user's folders with their session counts (see `folders`).
    folders: Collection<folders::FolderDoc>,
    /// Appends to one session, one at a time in this process (see `chat::SessionLocks`).
    session_locks: chat::SessionLocks,
    /// Each session's active leaf as this process last saw it (see `leaves`).
    leaves: leaves::Leaves,
    /// The depths of the messages at the top of the pages this process read (see `depths`).
    depths: depths::Depths,
    /// The counting runs of imports at work in this process (see `counting`).
    counting: counting::InFlight,
    /// Whether reads by `_id` also name the owner (`by_id`).
    routed: bool,
}

impl Collections {
    /// A filter on `_id` for a document of `user_id`: with the owner, so that a sharded
    /// cluster sends it to one shard, where the server is MongoDB; by `_id` alone on FerretDB,
    /// which answers only a filter on `_id` alone from an index (its SQLite backend reads the
    /// whole collection for any other), so the caller checks the owner of what it reads.
    pub(crate) fn by_id(&self, user_id: Option<&str>, mut filter: Document) -> Document {
        if let (true, Some(user_id)) = (self.routed, user_id) {
            filter.insert("user_id", user_id);
        }
        filter
    }
}

pub struct MongoStore {
    database: Database,
    collections: Collections,
    server: ServerKind,
}

/// What serves the database, as `buildInfo` tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// MongoDB, or any server that does not say it is FerretDB.
    MongoDb,
    /// FerretDB (its `buildInfo` carries `ferretdbVersion`): it answers only filters on `_id`
    /// from an index, and its updates are not atomic (see `chat::SessionLocks`).
    FerretDb,
}

impl ServerKind {
    /// Asks the server (`buildInfo`, which every MongoDB-wire server answers).
    async fn detect(database: &Database) -> StoreResult<ServerKind> {
        let info = database
            .run_command(doc! { "buildInfo": 1 })
            .await
            .map_err(db_error)?;
        Ok(if info.contains_key("ferretdbVersion") {
            ServerKind::FerretDb
        } else {
            ServerKind::MongoDb
        })
    }
}

impl MongoStore {
    /// Connects to `url` (`mongodb://...` or `mongodb+srv://...`, with any driver options in
    /// its query string) and creates the indexes that are missing.
    pub async fn connect(url: &str) -> StoreResult<MongoStore> {
        MongoStore::connect_with(url, |_| {}).await
    }

    /// `connect`, with the driver's options from `url` passed through `configure` first: a
    /// command monitor (`command_event_handler`, which the query-shape tests use to record
    /// every command the store sends), pool sizes, timeouts.
    pub async fn connect_with(
        url: &str,
        configure: impl FnOnce(&mut ClientOptions),
    ) -> StoreResult<MongoStore> {
        // The driver's messages never quote the URL, which may hold a password.
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|error| StoreError::Backend(format!("invalid MongoDB URL: {error}")))?;
        configure(&mut options);
        if options.app_name.is_none() {
            options.app_name = Some("confab".to_owned());
        }
        let name = options
            .default_database
            .clone()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client = Client::with_options(options).map_err(db_error)?;
        let database = client.database(&name);
        let server = ServerKind::detect(&database).await?;
        let collections = Collections {
            users: database.collection("users"),
            identities: database.collection("identities"),
            auth_sessions: database.collection("auth_sessions"),
            api_tokens: database.collection("api_tokens"),
            chat_sessions: database.collection("chat_sessions"),
            messages: database.collection("messages"),
            user_totals: database.collection(totals::COLLECTION),
            invitations: database.collection("invitations"),
            password_resets: database.collection("password_resets"),
            settings: database.collection("settings"),
            audit_log: database.collection("audit_log"),
            claims: database.collection("claims"),
            tags: database.collection(tags::COLLECTION),
            folders: database.collection(folders::COLLECTION),
            session_locks: chat::SessionLocks::default(),
            leaves: leaves::Leaves::default(),
            depths: depths::Depths::default(),
            counting: counting::InFlight::default(),
            routed: server == ServerKind::MongoDb,
        };
        indexes::ensure(&database, server).await?;
        migrations::run(&database, &collections).await?;
        let linked = branch::link_missing(&collections).await?;
        if linked > 0 {
            tracing::info!(messages = linked, "linked stored messages into their trees");
        }
        tracing::info!(database = %name, ?server, "connected to the MongoDB store");
        Ok(MongoStore {
            database,
            collections,
            server,
        })
    }

    /// Makes every import's counting run fail at `stop` (`None`: run through), as a crash
    /// there would leave it. For the tests of `counting`.
    #[cfg(feature = "test-hooks")]
    pub fn stop_counting_at(&self, stop: Option<CountingStop>) {
        *self
            .collections
            .counting
            .stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = stop;
    }

    /// How long another process's counting claim counts as at work (see `counting`), for
    /// tests that play a second process.
    #[cfg(feature = "test-hooks")]
    pub fn set_claim_lease(&mut self, lease: std::time::Duration) {
        self.collections.counting.set_lease(lease);
    }

    /// Shapes every query as for MongoDB (`Collections::by_id`) whatever the server: the
    /// query-shape tests check on FerretDB what a sharded cluster would be sent.
    #[cfg(feature = "test-hooks")]
    pub fn route_every_query(&mut self) {
        self.collections.routed = true;
    }

    /// What serves the database (decided at connect).
    pub fn server(&self) -> ServerKind {
        self.server
    }

    /// The database this store uses (for operations tooling and tests, which drop it).
    pub fn database(&self) -> &Database {
        &self.database
    }
}

#[async_trait]
impl Store for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    /// A ping, then a one-document write (an upsert into `health`): a server that answers but
    /// cannot write, with its disk full, fails with `StoreError::Full`.
    async fn health(&self) -> StoreResult<()> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(db_error)?;
        self.database
            .collection::<mongodb::bson::Document>("health")
            .update_one(
                doc! { "_id": "probe" },
                doc! { "$set": { "checked_at": mongodb::bson::DateTime::now() } },
            )
            .upsert(true)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        accounts::create_user(&self.collections, &new, Utc::now()).await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        accounts::user_by_id(&self.collections, id).await
    }

    async fn active_credentials_by_id(&self, id: &str) -> StoreResult<Option<UserCredentials>> {
        accounts::active_credentials_by_id(&self.collections, id).await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        accounts::credentials_by_email(&self.collections, email).await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let count = self
            .collections
            .users
            .count_documents(doc! {})
            .await
            .map_err(db_error)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    async fn count_admins(&self) -> StoreResult<i64> {
        let count = self
            .collections
            .users
            // An account becomes an administrator only by taking the first-admin slot, so
            // counting holders of the slot counts administrators, from the slot's unique index.
            .count_documents(doc! { "admin_slot": documents::FIRST_ADMIN_SLOT })
            .await
            .map_err(db_error)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        accounts::delete_user(&self.collections, id).await
    }

    async fn record_sign_in(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        admin::record_sign_in(&self.collections, user_id, at).await
    }

    async fn list_users(
        &self,
        after_email: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserSummary>> {
        admin::list_users(&self.collections, after_email, limit).await
    }

    async fn audited(&self, change: AdminChange, entry: AuditEntry) -> StoreResult<bool> {
        admin::audited(&self.collections, change, entry).await
    }

    async fn list_invitations(&self, limit: usize) -> StoreResult<Vec<StoredInvitation>> {
        admin::list_invitations(&self.collections, limit).await
    }

    async fn invitation_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredInvitation>> {
        admin::invitation_by_token_hash(&self.collections, token_hash).await
    }

    async fn invitation_by_id(&self, id: &str) -> StoreResult<Option<StoredInvitation>> {
        admin::invitation_by_id(&self.collections, id).await
    }

    async fn create_invited_user(
        &self,
        invitation_id: &str,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        admin::create_invited_user(&self.collections, invitation_id, &new, now).await
    }

    async fn password_reset_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredPasswordReset>> {
        admin::password_reset_by_token_hash(&self.collections, token_hash).await
    }

    async fn use_password_reset(
        &self,
        id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        admin::use_password_reset(&self.collections, id, password_hash, now).await
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        admin::setting(&self.collections, key).await
    }

    async fn list_audit(
        &self,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>> {
        admin::list_audit(&self.collections, before, limit).await
    }

    async fn user_by_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<User>> {
        accounts::user_by_identity(&self.collections, provider, subject).await
    }

    async fn link_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    ) -> StoreResult<()> {
        accounts::link_identity(&self.collections, user_id, provider, subject, email).await
    }

    async fn save_auth_session(&self, key: &str, record: AuthSessionRecord) -> StoreResult<()> {
        accounts::save_auth_session(&self.collections, key, record).await
    }

    async fn load_auth_session(&self, key: &str) -> StoreResult<Option<AuthSessionRecord>> {
        accounts::load_auth_session(&self.collections, key, Utc::now()).await
    }

    async fn delete_auth_session(&self, key: &str) -> StoreResult<()> {
        self.collections
            .auth_sessions
            .delete_one(doc! { "_id": key })
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn delete_expired_auth_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        accounts::delete_expired_auth_sessions(&self.collections, now).await
    }

    async fn create_token(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        secret_hash: &str,
        made_under: Option<&str>,
    ) -> StoreResult<ApiToken> {
        let token = (id, name, secret_hash);
        accounts::create_token(&self.collections, user_id, token, made_under, Utc::now()).await
    }

    async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
        accounts::list_tokens(&self.collections, user_id).await
    }

    async fn delete_token(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let deleted = self
            .collections
            .api_tokens
            .delete_one(doc! { "_id": id, "user_id": user_id })
            .await
            .map_err(db_error)?;
        Ok(deleted.deleted_count > 0)
    }

    async fn token_holder(&self, secret_hash: &str) -> StoreResult<Option<TokenHolder>> {
        accounts::token_holder(&self.collections, secret_hash).await
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        chat::create_session(&self.collections, &new).await
    }

    async fn get_session(&self, user_id: &str, id: &str) -> StoreResult<Option<SessionDetail>> {
        chat::session_detail(&self.collections, user_id, id).await
    }

    async fn session(&self, user_id: &str, id: &str) -> StoreResult<Option<Session>> {
        chat::session_by_id(&self.collections, user_id, id).await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        query: SessionQuery,
    ) -> StoreResult<Page<Session>> {
        chat::list_sessions(&self.collections, user_id, &query).await
    }

    async fn update_session(
        &self,
        user_id: &str,
        id: &str,
        patch: SessionPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        chat::update_session(&self.collections, user_id, id, &patch, now).await
    }

    async fn delete_session(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        chat::delete_session(&self.collections, user_id, id, now).await
    }

    async fn change_sessions(
        &self,
        user_id: &str,
        ids: &[String],
        change: SessionsChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        chat::change_sessions(&self.collections, user_id, ids, change, now).await
    }

    async fn restore_session(
        &self,
        user_id: &str,
        id: &str,
        deleted_since: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        chat::restore_session(&self.collections, user_id, id, deleted_since).await
    }

    async fn list_tags(&self, user_id: &str) -> StoreResult<Vec<String>> {
        tags::list_tags(&self.collections, user_id).await
    }

    async fn list_folders(&self, user_id: &str) -> StoreResult<Vec<Folder>> {
        folders::list_folders(&self.collections, user_id).await
    }

    async fn create_folder(&self, new: NewFolder) -> StoreResult<Folder> {
        folders::create_folder(&self.collections, &new).await
    }

    async fn update_folder(
        &self,
        user_id: &str,
        id: &str,
        patch: FolderPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Folder> {
        folders::update_folder(&self.collections, user_id, id, &patch, now).await
    }

    async fn delete_folder(
        &self,
        user_id: &str,
        id: &str,
        contents: FolderContents,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        folders::delete_folder(&self.collections, user_id, id, contents, now).await
    }

    async fn rename_tag(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        tags::rename_tag(&self.collections, user_id, from, to, now).await
    }

    async fn delete_tag(&self, user_id: &str, name: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        tags::delete_tag(&self.collections, user_id, name, now).await
    }

    async fn purge_deleted_sessions(&self, deleted_before: DateTime<Utc>) -> StoreResult<u64> {
        chat::purge_deleted_sessions(&self.collections, deleted_before).await
    }

    async fn clear_session(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        chat::clear_session(&self.collections, user_id, id, now).await
    }

    async fn append_message(
        &self,
        message: NewMessage,
        new_session: Option<NewSession>,
    ) -> StoreResult<Appended> {
        chat::append_message(&self.collections, &message, new_session.as_ref()).await
    }

    async fn list_messages(
        &self,
        user_id: &str,
        session_id: &str,
        query: MessageQuery,
    ) -> StoreResult<Page<Message>> {
        chat::list_messages(&self.collections, user_id, session_id, &query)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn sessions_by_id(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Session>> {
        chat::sessions_by_id(&self.collections, user_id, after, limit).await
    }

    async fn owned_session_ids(
        &self,
        user_id: &str,
        ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        chat::owned_session_ids(&self.collections, user_id, ids).await
    }

    async fn all_messages(&self, user_id: &str, session_id: &str) -> StoreResult<Vec<Message>> {
        chat::all_messages(&self.collections, user_id, session_id).await
    }

    async fn set_star(
        &self,
        user_id: &str,
        id: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<Message>> {
        stars::set_star(&self.collections, user_id, id, at).await
    }

    async fn starred_messages(
        &self,
        user_id: &str,
        query: StarredQuery,
    ) -> StoreResult<Page<StarredMessage>> {
        stars::starred_messages(&self.collections, user_id, &query).await
    }

    async fn get_message(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
        chat::message_by_id(&self.collections, user_id, id).await
    }

    async fn ancestors(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<Vec<TreeMessage>> {
        branch::ancestors(&self.collections, user_id, session_id, from, limit).await
    }

    async fn branch_window(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<BranchWindow> {
        branch::branch_window(&self.collections, user_id, session_id, from, limit).await
    }

    async fn ancestor_at(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        depth: i64,
    ) -> StoreResult<Option<TreeMessage>> {
        branch::ancestor_at(&self.collections, user_id, session_id, from, depth).await
    }

    async fn children(
        &self,
        user_id: &str,
        session_id: &str,
        parents: &[Option<String>],
    ) -> StoreResult<Vec<Message>> {
        branch::children(&self.collections, user_id, session_id, parents).await
    }

    async fn newest_descendant(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
    ) -> StoreResult<Option<String>> {
        branch::newest_descendant(&self.collections, user_id, session_id, from).await
    }

    async fn message_by_client_id(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<Message>> {
        chat::message_by_client_id(&self.collections, user_id, client_id).await
    }

    async fn checkpoint_reply(
        &self,
        user_id: &str,
        id: &str,
        content: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        chat::checkpoint_reply(&self.collections, user_id, id, content, now).await
    }

    async fn finish_reply(
        &self,
        user_id: &str,
        id: &str,
        outcome: ReplyOutcome,
    ) -> StoreResult<Option<Message>> {
        chat::finish_reply(&self.collections, user_id, id, &outcome).await
    }

    async fn stop_reply(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
        chat::stop_reply(&self.collections, user_id, id).await
    }

    async fn reopen_reply(
        &self,
        user_id: &str,
        id: &str,
        from: (MessageStatus, Option<StatusReason>),
    ) -> StoreResult<bool> {
        chat::reopen_reply(&self.collections, user_id, id, from).await
    }

    async fn recover_streaming(&self, stale_before: DateTime<Utc>) -> StoreResult<u64> {
        chat::recover_streaming(&self.collections, stale_before).await
    }

    async fn search(&self, user_id: &str, query: SearchQuery) -> StoreResult<Page<SearchHit>> {
        search::search(&self.collections, user_id, &query).await
    }

    async fn import_sessions(
        &self,
        _user_id: &str,
        sessions: Vec<ImportSession>,
    ) -> StoreResult<ImportCounts> {
        import::import_sessions(&self.collections, &sessions).await
    }

    async fn size_bytes(&self) -> StoreResult<Option<u64>> {
        // Not every deployment lets the application run dbStats; the size is then unknown.
        match self.database.run_command(doc! { "dbStats": 1 }).await {
            Ok(stats) => Ok(as_u64(stats.get("totalSize")).or_else(|| {
                Some(as_u64(stats.get("storageSize"))? + as_u64(stats.get("indexSize"))?)
            })),
            Err(error) => {
                tracing::debug!(%error, "dbStats failed; the store size is unknown");
                Ok(None)
            }
        }
    }
}
