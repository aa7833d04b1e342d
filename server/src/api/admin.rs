//! Administration (`/api/admin/...`): thin adapters over `Services::admin_*`, which refuse
//! anyone but an administrator (403 `admin_required`). The links carrying a one-time secret
//! are built here, from the public address.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use confab_core::api::{
    AdminSettings, AuditPage, CreatedInvitation, InvitationInput, InvitationList, PageInput,
    PasswordResetLink, UserPage,
};
use confab_core::auth::client::Client;
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiQuery, ApiResult, OptionalJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users))
        .routes(routes!(delete_user))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(password_reset))
        .routes(routes!(invitations, invite))
        .routes(routes!(revoke))
        .routes(routes!(settings, update_settings))
        .routes(routes!(audit))
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

/// The accounts, by email.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(PageInput),
    responses((status = 200, body = UserPage)), security(("session" = []), ("token" = [])))]
async fn users(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(page): ApiQuery<PageInput>,
) -> ApiResult<Json<UserPage>> {
    Ok(Json(state.services.admin_list_users(&user, &page).await?))
}

/// Disables an account: it cannot sign in, and its sign-ins and tokens end.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 204, description = "Disabled")), security(("session" = []), ("token" = [])))]
async fn disable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_disable_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin",
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 204, description = "Enabled")), security(("session" = []), ("token" = [])))]
async fn enable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_enable_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an account and everything in it.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 204, description = "Deleted")), security(("session" = []), ("token" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_delete_user(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a one-time password reset link for an account (valid 24 hours).
#[utoipa::path(post, path = "/api/admin/users/{id}/password-reset", operation_id = "create_password_reset_link", tag = "admin",
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 201, body = PasswordResetLink)), security(("session" = []), ("token" = [])))]
async fn password_reset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Option<Extension<Client>>,
    ApiPath(id): ApiPath<String>,
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

#[utoipa::path(get, path = "/api/admin/invitations", tag = "admin",
    responses((status = 200, body = InvitationList)), security(("session" = []), ("token" = [])))]
async fn invitations(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<InvitationList>> {
    let invitations = state.services.admin_list_invitations(&user).await?;
    Ok(Json(InvitationList { invitations }))
}

/// Makes an invitation (the body is optional).
#[utoipa::path(post, path = "/api/admin/invitations", tag = "admin",
    request_body(content = Option<InvitationInput>),
    responses((status = 201, body = CreatedInvitation)), security(("session" = []), ("token" = [])))]
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

#[utoipa::path(delete, path = "/api/admin/invitations/{id}", tag = "admin",
    params(("id" = String, Path, description = "The invitation's id")),
    responses((status = 204, description = "Revoked")), security(("session" = []), ("token" = [])))]
async fn revoke(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.admin_revoke_invitation(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/admin/settings", tag = "admin",
    responses((status = 200, body = AdminSettings)), security(("session" = []), ("token" = [])))]
async fn settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<AdminSettings>> {
    Ok(Json(state.services.admin_settings(&user).await?))
}

#[utoipa::path(put, path = "/api/admin/settings", tag = "admin", request_body = AdminSettings,
    responses((status = 200, body = AdminSettings)), security(("session" = []), ("token" = [])))]
async fn update_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<AdminSettings>,
) -> ApiResult<Json<AdminSettings>> {
    Ok(Json(
        state.services.admin_update_settings(&user, input).await?,
    ))
}

/// What administrators did, newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", params(PageInput),
    responses((status = 200, body = AuditPage)), security(("session" = []), ("token" = [])))]
async fn audit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(page): ApiQuery<PageInput>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(state.services.admin_audit(&user, &page).await?))
}
