//! The OpenAI-compatible endpoint's recorder: a chat completion asked through `/v1` is saved
//! like any exchange, and a retried request stores nothing twice.
//!
//! The official SDKs retry a failed request (5xx, a dropped connection) without an
//! idempotency key. A request is therefore named by its `Idempotency-Key` header when it has
//! one, and otherwise by a digest of its credentials and body, within a window of
//! `RETRY_WINDOW`: the same request again inside it is the same request. The name becomes the
//! client id of each saved turn and of the reply, so a retry re-attaches to what is stored.

use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::reply::{reply_client_id, ReplyRequest};
use super::{ServiceError, ServiceResult, Services};
use crate::api::NewMessageInput;
use crate::chat_stream::ChatEvent;
use crate::model::{Role, User};
use crate::provider::ChatTurn;
use crate::store::LeafRule;

/// How long an identical request counts as a retry of the first.
pub const RETRY_WINDOW_SECONDS: i64 = 300;

/// What names a `/v1` request for retries.
#[derive(Clone, Debug)]
pub enum RequestIdentity {
    /// The client's `Idempotency-Key` header.
    IdempotencyKey(String),
    /// The request's credentials and body, as the client sent them (hashed here).
    Content(Vec<u8>),
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The client id of turn `index` of the request named `base`.
fn turn_client_id(base: &str, index: usize) -> String {
    format!("{base}:{index}")
}

/// A chat completion requested through the OpenAI-compatible endpoint.
pub struct RecordedExchange {
    pub session: crate::model::Session,
    pub model: String,
    pub events: mpsc::Receiver<ChatEvent>,
}

impl Services {
    /// The client-id base of a request: the same for its retries.
    async fn request_name(&self, user: &User, identity: &RequestIdentity) -> ServiceResult<String> {
        let content = match identity {
            RequestIdentity::IdempotencyKey(key) => {
                return Ok(format!("v1:k:{}", hex_digest(&[key.as_bytes()])))
            }
            RequestIdentity::Content(content) => hex_digest(&[content]),
        };
        let now = Utc::now().timestamp();
        let window = now.div_euclid(RETRY_WINDOW_SECONDS);
        // A retry just after a window boundary belongs to the request of the window before.
        let earlier = format!("v1:c:{content}:{}", window - 1);
        if let Some(first) = self
            .store()
            .message_by_client_id(&user.id, &turn_client_id(&earlier, 0))
            .await?
        {
            if now - first.created_at.timestamp() < RETRY_WINDOW_SECONDS {
                return Ok(earlier);
            }
        }
        Ok(format!("v1:c:{content}:{window}"))
    }

    /// Records a chat completion asked through the OpenAI-compatible endpoint: the request's
    /// new messages are saved (all of them in a new session; those after the last assistant
    /// message when continuing one), the request's messages go to the provider as they are, and
    /// the reply is saved like any other. A retry of the same request (see `RequestIdentity`)
    /// stores nothing new and follows the first one's reply.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = ?session_id))]
    pub async fn record_completion(
        &self,
        user: &User,
        session_id: Option<String>,
        model: Option<&str>,
        turns: Vec<ChatTurn>,
        identity: RequestIdentity,
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
                self.live_session(user, id).await?;
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
        let name = self.request_name(user, &identity).await?;
        let mut session_id = session_id;
        let mut last = None;
        for (index, turn) in new_turns.into_iter().enumerate() {
            let appended = self
                .append_message(
                    user,
                    NewMessageInput {
                        session_id: session_id.clone(),
                        role: turn.role.as_str().into(),
                        content: turn.content.clone(),
                        client_id: Some(turn_client_id(&name, index)),
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
        let question = last.message;
        let request = ReplyRequest {
            provider_index,
            model: model.clone(),
            leaf: LeafRule::IfLeafIs(question.id.clone()),
            question,
            session: None,
            client_id: Some(reply_client_id(&name)),
        };
        let events = self.reply_with_turns(user, request, turns).await?;
        Ok(RecordedExchange {
            session: last.session,
            model,
            events,
        })
    }
}
