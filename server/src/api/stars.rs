//! Starred messages: the star on a message and the Starred view.

use axum::extract::State;
use axum::Json;
use confab_core::api::{MessageEnvelope, PageInput, StarredPage};
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(star, unstar))
        .routes(routes!(starred))
}

/// Stars a message of the user's live conversations and answers it as stored. Idempotent: a
/// message starred already keeps the time of its first star (`starredAt`). 404 when the
/// message is not the user's or its conversation is deleted.
#[utoipa::path(put, path = "/api/chat/messages/{id}/star", operation_id = "star_message", tag = "messages",
    params(("id" = String, Path, description = "The message's id")),
    responses((status = 200, body = MessageEnvelope)), security(("session" = []), ("token" = [])))]
async fn star(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MessageEnvelope>> {
    let message = state.services.set_star(&user, &id, true).await?;
    Ok(Json(MessageEnvelope { message }))
}

/// Takes the star away from a message and answers it as stored. Idempotent: a message without
/// a star stays so. 404 when the message is not the user's or its conversation is deleted.
#[utoipa::path(delete, path = "/api/chat/messages/{id}/star", operation_id = "unstar_message", tag = "messages",
    params(("id" = String, Path, description = "The message's id")),
    responses((status = 200, body = MessageEnvelope)), security(("session" = []), ("token" = [])))]
async fn unstar(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MessageEnvelope>> {
    let message = state.services.set_star(&user, &id, false).await?;
    Ok(Json(MessageEnvelope { message }))
}

/// The Starred view: the user's starred messages across conversations, the most recently
/// starred first, each with its conversation's id and title. `limit` 1 to 200 (default 50);
/// `nextCursor` asks for the next page. A page may hold fewer than `limit` items, even none,
/// with a `nextCursor` (stars in conversations deleted since are left out). 422
/// `invalid_cursor` for a cursor this list did not give.
#[utoipa::path(get, path = "/api/chat/starred", operation_id = "list_starred", tag = "messages", params(PageInput),
    responses((status = 200, body = StarredPage)), security(("session" = []), ("token" = [])))]
async fn starred(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<PageInput>,
) -> ApiResult<Json<StarredPage>> {
    let page = state.services.starred_messages(&user, input).await?;
    Ok(Json(StarredPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
