//! Signing a browser in and out: what a sign-in session holds (its keys) and the helpers the
//! REST routes and the server functions share.

use confab_core::auth::SignedIn;
use confab_core::service::ServiceError;
use tower_sessions::Session;

/// The key under which a sign-in session holds the user id.
pub const SESSION_USER_KEY: &str = "user_id";
/// The key under which a sign-in session holds when it signed in (Unix seconds), so that an
/// account without a password can prove a recent sign-in before it is deleted.
pub const SESSION_SIGNED_IN_AT_KEY: &str = "signed_in_at";

/// The key under which a sign-in session holds the stamp of the credentials it was made with
/// ([`confab_core::auth::credentials_stamp`]).
pub const SESSION_CREDENTIALS_KEY: &str = "credentials";

/// Starts a signed-in session for `signed_in` under a fresh id (so a session id planted before
/// sign-in is worthless: no session fixation).
pub async fn sign_in(session: &Session, signed_in: &SignedIn) -> Result<(), ServiceError> {
    let failed =
        |error: tower_sessions::session::Error| ServiceError::Internal(format!("session: {error}"));
    session.cycle_id().await.map_err(failed)?;
    session
        .insert(SESSION_USER_KEY, &signed_in.user.id)
        .await
        .map_err(failed)?;
    session
        .insert(SESSION_CREDENTIALS_KEY, &signed_in.stamp())
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
    session: &Session,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    let seconds: Option<i64> = session
        .get(SESSION_SIGNED_IN_AT_KEY)
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))?;
    Ok(seconds.and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)))
}

/// Ends the signed-in session and deletes its record.
pub async fn sign_out(session: &Session) -> Result<(), ServiceError> {
    session
        .flush()
        .await
        .map_err(|error| ServiceError::Internal(format!("session: {error}")))
}
