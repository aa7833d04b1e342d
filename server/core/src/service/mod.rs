//! The service layer: every rule of the product lives here once (validation, limits, titles,
//! ownership). REST handlers, server functions and CLI commands are thin adapters over it.

pub mod accounts;
pub mod chat;
pub mod error;
pub mod export;
pub mod import;
mod validate;

use std::sync::Arc;
use std::time::Duration;

pub use error::ServiceError;

use crate::auth::rate_limit::RateLimiter;
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
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            signup: SignupPolicy::Open,
            login_attempts: 10,
            login_window: Duration::from_secs(300),
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
}

impl Services {
    pub fn new(store: DynStore, config: ServiceConfig) -> Services {
        let login_limiter = RateLimiter::new(config.login_attempts, config.login_window);
        Services {
            inner: Arc::new(Inner {
                store,
                config,
                login_limiter,
            }),
        }
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }
}
