//! API tokens for scripts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use confab_http::{CurrentUser, ProvenWith};
use serde::Deserialize;
use serde_json::json;

use crate::http::{ApiJson, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create))
        .route("/api/tokens/{id}", delete(remove))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ProvenWith(made_under): ProvenWith,
    ApiJson(input): ApiJson<NewToken>,
) -> ApiResult<impl IntoResponse> {
    let created = state
        .services
        .create_token(&user, &input.name, made_under.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<serde_json::Value>> {
    let tokens = state.services.list_tokens(&user).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_token(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
