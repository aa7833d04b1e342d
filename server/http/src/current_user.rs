//! The signed-in user of a request, from an `Authorization: Bearer` API token or the sign-in
//! cookie. Used by the REST handlers and by the server functions alike.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use confab_core::auth::credentials_stamp;
use confab_core::model::User;
use confab_core::service::{ServiceError, Services};
use tower_sessions::Session;

use crate::error::ApiError;
use crate::session::{SESSION_CREDENTIALS_KEY, SESSION_USER_KEY};

/// The signed-in user of a request (401 `unauthorized` otherwise).
#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

/// The credentials stamp behind a request (`confab_core::auth::credentials_stamp`): its sign-in
/// session's, or the one its API token was made under; `None` for those from before stamps
/// were kept. A token the request makes is made under it, so it stops when the password changes.
#[derive(Clone, Debug)]
pub struct ProvenWith(pub Option<String>);

/// The span of the request, kept in its extensions by the server's request log. The user is
/// recorded in it by name: where the user is resolved, the current span is often another one
/// (tower-sessions runs the inner service in an INFO span of its own, `call`), and a field
/// recorded there would be lost.
#[derive(Clone, Debug)]
pub struct RequestSpan(pub tracing::Span);

/// The bearer token of a request, if it carries one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Who the request is: the account of its bearer token, or of its sign-in session while that
/// account is active and has the credentials the session was signed in with (else the session
/// ends), with the credentials stamp behind it. `Unauthorized` when neither.
///
/// The user's id goes into the request's span (`user_id`, declared by the server's request
/// log, found as [`RequestSpan`]), so every line logged for the request, and the line that
/// ends it, names who it was.
pub async fn resolve(
    parts: &mut Parts,
    services: &Services,
) -> Result<(User, ProvenWith), ServiceError> {
    let resolved = resolve_unrecorded(parts, services).await;
    if let (Ok((user, _)), Some(RequestSpan(span))) = (&resolved, parts.extensions.get()) {
        span.record("user_id", tracing::field::display(&user.id));
    }
    resolved
}

async fn resolve_unrecorded(
    parts: &mut Parts,
    services: &Services,
) -> Result<(User, ProvenWith), ServiceError> {
    if let Some(token) = bearer_token(parts) {
        let (user, made_under) = services.user_for_token(token).await?;
        return Ok((user, ProvenWith(made_under)));
    }
    let session = Session::from_request_parts(parts, &())
        .await
        .map_err(|_| ServiceError::Unauthorized)?;
    let load_failed = |error: tower_sessions::session::Error| {
        ServiceError::Internal(format!("session load failed: {error}"))
    };
    let user_id: Option<String> = session.get(SESSION_USER_KEY).await.map_err(load_failed)?;
    let Some(user_id) = user_id else {
        return Err(ServiceError::Unauthorized);
    };
    let stamp: Option<String> = session
        .get(SESSION_CREDENTIALS_KEY)
        .await
        .map_err(load_failed)?;
    let found = services.store().active_credentials_by_id(&user_id).await?;
    match found {
        // Sessions signed in before stamps existed have none; a password reset deleted every
        // one of them that its account had.
        Some(found)
            if stamp
                .as_deref()
                .is_none_or(|stamp| stamp == credentials_stamp(found.password_hash.as_deref())) =>
        {
            Ok((found.user, ProvenWith(stamp)))
        }
        _ => {
            // The account is gone or disabled, or its password changed since this session
            // signed in (a sign-in that was being saved while an administrator disabled the
            // account or its password was reset escaped the sweep of its sign-ins): end it.
            let _ = session.flush().await;
            Err(ServiceError::Unauthorized)
        }
    }
}

/// The signed-in user of a REST request (401 `unauthorized` otherwise), resolved once per
/// request.
impl<S> FromRequestParts<S> for CurrentUser
where
    Services: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<CurrentUser>() {
            return Ok(known.clone());
        }
        let (user, proven_with) = resolve(parts, &Services::from_ref(state)).await?;
        let current = CurrentUser(user);
        parts.extensions.insert(current.clone());
        parts.extensions.insert(proven_with);
        Ok(current)
    }
}

/// The credentials stamp behind a signed-in request (401 `unauthorized` when it is not).
impl<S> FromRequestParts<S> for ProvenWith
where
    Services: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<ProvenWith>().is_none() {
            CurrentUser::from_request_parts(parts, state).await?;
        }
        parts
            .extensions
            .get::<ProvenWith>()
            .cloned()
            .ok_or(ApiError::Service(ServiceError::Unauthorized))
    }
}
