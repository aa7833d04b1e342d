//! Sign-up, sign-in, sign-out and the current user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_core::api::{
    DeleteAccountInput, LoginInput, PasswordResetInput, SignupInput, UserEnvelope,
};
use confab_core::service::accounts::Reauthentication;
use confab_http::session::{sign_in, sign_out, signed_in_at};
use confab_http::CurrentUser;
use tower_sessions::Session;

use crate::http::{ApiJson, ApiResult, ClientAddr};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/signup", post(signup))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me).delete(delete_me))
        .route("/api/auth/password-reset", post(password_reset))
}

async fn signup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    ApiJson(input): ApiJson<SignupInput>,
) -> ApiResult<impl IntoResponse> {
    let signed_in = state
        .services
        .signup_with_invitation(
            &input.email,
            &input.password,
            input.name.as_deref(),
            input.invitation.as_deref(),
            &client,
        )
        .await?;
    sign_in(&session, &signed_in).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserEnvelope {
            user: signed_in.user,
        }),
    ))
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    ApiJson(input): ApiJson<LoginInput>,
) -> ApiResult<Json<UserEnvelope>> {
    let signed_in = state
        .services
        .authenticate(&input.email, &input.password, &client)
        .await?;
    sign_in(&session, &signed_in).await?;
    Ok(Json(UserEnvelope {
        user: signed_in.user,
    }))
}

async fn logout(session: Session) -> ApiResult<StatusCode> {
    sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(CurrentUser(user): CurrentUser) -> Json<UserEnvelope> {
    Json(UserEnvelope { user })
}

async fn delete_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ClientAddr(client): ClientAddr,
    session: Session,
    ApiJson(input): ApiJson<DeleteAccountInput>,
) -> ApiResult<StatusCode> {
    let proof = Reauthentication {
        password: input.password.as_deref(),
        signed_in_at: signed_in_at(&session).await?,
        client: &client,
    };
    state.services.delete_account(&user, proof).await?;
    // The store ended every sign-in of the account; this also clears the cookie.
    sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a new password with the token of a reset link; every sign-in of the account ends.
async fn password_reset(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<PasswordResetInput>,
) -> ApiResult<StatusCode> {
    state
        .services
        .reset_password(&input.token, &input.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
