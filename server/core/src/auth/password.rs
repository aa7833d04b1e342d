//! Password hashing with argon2id, off the async runtime (a hash takes tens of milliseconds of
//! CPU and would stall every other request on the thread), and bounded: each hash holds
//! 19 MiB, so a burst of sign-ups or failed sign-ins on the blocking pool (hundreds of
//! threads) would take gigabytes. [`Hashing`] runs at most as many at once as it was sized
//! for, lets a bounded queue wait behind them and turns the rest away at once as
//! [`ServiceError::Busy`].

use std::sync::OnceLock;

use crate::gate::Gate;
use crate::service::error::PASSWORDS_BUSY;
use crate::service::{ServiceError, ServiceResult};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Memory one argon2id hash holds while it runs, in KiB (OWASP's baseline: 19 MiB).
pub const HASH_MEMORY_KIB: u32 = 19 * 1024;

fn hasher() -> Argon2<'static> {
    // argon2id, 19 MiB, 2 passes: OWASP's baseline recommendation.
    Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(HASH_MEMORY_KIB, 2, 1, None).unwrap_or_default(),
    )
}

/// The one way to hash or check a password: every sign-up and sign-in goes through the same
/// instance (owned by `Services`), so the bound holds for REST, server functions and the CLI
/// together.
pub struct Hashing {
    /// Hashes running (each holds [`HASH_MEMORY_KIB`] and a core) and requests waiting for
    /// one: beyond these the answer is "busy".
    gate: Gate,
}

impl Hashing {
    /// At most `at_once` hashes run (at least one), and at most `queue` more wait for them.
    pub fn new(at_once: usize, queue: usize) -> Self {
        Hashing {
            gate: Gate::new(at_once, queue, PASSWORDS_BUSY),
        }
    }

    /// As many hashes at once as the machine has cores (more would only wait for a core while
    /// holding their memory), and eight per core waiting behind them.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, 8 * cores)
    }

    /// Runs `work` on the blocking pool once a hash may run; `Busy` at once when the queue is
    /// full. The permits go with the work, so a request whose client went away still counts
    /// until its hash has really finished.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ServiceResult<T> {
        let pass = self.gate.enter().await?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(pass);
            result
        })
        .await
        .map_err(|error| ServiceError::Internal(format!("hashing task failed: {error}")))
    }

    /// The argon2id hash of `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> ServiceResult<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            hasher()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| {
                    ServiceError::Internal(format!("password hashing failed: {error}"))
                })
        })
        .await?
    }

    /// Checks `password` against `stored`. With no stored hash (unknown email, or an account
    /// without a password) a dummy hash is checked instead, so both answers take the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> ServiceResult<bool> {
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            let matches = hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            known && matches
        })
        .await
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(b"confab-dummy-password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let hashing = Hashing::new(1, 0);
        let hashed = hashing.hash("correct horse".into()).await.unwrap();
        assert!(hashed.starts_with("$argon2id$"));
        assert!(hashing
            .verify("correct horse".into(), Some(hashed.clone()))
            .await
            .unwrap());
        assert!(!hashing
            .verify("wrong horse".into(), Some(hashed))
            .await
            .unwrap());
        assert!(!hashing
            .verify("confab-dummy-password".into(), None)
            .await
            .unwrap());
    }

    /// One running and one waiting: a third request at the same moment is turned away at once,
    /// and once they are done the next one runs.
    #[tokio::test]
    async fn beyond_the_queue_the_answer_is_busy() {
        let hashing = Hashing::new(1, 1);
        let (first, second, third) = tokio::join!(
            hashing.hash("first password".into()),
            hashing.hash("second password".into()),
            hashing.hash("third password".into()),
        );
        assert!(first.unwrap().starts_with("$argon2id$"));
        assert!(second.unwrap().starts_with("$argon2id$"));
        assert!(
            matches!(third, Err(ServiceError::Busy(PASSWORDS_BUSY))),
            "{third:?}"
        );
        let later = hashing.hash("later password".into()).await;
        assert!(later.unwrap().starts_with("$argon2id$"));
    }
}
