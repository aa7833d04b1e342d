//! A reply's stream as it arrives: the user's message stored, the reply growing, and how the
//! stream ended (done, an error, stopped, cut off), each shown in the open conversation.

use std::time::Duration;

use confab_core::api::UnsavedReply;
use confab_core::chat_stream::ChatEvent;
use confab_core::model::{Message, Session};
use leptos::prelude::*;
use leptos_router::NavigateOptions;

use super::{ChatStore, Stores, ToastAction, ToastKind};
use crate::client::{self, StreamError};
use crate::server_fns::single_view;

/// What the server has stored of one reply's request so far.
pub(super) struct Stream {
    stores: Stores,
    /// The session: the one asked for, or the one the first message created.
    session_id: Option<String>,
    /// The user's message, once stored.
    user_saved: Option<Message>,
    /// The stream ended with its own last event (done or error).
    finished: bool,
}

impl Stream {
    pub(super) fn new(stores: Stores, session_id: Option<String>) -> Stream {
        Stream {
            stores,
            session_id,
            user_saved: None,
            finished: false,
        }
    }

    /// Posts the request and follows its events to the end. `draft_text` goes back to the
    /// composer if nothing was stored.
    pub(super) async fn read(
        mut self,
        path: &'static str,
        body: String,
        draft_text: Option<String>,
        navigate: impl Fn(&str, NavigateOptions) + 'static,
    ) {
        let result =
            client::post_event_stream(path, &body, |event| self.on_event(event, &navigate)).await;
        self.end(result, draft_text);
        if let Some(id) = self.session_id {
            self.stores.sessions.refresh(id);
        }
    }

    fn on_event(&mut self, event: ChatEvent, navigate: &impl Fn(&str, NavigateOptions)) {
        let chat = self.stores.chat;
        match event {
            ChatEvent::Message { message, session } => self.on_message(message, session, navigate),
            ChatEvent::Reply { message } => chat.live.update(|live| {
                if let Some(live) = live {
                    live.reply_id = Some(message.id);
                }
            }),
            ChatEvent::Delta { text } => chat.live.update(|live| {
                if let Some(live) = live {
                    live.text.push_str(&text);
                }
            }),
            ChatEvent::Done { message } => {
                finish(chat, self.user_saved.clone(), Some(message));
                self.finished = true;
            }
            ChatEvent::Error {
                error,
                message: partial,
                text,
                unsaved,
            } => {
                self.on_error(error.message, text, unsaved);
                finish(chat, self.user_saved.clone(), partial);
                self.finished = true;
            }
        }
    }

    /// The user's message is stored; a first message also names the session it created, and
    /// the page moves to it.
    fn on_message(
        &mut self,
        message: Message,
        session: Option<Session>,
        navigate: &impl Fn(&str, NavigateOptions),
    ) {
        let chat = self.stores.chat;
        self.session_id = Some(message.session_id.clone());
        chat.live.update(|live| {
            if let Some(live) = live {
                live.session_id = Some(message.session_id.clone());
                if live.user_text.is_some() {
                    live.user_saved = Some(message.clone());
                }
            }
        });
        if chat
            .live
            .with_untracked(|live| live.as_ref().is_some_and(|live| live.user_text.is_some()))
        {
            self.user_saved = Some(message);
        }
        if let Some(session) = session {
            let path = format!("/c/{}", session.id);
            self.stores.sessions.upsert(session);
            navigate(&path, NavigateOptions::default());
        }
    }

    /// The reply did not complete. If it streamed in full but could not be saved, its text
    /// stays on offer in the notice.
    fn on_error(&self, reason: String, text: Option<String>, unsaved: Option<UnsavedReply>) {
        let toasts = self.stores.toasts;
        match (text, self.session_id.clone()) {
            (Some(text), Some(session_id)) => {
                toasts.push(
                    format!("The reply could not be saved: {reason}"),
                    ToastKind::Error,
                    Some(ToastAction::SaveReply {
                        session_id,
                        parent_id: self.user_saved.as_ref().map(|m| m.id.clone()),
                        text,
                        unsaved,
                    }),
                    Duration::from_secs(600),
                );
            }
            _ => toasts.error(format!("The reply did not complete: {reason}")),
        }
    }

    /// The stream ended without its own last event: stopped, or cut off.
    fn end(&self, result: Result<(), StreamError>, draft_text: Option<String>) {
        let Stores { chat, toasts, .. } = self.stores;
        let user_saved = self.user_saved.clone();
        match result {
            Ok(()) if self.finished => {}
            Ok(()) => finish(chat, user_saved, None),
            Err(StreamError::Aborted) => {
                finish(chat, user_saved, None);
                toasts.info("Stopped.");
                client::after(Duration::from_millis(1500), move || {
                    chat.reload.update(|n| *n += 1)
                });
            }
            Err(StreamError::Failed(reason)) if user_saved.is_none() => {
                // Nothing was saved: take the message back and return its text.
                chat.live.set(None);
                if let Some(text) = draft_text {
                    if chat.draft.get_untracked().trim().is_empty() {
                        chat.draft.set(text);
                    }
                }
                toasts.error(format!("Could not send the message: {reason}"));
            }
            Err(StreamError::Failed(reason)) => {
                finish(chat, user_saved, None);
                toasts.error(format!("The reply was interrupted: {reason}"));
            }
        }
    }
}

/// Moves the finished reply into the conversation, then reloads it from the server so ids,
/// times and branch counts are exactly what was stored.
fn finish(chat: ChatStore, user_saved: Option<Message>, reply: Option<Message>) {
    let live = chat.live.get_untracked();
    let target = user_saved
        .as_ref()
        .map(|message| message.session_id.clone())
        .or_else(|| reply.as_ref().map(|message| message.session_id.clone()))
        .or_else(|| live.as_ref().and_then(|live| live.session_id.clone()));
    if let Some(target) = target {
        chat.edit(&target, |opened| {
            let list = &mut opened.page.messages;
            if let Some(cut) = live.as_ref().and_then(|live| live.cut_from.as_ref()) {
                if let Some(position) = list.iter().position(|view| &view.message.id == cut) {
                    list.truncate(position);
                }
            }
            // A load during the stream may already list these rows, as they were then (the
            // reply `streaming`, with part of its text): they take the final message.
            for message in user_saved.into_iter().chain(reply) {
                match list.iter_mut().find(|view| view.message.id == message.id) {
                    Some(view) => view.message = message,
                    None => list.push(single_view(message)),
                }
            }
        });
    }
    chat.live.set(None);
    chat.reload.update(|n| *n += 1);
}
