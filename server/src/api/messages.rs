//! Messages of a session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use axum::Json;
use confab_core::api::{MessageCreated, MessageListInput, MessagePage, NewMessageInput};
use confab_core::model::Message;
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one))
}

/// `GET /api/chat/messages/{id}`: one message as stored (a reply's status while it streams).
#[utoipa::path(get, path = "/api/chat/messages/{id}", operation_id = "get_message", tag = "messages",
    params(("id" = String, Path, description = "The message's id")),
    responses((status = 200, body = Message)), security(("session" = []), ("token" = [])))]
async fn one(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Message>> {
    Ok(Json(state.services.get_message(&user, &id).await?))
}

/// A page of a session's messages, oldest first.
#[utoipa::path(get, path = "/api/chat/messages", operation_id = "list_messages", tag = "messages", params(MessageListInput),
    responses((status = 200, body = MessagePage)), security(("session" = []), ("token" = [])))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<MessageListInput>,
) -> ApiResult<Json<MessagePage>> {
    let page = state.services.list_messages(&user, input).await?;
    Ok(Json(MessagePage {
        messages: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Appends a message (to a new session when it names none). 201 when stored now, 200 when a
/// message with the same `clientId` was stored already (a retry).
#[utoipa::path(post, path = "/api/chat/messages", operation_id = "create_message", tag = "messages", request_body = NewMessageInput,
    responses((status = 201, body = MessageCreated), (status = 200, body = MessageCreated)), security(("session" = []), ("token" = [])))]
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
