//! The replies this process is generating right now, each with the text so far and its end.
//!
//! The task reading the provider writes here and never waits for a client; each client that
//! watches the reply (the one that asked, and any retry of the same request that re-attaches)
//! follows it with a task of its own, sending what it has not sent yet. A slow or vanished
//! client therefore never slows the reply or loses a part of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::chat_stream::ChatEvent;

#[derive(Default)]
struct State {
    text: String,
    end: Option<ChatEvent>,
}

/// One reply being generated.
pub(crate) struct LiveReply {
    pub user_id: String,
    state: Mutex<State>,
    changed: watch::Sender<()>,
    /// Cancelled by the user's Stop.
    pub stop: CancellationToken,
}

/// What `push` did with a delta.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    All,
    /// The reply reached its bound: the delta was cut (at a character boundary) or dropped.
    Full,
}

impl LiveReply {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a delta, keeping the text within `max_bytes`.
    pub fn push(&self, delta: &str, max_bytes: usize) -> Pushed {
        let pushed = {
            let mut state = self.state();
            let room = max_bytes.saturating_sub(state.text.len());
            if delta.len() <= room {
                state.text.push_str(delta);
                Pushed::All
            } else {
                let mut end = room;
                while !delta.is_char_boundary(end) {
                    end -= 1;
                }
                state.text.push_str(&delta[..end]);
                Pushed::Full
            }
        };
        self.changed.send_replace(());
        pushed
    }

    pub fn text(&self) -> String {
        self.state().text.clone()
    }

    /// Ends the reply with the event every follower sends last.
    pub fn end(&self, event: ChatEvent) {
        self.state().end = Some(event);
        self.changed.send_replace(());
    }

    pub fn has_ended(&self) -> bool {
        self.state().end.is_some()
    }

    /// Waits (up to `limit`) until the reply has ended.
    pub async fn ended(&self, limit: Duration) {
        let mut changes = self.changed.subscribe();
        let wait = async {
            while self.state().end.is_none() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    /// What a follower that has sent `sent` bytes has to send now.
    fn since(&self, sent: usize) -> (String, Option<ChatEvent>) {
        let state = self.state();
        let delta = state.text.get(sent..).unwrap_or_default().to_owned();
        (delta, state.end.clone())
    }
}

/// Longest wait for a client to take the next event: a client that stops reading but keeps
/// its connection open must not hold a follower (and a shutdown) forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends `reply`'s text from the start and its end to `events`; returns when the reply has
/// ended, the receiver is gone, or it took no event for `SEND_TIMEOUT`.
pub(crate) async fn follow(reply: Arc<LiveReply>, events: mpsc::Sender<ChatEvent>) {
    let mut changes = reply.changed.subscribe();
    let mut sent = 0;
    let send = |event: ChatEvent| {
        let events = events.clone();
        async move {
            matches!(
                tokio::time::timeout(SEND_TIMEOUT, events.send(event)).await,
                Ok(Ok(()))
            )
        }
    };
    loop {
        let (delta, end) = reply.since(sent);
        sent += delta.len();
        if !delta.is_empty() && !send(ChatEvent::Delta { text: delta }).await {
            return;
        }
        if let Some(end) = end {
            send(end).await;
            return;
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = events.closed() => return,
        }
    }
}

/// The registry, by reply message id.
#[derive(Default)]
pub(crate) struct LiveReplies {
    replies: Mutex<HashMap<String, Arc<LiveReply>>>,
}

impl LiveReplies {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveReply>>> {
        self.replies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn register(&self, id: &str, user_id: &str) -> Arc<LiveReply> {
        let reply = Arc::new(LiveReply {
            user_id: user_id.to_owned(),
            state: Mutex::new(State::default()),
            changed: watch::channel(()).0,
            stop: CancellationToken::new(),
        });
        self.map().insert(id.to_owned(), Arc::clone(&reply));
        reply
    }

    /// The live reply `id` of `user_id`, if this process is generating it.
    pub fn get(&self, id: &str, user_id: &str) -> Option<Arc<LiveReply>> {
        self.map()
            .get(id)
            .filter(|reply| reply.user_id == user_id)
            .cloned()
    }

    pub fn remove(&self, id: &str) {
        self.map().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat_stream::ChatError;

    #[test]
    fn a_reply_is_cut_at_its_bound_on_a_character_boundary() {
        let replies = LiveReplies::default();
        let reply = replies.register("r", "u");
        assert_eq!(reply.push("abc", 6), Pushed::All);
        // "é" is two bytes: 3 + 2 = 5 fits, the next "é" would end at 7.
        assert_eq!(reply.push("éé", 6), Pushed::Full);
        assert_eq!(reply.text(), "abcé");
        // One byte is left: it still takes a one-byte delta, and then nothing.
        assert_eq!(reply.push("x", 6), Pushed::All);
        assert_eq!(reply.push("y", 6), Pushed::Full);
        assert_eq!(reply.text(), "abcéx");
    }

    #[tokio::test]
    async fn followers_get_every_byte_and_the_end_whenever_they_join() {
        let replies = LiveReplies::default();
        let reply = replies.register("r", "u");
        reply.push("one ", 100);
        let (early, mut early_events) = mpsc::channel(4);
        let following = tokio::spawn(follow(Arc::clone(&reply), early));
        reply.push("two ", 100);
        reply.push("three", 100);
        let done = ChatEvent::Error {
            error: ChatError::new("test", "end"),
            message: None,
            text: None,
            unsaved: None,
        };
        reply.end(done.clone());
        let (late, mut late_events) = mpsc::channel(4);
        follow(Arc::clone(&reply), late).await;
        let _ = following.await;
        for events in [&mut early_events, &mut late_events] {
            let mut text = String::new();
            let mut last = None;
            while let Ok(event) = events.try_recv() {
                match event {
                    ChatEvent::Delta { text: delta } => text.push_str(&delta),
                    other => last = Some(other),
                }
            }
            assert_eq!(text, "one two three");
            assert_eq!(last, Some(done.clone()));
        }
        assert!(replies.get("r", "someone else").is_none());
    }
}
