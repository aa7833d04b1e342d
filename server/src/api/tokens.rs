//! API tokens for scripts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{CreatedToken, NewTokenInput, TokenList};
use confab_http::{CurrentUser, ProvenWith};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
}

/// Makes an API token (`Authorization: Bearer ...`) for scripts and the `/v1` endpoint; its
/// secret is in this answer only.
#[utoipa::path(post, path = "/api/tokens", operation_id = "create_token", tag = "tokens", request_body = NewTokenInput,
    responses((status = 201, body = CreatedToken)), security(("session" = []), ("token" = [])))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ProvenWith(made_under): ProvenWith,
    ApiJson(input): ApiJson<NewTokenInput>,
) -> ApiResult<impl IntoResponse> {
    let created = state
        .services
        .create_token(&user, &input.name, made_under.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/tokens", operation_id = "list_tokens", tag = "tokens",
    responses((status = 200, body = TokenList)), security(("session" = []), ("token" = [])))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<TokenList>> {
    let tokens = state.services.list_tokens(&user).await?;
    Ok(Json(TokenList { tokens }))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "delete_token", tag = "tokens",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Deleted")), security(("session" = []), ("token" = [])))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_token(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
