//! The embedded SQLite backend: one file under the data directory, WAL journal, foreign keys
//! on, FTS5 full-text index kept current by triggers in the same transaction as each write.
//! Writes go through a single group-committing writer thread; reads use a pool.

mod accounts;
mod admin;
mod branch;
mod chat;
mod folders;
mod fts;
mod health;
mod import;
mod migrations;
mod readers;
mod rows;
mod search;
mod stars;
mod tags;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use self::readers::Readers;
use self::writer::Writer;
use super::{
    AdminChange, Appended, AuthSessionRecord, BranchWindow, ImportCounts, ImportSession,
    MessageQuery, NewMessage, NewSession, NewUser, ReplyOutcome, SearchQuery, SessionPatch,
    SessionQuery, SessionsChange, StarredQuery, Store, StoreError, StoreResult, StoredInvitation,
    StoredPasswordReset, TokenHolder, TreeMessage, UserCredentials,
};
use crate::api::{AuditEntry, FolderContents, UserSummary};
use crate::ids::new_id;
use crate::model::{
    ApiToken, Folder, Message, MessageStatus, Page, SearchHit, Session, SessionDetail,
    StarredMessage, StatusReason, User, UserRole,
};
use crate::store::{FolderPatch, NewFolder};

pub use search::CANDIDATES as SEARCH_CANDIDATES;

/// How hard each commit pushes data to disk. `Normal` (the default) survives a crash of Confab
/// itself; `Full` also survives power loss, at the cost of an fsync per group commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    #[default]
    Normal,
    Full,
}

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub durability: Durability,
    pub readers: usize,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            durability: Durability::Normal,
            readers: 4,
        }
    }
}

/// Messages a purge deletes in one write: about a millisecond of the writer's time each.
const PURGE_MESSAGES_PER_WRITE: usize = 500;

pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Readers>,
    stop_checkpoints: Arc<AtomicBool>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop_checkpoints.store(true, Ordering::Relaxed);
    }
}

/// Copies the WAL back into the database with PASSIVE checkpoints on a connection of its
/// own, alongside the writer: again 5 ms after a pass that found new frames (writes go on),
/// else every 100 ms. Passes that follow each other copy little each, so that the writer's
/// own checkpoint (see `writer::Checkpoints`, which lets the WAL start over) finds almost
/// nothing left to do. SQLite's automatic checkpoint would run inside the commit that crosses
/// its threshold, making that one write (and the batch waiting behind it) slow.
fn checkpoints(path: PathBuf, stop: Arc<AtomicBool>) -> StoreResult<()> {
    let conn = Connection::open(&path).map_err(sql_error)?;
    configure_connection(&conn, READER_CACHE_KIB)?;
    std::thread::Builder::new()
        .name("confab-sqlite-checkpoint".into())
        .spawn(move || {
            // While the disk is full every pass fails: say so once.
            let mut failing = false;
            // The WAL's frames and how many are copied, after the last pass: a pass that
            // changed them found writes going on.
            let mut last = (0, 0);
            let mut busy = false;
            while !stop.load(Ordering::Relaxed) {
                let pause = if busy { 5 } else { 100 };
                std::thread::sleep(std::time::Duration::from_millis(pause));
                let outcome = checkpoint(&conn, "checkpoint thread", CheckpointMode::Passive);
                if let Ok(pass) = &outcome {
                    busy = (pass.frames, pass.copied) != last;
                    last = (pass.frames, pass.copied);
                }
                match outcome.map(|_| ()) {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("WAL checkpoints work again");
                    }
                    Ok(()) => {}
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "WAL checkpoint failed; retrying");
                    }
                    Err(error) => tracing::debug!(%error, "WAL checkpoint failed"),
                }
            }
        })
        .map_err(|error| StoreError::Backend(format!("cannot start checkpoints: {error}")))?;
    Ok(())
}

/// What a PASSIVE checkpoint reports (`PRAGMA wal_checkpoint`).
pub(crate) struct CheckpointPass {
    /// Another checkpoint was running: this one did nothing.
    pub busy: bool,
    /// Frames in the WAL.
    pub frames: i64,
    /// Frames of the WAL copied into the database, by this pass or earlier ones.
    pub copied: i64,
}

/// How a checkpoint treats readers (SQLite's `wal_checkpoint` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckpointMode {
    /// Copies what no reader still needs and never waits.
    Passive,
    /// Copies everything, then waits (through the connection's busy handler) until no reader
    /// is using the WAL, so that the next write starts it over.
    Restart,
}

/// One checkpoint on `conn` in `mode`. One that takes 5 ms or more is logged at debug level
/// with `by`, the one who ran it. A `Restart` that gives up waiting reports `busy`.
pub(crate) fn checkpoint(
    conn: &Connection,
    by: &str,
    mode: CheckpointMode,
) -> rusqlite::Result<CheckpointPass> {
    let started = std::time::Instant::now();
    let pragma = match mode {
        CheckpointMode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        CheckpointMode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    let pass = conn.query_row(pragma, [], |row| {
        Ok(CheckpointPass {
            busy: row.get::<_, i64>(0)? != 0,
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    })?;
    let took = started.elapsed();
    if took >= std::time::Duration::from_millis(5) {
        tracing::debug!(
            by,
            ?mode,
            busy = pass.busy,
            frames = pass.frames,
            copied = pass.copied,
            ms = took.as_secs_f64() * 1e3,
            "slow WAL checkpoint"
        );
    }
    Ok(pass)
}

pub(crate) fn sql_error(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        // SQLITE_FULL: the disk is full (a write got ENOSPC) or the database reached its
        // `max_page_count`.
        if failure.code == rusqlite::ErrorCode::DiskFull {
            return StoreError::Full;
        }
        if failure.code == rusqlite::ErrorCode::ConstraintViolation {
            let detail = message.clone().unwrap_or_default();
            if detail.contains("UNIQUE") || detail.contains("PRIMARY KEY") {
                return StoreError::Duplicate(detail);
            }
            if detail.contains("FOREIGN KEY") {
                return StoreError::NotFound;
            }
        }
    }
    StoreError::Backend(error.to_string())
}

/// `sql_error` for an error of `conn`'s latest call: an I/O error caused by a full disk
/// (ENOSPC from an fsync, a truncate, or growing the shared-memory file: SQLite reports those
/// as SQLITE_IOERR, not SQLITE_FULL) is `Full` too.
pub(crate) fn sql_error_on(conn: &Connection, error: rusqlite::Error) -> StoreError {
    let io_error = matches!(
        &error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == rusqlite::ErrorCode::SystemIoFailure
    );
    if io_error && last_os_error(conn).kind() == std::io::ErrorKind::StorageFull {
        return StoreError::Full;
    }
    sql_error(error)
}

/// The operating system's error behind `conn`'s latest SQLITE_IOERR.
fn last_os_error(conn: &Connection) -> std::io::Error {
    // SAFETY: `handle` is the live connection `conn` owns, used on the thread that owns it;
    // sqlite3_system_errno only reads the error number SQLite recorded on it.
    let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    std::io::Error::from_raw_os_error(errno)
}

/// The size the WAL file is cut back to when it starts over (`journal_size_limit`), in bytes:
/// 256 MiB. The cut happens inside the first commit after the writer's checkpoint, so it must
/// seldom have anything to cut: 16 clients appending write about 280 MB of WAL a second here,
/// and cutting a 280 MB file back to 64 MiB made that commit take 60 ms (BENCHMARKS.md,
/// ninth session). Between two of the writer's checkpoints (`writer::CHECKPOINT_EVERY`) the
/// file grows to about 140 MB, which this keeps without a cut, as long as the writer finds
/// its queue empty now and then (16 clients leave it so); under writes that never do, it
/// checkpoints once a second (`CHECKPOINT_AT_LEAST`), the WAL can pass this size, and the cut
/// comes back (not measured: the benchmark's clients leave gaps). A store that saw heavy writes
/// keeps a WAL file of up to this size on disk; a bulk restore, whose WAL grows past it, is
/// cut back to it.
const WAL_FILE_KEPT: u64 = 256 * 1024 * 1024;

/// How long a connection waits for a lock another one holds before it answers busy; the
/// writer shortens it around its RESTART checkpoints (`writer::Checkpoints`) and puts this
/// back.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(5_000);

/// The page cache of the write connection, in KiB: the interior pages of the tables and
/// indexes every commit descends.
const WRITER_CACHE_KIB: u32 = 8 * 1024;
/// The page cache of each other connection (the readers, the checkpointer), in KiB: about
/// SQLite's own default (2,000 KiB). A page a reader misses comes from the kernel's page
/// cache.
const READER_CACHE_KIB: u32 = 2 * 1024;

/// Settings every connection needs, with a page cache of at most `cache_kib` KiB.
///
/// Pages are read with `pread` into that cache, with no memory map (`mmap_size = 0`). The
/// kernel's page cache keeps the file either way. A map of the file puts every page a
/// connection ever read into the process's resident memory, once per connection: with a
/// 256 MiB map and 32 MiB caches the server held 450 MiB after the users' benchmark (271 MiB
/// of it mapped pages) and 373 MiB at the peak of a 500 MB restore. Without the map the
/// search for a 2% word got faster (p99 40 to 50 ms before, 32 to 36 ms after) and the rare
/// word stayed under its 5 ms target (BENCHMARKS.md, sixth session).
pub(crate) fn configure_connection(conn: &Connection, cache_kib: u32) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -{cache_kib};
         PRAGMA temp_store = MEMORY;
         PRAGMA mmap_size = 0;"
    ))
    .map_err(sql_error)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `options.path` and migrates it.
    pub fn open(options: SqliteOptions) -> StoreResult<SqliteStore> {
        if let Some(parent) = options.path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Backend(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(&options.path).map_err(sql_error)?;
        let synchronous = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        // Checkpoints run between the writer's batches and on a thread of their own (see
        // `checkpoints`), never inside a commit; the WAL file is cut back to `WAL_FILE_KEPT`
        // bytes whenever a checkpoint lets it start over.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_FILE_KEPT};"
        ))
        .map_err(sql_error)?;
        configure_connection(&conn, WRITER_CACHE_KIB)?;
        // The write connection feeds the full-text index (migration 8 and each commit).
        fts::register(&conn).map_err(sql_error)?;
        let version = migrations::run(&mut conn)?;
        writer::take_over_merging(&conn)?;
        // Rows from before the tree links (schema 9) get theirs once, before any read.
        let linked = {
            let tx = conn.transaction().map_err(sql_error)?;
            let linked = branch::link_new_messages(&tx)?;
            tx.commit().map_err(sql_error)?;
            linked
        };
        if linked > 0 {
            tracing::info!(messages = linked, "linked stored messages into their trees");
        }
        tracing::info!(path = %options.path.display(), schema = version, "opened sqlite store");
        let stop = Arc::new(AtomicBool::new(false));
        checkpoints(options.path.clone(), Arc::clone(&stop))?;
        Ok(SqliteStore {
            path: options.path.clone(),
            writer: Writer::start(conn)?,
            readers: Readers::new(options.path, options.readers.max(1)),
            stop_checkpoints: stop,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caps the database at `pages` pages (never below its current size, which SQLite keeps
    /// as the floor) and returns the cap in effect. Writes that need more space fail with
    /// `StoreError::Full`, as on a full disk: a quota, and how tests fill the store where
    /// they cannot mount a small filesystem. The cap lasts until changed or the store closes.
    pub async fn set_max_page_count(&self, pages: u64) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |row| {
                    row.get(0)
                })
                .map_err(sql_error)
            })
            .await
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound file, else the problems found.
    pub async fn integrity_check(&self) -> StoreResult<Vec<String>> {
        self.read(|conn| {
            let mut check = conn.prepare("PRAGMA integrity_check").map_err(sql_error)?;
            let rows = check.query_map([], |row| row.get(0)).map_err(sql_error)?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.readers.read(work).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// Fails when the store does not answer reads, or, after a write ran out of space (or a
    /// commit failed), when a probe write still cannot commit: `StoreError::Full` for a full
    /// disk. While writes work this costs one read and an atomic load.
    async fn health(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await?;
        if self.writer.is_failing() {
            self.writer.write(health::probe).await?;
            self.writer.write(health::remove_probe).await?;
        }
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let now = Utc::now();
        self.writer
            .write(move |conn| accounts::create_user(conn, &new_id(), &new, now))
            .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_owned();
        self.read(move |conn| accounts::user_by_id(conn, &id)).await
    }

    async fn active_credentials_by_id(&self, id: &str) -> StoreResult<Option<UserCredentials>> {
        let id = id.to_owned();
        self.read(move |conn| accounts::active_credentials_by_id(conn, &id))
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        let email = email.to_owned();
        self.read(move |conn| accounts::credentials_by_email(conn, &email))
            .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0))
                .map_err(sql_error)
        })
        .await
    }

    async fn count_admins(&self) -> StoreResult<i64> {
        self.read(|conn| {
            conn.query_row(
                "SELECT count(*) FROM users WHERE role = ?1",
                [UserRole::Admin.as_str()],
                |row| row.get(0),
            )
            .map_err(sql_error)
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| accounts::delete_user(conn, &id))
            .await
    }

    async fn record_sign_in(&self, user_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |conn| admin::record_sign_in(conn, &user_id, at))
            .await
    }

    async fn list_users(
        &self,
        after_email: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserSummary>> {
        let after_email = after_email.map(str::to_owned);
        self.read(move |conn| admin::list_users(conn, after_email.as_deref(), limit))
            .await
    }

    async fn audited(&self, change: AdminChange, entry: AuditEntry) -> StoreResult<bool> {
        self.writer
            .write(move |conn| admin::audited(conn, &change, &entry))
            .await
    }

    async fn list_invitations(&self, limit: usize) -> StoreResult<Vec<StoredInvitation>> {
        self.read(move |conn| admin::list_invitations(conn, limit))
            .await
    }

    async fn invitation_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredInvitation>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| admin::invitation_by_token_hash(conn, &token_hash))
            .await
    }

    async fn invitation_by_id(&self, id: &str) -> StoreResult<Option<StoredInvitation>> {
        let id = id.to_owned();
        self.read(move |conn| admin::invitation_by_id(conn, &id))
            .await
    }

    async fn create_invited_user(
        &self,
        invitation_id: &str,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let invitation_id = invitation_id.to_owned();
        self.writer
            .write(move |conn| admin::create_invited_user(conn, &invitation_id, &new, now))
            .await
    }

    async fn password_reset_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<StoredPasswordReset>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| admin::password_reset_by_token_hash(conn, &token_hash))
            .await
    }

    async fn use_password_reset(
        &self,
        id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let (id, password_hash) = (id.to_owned(), password_hash.to_owned());
        self.writer
            .write(move |conn| admin::use_password_reset(conn, &id, &password_hash, now))
            .await
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn| admin::setting(conn, &key)).await
    }

    async fn list_audit(
        &self,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn| admin::list_audit(conn, before, limit))
            .await
    }

    async fn user_by_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<User>> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.read(move |conn| accounts::user_by_identity(conn, &provider, &subject))
            .await
    }

    async fn link_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    ) -> StoreResult<()> {
        let (user_id, provider, subject) =
            (user_id.to_owned(), provider.to_owned(), subject.to_owned());
        let email = email.map(str::to_owned);
        let now = Utc::now();
        self.writer
            .write(move |conn| {
                accounts::link_identity(conn, &user_id, &provider, &subject, email.as_deref(), now)
                    .map(|_| ())
            })
            .await
    }

    async fn save_auth_session(&self, key: &str, record: AuthSessionRecord) -> StoreResult<()> {
        let key = key.to_owned();
        self.writer
            .write(move |conn| accounts::save_auth_session(conn, &key, &record))
            .await
    }

    async fn load_auth_session(&self, key: &str) -> StoreResult<Option<AuthSessionRecord>> {
        let key = key.to_owned();
        let now = Utc::now();
        self.read(move |conn| accounts::load_auth_session(conn, &key, now))
            .await
    }

    async fn delete_auth_session(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.writer
            .write(move |conn| {
                conn.execute("DELETE FROM auth_sessions WHERE key = ?1", [&key])
                    .map(|_| ())
                    .map_err(sql_error)
            })
            .await
    }

    async fn delete_expired_auth_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM auth_sessions WHERE expires_at <= ?1",
                    [rows::to_ms(now)],
                )
                .map(|changed| changed as u64)
                .map_err(sql_error)
            })
            .await
    }

    async fn create_token(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        secret_hash: &str,
        made_under: Option<&str>,
    ) -> StoreResult<ApiToken> {
        let (user_id, id, name, secret_hash) = (
            user_id.to_owned(),
            id.to_owned(),
            name.to_owned(),
            secret_hash.to_owned(),
        );
        let made_under = made_under.map(str::to_owned);
        let now = Utc::now();
        self.writer
            .write(move |conn| {
                let token = (id.as_str(), name.as_str(), secret_hash.as_str());
                accounts::create_token(conn, &user_id, token, made_under.as_deref(), now)
            })
            .await
    }

    async fn list_tokens(&self, user_id: &str) -> StoreResult<Vec<ApiToken>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| accounts::list_tokens(conn, &user_id))
            .await
    }

    async fn delete_token(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
                    [&id, &user_id],
                )
                .map(|changed| changed > 0)
                .map_err(sql_error)
            })
            .await
    }

    async fn token_holder(&self, secret_hash: &str) -> StoreResult<Option<TokenHolder>> {
        let secret_hash = secret_hash.to_owned();
        self.read(move |conn| accounts::token_holder(conn, &secret_hash))
            .await
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        self.writer
            .write(move |conn| chat::create_session(conn, &new))
            .await
    }

    async fn get_session(&self, user_id: &str, id: &str) -> StoreResult<Option<SessionDetail>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.read(move |conn| chat::session_detail(conn, &user_id, &id))
            .await
    }

    async fn session(&self, user_id: &str, id: &str) -> StoreResult<Option<Session>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.read(move |conn| chat::session_by_id(conn, &user_id, &id))
            .await
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        query: SessionQuery,
    ) -> StoreResult<Page<Session>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| chat::list_sessions(conn, &user_id, &query))
            .await
    }

    async fn update_session(
        &self,
        user_id: &str,
        id: &str,
        patch: SessionPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| chat::update_session(conn, &user_id, &id, &patch, now))
            .await
    }

    async fn delete_session(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| chat::delete_session(conn, &user_id, &id, now))
            .await
    }

    async fn restore_session(
        &self,
        user_id: &str,
        id: &str,
        deleted_since: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| chat::restore_session(conn, &user_id, &id, deleted_since))
            .await
    }

    async fn change_sessions(
        &self,
        user_id: &str,
        ids: &[String],
        change: SessionsChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        let (user_id, ids) = (user_id.to_owned(), ids.to_vec());
        self.writer
            .write(move |conn| chat::change_sessions(conn, &user_id, &ids, change, now))
            .await
    }

    async fn list_tags(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| tags::list_tags(conn, &user_id)).await
    }

    async fn rename_tag(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (user_id, from, to) = (user_id.to_owned(), from.to_owned(), to.to_owned());
        self.writer
            .write(move |conn| tags::rename_tag(conn, &user_id, &from, &to, now))
            .await
    }

    async fn delete_tag(&self, user_id: &str, name: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        let (user_id, name) = (user_id.to_owned(), name.to_owned());
        self.writer
            .write(move |conn| tags::delete_tag(conn, &user_id, &name, now))
            .await
    }

    async fn list_folders(&self, user_id: &str) -> StoreResult<Vec<Folder>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| folders::list_folders(conn, &user_id))
            .await
    }

    async fn create_folder(&self, new: NewFolder) -> StoreResult<Folder> {
        self.writer
            .write(move |conn| folders::create_folder(conn, &new))
            .await
    }

    async fn update_folder(
        &self,
        user_id: &str,
        id: &str,
        patch: FolderPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Folder> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| folders::update_folder(conn, &user_id, &id, &patch, now))
            .await
    }

    async fn delete_folder(
        &self,
        user_id: &str,
        id: &str,
        contents: FolderContents,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| folders::delete_folder(conn, &user_id, &id, contents, now))
            .await
    }

    /// One write per session, so that removing a long conversation (its messages and their
    /// search entries) holds up the other writers for that conversation only.
    async fn purge_deleted_sessions(&self, deleted_before: DateTime<Utc>) -> StoreResult<u64> {
        let before = rows::to_ms(deleted_before);
        let doomed = self
            .read(move |conn| chat::deleted_before(conn, before))
            .await?;
        let mut purged = 0;
        for id in doomed {
            // The messages first, a bounded part per write (see `chat::purge_messages`).
            loop {
                let session = id.clone();
                let deleted = self
                    .writer
                    .write(move |conn| {
                        chat::purge_messages(conn, &session, before, PURGE_MESSAGES_PER_WRITE)
                    })
                    .await?;
                if deleted < PURGE_MESSAGES_PER_WRITE {
                    break;
                }
            }
            if self
                .writer
                .write(move |conn| chat::purge_session(conn, &id, before))
                .await?
            {
                purged += 1;
            }
        }
        Ok(purged)
    }

    async fn clear_session(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| chat::clear_session(conn, &user_id, &id, now))
            .await
    }

    async fn append_message(
        &self,
        message: NewMessage,
        new_session: Option<NewSession>,
    ) -> StoreResult<Appended> {
        self.writer
            .write(move |conn| chat::append_message(conn, &message, new_session.as_ref()))
            .await
    }

    async fn list_messages(
        &self,
        user_id: &str,
        session_id: &str,
        query: MessageQuery,
    ) -> StoreResult<Page<Message>> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.read(move |conn| chat::list_messages(conn, &user_id, &session_id, &query))
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn sessions_by_id(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Session>> {
        let (user_id, after) = (user_id.to_owned(), after.map(str::to_owned));
        self.read(move |conn| chat::sessions_by_id(conn, &user_id, after.as_deref(), limit))
            .await
    }

    async fn owned_session_ids(
        &self,
        user_id: &str,
        ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let (user_id, ids) = (user_id.to_owned(), ids.to_vec());
        self.read(move |conn| chat::owned_session_ids(conn, &user_id, &ids))
            .await
    }

    async fn all_messages(&self, user_id: &str, session_id: &str) -> StoreResult<Vec<Message>> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.read(move |conn| chat::all_messages(conn, &user_id, &session_id))
            .await
    }

    async fn set_star(
        &self,
        user_id: &str,
        id: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<Message>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.writer
            .write(move |conn| stars::set_star(conn, &user_id, &id, at))
            .await
    }

    async fn starred_messages(
        &self,
        user_id: &str,
        query: StarredQuery,
    ) -> StoreResult<Page<StarredMessage>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| stars::starred_messages(conn, &user_id, &query))
            .await
    }

    async fn get_message(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        self.read(move |conn| chat::message_by_id(conn, &user_id, &id))
            .await
    }

    async fn ancestors(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<Vec<TreeMessage>> {
        let (user_id, session_id, from) =
            (user_id.to_owned(), session_id.to_owned(), from.to_owned());
        self.read(move |conn| branch::ancestors(conn, &user_id, &session_id, &from, limit))
            .await
    }

    async fn branch_window(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    ) -> StoreResult<BranchWindow> {
        let (user_id, session_id, from) =
            (user_id.to_owned(), session_id.to_owned(), from.to_owned());
        self.read(move |conn| branch::branch_window(conn, &user_id, &session_id, &from, limit))
            .await
    }

    async fn ancestor_at(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
        depth: i64,
    ) -> StoreResult<Option<TreeMessage>> {
        let (user_id, session_id, from) =
            (user_id.to_owned(), session_id.to_owned(), from.to_owned());
        self.read(move |conn| branch::ancestor_at(conn, &user_id, &session_id, &from, depth))
            .await
    }

    async fn children(
        &self,
        user_id: &str,
        session_id: &str,
        parents: &[Option<String>],
    ) -> StoreResult<Vec<Message>> {
        let (user_id, session_id, parents) =
            (user_id.to_owned(), session_id.to_owned(), parents.to_vec());
        self.read(move |conn| branch::children(conn, &user_id, &session_id, &parents))
            .await
    }

    async fn newest_descendant(
        &self,
        user_id: &str,
        session_id: &str,
        from: &str,
    ) -> StoreResult<Option<String>> {
        let (user_id, session_id, from) =
            (user_id.to_owned(), session_id.to_owned(), from.to_owned());
        self.read(move |conn| branch::newest_descendant(conn, &user_id, &session_id, &from))
            .await
    }

    async fn message_by_client_id(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<Message>> {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.read(move |conn| chat::live_message_by_client_id(conn, &user_id, &client_id))
            .await
    }

    async fn checkpoint_reply(
        &self,
        user_id: &str,
        id: &str,
        content: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        let content = content.map(str::to_owned);
        self.writer
            .write(move |conn| chat::checkpoint_reply(conn, &user_id, &id, content.as_deref(), now))
            .await
    }

    async fn finish_reply(
        &self,
        user_id: &str,
        id: &str,
        outcome: ReplyOutcome,
    ) -> StoreResult<Option<Message>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        let now = Utc::now();
        self.writer
            .write(move |conn| chat::finish_reply(conn, &user_id, &id, &outcome, now))
            .await
    }

    async fn stop_reply(&self, user_id: &str, id: &str) -> StoreResult<Option<Message>> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        let now = Utc::now();
        self.writer
            .write(move |conn| chat::stop_reply(conn, &user_id, &id, now))
            .await
    }

    async fn reopen_reply(
        &self,
        user_id: &str,
        id: &str,
        from: (MessageStatus, Option<StatusReason>),
    ) -> StoreResult<bool> {
        let (user_id, id) = (user_id.to_owned(), id.to_owned());
        let now = Utc::now();
        self.writer
            .write(move |conn| chat::reopen_reply(conn, &user_id, &id, from, now))
            .await
    }

    async fn recover_streaming(&self, stale_before: DateTime<Utc>) -> StoreResult<u64> {
        self.writer
            .write(move |conn| chat::recover_streaming(conn, stale_before))
            .await
    }

    async fn search(&self, user_id: &str, query: SearchQuery) -> StoreResult<Page<SearchHit>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| search::search(conn, &user_id, &query))
            .await
    }

    async fn import_sessions(
        &self,
        _user_id: &str,
        sessions: Vec<ImportSession>,
    ) -> StoreResult<ImportCounts> {
        self.writer
            .write(move |conn| import::import_sessions(conn, &sessions))
            .await
    }

    async fn size_bytes(&self) -> StoreResult<Option<u64>> {
        let mut total = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            if let Ok(meta) = std::fs::metadata(&path) {
                total += meta.len();
            }
        }
        Ok(Some(total))
    }
}
