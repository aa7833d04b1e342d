//! "Continue in a new conversation": a fork copies the path from the root of a conversation
//! to one of its messages into a new conversation, linked to its source.
//!
//! The copy goes in through `Store::import_sessions`, which inserts a whole conversation with
//! its counters (the session's, the user's totals) kept as every other import keeps them. The
//! path is read a page at a time (`Store::ancestors`), never the whole source session, and one
//! fork copies at most [`MAX_FORK_MESSAGES`] messages holding at most [`MAX_FORK_BYTES`] of
//! text: the depth of the message (known from the first page) refuses a longer path before the
//! rest is read. At most [`FORKS_AT_ONCE`] forks run at once on a node, with
//! [`FORKS_WAITING`] more waiting behind them; the rest are answered `busy` (429 with
//! `Retry-After`) before anything is read, so what forks hold in memory stays under
//! `FORKS_AT_ONCE × MAX_FORK_BYTES` whatever the clients send.

use chrono::Utc;

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::ForkInput;
use crate::gate::Gate;
use crate::ids::new_id;
use crate::model::{ForkedFrom, MessageStatus, Session, User};
use crate::store::{ImportSession, LeafRule, NewMessage, NewSession, TreeMessage};

/// Most messages one fork copies: the path from the root to the message, both included. A
/// longer path is refused whole (`fork_too_long`) rather than cut, since a fork without its
/// beginning would not be the conversation the user continues.
pub const MAX_FORK_MESSAGES: usize = 20_000;
/// Most text (message contents, in bytes) one fork copies: what the copy holds in memory
/// while it is written (`fork_too_long` past it).
pub const MAX_FORK_BYTES: usize = 64 * 1024 * 1024;
/// Messages read per round while walking up the path.
const FORK_PAGE: usize = 500;
/// Forks copying at once on one node.
pub const FORKS_AT_ONCE: usize = 2;
/// Forks waiting for one of those to end; more are answered `busy`.
pub const FORKS_WAITING: usize = 8;
/// What a fork turned away is told.
pub const FORKS_BUSY: &str =
    "the server is busy copying other conversations; try again in a few seconds";

/// The gate every fork of these services goes through.
pub(super) fn gate() -> Gate {
    Gate::new(FORKS_AT_ONCE, FORKS_WAITING, FORKS_BUSY)
}

impl Services {
    /// Forks `session_id` at `input.message_id`: a new conversation of the user holding a
    /// copy of the path from the root to the message (new ids; same roles, contents, types,
    /// models, token counts, statuses and times), the message its active leaf, titled as the
    /// source is, with `forked_from` naming the source session and message. Answers the new
    /// session.
    ///
    /// Errors: `NotFound` when the session or the message is not the user's (or is deleted);
    /// `Invalid` `message_not_in_session` for a message of another of the user's sessions;
    /// `Conflict` while a message of the path is still being generated (a reply streaming:
    /// fork once it has ended, so that the copy is not a text cut short that nothing
    /// finishes); `Invalid` `fork_too_long` for a path over [`MAX_FORK_MESSAGES`] messages or
    /// [`MAX_FORK_BYTES`] of text; `Busy` when [`FORKS_WAITING`] forks already wait for their
    /// turn.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %session_id, message_id = %input.message_id))]
    pub async fn fork_session(
        &self,
        user: &User,
        session_id: &str,
        input: ForkInput,
    ) -> ServiceResult<Session> {
        validate::existing_id(session_id)?;
        validate::existing_id(&input.message_id)?;
        // Held until the copy is written: the path read below is what a fork holds in memory.
        let _pass = self.inner.forks.enter().await?;
        let store = self.store();
        let source = store
            .session(&user.id, session_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let path = self.fork_path(user, session_id, &input.message_id).await?;

        let now = Utc::now();
        let fork_id = new_id();
        // New ids in path order (root first), so that they sort as the copies' times do.
        let mut parent_id: Option<String> = None;
        let mut messages = Vec::with_capacity(path.len());
        for original in path.into_iter().rev() {
            let id = new_id();
            messages.push(NewMessage {
                id: id.clone(),
                user_id: user.id.clone(),
                session_id: fork_id.clone(),
                parent_id: parent_id.replace(id),
                role: original.role,
                content: original.content,
                message_type: original.message_type,
                model: original.model,
                prompt_tokens: original.prompt_tokens,
                completion_tokens: original.completion_tokens,
                latency_ms: original.latency_ms,
                status: original.status,
                status_reason: original.status_reason,
                // A client id makes one append idempotent and is unique per user: the
                // source's messages keep theirs.
                client_id: None,
                usage_estimated: original.usage_estimated,
                follow_active_leaf: false,
                active_leaf: LeafRule::Set,
                source_id: None,
                created_at: original.created_at,
                // A star marks the message the user starred, not its copies: the Starred view
                // lists each starred answer once.
                starred_at: None,
            });
        }
        let counts = store
            .import_sessions(
                &user.id,
                vec![ImportSession {
                    session: NewSession {
                        // A fork stays in its source's folder.
                        folder_id: source.folder_id.clone(),
                        id: fork_id.clone(),
                        user_id: user.id.clone(),
                        title: source.title,
                        source_id: None,
                        created_at: now,
                    },
                    pinned: false,
                    archived: false,
                    is_active: true,
                    updated_at: Some(now),
                    // The source's tags describe the source; the fork starts without any.
                    tags: Vec::new(),
                    active_leaf_id: parent_id,
                    forked_from: Some(ForkedFrom {
                        session_id: source.id,
                        message_id: input.message_id,
                    }),
                    messages,
                }],
            )
            .await?;
        if counts.session_ids.first() != Some(&fork_id) {
            // A fresh UUIDv7 cannot name a stored session; if it ever did, the messages went
            // into that session and the caller must not be told a fork was made.
            return Err(ServiceError::Internal(
                "the fork's new session id was taken".into(),
            ));
        }
        store
            .session(&user.id, &fork_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The messages from `message_id` up to the root of its branch, newest first, read a page
    /// at a time and checked against the fork's limits and rules as they come.
    async fn fork_path(
        &self,
        user: &User,
        session_id: &str,
        message_id: &str,
    ) -> ServiceResult<Vec<crate::model::Message>> {
        let store = self.store();
        let max_messages = self.config().max_fork_messages;
        let too_long = || {
            ServiceError::invalid(
                "fork_too_long",
                format!(
                    "a conversation can be continued from a message at most {max_messages} \
                     messages (and {} MiB of text) from its start",
                    MAX_FORK_BYTES / (1024 * 1024)
                ),
            )
        };
        let mut path = Vec::new();
        let mut bytes = 0usize;
        let mut from = Some(message_id.to_owned());
        while let Some(start) = from.take() {
            let page: Vec<TreeMessage> = store
                .ancestors(&user.id, session_id, &start, FORK_PAGE)
                .await?;
            let Some(first) = page.first() else {
                if path.is_empty() {
                    return Err(self.not_in_session(user, session_id, message_id).await);
                }
                // The session (or a message of the path) went away while it was read.
                return Err(ServiceError::NotFound);
            };
            if path.is_empty() {
                // The message's depth is its path's length less one: a path too long is
                // refused before it is read.
                let length = usize::try_from(first.depth).unwrap_or(usize::MAX);
                if length >= max_messages {
                    return Err(too_long());
                }
            }
            let full = page.len() == FORK_PAGE;
            for entry in page {
                if entry.message.status == MessageStatus::Streaming {
                    return Err(ServiceError::Conflict(
                        "a reply of this conversation is still being written; continue in a \
                         new conversation once it has ended"
                            .into(),
                    ));
                }
                bytes = bytes.saturating_add(entry.message.content.len());
                if bytes > MAX_FORK_BYTES || path.len() >= max_messages {
                    return Err(too_long());
                }
                path.push(entry.message);
            }
            if full {
                from = path.last().and_then(|message| message.parent_id.clone());
            }
        }
        Ok(path)
    }

    /// Why a message of a session of the user's was not found in it: another of the user's
    /// sessions holds it (invalid), or no session of the user's does (not found).
    async fn not_in_session(
        &self,
        user: &User,
        session_id: &str,
        message_id: &str,
    ) -> ServiceError {
        match self.store().get_message(&user.id, message_id).await {
            Ok(Some(message)) if message.session_id != session_id => ServiceError::invalid(
                "message_not_in_session",
                "messageId is not a message of this conversation",
            ),
            Ok(_) => ServiceError::NotFound,
            Err(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::NewMessageInput;
    use crate::service::{ServiceConfig, ServiceError};
    use crate::store::sqlite::{SqliteOptions, SqliteStore};
    use crate::store::DynStore;

    /// With every turn taken, a fork is answered busy before it reads anything, and with a
    /// turn free again the same fork is made.
    #[tokio::test]
    async fn a_fork_past_the_queue_is_busy_and_made_once_a_turn_is_free() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: DynStore = Arc::new(
            SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db")))
                .expect("open store"),
        );
        let services = Services::new(store, ServiceConfig::default());
        let user = services
            .signup("forks@example.com", "a secret password", None, "test")
            .await
            .expect("signup");
        let appended = services
            .append_message(
                &user,
                NewMessageInput {
                    role: "user".into(),
                    content: "the question".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("append");
        let (session_id, message_id) = (appended.session.id.clone(), appended.message.id.clone());
        let fork = || {
            services.fork_session(
                &user,
                &session_id,
                ForkInput {
                    message_id: message_id.clone(),
                },
            )
        };

        let mut held = Vec::new();
        for _ in 0..FORKS_AT_ONCE {
            held.push(services.inner.forks.enter().await.expect("a running turn"));
        }
        let gate = &services.inner.forks;
        let mut waiting = Vec::new();
        for _ in 0..FORKS_WAITING {
            waiting.push(Box::pin(gate.enter()));
        }
        // Polled once each, the waiting ones take their places in the queue.
        for entry in &mut waiting {
            let polled = futures::poll!(entry.as_mut());
            assert!(polled.is_pending(), "a queued turn waits");
        }
        match fork().await {
            Err(ServiceError::Busy(sentence)) => assert_eq!(sentence, FORKS_BUSY),
            other => panic!("expected busy, got {other:?}"),
        }
        drop(waiting);
        drop(held);
        let made = fork().await.expect("the fork is made once a turn is free");
        assert_eq!(
            made.forked_from,
            Some(ForkedFrom {
                session_id: session_id.clone(),
                message_id: message_id.clone(),
            })
        );
        assert_eq!(made.message_count, 1);
    }
}
