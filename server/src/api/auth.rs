//! Sign-up, sign-in, sign-out and the current user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{
    DeleteAccountInput, ErrorBody, LoginInput, PasswordResetInput, SignupInput, UserEnvelope,
};
use confab_core::service::accounts::Reauthentication;
use confab_http::session::{sign_in, sign_out, signed_in_at};
use confab_http::CurrentUser;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiResult, ClientAddr};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me, delete_me))
        .routes(routes!(password_reset))
}

/// Creates an account and signs it in (the session cookie). While sign-up is closed, only
/// with an invitation; the first account is the administrator.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupInput,
    responses((status = 201, body = UserEnvelope, description = "Created and signed in")))]
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

/// Signs in with email and password (the session cookie).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = UserEnvelope),
        (status = 401, body = ErrorBody, description = "Wrong email or password (`bad_credentials`)")))]
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

/// Ends this sign-in; answers 204 signed in or not.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out")))]
async fn logout(session: Session) -> ApiResult<StatusCode> {
    sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, body = UserEnvelope)), security(("session" = []), ("token" = [])))]
async fn me(CurrentUser(user): CurrentUser) -> Json<UserEnvelope> {
    Json(UserEnvelope { user })
}

/// Deletes the account and everything in it. An account with a password sends it; one
/// without must have signed in within the last minutes.
#[utoipa::path(delete, path = "/api/auth/me", tag = "auth", request_body = DeleteAccountInput,
    responses((status = 204, description = "Deleted")), security(("session" = []), ("token" = [])))]
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
#[utoipa::path(post, path = "/api/auth/password-reset", operation_id = "reset_password", tag = "auth",
    request_body = PasswordResetInput,
    responses((status = 204, description = "The new password is in force")))]
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
