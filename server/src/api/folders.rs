//! Conversation folders: the user's folders (with their exact conversation counts), and a
//! folder created, renamed, moved, given defaults, or deleted with or without its contents.
//! A conversation is put in a folder by the bulk action `move`, or started in one
//! (`POST /api/chat/sessions` and `POST /api/chat` with `folderId`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{
    FolderDeleteInput, FolderDeleted, FolderList, FolderPatchInput, NewFolderInput,
};
use confab_core::model::Folder;
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, remove))
}

/// Every folder of the user's (at most 1,000): parents before their children, siblings by
/// name then id, each with `sessionCount`, the live, not archived conversations directly in
/// it.
#[utoipa::path(get, path = "/api/chat/folders", operation_id = "list_folders", tag = "folders",
    responses((status = 200, body = FolderList)), security(("session" = []), ("token" = [])))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> ApiResult<Json<FolderList>> {
    let folders = state.services.list_folders(&user).await?;
    Ok(Json(FolderList { folders }))
}

/// Creates a folder at the top level or in `parentId`. 422 `invalid_folder` (the name empty,
/// over 128 characters or holding a control character; a system prompt over 32,768 or a model
/// over 256 characters), `folder_too_deep` (past 8 levels), `too_many_folders` (past 1,000);
/// 404 when the parent is not one of the user's folders.
#[utoipa::path(post, path = "/api/chat/folders", operation_id = "create_folder", tag = "folders",
    request_body = NewFolderInput,
    responses((status = 201, body = Folder)), security(("session" = []), ("token" = [])))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<NewFolderInput>,
) -> ApiResult<impl IntoResponse> {
    let folder = state.services.create_folder(&user, input).await?;
    Ok((StatusCode::CREATED, Json(folder)))
}

/// Renames a folder, moves it (`parentId`: another folder, or null for the top level), sets or
/// clears (null or empty) its system prompt and model. 409 `folder_cycle` for a move into
/// itself or one of its subfolders; 422 as for creating; 404 when it or the new parent is not
/// the user's.
#[utoipa::path(patch, path = "/api/chat/folders/{id}", operation_id = "update_folder", tag = "folders",
    params(("id" = String, Path, description = "The folder's id")),
    request_body = FolderPatchInput,
    responses((status = 200, body = Folder)), security(("session" = []), ("token" = [])))]
async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<FolderPatchInput>,
) -> ApiResult<Json<Folder>> {
    Ok(Json(state.services.update_folder(&user, &id, input).await?))
}

/// Deletes a folder. `contents=keep` (the default) moves its conversations and subfolders to
/// its parent (the top level for a top-level folder); `contents=delete` moves every
/// conversation of its whole subtree to the trash (restorable as any deleted conversation, to
/// the top level) and removes its subfolders. Answers how many conversations moved or went to
/// the trash. 404 when it is not one of the user's folders.
#[utoipa::path(delete, path = "/api/chat/folders/{id}", operation_id = "delete_folder", tag = "folders",
    params(("id" = String, Path, description = "The folder's id"), FolderDeleteInput),
    responses((status = 200, body = FolderDeleted)), security(("session" = []), ("token" = [])))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(input): ApiQuery<FolderDeleteInput>,
) -> ApiResult<Json<FolderDeleted>> {
    let sessions = state
        .services
        .delete_folder(&user, &id, input.contents)
        .await?;
    Ok(Json(FolderDeleted { sessions }))
}
