//! The signed-in user of a request, from an `Authorization: Bearer` API token or the sign-in
//! cookie. Used by the REST handlers and by the server functions alike.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::{credentials_stamp, SESSION_CREDENTIALS_KEY, SESSION_USER_KEY};
use crate::model::User;
use crate::service::{ServiceError, Services};

#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

/// How the request proved who it is; cookie-authenticated writes need a CSRF check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Bearer,
    Cookie,
}

/// The bearer token of a request, if it carries one.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn resolve(parts: &mut Parts) -> Result<(User, Credential), ServiceError> {
    let services = parts
        .extensions
        .get::<Services>()
        .cloned()
        .ok_or_else(|| ServiceError::Internal("services are not installed".into()))?;
    if let Some(token) = bearer_token(parts) {
        let user = services.user_for_token(token).await?;
        return Ok((user, Credential::Bearer));
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
                .is_none_or(|stamp| stamp == credentials_stamp(found.password_hash.as_deref())) =>
        {
            Ok((found.user, Credential::Cookie))
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

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<CurrentUser>() {
            return Ok(known.clone());
        }
        let (user, _) = resolve(parts).await?;
        let current = CurrentUser(user);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}
