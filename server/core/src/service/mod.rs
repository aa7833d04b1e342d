//! The service layer: every rule of the product lives here once (validation, limits, titles,
//! ownership). REST handlers, server functions and CLI commands are thin adapters over it.
//!
//! Each public method runs in a span named after it (`#[tracing::instrument]`), inside the
//! request's, with the ids it acts on (`user_id`, `session_id`, `message_id`, ...) and never a
//! password, a token, an email or a message's text (`skip_all`). Its error is logged at DEBUG:
//! most are the client's mistakes (not found, invalid, unauthorized, limits), which the client
//! is told anyway, and an internal failure is logged at ERROR, once, by the adapter that turns
//! it into a 500 (`confab_http::error`, `app::server_fns::to_error`), with the request's span.

pub mod accounts;
pub mod admin;
pub mod branch;
pub mod chat;
pub mod error;
pub mod export;
pub mod folders;
pub mod fork;
pub mod import;
mod live;
pub mod recorder;
pub mod reply;
#[cfg(test)]
mod spans_tests;
pub mod stars;
pub mod tags;
mod validate;

use std::sync::Arc;
use std::time::Duration;

pub use error::ServiceError;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::oidc::ExternalAuth;
use crate::auth::password::Hashing;
use crate::auth::rate_limit::RateLimiter;
use crate::meter::Meter;
use crate::provider::Providers;
use crate::store::DynStore;

pub type ServiceResult<T> = Result<T, ServiceError>;

pub use crate::api::SignupPolicy;

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub signup: SignupPolicy,
    /// Sign-in attempts allowed per email (and per client address) in `login_window`, each
    /// counted before its password is checked; a successful sign-in clears them.
    pub login_attempts: u32,
    pub login_window: Duration,
    /// Sign-ups allowed per client address in `signup_window` (each counted before its
    /// password is hashed, whether or not the account is then created).
    pub signup_attempts: u32,
    pub signup_window: Duration,
    /// Tokens of conversation history sent to the model with each message.
    pub context_tokens: i64,
    /// Whether email + password accounts may sign up and sign in.
    pub local_accounts: bool,
    /// When not empty, only emails of these domains may sign in through a provider.
    pub allowed_email_domains: Vec<String>,
    /// Largest reply kept, in bytes; the provider is no longer read past it.
    pub max_reply_bytes: usize,
    /// Longest silence of the provider before a reply counts as stalled.
    pub provider_idle: Duration,
    /// Time between two checkpoints of a streaming reply (what a crash can lose).
    pub checkpoint_every: Duration,
    /// How long a finished reply's save is retried (with backoff) before the client is handed
    /// the text instead.
    pub save_retry_for: Duration,
    /// How long a deleted conversation can be restored; it is purged after that.
    pub deleted_retention: Duration,
    /// Most messages one fork copies (`fork::MAX_FORK_MESSAGES` unless a test lowers it).
    pub max_fork_messages: usize,
}

/// Default of `ServiceConfig::deleted_retention`: a week.
pub const DEFAULT_DELETED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            signup: SignupPolicy::Open,
            login_attempts: 10,
            login_window: Duration::from_secs(300),
            signup_attempts: 10,
            signup_window: Duration::from_secs(3600),
            context_tokens: 8192,
            local_accounts: true,
            allowed_email_domains: Vec::new(),
            max_reply_bytes: crate::model::DEFAULT_MAX_REPLY_BYTES,
            provider_idle: Duration::from_secs(120),
            checkpoint_every: Duration::from_secs(2),
            save_retry_for: Duration::from_secs(30),
            deleted_retention: DEFAULT_DELETED_RETENTION,
            max_fork_messages: fork::MAX_FORK_MESSAGES,
        }
    }
}

/// Cheap to clone; handed to every request.
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    config: ServiceConfig,
    login_limiter: RateLimiter,
    signup_limiter: RateLimiter,
    /// Every password hashed or checked goes through here (a bounded number at once).
    hashing: Hashing,
    /// Every fork goes through here: a few at once, each holding its copy in memory.
    forks: crate::gate::Gate,
    providers: Arc<Providers>,
    /// Replies still being read from a provider; shutdown waits for them.
    replies: TaskTracker,
    /// The replies this process generates, by message id (to stop them, and to let a retried
    /// request follow a reply already running).
    live: live::LiveReplies,
    /// Cancelled when the shutdown grace period is over: replies still running save what they
    /// have and end.
    shutdown: CancellationToken,
    /// Finished replies whose save failed after every retry (their text went to the client).
    reply_save_failures: AtomicU64,
    /// Recently seen API tokens, so scripts that send many requests cost one lookup.
    token_cache: accounts::TokenCache,
    external_auth: ExternalAuth,
    /// Measurements: the store's operations, the providers' replies, the server's requests.
    meter: Meter,
}

impl Services {
    pub fn new(store: DynStore, config: ServiceConfig) -> Services {
        Self::with_providers(store, config, Providers::new(Vec::new()))
    }

    pub fn with_providers(
        store: DynStore,
        config: ServiceConfig,
        providers: Providers,
    ) -> Services {
        Self::with_parts(store, config, providers, ExternalAuth::new(Vec::new(), ""))
    }

    /// Everything configured: model providers and sign-in providers. The services measure
    /// into a registry of their own (`meter`), every operation of `store` timed.
    pub fn with_parts(
        store: DynStore,
        config: ServiceConfig,
        providers: Providers,
        external_auth: ExternalAuth,
    ) -> Services {
        let meter = Meter::new();
        let store = crate::store::measured::measured(store, &meter);
        let login_limiter = RateLimiter::new(config.login_attempts, config.login_window);
        let signup_limiter = RateLimiter::new(config.signup_attempts, config.signup_window);
        Services {
            inner: Arc::new(Inner {
                store,
                config,
                login_limiter,
                signup_limiter,
                hashing: Hashing::for_this_machine(),
                forks: fork::gate(),
                providers: Arc::new(providers),
                replies: TaskTracker::new(),
                live: live::LiveReplies::default(),
                shutdown: CancellationToken::new(),
                reply_save_failures: AtomicU64::new(0),
                token_cache: accounts::TokenCache::default(),
                external_auth,
                meter,
            }),
        }
    }

    /// The registry of this app's measurements (rendered at the server's `/metrics`).
    pub fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    pub fn external_auth(&self) -> &ExternalAuth {
        &self.inner.external_auth
    }

    pub fn providers(&self) -> &Arc<Providers> {
        &self.inner.providers
    }

    pub(crate) fn replies(&self) -> &TaskTracker {
        &self.inner.replies
    }

    pub(crate) fn live(&self) -> &live::LiveReplies {
        &self.inner.live
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub(crate) fn count_save_failure(&self) {
        self.inner
            .reply_save_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Finished replies whose save failed after every retry, since start-up (a metric).
    pub fn reply_save_failures(&self) -> u64 {
        self.inner.reply_save_failures.load(Ordering::Relaxed)
    }

    /// Shutdown: waits up to `grace` for replies still streaming to finish, then has the rest
    /// save what they hold as `partial` (reason `shutdown`) and waits for those saves. Safe to
    /// call more than once.
    pub async fn shut_down_replies(&self, grace: Duration) {
        self.inner.replies.close();
        if tokio::time::timeout(grace, self.inner.replies.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "replies still streaming at the end of the grace period are saved as partial"
            );
        }
        self.inner.shutdown.cancel();
        let saves = self.config().save_retry_for + Duration::from_secs(5);
        if tokio::time::timeout(saves, self.inner.replies.wait())
            .await
            .is_err()
        {
            tracing::error!("some replies could not be saved before the shutdown");
        }
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }
}
