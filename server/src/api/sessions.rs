//! Chat sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{
    ForkInput, NewSessionInput, SessionListInput, SessionPage, SessionPatchInput,
    SessionsBulkInput, SessionsBulkResult,
};
use confab_core::model::{Session, SessionDetail};
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiQuery, ApiResult, OptionalJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(clear))
        .routes(routes!(restore))
        .routes(routes!(bulk))
        .routes(routes!(fork))
}

/// One action (archive, unarchive, pin, unpin, delete, restore, tag, untag) on up to 1,000 of
/// the user's conversations, in one request and one write: 200 with the ids it applied to and
/// those it skipped (not the user's, deleted, not restorable, holding 32 other tags for `tag`,
/// without the tag for `untag`); 422 `invalid_ids` for no ids or more than 1,000,
/// `invalid_tag` for `tag`/`untag` without a valid `tag` or a `tag` with another action,
/// `too_many_tags` for a tag that would be the user's 1,001st.
#[utoipa::path(post, path = "/api/chat/sessions/bulk", operation_id = "bulk_sessions", tag = "sessions",
    request_body = SessionsBulkInput,
    responses((status = 200, body = SessionsBulkResult)), security(("session" = []), ("token" = [])))]
async fn bulk(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<SessionsBulkInput>,
) -> ApiResult<Json<SessionsBulkResult>> {
    Ok(Json(state.services.change_sessions(&user, input).await?))
}

/// The user's sessions, pinned first, then by last activity, newest first; with `tag`, only
/// those carrying it (422 `invalid_tag` for a text that is not a tag).
#[utoipa::path(get, path = "/api/chat/sessions", operation_id = "list_sessions", tag = "sessions", params(SessionListInput),
    responses((status = 200, body = SessionPage)), security(("session" = []), ("token" = [])))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<SessionListInput>,
) -> ApiResult<Json<SessionPage>> {
    let page = state.services.list_sessions(&user, input).await?;
    Ok(Json(SessionPage {
        sessions: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Starts an empty session (the body and its title are optional).
#[utoipa::path(post, path = "/api/chat/sessions", operation_id = "create_session", tag = "sessions",
    request_body(content = Option<NewSessionInput>),
    responses((status = 201, body = Session)), security(("session" = []), ("token" = [])))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    OptionalJson(input): OptionalJson<NewSessionInput>,
) -> ApiResult<impl IntoResponse> {
    let session = state
        .services
        .create_session_in(&user, input.title.as_deref(), input.folder_id.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[utoipa::path(get, path = "/api/chat/sessions/{id}", operation_id = "get_session", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 200, body = SessionDetail)), security(("session" = []), ("token" = [])))]
async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.services.get_session(&user, &id).await?))
}

/// Renames, pins, archives the session or switches its active branch.
#[utoipa::path(put, path = "/api/chat/sessions/{id}", operation_id = "update_session", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    request_body = SessionPatchInput,
    responses((status = 200, body = Session)), security(("session" = []), ("token" = [])))]
async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SessionPatchInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state.services.update_session(&user, &id, input).await?,
    ))
}

/// Deletes the session with its messages; `restore` undoes it within the retention time.
#[utoipa::path(delete, path = "/api/chat/sessions/{id}", operation_id = "delete_session", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 204, description = "Deleted")), security(("session" = []), ("token" = [])))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_session(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undoes a delete within the retention time: 200 with the session as it was, 404 when it
/// is not a deleted session that can still be restored.
#[utoipa::path(post, path = "/api/chat/sessions/{id}/restore", operation_id = "restore_session", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 200, body = Session)), security(("session" = []), ("token" = [])))]
async fn restore(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.services.restore_session(&user, &id).await?))
}

/// Deletes every message of the session and keeps the session.
#[utoipa::path(delete, path = "/api/chat/sessions/{id}/messages", operation_id = "clear_session", tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses((status = 204, description = "Cleared")), security(("session" = []), ("token" = [])))]
async fn clear(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.clear_session(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Continue in a new conversation": a new session holding a copy of the path from the root
/// to `messageId` (new ids; the message its active leaf), titled as the source and linked to
/// it (`forkedFrom`). 201 with the new session; 404 when the session or the message is not
/// the user's; 422 `message_not_in_session` for a message of another of the user's sessions,
/// 422 `fork_too_long` for a path over 20,000 messages or 64 MiB of text; 409 while a reply of
/// the path is still being written.
#[utoipa::path(post, path = "/api/chat/sessions/{id}/fork", operation_id = "fork_session", tag = "sessions",
    params(("id" = String, Path, description = "The source session's id")),
    request_body = ForkInput,
    responses((status = 201, body = Session)), security(("session" = []), ("token" = [])))]
async fn fork(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ForkInput>,
) -> ApiResult<impl IntoResponse> {
    let session = state.services.fork_session(&user, &id, input).await?;
    Ok((StatusCode::CREATED, Json(session)))
}
