//! Conversation tags: a tag put on or taken off one conversation, the user's tags, and a tag
//! renamed or deleted on every conversation. A tag in a path is percent-encoded (a space as
//! `%20`, a slash as `%2F`: a tag may hold both).

use axum::extract::State;
use axum::Json;
use confab_core::api::{TagList, TagRenameInput, TaggedCount};
use confab_core::model::Session;
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(tag, untag))
        .routes(routes!(rename, remove))
}

/// The user's tags, each once, in `str` order (by code point; case counts: `Rust` and `rust`
/// are two tags): those on any of their conversations, archived or deleted ones (until
/// purged) included.
#[utoipa::path(get, path = "/api/chat/tags", operation_id = "list_tags", tag = "tags",
    responses((status = 200, body = TagList)), security(("session" = []), ("token" = [])))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<TagList>> {
    let tags = state.services.list_tags(&user).await?;
    Ok(Json(TagList { tags }))
}

/// Puts the tag on the conversation and answers it with its tags. Idempotent. The tag is
/// trimmed with its whitespace collapsed (422 `invalid_tag` when empty, over 64 characters or
/// holding a control character); 422 `too_many_tags` when the conversation holds 32 other
/// tags or the user 1,000 others; 404 when the conversation is not one of the user's live
/// ones.
#[utoipa::path(put, path = "/api/chat/sessions/{id}/tags/{tag}", operation_id = "tag_session", tag = "tags",
    params(("id" = String, Path, description = "The session's id"),
        ("tag" = String, Path, description = "The tag, percent-encoded")),
    responses((status = 200, body = Session)), security(("session" = []), ("token" = [])))]
async fn tag(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((id, tag)): ApiPath<(String, String)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(state.services.tag_session(&user, &id, &tag).await?))
}

/// Takes the tag off the conversation and answers it with its tags. Idempotent: a
/// conversation without the tag is answered as it is. 422 `invalid_tag`; 404 when the
/// conversation is not one of the user's live ones.
#[utoipa::path(delete, path = "/api/chat/sessions/{id}/tags/{tag}", operation_id = "untag_session", tag = "tags",
    params(("id" = String, Path, description = "The session's id"),
        ("tag" = String, Path, description = "The tag, percent-encoded")),
    responses((status = 200, body = Session)), security(("session" = []), ("token" = [])))]
async fn untag(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath((id, tag)): ApiPath<(String, String)>,
) -> ApiResult<Json<Session>> {
    Ok(Json(state.services.untag_session(&user, &id, &tag).await?))
}

/// Renames the tag on every conversation of the user that carries it (deleted ones until
/// purged too), once on a conversation that carries both names; answers how many carried it.
/// 422 `invalid_tag` for either name; 404 when no conversation of the user carries it.
#[utoipa::path(patch, path = "/api/chat/tags/{tag}", operation_id = "rename_tag", tag = "tags",
    params(("tag" = String, Path, description = "The tag, percent-encoded")),
    request_body = TagRenameInput,
    responses((status = 200, body = TaggedCount)), security(("session" = []), ("token" = [])))]
async fn rename(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(tag): ApiPath<String>,
    ApiJson(input): ApiJson<TagRenameInput>,
) -> ApiResult<Json<TaggedCount>> {
    let sessions = state.services.rename_tag(&user, &tag, &input.name).await?;
    Ok(Json(TaggedCount { sessions }))
}

/// Takes the tag off every conversation of the user (deleted ones until purged too); answers
/// how many carried it. 422 `invalid_tag`; 404 when none did.
#[utoipa::path(delete, path = "/api/chat/tags/{tag}", operation_id = "delete_tag", tag = "tags",
    params(("tag" = String, Path, description = "The tag, percent-encoded")),
    responses((status = 200, body = TaggedCount)), security(("session" = []), ("token" = [])))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(tag): ApiPath<String>,
) -> ApiResult<Json<TaggedCount>> {
    let sessions = state.services.delete_tag(&user, &tag).await?;
    Ok(Json(TaggedCount { sessions }))
}
