//! The service layer: every rule of the product lives here once (validation, limits, titles,
//! ownership). REST handlers, server functions and CLI commands are thin adapters over it.

pub mod accounts;
pub mod chat;
pub mod error;
pub mod export;
pub mod import;
pub mod reply;
mod validate;

use std::sync::Arc;
use std::time::Duration;

pub use error::ServiceError;

use tokio_util::task::TaskTracker;

use crate::auth::oidc::ExternalAuth;
use crate::auth::rate_limit::RateLimiter;
use crate::provider::Providers;
use crate::store::DynStore;

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Who may create an account once the first (admin) account exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignupPolicy {
    #[default]
    Open,
    Closed,
}

impl SignupPolicy {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" => Some(SignupPolicy::Open),
            "closed" => Some(SignupPolicy::Closed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub signup: SignupPolicy,
    /// Failed sign-ins allowed per email (and per client address) in `login_window`.
    pub login_attempts: u32,
    pub login_window: Duration,
    /// Tokens of conversation history sent to the model with each message.
    pub context_tokens: i64,
    /// Whether email + password accounts may sign up and sign in.
    pub local_accounts: bool,
    /// When not empty, only emails of these domains may sign in through a provider.
    pub allowed_email_domains: Vec<String>,
    /// How long a deleted conversation can be restored; it is purged after that.
    pub deleted_retention: Duration,
}

/// Default of `ServiceConfig::deleted_retention`: a week.
pub const DEFAULT_DELETED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            signup: SignupPolicy::Open,
            login_attempts: 10,
            login_window: Duration::from_secs(300),
            context_tokens: 8192,
            local_accounts: true,
            allowed_email_domains: Vec::new(),
            deleted_retention: DEFAULT_DELETED_RETENTION,
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
    providers: Arc<Providers>,
    /// Replies still being read from a provider; shutdown waits for them.
    replies: TaskTracker,
    /// Recently seen API tokens, so scripts that send many requests cost one lookup.
    token_cache: accounts::TokenCache,
    external_auth: ExternalAuth,
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

    /// Everything configured: model providers and sign-in providers.
    pub fn with_parts(
        store: DynStore,
        config: ServiceConfig,
        providers: Providers,
        external_auth: ExternalAuth,
    ) -> Services {
        let login_limiter = RateLimiter::new(config.login_attempts, config.login_window);
        Services {
            inner: Arc::new(Inner {
                store,
                config,
                login_limiter,
                providers: Arc::new(providers),
                replies: TaskTracker::new(),
                token_cache: accounts::TokenCache::default(),
                external_auth,
            }),
        }
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

    /// Waits (up to `limit`) for replies still streaming, so a shutdown saves them.
    pub async fn finish_replies(&self, limit: Duration) -> bool {
        self.inner.replies.close();
        tokio::time::timeout(limit, self.inner.replies.wait())
            .await
            .is_ok()
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }
}
