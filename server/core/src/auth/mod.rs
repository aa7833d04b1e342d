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

use crate::model::User;
use crate::service::ServiceError;

/// Starts a signed-in session for `user` under a fresh id (so a session id planted before
/// sign-in is worthless: no session fixation).
pub async fn sign_in(session: &tower_sessions::Session, user: &User) -> Result<(), ServiceError> {
    session
        .cycle_id()
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))?;
    session
        .insert(SESSION_USER_KEY, &user.id)
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))?;
    session
        .insert(SESSION_SIGNED_IN_AT_KEY, chrono::Utc::now().timestamp())
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))
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
