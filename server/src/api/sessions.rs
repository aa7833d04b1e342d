//! Chat sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use confab_core::api::{NewSessionInput, SessionListInput, SessionPatchInput};
use confab_http::CurrentUser;
use serde_json::json;

use crate::http::{ApiJson, ApiQuery, ApiResult, OptionalJson};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat/sessions", get(list).post(create))
        .route(
            "/api/chat/sessions/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/chat/sessions/{id}/messages", delete(clear))
        .route("/api/chat/sessions/{id}/restore", post(restore))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<SessionListInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let page = state.services.list_sessions(&user, input).await?;
    Ok(Json(
        json!({ "sessions": page.items, "nextCursor": page.next_cursor }),
    ))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    OptionalJson(input): OptionalJson<NewSessionInput>,
) -> ApiResult<impl IntoResponse> {
    let session = state
        .services
        .create_session(&user, input.title.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.services.get_session(&user, &id).await?))
}

async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SessionPatchInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state.services.update_session(&user, &id, input).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_session(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undoes a delete within the retention time: 200 with the session as it was, 404 when it
/// is not a deleted session that can still be restored.
async fn restore(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.services.restore_session(&user, &id).await?))
}

async fn clear(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.clear_session(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
