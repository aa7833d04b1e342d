//! Asking for a reply: a message sent, an edit, another reply to the same message; stopping
//! one; saving again a reply the server could not save. The reply's stream is read by
//! `stream`.

use confab_core::api::{ChatInput, RegenerateInput, UnsavedReply};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;

use super::stream::Stream;
use super::{error_text, LiveReply, Stores};
use crate::client;

/// What the user asked for.
pub enum Outgoing {
    Send {
        session_id: Option<String>,
        /// Where a new conversation goes (without `session_id`): its folder, whose defaults
        /// it takes.
        folder_id: Option<String>,
        content: String,
    },
    Edit {
        session_id: String,
        original: String,
        content: String,
    },
    Regenerate {
        session_id: String,
        reply: String,
    },
}

/// The request for what the user asked, and how the page shows it until it is stored.
struct Request {
    path: &'static str,
    body: String,
    live: LiveReply,
}

/// What the composer has chosen for the next message.
struct Choices {
    model: Option<String>,
    message_type: String,
    /// One id per composed message: a request resent after a dropped connection follows the
    /// reply already stored or running instead of asking the model again.
    client_id: Option<String>,
}

impl Outgoing {
    fn request(self, choices: Choices) -> serde_json::Result<Request> {
        match self {
            Outgoing::Send {
                session_id,
                folder_id,
                content,
            } => message_request((session_id, folder_id), content, None, choices),
            Outgoing::Edit {
                session_id,
                original,
                content,
            } => message_request((Some(session_id), None), content, Some(original), choices),
            Outgoing::Regenerate { session_id, reply } => Ok(Request {
                path: "/api/chat/regenerate",
                body: serde_json::to_string(&RegenerateInput {
                    message_id: reply.clone(),
                    model: choices.model.clone(),
                    client_id: choices.client_id,
                })?,
                live: LiveReply {
                    session_id: Some(session_id),
                    cut_from: Some(reply),
                    model: choices.model,
                    ..Default::default()
                },
            }),
        }
    }
}

/// A new message, or an edit of the message `edit_of` (which replaces the branch from it on).
fn message_request(
    (session_id, folder_id): (Option<String>, Option<String>),
    content: String,
    edit_of: Option<String>,
    choices: Choices,
) -> serde_json::Result<Request> {
    let body = serde_json::to_string(&ChatInput {
        session_id: session_id.clone(),
        folder_id,
        content: content.clone(),
        message_type: Some(choices.message_type.clone()),
        model: choices.model.clone(),
        edit_of: edit_of.clone(),
        client_id: choices.client_id,
        ..Default::default()
    })?;
    Ok(Request {
        path: "/api/chat",
        body,
        live: LiveReply {
            session_id,
            user_text: Some(content),
            user_type: choices.message_type,
            cut_from: edit_of,
            model: choices.model,
            ..Default::default()
        },
    })
}

/// Sends a message (or an edit, or asks for another reply) and streams the answer into the
/// open conversation. The user's message shows at once; if the server refuses it, it is taken
/// back, the text returns to the composer, and a notice says why.
pub fn start_reply(
    stores: Stores,
    outgoing: Outgoing,
    navigate: impl Fn(&str, NavigateOptions) + 'static,
) {
    let Stores { chat, toasts, .. } = stores;
    if chat.live.get_untracked().is_some() {
        toasts.error("Wait for the current reply to finish, or stop it.");
        return;
    }
    let choices = Choices {
        model: chat.model.get_untracked(),
        message_type: chat.message_type.get_untracked(),
        client_id: Some(client::new_client_id()),
    };
    let Ok(request) = outgoing.request(choices) else {
        toasts.error("Could not prepare the message.");
        return;
    };
    // Opened at a message in the middle of the branch (a search hit): the new message goes at
    // the branch's end, so show the end.
    if chat.later.with_untracked(Option::is_some) || chat.focus.with_untracked(Option::is_some) {
        if let Some(session_id) = &request.live.session_id {
            chat.edit(session_id, |opened| opened.focus = None);
            navigate(&format!("/c/{session_id}"), NavigateOptions::default());
        }
    }
    let draft_text = request.live.user_text.clone();
    let stream = Stream::new(stores, request.live.session_id.clone());
    chat.live.set(Some(request.live));
    spawn_local(stream.read(request.path, request.body, draft_text, navigate));
}

/// Stop: the server cancels the model's reply and saves what arrived as `partial` (the reply
/// stream then ends with it). Before the reply is known, the request itself is cancelled.
pub fn stop_reply(stores: Stores) {
    let reply_id = stores
        .chat
        .live
        .with_untracked(|live| live.as_ref().and_then(|live| live.reply_id.clone()));
    let Some(reply_id) = reply_id else {
        client::abort_current();
        return;
    };
    spawn_local(async move {
        if let Err(error) = crate::server_fns::stop_reply(reply_id).await {
            stores
                .toasts
                .error(format!("Could not stop the reply: {}", error_text(&error)));
            client::abort_current();
        }
    });
}

/// Saves again the text of a reply whose save failed.
pub fn save_reply_again(
    stores: Stores,
    session_id: String,
    parent_id: Option<String>,
    text: String,
    unsaved: Option<UnsavedReply>,
) {
    // Into the stored reply (REST: its body may be megabytes, more than a server function
    // takes); a new reply only for a server that names none.
    let (path, body) = match unsaved {
        Some(unsaved) => (
            format!("/api/chat/messages/{}/save", unsaved.id),
            serde_json::json!({
                "content": text,
                "status": unsaved.status,
                "statusReason": unsaved.status_reason,
            }),
        ),
        None => (
            "/api/chat/messages".to_owned(),
            serde_json::json!({
                "sessionId": session_id,
                "parentId": parent_id,
                "role": "assistant",
                "content": text,
            }),
        ),
    };
    spawn_local(async move {
        match client::post_json(&path, &body.to_string()).await {
            Ok(_) => {
                stores.toasts.info("The reply is saved.");
                stores.chat.reload.update(|n| *n += 1);
            }
            Err(reason) => stores
                .toasts
                .error(format!("The reply is still not saved: {reason}")),
        }
    });
}
