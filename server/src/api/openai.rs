//! An OpenAI-compatible endpoint that records: any OpenAI SDK pointed at Confab's `/v1` with a
//! Confab API token works unchanged, and its conversations appear in Confab. The request goes
//! to the configured provider; the exchange is saved as a session (continued when the request
//! names one with `X-Confab-Session` or `metadata.session_id`).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::chat_stream::ChatEvent;
use confab_core::model::Role;
use confab_core::provider::ChatTurn;
use confab_core::service::recorder::RequestIdentity;
use confab_http::CurrentUser;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{event_stream, ApiJson, ApiResult};
use crate::state::AppState;

pub const SESSION_HEADER: &str = "x-confab-session";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(completions))
        .routes(routes!(models))
}

/// OpenAI's error shape, which its SDKs parse.
fn openai_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "message": message, "type": "invalid_request_error", "code": code } }))).into_response()
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        // Content parts: keep the text ones.
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn turns_of(request: &Value) -> Result<Vec<ChatTurn>, Box<Response>> {
    let messages = request["messages"].as_array().ok_or_else(|| {
        Box::new(openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_messages",
            "messages must be an array",
        ))
    })?;
    messages
        .iter()
        .map(|message| {
            let role = message["role"].as_str().unwrap_or_default();
            let role = match role {
                "developer" => Role::System,
                other => Role::parse(other).ok_or_else(|| {
                    Box::new(openai_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_role",
                        &format!("unknown role {other:?}"),
                    ))
                })?,
            };
            Ok(ChatTurn {
                role,
                content: text_of(&message["content"]),
            })
        })
        .collect()
}

/// OpenAI's chat completions (`https://platform.openai.com/docs/api-reference/chat`), sent
/// to the configured provider and recorded as a Confab session. Errors take OpenAI's shape,
/// `{"error": {"message", "type", "code"}}`.
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "openai_chat_completions", tag = "openai",
    request_body(content = Object, description = "OpenAI's chat completion request"),
    params(("x-confab-session" = Option<String>, Header, description = "The session to continue")),
    responses((status = 200, description = "A chat completion, or with `stream` its chunks as server-sent events",
        content((Object = "application/json"), (String = "text/event-stream"))),
        (status = 502, body = Object, description = "The provider failed or did not answer in time")),
    security(("session" = []), ("token" = [])))]
async fn completions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    ApiJson(request): ApiJson<Value>,
) -> Response {
    let turns = match turns_of(&request) {
        Ok(turns) => turns,
        Err(response) => return *response,
    };
    let session_id = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request["metadata"]["session_id"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty());
    let stream = request["stream"].as_bool().unwrap_or(false);
    let include_usage = request["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    // A retry of this request (an SDK retries 5xx answers and dropped connections) must store
    // nothing twice: it is named by its Idempotency-Key, or else by its credentials and body.
    let identity = match headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.trim().is_empty())
    {
        Some(key) => RequestIdentity::IdempotencyKey(key.to_owned()),
        None => {
            let mut content = headers
                .get(axum::http::header::AUTHORIZATION)
                .map(|value| value.as_bytes().to_vec())
                .unwrap_or_default();
            content.push(0);
            content.extend_from_slice(request.to_string().as_bytes());
            RequestIdentity::Content(content)
        }
    };
    let recorded = match state
        .services
        .record_completion(
            &user,
            session_id,
            request["model"].as_str(),
            turns,
            identity,
        )
        .await
    {
        Ok(recorded) => recorded,
        Err(error) => {
            // Logged when internal, and then told as "internal error", as on every endpoint.
            let detail = confab_http::error::public_error(&error);
            return openai_error(
                confab_http::error::status_of(&error),
                &detail.code,
                &detail.message,
            );
        }
    };
    let session_header = HeaderValue::from_str(&recorded.session.id).ok();
    let model = recorded.model.clone();
    let mut response = if stream {
        event_stream::unbuffered(streamed(recorded.events, model, include_usage)).into_response()
    } else {
        collected(recorded.events, model).await
    };
    if let Some(value) = session_header {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

fn chunk(id: &str, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": id, "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(), "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    })
}

fn streamed(
    receiver: tokio::sync::mpsc::Receiver<ChatEvent>,
    model: String,
    include_usage: bool,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let id = format!("chatcmpl-{}", confab_core::ids::new_id());
    let stream = futures::stream::unfold((receiver, false), move |(mut receiver, finished)| {
        let (id, model) = (id.clone(), model.clone());
        async move {
            if finished {
                return None;
            }
            let events: Vec<Value> = match receiver.recv().await {
                None => return None,
                Some(ChatEvent::Message { .. }) => vec![chunk(
                    &id,
                    &model,
                    json!({ "role": "assistant", "content": "" }),
                    None,
                )],
                Some(ChatEvent::Reply { .. }) => Vec::new(),
                Some(ChatEvent::Delta { text }) => {
                    vec![chunk(&id, &model, json!({ "content": text }), None)]
                }
                Some(ChatEvent::Done { message }) => {
                    let mut events = vec![chunk(&id, &model, json!({}), Some("stop"))];
                    if include_usage {
                        let (prompt, completion) = (
                            message.prompt_tokens.unwrap_or(0),
                            message.completion_tokens.unwrap_or(0),
                        );
                        events.push(json!({
                            "id": id, "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(), "model": model,
                            "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion }
                        }));
                    }
                    let mut events: Vec<Result<Event, Infallible>> = events
                        .into_iter()
                        .map(|event| Ok(Event::default().data(event.to_string())))
                        .collect();
                    events.push(Ok(Event::default().data("[DONE]")));
                    return Some((futures::stream::iter(events), (receiver, true)));
                }
                Some(ChatEvent::Error { error, .. }) => {
                    let event = Event::default().data(json!({ "error": { "message": error.message, "type": "server_error", "code": error.code } }).to_string());
                    return Some((futures::stream::iter(vec![Ok(event)]), (receiver, true)));
                }
            };
            let events: Vec<Result<Event, Infallible>> = events
                .into_iter()
                .map(|event| Ok(Event::default().data(event.to_string())))
                .collect();
            Some((futures::stream::iter(events), (receiver, false)))
        }
    });
    Sse::new(futures::StreamExt::flatten(stream))
}

async fn collected(
    mut receiver: tokio::sync::mpsc::Receiver<ChatEvent>,
    model: String,
) -> Response {
    while let Some(event) = receiver.recv().await {
        match event {
            ChatEvent::Done { message } => {
                let (prompt, completion) = (
                    message.prompt_tokens.unwrap_or(0),
                    message.completion_tokens.unwrap_or(0),
                );
                return Json(json!({
                    "id": format!("chatcmpl-{}", message.id), "object": "chat.completion",
                    "created": message.created_at.timestamp(), "model": model,
                    "choices": [{ "index": 0, "message": { "role": "assistant", "content": message.content }, "finish_reason": "stop" }],
                    "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion }
                }))
                .into_response();
            }
            ChatEvent::Error { error, .. } => {
                return openai_error(StatusCode::BAD_GATEWAY, &error.code, &error.message)
            }
            ChatEvent::Message { .. } | ChatEvent::Reply { .. } | ChatEvent::Delta { .. } => {}
        }
    }
    openai_error(
        StatusCode::BAD_GATEWAY,
        "no_reply",
        "the reply ended without an answer",
    )
}

/// The provider's models, in OpenAI's list shape.
#[utoipa::path(get, path = "/v1/models", operation_id = "openai_list_models", tag = "openai",
    responses((status = 200, body = Object, description = "`{object: list, data: [{id, object, created, owned_by}]}`")),
    security(("session" = []), ("token" = [])))]
async fn models(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> ApiResult<Json<Value>> {
    let list = state.services.providers().models().await;
    let data: Vec<Value> = list
        .models
        .iter()
        .map(|model| json!({ "id": model.id, "object": "model", "created": 0, "owned_by": model.provider }))
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}
