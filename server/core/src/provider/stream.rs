//! Streaming a reply from a provider, reduced to what Confab needs: text deltas and usage.

use std::pin::Pin;

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    ChatCompletionStreamOptions, CreateChatCompletionRequestArgs,
};
use futures::{Stream, StreamExt};

use super::{Provider, ProviderError, CONNECT_TIMEOUT};
use crate::model::Role;

/// One message of the context sent to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyEvent {
    Delta(String),
    Usage {
        prompt_tokens: i64,
        completion_tokens: i64,
    },
}

pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<ReplyEvent, ProviderError>> + Send>>;

pub(super) fn classify(url: &str, error: OpenAIError) -> ProviderError {
    let url = url.to_owned();
    match error {
        OpenAIError::Reqwest(error)
            if error.is_connect() || error.is_timeout() || error.is_request() =>
        {
            ProviderError::Unreachable {
                url,
                detail: error.to_string(),
            }
        }
        OpenAIError::ApiError(error) => ProviderError::Upstream {
            url,
            detail: error.to_string(),
        },
        OpenAIError::StreamError(error) => ProviderError::Interrupted {
            url,
            detail: error.to_string(),
        },
        other => ProviderError::Upstream {
            url,
            detail: other.to_string(),
        },
    }
}

fn to_request_message(turn: &ChatTurn) -> Result<ChatCompletionRequestMessage, OpenAIError> {
    Ok(match turn.role {
        Role::System => ChatCompletionRequestSystemMessageArgs::default()
            .content(turn.content.as_str())
            .build()?
            .into(),
        Role::Assistant => ChatCompletionRequestAssistantMessageArgs::default()
            .content(turn.content.as_str())
            .build()?
            .into(),
        // Tool results without their call cannot be sent as tool messages; as user text the
        // model still sees them.
        Role::User | Role::Tool => ChatCompletionRequestUserMessageArgs::default()
            .content(turn.content.as_str())
            .build()?
            .into(),
    })
}

impl Provider {
    /// Starts a streamed reply. Fails fast when the provider cannot be reached or refuses.
    pub async fn stream_reply(
        &self,
        model: &str,
        turns: &[ChatTurn],
    ) -> Result<ReplyStream, ProviderError> {
        let url = self.settings.base_url.clone();
        let messages = turns
            .iter()
            .map(to_request_message)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| classify(&url, error))?;
        let request = CreateChatCompletionRequestArgs::default()
            .model(model)
            .messages(messages)
            .stream_options(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            })
            .build()
            .map_err(|error| classify(&url, error))?;
        let started =
            tokio::time::timeout(CONNECT_TIMEOUT, self.client().chat().create_stream(request))
                .await;
        let stream = match started {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(classify(&url, error)),
            Err(_) => {
                return Err(ProviderError::Unreachable {
                    url,
                    detail: format!("no answer within {} seconds", CONNECT_TIMEOUT.as_secs()),
                })
            }
        };
        let events = stream.flat_map(move |chunk| {
            let events: Vec<Result<ReplyEvent, ProviderError>> = match chunk {
                Err(error) => vec![Err(classify(&url, error))],
                Ok(chunk) => {
                    let mut events = Vec::new();
                    for choice in chunk.choices {
                        if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
                            events.push(Ok(ReplyEvent::Delta(text)));
                        }
                    }
                    if let Some(usage) = chunk.usage {
                        events.push(Ok(ReplyEvent::Usage {
                            prompt_tokens: i64::from(usage.prompt_tokens),
                            completion_tokens: i64::from(usage.completion_tokens),
                        }));
                    }
                    events
                }
            };
            futures::stream::iter(events)
        });
        Ok(Box::pin(events))
    }
}
