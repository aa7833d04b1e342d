//! Chatting with a model over Server-Sent Events, regenerating, branches, and the model list.

use std::convert::Infallible;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_core::api::{
    BranchInput, ChatInput, RegenerateInput, SaveReplyInput, SwitchBranchInput,
};
use confab_core::chat_stream::ChatEvent;
use confab_core::model::BranchPage;
use confab_core::model::MAX_STORED_CONTENT_BYTES;
use confab_http::CurrentUser;
use serde_json::json;
use tokio::sync::mpsc;

use crate::http::{event_stream, ApiJson, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat", post(chat))
        .route("/api/chat/regenerate", post(regenerate))
        .route(
            "/api/chat/sessions/{id}/branch",
            get(branch).post(switch_branch),
        )
        .route("/api/chat/messages/{id}/siblings", get(siblings))
        .route("/api/chat/messages/{id}/stop", post(stop))
        // A reply may hold up to MAX_STORED_CONTENT_BYTES, escaped in JSON (each byte at most
        // twice for text, more only for control characters).
        .route(
            "/api/chat/messages/{id}/save",
            post(save_again).layer(DefaultBodyLimit::max(
                2 * MAX_STORED_CONTENT_BYTES + 64 * 1024,
            )),
        )
        .route("/api/models", get(models))
}

/// One SSE event per `ChatEvent`, in the encoding its readers decode (`confab_core::chat_stream`).
fn sse_event(event: ChatEvent) -> Event {
    let (name, data) = event.encode();
    Event::default().event(name).data(data)
}

/// The chat events as a server-sent event stream that proxies do not hold back.
fn into_sse(receiver: mpsc::Receiver<ChatEvent>) -> impl IntoResponse {
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|event| (Ok::<_, Infallible>(sse_event(event)), receiver))
    });
    event_stream::unbuffered(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<ChatInput>,
) -> ApiResult<impl IntoResponse> {
    let receiver = state.services.chat(&user, input).await?;
    Ok(into_sse(receiver))
}

async fn regenerate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<RegenerateInput>,
) -> ApiResult<impl IntoResponse> {
    let receiver = state.services.regenerate(&user, input).await?;
    Ok(into_sse(receiver))
}

/// `POST /api/chat/messages/{id}/stop`: stops a reply that is streaming and answers the reply
/// as saved (`partial`, reason `stopped`); a reply that already ended is answered as it is.
async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let message = state.services.stop_reply(&user, &id).await?;
    Ok(Json(json!({ "message": message })))
}

/// `POST /api/chat/messages/{id}/save`: saves a reply whose own save failed into the same
/// stored reply, with the text and status of its error event (`text`, `unsaved`); answers
/// `{message}` as saved. 409 when the reply has been saved already.
async fn save_again(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SaveReplyInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let message = state.services.save_reply_again(&user, &id, input).await?;
    Ok(Json(json!({ "message": message })))
}

/// `GET /api/chat/sessions/{id}/branch?limit=&before=&after=&around=&type=`: a page of the
/// active branch, root side first: `{session, messages, earlier, later}`, each message with
/// its `siblings` place (see `service::branch`).
async fn branch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    ApiQuery(input): ApiQuery<BranchInput>,
) -> ApiResult<Json<BranchPage>> {
    Ok(Json(state.services.branch_page(&user, &id, input).await?))
}

/// `POST /api/chat/sessions/{id}/branch` with `{messageId, limit?}`: the branch through the
/// message becomes the active one (down its newest children); answers the page around it.
async fn switch_branch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SwitchBranchInput>,
) -> ApiResult<Json<BranchPage>> {
    Ok(Json(state.services.switch_branch(&user, &id, input).await?))
}

async fn siblings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let messages = state.services.siblings(&user, &id).await?;
    Ok(Json(json!({ "messages": messages })))
}

/// The models the providers offer; a provider that is down is named with what failed.
async fn models(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> Json<serde_json::Value> {
    let list = state.services.providers().models().await;
    Json(json!({ "models": list.models, "errors": list.errors }))
}
