//! Administration (`/api/admin/...`): thin adapters over `Services::admin_*`, which refuse
//! anyone but an administrator (403 `admin_required`). The links carrying a one-time secret
//! are built here, from the public address.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use confab_core::api::{
    AdminSettings, AuditPage, CreatedInvitation, InvitationInput, InvitationList, PageInput,
    PasswordResetLink, UserPage,
};
use confab_core::auth::client::Client;
use confab_http::CurrentUser;

use crate::http::{ApiJson, ApiQuery, ApiResult, OptionalJson};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(users))
        .route("/api/admin/users/{id}", delete(delete_user))
        .route("/api/admin/users/{id}/disable", post(disable))
        .route("/api/admin/users/{id}/enable", post(enable))
        .route("/api/admin/users/{id}/password-reset", post(password_reset))
        .route("/api/admin/invitations", get(invitations).post(invite))
        .route("/api/admin/invitations/{id}", delete(revoke))
        .route("/api/admin/settings", get(settings).put(update_settings))
        .route("/api/admin/audit", get(audit))
}

/// Where people reach this instance: `CONFAB_PUBLIC_URL` when set, else the scheme and host
/// the request addressed (`http` when no trusted proxy named the scheme), else nothing (the
/// link is then relative to the site).
fn public_base(state: &AppState, client: Option<&Client>) -> String {
    if let Some(url) = state.config.public_url.as_deref() {
        return url.trim_end_matches('/').to_owned();
    }
    client
        .and_then(|client| {
            let host = client.host.as_deref()?;
            let scheme = client.scheme.as_deref().unwrap_or("http");
            Some(format!("{scheme}://{host}"))
        })
        .unwrap_or_default()
}

async fn users(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(page): ApiQuery<PageInput>,
) -> ApiResult<Json<UserPage>> {
    Ok(Json(state.services.admin_list_users(&user, &page).await?))
}

async fn disable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_disable_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_enable_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_delete_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn password_reset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Option<Extension<Client>>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let reset = state
        .services
        .admin_create_password_reset(&user, &id)
        .await?;
    let base = public_base(&state, client.as_deref());
    let link = PasswordResetLink {
        link: format!(
            "{base}{}",
            confab_core::api::password_reset_path(&reset.token)
        ),
        user_id: reset.user_id,
        token: reset.token,
        expires_at: reset.expires_at,
    };
    Ok((StatusCode::CREATED, Json(link)))
}

async fn invitations(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<InvitationList>> {
    let invitations = state.services.admin_list_invitations(&user).await?;
    Ok(Json(InvitationList { invitations }))
}

async fn invite(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Option<Extension<Client>>,
    OptionalJson(input): OptionalJson<InvitationInput>,
) -> ApiResult<impl IntoResponse> {
    let created = state
        .services
        .admin_create_invitation(&user, &input)
        .await?;
    let base = public_base(&state, client.as_deref());
    let answer = CreatedInvitation {
        link: format!(
            "{base}{}",
            confab_core::api::invitation_path(&created.token)
        ),
        invitation: created.invitation,
        token: created.token,
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn revoke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_revoke_invitation(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<AdminSettings>> {
    Ok(Json(state.services.admin_settings(&user).await?))
}

async fn update_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<AdminSettings>,
) -> ApiResult<Json<AdminSettings>> {
    Ok(Json(
        state.services.admin_update_settings(&user, input).await?,
    ))
}

async fn audit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(page): ApiQuery<PageInput>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(state.services.admin_audit(&user, &page).await?))
}
