//! Chatting with a model over Server-Sent Events, regenerating, branches, and the model list.

use std::convert::Infallible;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{
    BranchInput, ChatInput, MessageEnvelope, MessageList, ModelChoices, RegenerateInput,
    SaveReplyInput, SwitchBranchInput,
};
use confab_core::chat_stream::ChatEvent;
use confab_core::model::BranchPage;
use confab_core::model::MAX_STORED_CONTENT_BYTES;
use confab_http::CurrentUser;
use tokio::sync::mpsc;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::http::{event_stream, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat))
        .routes(routes!(regenerate))
        .routes(routes!(branch, switch_branch))
        .routes(routes!(siblings))
        .routes(routes!(stop))
        // A reply may hold up to MAX_STORED_CONTENT_BYTES, escaped in JSON (each byte at most
        // twice for text, more only for control characters).
        .routes(routes!(save_again).layer(DefaultBodyLimit::max(
            2 * MAX_STORED_CONTENT_BYTES + 64 * 1024,
        )))
        .routes(routes!(models))
}

/// One event of a chat stream as it travels: its name and its data, a JSON object (the
/// fields of `confab_core::chat_stream::ChatEvent`'s variant of that name). `message`: the
/// user's message as saved, with its session; `reply`: the reply as first saved; `delta`: the
/// next piece of text; `done`: the reply as finally saved; `error`: why it ended, with what
/// was saved. Documents the wire form, which `ChatEvent::encode` writes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ChatStreamEvent {
    event: ChatEventName,
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// The names of a chat stream's events.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
enum ChatEventName {
    Message,
    Reply,
    Delta,
    Done,
    Error,
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

/// Saves the user's message and streams the model's reply, which is saved as it arrives.
#[utoipa::path(post, path = "/api/chat", tag = "chat", request_body = ChatInput,
    responses((status = 200, content_type = "text/event-stream", body = ChatStreamEvent, description = "Server-sent events, one per `ChatStreamEvent`")), security(("session" = []), ("token" = [])))]
async fn chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<ChatInput>,
) -> ApiResult<impl IntoResponse> {
    let receiver = state.services.chat(&user, input).await?;
    Ok(into_sse(receiver))
}

/// Asks the model for another reply to the same user message (a sibling of the old one).
#[utoipa::path(post, path = "/api/chat/regenerate", tag = "chat", request_body = RegenerateInput,
    responses((status = 200, content_type = "text/event-stream", body = ChatStreamEvent, description = "Server-sent events, one per `ChatStreamEvent`")), security(("session" = []), ("token" = [])))]
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
#[utoipa::path(post, path = "/api/chat/messages/{id}/stop", tag = "chat",
    params(("id" = String, Path, description = "The reply's id")),
    responses((status = 200, body = MessageEnvelope)), security(("session" = []), ("token" = [])))]
async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MessageEnvelope>> {
    let message = state.services.stop_reply(&user, &id).await?;
    Ok(Json(MessageEnvelope { message }))
}

/// `POST /api/chat/messages/{id}/save`: saves a reply whose own save failed into the same
/// stored reply, with the text and status of its error event (`text`, `unsaved`); answers
/// `{message}` as saved. 409 when the reply has been saved already.
#[utoipa::path(post, path = "/api/chat/messages/{id}/save", tag = "chat",
    params(("id" = String, Path, description = "The reply's id")), request_body = SaveReplyInput,
    responses((status = 200, body = MessageEnvelope)), security(("session" = []), ("token" = [])))]
async fn save_again(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SaveReplyInput>,
) -> ApiResult<Json<MessageEnvelope>> {
    let message = state.services.save_reply_again(&user, &id, input).await?;
    Ok(Json(MessageEnvelope { message }))
}

/// `GET /api/chat/sessions/{id}/branch?limit=&before=&after=&around=&type=`: a page of the
/// active branch, root side first: `{session, messages, earlier, later}`, each message with
/// its `siblings` place (see `service::branch`).
#[utoipa::path(get, path = "/api/chat/sessions/{id}/branch", tag = "chat",
    params(("id" = String, Path, description = "The session's id"), BranchInput),
    responses((status = 200, body = BranchPage)), security(("session" = []), ("token" = [])))]
async fn branch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(input): ApiQuery<BranchInput>,
) -> ApiResult<Json<BranchPage>> {
    Ok(Json(state.services.branch_page(&user, &id, input).await?))
}

/// `POST /api/chat/sessions/{id}/branch` with `{messageId, limit?}`: the branch through the
/// message becomes the active one (down its newest children); answers the page around it.
#[utoipa::path(post, path = "/api/chat/sessions/{id}/branch", tag = "chat",
    params(("id" = String, Path, description = "The session's id")),
    request_body = SwitchBranchInput,
    responses((status = 200, body = BranchPage)), security(("session" = []), ("token" = [])))]
async fn switch_branch(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SwitchBranchInput>,
) -> ApiResult<Json<BranchPage>> {
    Ok(Json(state.services.switch_branch(&user, &id, input).await?))
}

/// The message and its siblings (the other answers to the same parent), oldest first.
#[utoipa::path(get, path = "/api/chat/messages/{id}/siblings", tag = "chat",
    params(("id" = String, Path, description = "The message's id")),
    responses((status = 200, body = MessageList)), security(("session" = []), ("token" = [])))]
async fn siblings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MessageList>> {
    let messages = state.services.siblings(&user, &id).await?;
    Ok(Json(MessageList { messages }))
}

/// The models the providers offer; a provider that is down is named with what failed.
#[utoipa::path(get, path = "/api/models", operation_id = "list_models", tag = "chat",
    responses((status = 200, body = ModelChoices)), security(("session" = []), ("token" = [])))]
async fn models(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> Json<ModelChoices> {
    Json(state.services.providers().models().await)
}

#[cfg(test)]
mod tests {
    use confab_core::chat_stream::ChatEvent;

    /// The document's event names are `ChatEvent`'s, which `encode` writes: a variant added
    /// there and not here (or renamed) fails this test.
    #[test]
    fn the_documented_event_names_are_the_chat_events() {
        // serde names every variant it knows when it meets one it does not.
        let unknown = serde_json::json!({ "event": "?", "data": {} });
        let error = serde_json::from_value::<ChatEvent>(unknown)
            .expect_err("no such event")
            .to_string();
        let known = error
            .split_once("expected one of ")
            .map(|(_, names)| names.replace('`', ""))
            .unwrap_or(error);
        let document = serde_json::to_value(crate::api::openapi()).expect("JSON");
        let documented: Vec<String> = serde_json::from_value(
            document["components"]["schemas"]["ChatEventName"]["enum"].clone(),
        )
        .expect("the event names");
        assert_eq!(documented.join(", "), known);
    }
}
