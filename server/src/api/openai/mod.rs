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
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{event_stream, ApiJson, ApiResult};
use crate::state::AppState;

mod wire;

pub use wire::*;

pub const SESSION_HEADER: &str = "x-confab-session";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(completions))
        .routes(routes!(models))
}

/// OpenAI's error shape, which its SDKs parse: `type` is `server_error` for a 5xx (the
/// provider failed), else `invalid_request_error`.
fn openai_error(status: StatusCode, code: &str, message: &str) -> Response {
    let kind = match status.is_server_error() {
        true => "server_error",
        false => "invalid_request_error",
    };
    (status, Json(OpenAiErrorBody::new(kind, code, message))).into_response()
}

/// The largest error body rewritten: Confab's are a code and a sentence.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Middleware: every `/v1` error in OpenAI's shape, also those answered in Confab's by the
/// shared extractors (no sign-in 401, a body refused 400/413/415/422) and by the layers in
/// front of the routes (a cross-site write refused 403): an SDK reads only OpenAI's. The
/// status, its headers (`Retry-After`) and the code and sentence are kept.
pub async fn in_openai_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let openai = request.uri().path().starts_with("/v1/");
    let response = next.run(request).await;
    let status = response.status();
    if !openai {
        return response;
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "an error answer of /v1 could not be read");
            return openai_error(status, "internal", "internal error");
        }
    };
    let detail = match serde_json::from_slice::<confab_core::api::ErrorBody>(&bytes) {
        Ok(confab_core::api::ErrorBody { error }) => error,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let rewritten = openai_error(status, &detail.code, &detail.message);
    parts.headers.extend(rewritten.headers().clone());
    Response::from_parts(parts, rewritten.into_body())
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
/// `{"error": {"message", "type", "code"}}` (`in_openai_shape`).
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "openai_chat_completions", tag = "openai",
    request_body(content = Object, description = "OpenAI's chat completion request"),
    params(("x-confab-session" = Option<String>, Header, description = "The session to continue")),
    responses((status = 200, description = "A chat completion, or with `stream` its chunks as server-sent events (`data:` a chunk, an error body, or `[DONE]`)",
        content((ChatCompletion = "application/json"), (ChatCompletionChunk = "text/event-stream"))),
        (status = 502, body = OpenAiErrorBody, description = "The provider failed or did not answer in time")),
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

/// One `data:` event of a completion stream.
fn data_event(body: &impl serde::Serialize) -> Result<Event, Infallible> {
    // Serialising these plain structs cannot fail; an empty event would be skipped by clients.
    Ok(Event::default().data(serde_json::to_string(body).unwrap_or_default()))
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
            let delta =
                |delta, finish| data_event(&ChatCompletionChunk::delta(&id, &model, delta, finish));
            let events = match receiver.recv().await {
                None => return None,
                Some(ChatEvent::Message { .. }) => vec![delta(
                    Delta {
                        role: Some("assistant"),
                        content: Some(String::new()),
                    },
                    None,
                )],
                Some(ChatEvent::Reply { .. }) => Vec::new(),
                Some(ChatEvent::Delta { text }) => vec![delta(
                    Delta {
                        role: None,
                        content: Some(text),
                    },
                    None,
                )],
                Some(ChatEvent::Done { message }) => {
                    let mut events = vec![delta(Delta::default(), Some("stop"))];
                    if include_usage {
                        let usage = Usage::new(message.prompt_tokens, message.completion_tokens);
                        events.push(data_event(&ChatCompletionChunk::usage(&id, &model, usage)));
                    }
                    events.push(Ok(Event::default().data("[DONE]")));
                    return Some((futures::stream::iter(events), (receiver, true)));
                }
                Some(ChatEvent::Error { error, .. }) => {
                    let body = OpenAiErrorBody::new("server_error", &error.code, &error.message);
                    return Some((
                        futures::stream::iter(vec![data_event(&body)]),
                        (receiver, true),
                    ));
                }
            };
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
                return Json(ChatCompletion {
                    id: format!("chatcmpl-{}", message.id),
                    object: "chat.completion",
                    created: message.created_at.timestamp(),
                    model,
                    choices: vec![CompletionChoice {
                        index: 0,
                        message: AssistantMessage {
                            role: "assistant",
                            content: message.content,
                        },
                        finish_reason: "stop",
                    }],
                    usage: Usage::new(message.prompt_tokens, message.completion_tokens),
                })
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
    responses((status = 200, body = ModelObjectList)),
    security(("session" = []), ("token" = [])))]
async fn models(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> ApiResult<Json<ModelObjectList>> {
    let list = state.services.providers().models().await;
    let data = list
        .models
        .into_iter()
        .map(|model| ModelObject {
            id: model.id,
            object: "model",
            created: 0,
            owned_by: model.provider,
        })
        .collect();
    Ok(Json(ModelObjectList {
        object: "list",
        data,
    }))
}
