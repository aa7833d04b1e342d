//! The bodies `/v1` answers with, in the shapes OpenAI documents for its chat completions
//! (`https://platform.openai.com/docs/api-reference/chat/object` and `.../chat/streaming`),
//! its model list (`.../models/list`) and its errors (`.../making-requests`), so that any
//! OpenAI SDK reads them unchanged. Only the fields Confab fills are declared; an absent
//! optional field is left out rather than sent as `null`, as OpenAI does, except the chunk's
//! `finish_reason`, which OpenAI sends as `null` until the last chunk.

use serde::Serialize;

/// `{"error": {"message", "type", "code"}}`: the error body OpenAI's SDKs parse.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiError,
}

/// One error: a sentence for people, its kind, and Confab's machine-readable code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenAiError {
    pub message: String,
    /// `invalid_request_error` for an answer before the reply, `server_error` for a failure
    /// while a reply streams (OpenAI's two kinds that fit).
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
}

impl OpenAiErrorBody {
    pub fn new(kind: &str, code: &str, message: &str) -> Self {
        OpenAiErrorBody {
            error: OpenAiError {
                message: message.to_owned(),
                kind: kind.to_owned(),
                code: code.to_owned(),
            },
        }
    }
}

/// A whole chat completion (`object: "chat.completion"`), the answer without `stream`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-` and the id of the stored reply.
    pub id: String,
    pub object: &'static str,
    /// When the reply was stored, in seconds since the Unix epoch.
    pub created: i64,
    pub model: String,
    pub choices: Vec<CompletionChoice>,
    pub usage: Usage,
}

/// The one choice of a completion: Confab asks for one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompletionChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: &'static str,
}

/// The reply: its role is always `assistant`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssistantMessage {
    pub role: &'static str,
    pub content: String,
}

/// Tokens the provider counted; 0 where it did not say.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl Usage {
    pub fn new(prompt: Option<i64>, completion: Option<i64>) -> Self {
        let (prompt_tokens, completion_tokens) = (prompt.unwrap_or(0), completion.unwrap_or(0));
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}

/// One server-sent event of a streamed completion (`object: "chat.completion.chunk"`): a delta
/// in its one choice, or, last when `stream_options.include_usage` asked for it, no choice
/// and the usage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatCompletionChunk {
    /// The same for every chunk of one completion.
    pub id: String,
    pub object: &'static str,
    /// Seconds since the Unix epoch.
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// The delta of the one choice; `finish_reason` is `null` until the last, empty delta.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<&'static str>,
}

/// What the chunk adds: the role once, first, then text.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl ChatCompletionChunk {
    /// A chunk whose one choice carries `delta`, stamped now.
    pub fn delta(id: &str, model: &str, delta: Delta, finish_reason: Option<&'static str>) -> Self {
        ChatCompletionChunk {
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
            }],
            ..ChatCompletionChunk::empty(id, model)
        }
    }

    /// The last chunk when usage was asked for: no choice, only the counts.
    pub fn usage(id: &str, model: &str, usage: Usage) -> Self {
        ChatCompletionChunk {
            usage: Some(usage),
            ..ChatCompletionChunk::empty(id, model)
        }
    }

    fn empty(id: &str, model: &str) -> Self {
        ChatCompletionChunk {
            id: id.to_owned(),
            object: "chat.completion.chunk",
            created: chrono::Utc::now().timestamp(),
            model: model.to_owned(),
            choices: Vec::new(),
            usage: None,
        }
    }
}

/// `{"object": "list", "data": [...]}`: the models a request may name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelObjectList {
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

/// One model: its id as requests name it (with Confab's provider prefix), and the provider
/// that serves it as `owned_by`. `created` is 0: providers do not all say.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelObject {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
}
