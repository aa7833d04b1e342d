//! Chatting with a model: the user message is saved before the model is called; the reply is
//! read to the end by a task of its own and saved whatever the client does (a disconnect only
//! stops the forwarding), with its model, tokens and latency. A provider failure saves what had
//! arrived with status `error`.

use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::chat::ParentChoice;
use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{ChatEvent, ChatInput, NewMessageInput, RegenerateInput};
use crate::model::{Message, MessageStatus, Role, User};
use crate::provider::{ChatTurn, ProviderError, ReplyEvent};

/// Events buffered for a slow client before the reply task waits for it.
const EVENT_BUFFER: usize = 256;

/// A rough token count (about four characters a token) for budgets and for replies whose
/// provider reports no usage.
pub fn estimate_tokens(text: &str) -> i64 {
    (text.chars().count() as i64 + 3) / 4 + 4
}

/// The messages sent to the model: the branch from the root to `leaf`, newest last, cut to the
/// token budget from the oldest end (a leading system message is always kept).
pub fn context_for(messages: &[Message], leaf_id: &str, budget: i64) -> Vec<ChatTurn> {
    let branch = super::chat::branch_to(messages, leaf_id);
    let system = branch
        .first()
        .filter(|message| message.role == Role::System);
    let mut used = system
        .map(|message| estimate_tokens(&message.content))
        .unwrap_or(0);
    let mut kept: Vec<&Message> = Vec::new();
    for message in branch.iter().skip(usize::from(system.is_some())).rev() {
        let cost = estimate_tokens(&message.content);
        if !kept.is_empty() && used + cost > budget {
            break;
        }
        used += cost;
        kept.push(message);
    }
    kept.extend(system);
    kept.reverse();
    kept.into_iter()
        .map(|message| ChatTurn {
            role: message.role,
            content: message.content.clone(),
        })
        .collect()
}

fn provider_error_code(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Unreachable { .. } => "provider_unreachable",
        ProviderError::Upstream { .. } => "provider_error",
        ProviderError::Interrupted { .. } => "provider_interrupted",
        ProviderError::UnknownProvider(_) => "no_provider",
    }
}

impl Services {
    /// Saves the user message and starts the reply. The receiver yields `ChatEvent`s; dropping
    /// it does not stop the reply from being saved.
    pub async fn chat(
        &self,
        user: &User,
        input: ChatInput,
    ) -> ServiceResult<mpsc::Receiver<ChatEvent>> {
        let (provider_index, model) = self.resolve_model(input.model.as_deref())?;
        let created_session = input.session_id.is_none();
        let (session_id, parent_id) = match &input.edit_of {
            Some(original) => {
                let original = self.get_message(user, original).await?;
                if original.role != Role::User {
                    return Err(ServiceError::invalid(
                        "invalid_edit",
                        "only a user message can be edited",
                    ));
                }
                (
                    Some(original.session_id),
                    original
                        .parent_id
                        .map(ParentChoice::Message)
                        .unwrap_or(ParentChoice::Root),
                )
            }
            None => (
                input.session_id,
                input
                    .parent_id
                    .map(ParentChoice::Message)
                    .unwrap_or(ParentChoice::ActiveLeaf),
            ),
        };
        let appended = self
            .append_under(
                user,
                NewMessageInput {
                    session_id,
                    role: "user".into(),
                    content: input.content,
                    message_type: input.message_type,
                    client_id: input.client_id,
                    ..Default::default()
                },
                parent_id,
                MessageStatus::Complete,
            )
            .await?;
        let question = appended.message.clone();
        let messages = self
            .store()
            .all_messages(&user.id, &question.session_id)
            .await?;
        let turns = context_for(&messages, &question.id, self.config().context_tokens);
        let session = created_session.then_some(appended.session);
        Ok(self
            .start_reply(user, provider_index, model, question, session, turns)
            .await)
    }

    /// Another reply to the same user message, kept beside the earlier ones.
    pub async fn regenerate(
        &self,
        user: &User,
        input: RegenerateInput,
    ) -> ServiceResult<mpsc::Receiver<ChatEvent>> {
        let (provider_index, model) = self.resolve_model(input.model.as_deref())?;
        let target = self.get_message(user, &input.message_id).await?;
        let question = match target.role {
            Role::User => target,
            _ => {
                let parent = target.parent_id.ok_or_else(|| {
                    ServiceError::invalid(
                        "invalid_regenerate",
                        "this reply answers no user message",
                    )
                })?;
                self.get_message(user, &parent).await?
            }
        };
        let messages = self
            .store()
            .all_messages(&user.id, &question.session_id)
            .await?;
        let turns = context_for(&messages, &question.id, self.config().context_tokens);
        Ok(self
            .start_reply(user, provider_index, model, question, None, turns)
            .await)
    }

    pub(crate) fn resolve_model(&self, requested: Option<&str>) -> ServiceResult<(usize, String)> {
        if let Some(model) = requested {
            validate::model(model)?;
        }
        self.providers()
            .resolve(requested)
            .map_err(|error| ServiceError::invalid("no_provider", error.to_string()))
    }

    /// Reads the reply to `question` in a task of its own and reports it on the receiver.
    pub(crate) async fn start_reply(
        &self,
        user: &User,
        provider_index: usize,
        model: String,
        question: Message,
        created_session: Option<crate::model::Session>,
        turns: Vec<ChatTurn>,
    ) -> mpsc::Receiver<ChatEvent> {
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let _ = events
            .send(ChatEvent::Message {
                message: question.clone(),
                session: created_session,
            })
            .await;
        let services = self.clone();
        let user = user.clone();
        self.replies().spawn(async move {
            services
                .reply(&user, provider_index, &model, question, turns, events)
                .await;
        });
        receiver
    }

    async fn reply(
        &self,
        user: &User,
        provider_index: usize,
        model: &str,
        question: Message,
        turns: Vec<ChatTurn>,
        events: mpsc::Sender<ChatEvent>,
    ) {
        let started = Instant::now();
        let providers = self.providers();
        let Some(provider) = providers.provider(provider_index) else {
            return;
        };
        let mut text = String::new();
        let mut usage: Option<(i64, i64)> = None;
        let mut failure: Option<ProviderError> = None;
        let mut client_gone = false;
        match provider.stream_reply(model, &turns).await {
            Err(error) => failure = Some(error),
            Ok(mut stream) => {
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(ReplyEvent::Delta(delta)) => {
                            text.push_str(&delta);
                            if !client_gone
                                && events.send(ChatEvent::Delta { text: delta }).await.is_err()
                            {
                                // Keep reading: the reply is saved even though nobody watches.
                                client_gone = true;
                                tracing::info!(session = %question.session_id, "client left; finishing the reply in the background");
                            }
                        }
                        Ok(ReplyEvent::Usage {
                            prompt_tokens,
                            completion_tokens,
                        }) => {
                            usage = Some((prompt_tokens, completion_tokens));
                        }
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
            }
        }
        let latency_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
        let status = if failure.is_some() {
            MessageStatus::Error
        } else {
            MessageStatus::Complete
        };
        let saved = if text.trim().is_empty() {
            None
        } else {
            let (prompt_tokens, completion_tokens, estimated) = match usage {
                Some((prompt, completion)) => (prompt, completion, false),
                None => (
                    turns
                        .iter()
                        .map(|turn| estimate_tokens(&turn.content))
                        .sum(),
                    estimate_tokens(&text),
                    true,
                ),
            };
            let saved = self
                .save_reply(
                    user,
                    &question,
                    model,
                    text,
                    prompt_tokens,
                    completion_tokens,
                    estimated,
                    latency_ms,
                    status,
                )
                .await;
            match saved {
                Ok(message) => Some(message),
                Err(error) => {
                    tracing::error!(%error, session = %question.session_id, "could not save a reply");
                    let _ = events
                        .send(ChatEvent::Error {
                            code: "save_failed".into(),
                            error: "the reply could not be saved".into(),
                            message: None,
                        })
                        .await;
                    return;
                }
            }
        };
        let event = match failure {
            Some(error) => {
                tracing::warn!(%error, session = %question.session_id, "model reply failed");
                ChatEvent::Error {
                    code: provider_error_code(&error).into(),
                    error: error.to_string(),
                    message: saved,
                }
            }
            None => match saved {
                Some(message) => ChatEvent::Done { message },
                None => ChatEvent::Error {
                    code: "empty_reply".into(),
                    error: "the model sent an empty reply".into(),
                    message: None,
                },
            },
        };
        let _ = events.send(event).await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn save_reply(
        &self,
        user: &User,
        question: &Message,
        model: &str,
        text: String,
        prompt_tokens: i64,
        completion_tokens: i64,
        estimated: bool,
        latency_ms: i64,
        status: MessageStatus,
    ) -> ServiceResult<Message> {
        let input = NewMessageInput {
            session_id: Some(question.session_id.clone()),
            role: "assistant".into(),
            content: text,
            message_type: Some(question.message_type.clone()),
            model: Some(model.to_owned()),
            prompt_tokens: Some(prompt_tokens),
            completion_tokens: Some(completion_tokens),
            latency_ms: Some(latency_ms),
            parent_id: None,
            client_id: None,
            usage_estimated: estimated,
        };
        Ok(self
            .append_under(
                user,
                input,
                ParentChoice::Message(question.id.clone()),
                status,
            )
            .await?
            .message)
    }
}

/// A chat completion requested through the OpenAI-compatible endpoint.
pub struct RecordedExchange {
    pub session: crate::model::Session,
    pub model: String,
    pub events: mpsc::Receiver<ChatEvent>,
}

impl Services {
    /// Records a chat completion asked through the OpenAI-compatible endpoint: the request's
    /// new messages are saved (all of them in a new session; those after the last assistant
    /// message when continuing one), the request's messages go to the provider as they are, and
    /// the reply is saved like any other.
    pub async fn record_completion(
        &self,
        user: &User,
        session_id: Option<String>,
        model: Option<&str>,
        turns: Vec<ChatTurn>,
    ) -> ServiceResult<RecordedExchange> {
        let (provider_index, model) = self.resolve_model(model)?;
        if turns.is_empty() {
            return Err(ServiceError::invalid(
                "empty_messages",
                "messages must not be empty",
            ));
        }
        if turns.len() > 10_000 {
            return Err(ServiceError::invalid(
                "too_many_messages",
                "at most 10000 messages per request",
            ));
        }
        let new_turns: Vec<&ChatTurn> = match &session_id {
            Some(id) => {
                self.get_session(user, id).await?;
                let after_reply = turns
                    .iter()
                    .rposition(|turn| turn.role == Role::Assistant)
                    .map_or(0, |i| i + 1);
                turns[after_reply..].iter().collect()
            }
            None => turns.iter().collect(),
        };
        let new_turns: Vec<&ChatTurn> = new_turns
            .into_iter()
            .filter(|turn| !turn.content.trim().is_empty())
            .collect();
        if new_turns.is_empty() {
            return Err(ServiceError::invalid(
                "empty_messages",
                "the request has no new message to answer",
            ));
        }
        let mut session_id = session_id;
        let mut last = None;
        for turn in new_turns {
            let appended = self
                .append_message(
                    user,
                    NewMessageInput {
                        session_id: session_id.clone(),
                        role: turn.role.as_str().into(),
                        content: turn.content.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            session_id = Some(appended.session.id.clone());
            last = Some(appended);
        }
        let Some(last) = last else {
            return Err(ServiceError::invalid(
                "empty_messages",
                "the request has no new message to answer",
            ));
        };
        let events = self
            .start_reply(
                user,
                provider_index,
                model.clone(),
                last.message,
                None,
                turns,
            )
            .await;
        Ok(RecordedExchange {
            session: last.session,
            model,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn message(id: &str, parent: Option<&str>, role: Role, content: &str) -> Message {
        Message {
            id: id.into(),
            session_id: "s".into(),
            parent_id: parent.map(str::to_owned),
            role,
            content: content.into(),
            message_type: "chat".into(),
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            status: MessageStatus::Complete,
            client_id: None,
            created_at: Utc::now(),
            usage_estimated: false,
        }
    }

    #[test]
    fn context_follows_the_branch_and_the_budget() {
        let messages = vec![
            message("1", None, Role::System, "be brief"),
            message("2", Some("1"), Role::User, "first question"),
            message("3", Some("2"), Role::Assistant, "first answer"),
            message("4", Some("2"), Role::Assistant, "regenerated answer"),
            message("5", Some("4"), Role::User, "second question"),
        ];
        let turns = context_for(&messages, "5", 10_000);
        let contents: Vec<&str> = turns.iter().map(|turn| turn.content.as_str()).collect();
        assert_eq!(
            contents,
            [
                "be brief",
                "first question",
                "regenerated answer",
                "second question"
            ]
        );
        let tight = context_for(&messages, "5", 12);
        let contents: Vec<&str> = tight.iter().map(|turn| turn.content.as_str()).collect();
        assert_eq!(
            contents,
            ["be brief", "second question"],
            "the system prompt and the newest message stay"
        );
    }
}
