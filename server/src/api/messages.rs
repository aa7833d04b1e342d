//! Messages of a session.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use confab_core::api::{MessageCreated, MessageListInput, NewMessageInput};
use confab_http::CurrentUser;
use serde_json::json;

use crate::http::{ApiJson, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat/messages", get(list).post(create))
        .route("/api/chat/messages/{id}", get(one))
}

/// `GET /api/chat/messages/{id}`: one message as stored (a reply's status while it streams).
async fn one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<confab_core::model::Message>> {
    Ok(Json(state.services.get_message(&user, &id).await?))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<MessageListInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let page = state.services.list_messages(&user, input).await?;
    Ok(Json(
        json!({ "messages": page.items, "nextCursor": page.next_cursor }),
    ))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<NewMessageInput>,
) -> ApiResult<impl IntoResponse> {
    let appended = state.services.append_message(&user, input).await?;
    let status = if appended.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(MessageCreated {
            message: appended.message,
            session: appended.session,
        }),
    ))
}
