//! Authentication: password hashing, API token secrets, sign-in sessions stored through the
//! `Store`, sign-in and sign-up rate limiting, the resolved `Client` of a request and the `CurrentUser`
//! extractor.

pub mod client;
pub mod current_user;
pub mod oidc;
pub mod password;
pub mod rate_limit;
pub mod session_store;
pub mod tokens;

pub use current_user::CurrentUser;

/// The key under which a sign-in session holds the user id.
pub const SESSION_USER_KEY: &str = "user_id";
/// The key under which a sign-in session holds when it signed in (Unix seconds), so that an
/// account without a password can prove a recent sign-in before it is deleted.
pub const SESSION_SIGNED_IN_AT_KEY: &str = "signed_in_at";

/// The key under which a sign-in session holds the stamp of the credentials it was made with
/// ([`credentials_stamp`]).
pub const SESSION_CREDENTIALS_KEY: &str = "credentials";

use sha2::{Digest, Sha256};

use crate::model::User;
use crate::service::ServiceError;

/// A person who just proved who they are, with the stamp of the credentials as they were read
/// for that proof. A sign-in session keeps the stamp, and a request with the session counts
/// only while the account's credentials still have it: a password reset that lands while a
/// sign-in with the old password is between its check and the saving of its session ends that
/// session too (the way Django's session auth hash does).
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    stamp: String,
}

impl SignedIn {
    /// `user`, proven with credentials whose password hash is `password_hash` (none for an
    /// account without a password).
    pub fn new(user: User, password_hash: Option<&str>) -> Self {
        SignedIn {
            user,
            stamp: credentials_stamp(password_hash),
        }
    }
}

/// A short digest of an account's password hash (of nothing when it has no password): it
/// changes whenever the password does. The session records live in the database next to the
/// hashes, so a plain SHA-256 reveals nothing they do not; 128 bits, as 32 hex digits.
pub fn credentials_stamp(password_hash: Option<&str>) -> String {
    let mut digest = Sha256::new();
    digest.update(b"confab credentials stamp\0");
    match password_hash {
        Some(hash) => {
            digest.update(b"+");
            digest.update(hash.as_bytes());
        }
        None => digest.update(b"-"),
    }
    digest.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Starts a signed-in session for `signed_in` under a fresh id (so a session id planted before
/// sign-in is worthless: no session fixation).
pub async fn sign_in(
    session: &tower_sessions::Session,
    signed_in: &SignedIn,
) -> Result<(), ServiceError> {
    let failed =
        |error: tower_sessions::session::Error| ServiceError::Internal(format!("session: {error}"));
    session.cycle_id().await.map_err(failed)?;
    session
        .insert(SESSION_USER_KEY, &signed_in.user.id)
        .await
        .map_err(failed)?;
    session
        .insert(SESSION_CREDENTIALS_KEY, &signed_in.stamp)
        .await
        .map_err(failed)?;
    session
        .insert(SESSION_SIGNED_IN_AT_KEY, chrono::Utc::now().timestamp())
        .await
        .map_err(failed)
}

/// When this session signed in, if it is signed in and knows (sessions from before this key
/// existed do not, and count as old).
pub async fn signed_in_at(
    session: &tower_sessions::Session,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    let seconds: Option<i64> = session
        .get(SESSION_SIGNED_IN_AT_KEY)
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))?;
    Ok(seconds.and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)))
}

/// Ends the signed-in session and deletes its record.
pub async fn sign_out(session: &tower_sessions::Session) -> Result<(), ServiceError> {
    session
        .flush()
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))
}

#[cfg(test)]
mod tests {
    use super::credentials_stamp;

    #[test]
    fn the_stamp_changes_with_the_password_hash_and_only_with_it() {
        let old = credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk"));
        let new = credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3"));
        let none = credentials_stamp(None);
        assert_eq!(
            old,
            credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk"))
        );
        assert_ne!(old, new);
        assert_ne!(old, none);
        // No password and an empty hash are different credentials.
        assert_ne!(none, credentials_stamp(Some("")));
        for stamp in [&old, &new, &none] {
            assert_eq!(stamp.len(), 32);
            assert!(stamp.bytes().all(|byte| byte.is_ascii_hexdigit()));
        }
    }
}
