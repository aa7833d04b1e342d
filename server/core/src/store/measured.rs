//! A `Store` that times every operation of the store it wraps, into the histogram
//! `confab_store_operation_duration_seconds{operation, backend}` (`crate::meter`).
//!
//! Every operation goes through here, whoever calls it (the services, the sign-in sessions,
//! the sweepers), so none escapes the count. The `operation` label is the method's name, from
//! the fixed list below; `backend` is the wrapped store's `backend`.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use metrics::Histogram;

use super::*;
use crate::meter::{label, Meter, STORE_OPERATION_SECONDS};

/// `store`, each of its operations timed into `meter`.
pub fn measured(store: DynStore, meter: &Meter) -> DynStore {
    let backend = store.backend();
    let histograms = OPERATIONS
        .iter()
        .map(|operation| {
            let labels = vec![label("operation", *operation), label("backend", backend)];
            (*operation, meter.histogram(STORE_OPERATION_SECONDS, labels))
        })
        .collect();
    Arc::new(MeasuredStore {
        inner: store,
        histograms,
    })
}

/// The store being timed, and a histogram per operation (taken once, at the start).
struct MeasuredStore {
    inner: DynStore,
    histograms: HashMap<&'static str, Histogram>,
}

impl MeasuredStore {
    /// Runs `operation`, timing it whether it succeeds, fails or is given up half-way (its
    /// caller dropped, a client gone).
    async fn timed<T>(&self, operation: &'static str, run: impl Future<Output = T>) -> T {
        let _timing = Timing {
            histogram: self.histograms.get(operation),
            started: Instant::now(),
        };
        run.await
    }
}

/// Records the time since `started` when dropped.
struct Timing<'a> {
    histogram: Option<&'a Histogram>,
    started: Instant,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if let Some(histogram) = self.histogram {
            histogram.record(self.started.elapsed().as_secs_f64());
        }
    }
}

/// The `Store` implementation, each method timed then handed to the wrapped store, and the
/// list of their names (the `operation` label's values).
macro_rules! measured_operations {
    ($(fn $name:ident($($argument:ident: $type:ty),* $(,)?) -> $result:ty;)*) => {
        /// The values of the `operation` label: the names of the `Store` methods.
        pub const OPERATIONS: &[&str] = &[$(stringify!($name)),*];

        #[async_trait]
        impl Store for MeasuredStore {
            fn backend(&self) -> &'static str {
                self.inner.backend()
            }

            $(
                async fn $name(&self, $($argument: $type),*) -> $result {
                    self.timed(stringify!($name), self.inner.$name($($argument),*)).await
                }
            )*
        }
    };
}

measured_operations! {
    fn health() -> StoreResult<()>;
    fn create_user(new: NewUser) -> StoreResult<User>;
    fn user_by_id(id: &str) -> StoreResult<Option<User>>;
    fn active_credentials_by_id(id: &str) -> StoreResult<Option<UserCredentials>>;
    fn credentials_by_email(email: &str) -> StoreResult<Option<UserCredentials>>;
    fn count_users() -> StoreResult<i64>;
    fn count_admins() -> StoreResult<i64>;
    fn delete_user(id: &str) -> StoreResult<bool>;
    fn record_sign_in(user_id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    fn list_users(after_email: Option<&str>, limit: usize) -> StoreResult<Vec<UserSummary>>;
    fn audited(change: AdminChange, entry: AuditEntry) -> StoreResult<bool>;
    fn list_invitations(limit: usize) -> StoreResult<Vec<StoredInvitation>>;
    fn invitation_by_token_hash(token_hash: &str) -> StoreResult<Option<StoredInvitation>>;
    fn invitation_by_id(id: &str) -> StoreResult<Option<StoredInvitation>>;
    fn create_invited_user(
        invitation_id: &str,
        new: NewUser,
        now: DateTime<Utc>,
    )-> StoreResult<Option<User>>;
    fn password_reset_by_token_hash(token_hash: &str) -> StoreResult<Option<StoredPasswordReset>>;
    fn use_password_reset(
        id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    )-> StoreResult<Option<String>>;
    fn setting(key: &str) -> StoreResult<Option<String>>;
    fn list_audit(
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    )-> StoreResult<Vec<AuditEntry>>;
    fn user_by_identity(provider: &str, subject: &str) -> StoreResult<Option<User>>;
    fn link_identity(
        user_id: &str,
        provider: &str,
        subject: &str,
        email: Option<&str>,
    )-> StoreResult<()>;
    fn save_auth_session(key: &str, record: AuthSessionRecord) -> StoreResult<()>;
    fn load_auth_session(key: &str) -> StoreResult<Option<AuthSessionRecord>>;
    fn delete_auth_session(key: &str) -> StoreResult<()>;
    fn delete_expired_auth_sessions(now: DateTime<Utc>) -> StoreResult<u64>;
    fn create_token(
        user_id: &str,
        id: &str,
        name: &str,
        secret_hash: &str,
        made_under: Option<&str>,
    )-> StoreResult<ApiToken>;
    fn list_tokens(user_id: &str) -> StoreResult<Vec<ApiToken>>;
    fn delete_token(user_id: &str, id: &str) -> StoreResult<bool>;
    fn token_holder(secret_hash: &str) -> StoreResult<Option<TokenHolder>>;
    fn create_session(new: NewSession) -> StoreResult<Session>;
    fn get_session(user_id: &str, id: &str) -> StoreResult<Option<SessionDetail>>;
    fn set_star(user_id: &str, id: &str, at: Option<DateTime<Utc>>) -> StoreResult<Option<Message>>;
    fn starred_messages(user_id: &str, query: StarredQuery) -> StoreResult<Page<StarredMessage>>;
    fn session(user_id: &str, id: &str) -> StoreResult<Option<Session>>;
    fn list_sessions(user_id: &str, query: SessionQuery) -> StoreResult<Page<Session>>;
    fn update_session(
        user_id: &str,
        id: &str,
        patch: SessionPatch,
        now: DateTime<Utc>,
    )-> StoreResult<Option<Session>>;
    fn delete_session(user_id: &str, id: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    fn restore_session(
        user_id: &str,
        id: &str,
        deleted_since: DateTime<Utc>,
    )-> StoreResult<Option<Session>>;
    fn change_sessions(
        user_id: &str,
        ids: &[String],
        change: SessionsChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    fn list_tags(user_id: &str) -> StoreResult<Vec<String>>;
    fn rename_tag(user_id: &str, from: &str, to: &str, now: DateTime<Utc>) -> StoreResult<u64>;
    fn delete_tag(user_id: &str, name: &str, now: DateTime<Utc>) -> StoreResult<u64>;
    fn list_folders(user_id: &str) -> StoreResult<Vec<Folder>>;
    fn create_folder(new: NewFolder) -> StoreResult<Folder>;
    fn update_folder(user_id: &str, id: &str, patch: FolderPatch, now: DateTime<Utc>) -> StoreResult<Folder>;
    fn delete_folder(
        user_id: &str,
        id: &str,
        contents: crate::api::FolderContents,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    fn purge_deleted_sessions(deleted_before: DateTime<Utc>) -> StoreResult<u64>;
    fn clear_session(user_id: &str, id: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    fn append_message(
        message: NewMessage,
        new_session: Option<NewSession>,
    )-> StoreResult<Appended>;
    fn list_messages(
        user_id: &str,
        session_id: &str,
        query: MessageQuery,
    )-> StoreResult<Page<Message>>;
    fn sessions_by_id(
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    )-> StoreResult<Vec<Session>>;
    fn owned_session_ids(
        user_id: &str,
        ids: &[String],
    )-> StoreResult<std::collections::HashSet<String>>;
    fn all_messages(user_id: &str, session_id: &str) -> StoreResult<Vec<Message>>;
    fn get_message(user_id: &str, id: &str) -> StoreResult<Option<Message>>;
    fn ancestors(
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    )-> StoreResult<Vec<TreeMessage>>;
    fn branch_window(
        user_id: &str,
        session_id: &str,
        from: &str,
        limit: usize,
    )-> StoreResult<BranchWindow>;
    fn ancestor_at(
        user_id: &str,
        session_id: &str,
        from: &str,
        depth: i64,
    )-> StoreResult<Option<TreeMessage>>;
    fn children(
        user_id: &str,
        session_id: &str,
        parents: &[Option<String>],
    )-> StoreResult<Vec<Message>>;
    fn newest_descendant(
        user_id: &str,
        session_id: &str,
        from: &str,
    )-> StoreResult<Option<String>>;
    fn message_by_client_id(user_id: &str, client_id: &str) -> StoreResult<Option<Message>>;
    fn checkpoint_reply(
        user_id: &str,
        id: &str,
        content: Option<&str>,
        now: DateTime<Utc>,
    )-> StoreResult<bool>;
    fn finish_reply(user_id: &str, id: &str, outcome: ReplyOutcome) -> StoreResult<Option<Message>>;
    fn stop_reply(user_id: &str, id: &str) -> StoreResult<Option<Message>>;
    fn reopen_reply(
        user_id: &str,
        id: &str,
        from: (MessageStatus, Option<StatusReason>),
    )-> StoreResult<bool>;
    fn recover_streaming(stale_before: DateTime<Utc>) -> StoreResult<u64>;
    fn search(user_id: &str, query: SearchQuery) -> StoreResult<Page<SearchHit>>;
    fn import_sessions(user_id: &str, sessions: Vec<ImportSession>) -> StoreResult<ImportCounts>;
    fn size_bytes() -> StoreResult<Option<u64>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::{SqliteOptions, SqliteStore};

    #[tokio::test]
    async fn each_operation_is_timed_under_its_name_and_backend() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: DynStore = Arc::new(
            SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db")))
                .expect("open store"),
        );
        let meter = Meter::new();
        let store = measured(store, &meter);
        assert_eq!(store.backend(), "sqlite");
        store.count_users().await.expect("count");
        store.count_users().await.expect("count");
        store.health().await.expect("healthy");

        let rendered = meter.render();
        let count = |operation: &str| {
            let series = format!(
                "confab_store_operation_duration_seconds_count{{operation=\"{operation}\",backend=\"sqlite\"}} "
            );
            rendered
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .unwrap_or_else(|| panic!("{series} in {rendered}"))
                .to_owned()
        };
        assert_eq!(count("count_users"), "2");
        assert_eq!(count("health"), "1");
        // Every operation has its series from the start, at zero until it runs.
        assert_eq!(count("append_message"), "0");
        for operation in OPERATIONS {
            count(operation);
        }
    }
}
