//! State shared across pages, provided once by `App`: notices (toasts), the session list, and
//! the open conversation with the reply that is streaming into it. Living above the routes,
//! a reply keeps streaming while the URL changes (a first message creates its session, and the
//! page moves to `/c/{id}` mid-reply).

use crate::error::AppError;
use std::time::Duration;

use chrono::{DateTime, Utc};
use confab_core::api::{ChatInput, RegenerateInput, UnsavedReply};
use confab_core::chat_stream::ChatEvent;
use confab_core::model::{Message, Page, Session};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;

use crate::client::{self, StreamError};
use crate::components::auth::Auth;

mod edited;
use crate::components::session_list::current_session_id;
use crate::server_fns::{
    delete_session, get_session, list_sessions, load_conversation, open_message, restore_session,
    single_view, MessageView, SessionView,
};
pub use edited::{Edited, Loaded};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// How long the notice with Undo stays after a delete (the server keeps the conversation
/// restorable for much longer; this is only how long the button is offered).
const UNDO_NOTICE: Duration = Duration::from_secs(10);

/// A server function error as a sentence for people, chosen by its code.
pub fn error_text(error: &AppError) -> String {
    error.sentence()
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToastKind {
    Error,
    Info,
}

#[derive(Clone)]
pub struct Toast {
    pub id: u64,
    pub text: String,
    pub kind: ToastKind,
    /// A button on the notice. Plain data rather than a closure: the page that raised the
    /// notice may be gone (unmounted, its owner disposed) when the button is pressed.
    pub action: Option<ToastAction>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToastAction {
    /// Undo a deletion: the server restores the session, and it is listed again.
    RestoreSession(String),
    /// A reply streamed in full but the server could not save it: save its text again, into
    /// the stored reply `unsaved` names (or, from a server that names none, as a new reply).
    SaveReply {
        session_id: String,
        parent_id: Option<String>,
        text: String,
        unsaved: Option<UnsavedReply>,
    },
}

#[derive(Clone, Copy)]
pub struct Toasts {
    pub list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    fn new() -> Toasts {
        Toasts {
            list: RwSignal::new(Vec::new()),
            next: StoredValue::new(1),
        }
    }

    pub fn push(
        &self,
        text: impl Into<String>,
        kind: ToastKind,
        action: Option<ToastAction>,
        lasts: Duration,
    ) -> u64 {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|list| {
            list.push(Toast {
                id,
                text: text.into(),
                kind,
                action,
            })
        });
        let toasts = *self;
        client::after(lasts, move || toasts.dismiss(id));
        id
    }

    pub fn error(&self, text: impl Into<String>) {
        self.push(text, ToastKind::Error, None, Duration::from_secs(8));
    }

    pub fn info(&self, text: impl Into<String>) {
        self.push(text, ToastKind::Info, None, Duration::from_secs(4));
    }

    pub fn dismiss(&self, id: u64) {
        self.list.update(|list| list.retain(|toast| toast.id != id));
    }
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// When a session last saw activity: what the list is ordered by.
pub fn activity(session: &Session) -> DateTime<Utc> {
    session.last_message_at.unwrap_or(session.created_at)
}

/// The sidebar's sessions: the first page from the server (rendered with the page), with the
/// pages added on scroll and the changes made here before the server confirms them.
#[derive(Clone, Copy)]
pub struct SessionsStore {
    /// The list: the resource is its source of truth, the changes made here are laid over it.
    pub list: Edited<Result<Page<Session>, AppError>>,
    /// Showing archived sessions instead of the others.
    pub archived: RwSignal<bool>,
    pub loading_more: RwSignal<bool>,
}

impl SessionsStore {
    fn new(auth: Auth) -> SessionsStore {
        let archived = RwSignal::new(false);
        let list = Edited::new(
            move || {
                (
                    auth.sign_in.version().get(),
                    auth.sign_up.version().get(),
                    auth.sign_out.version().get(),
                    archived.get(),
                )
            },
            // Asks who is signed in first: signed out, there is nothing to list (and no failed
            // request to log in the console).
            |(_, _, _, archived)| async move {
                match crate::server_fns::current_user().await {
                    Ok(Some(_)) => list_sessions(None, archived).await,
                    Ok(None) => Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    }),
                    Err(error) => Err(error),
                }
            },
        );
        SessionsStore {
            list,
            archived,
            loading_more: RwSignal::new(false),
        }
    }

    /// Whether the first page has arrived (tracked).
    pub fn loaded(&self) -> bool {
        self.list.with(|page| page.is_some())
    }

    /// The sessions listed (tracked).
    pub fn visible(&self) -> Vec<Session> {
        self.list.with(|page| {
            page.and_then(|page| page.as_ref().ok())
                .map(|page| page.items.clone())
                .unwrap_or_default()
        })
    }

    /// Whether the server has more sessions than the pages listed (tracked).
    pub fn has_more(&self) -> bool {
        self.list.with(|page| {
            page.and_then(|page| page.as_ref().ok())
                .is_some_and(|page| page.next_cursor.is_some())
        })
    }

    /// Changes the listed sessions (nothing when the list failed to load).
    fn edit_items(&self, change: impl FnOnce(&mut Page<Session>)) {
        self.list.edit(|page| {
            if let Ok(page) = page {
                change(page)
            }
        });
    }

    /// Adds or replaces a session, keeping the list in activity order.
    pub fn upsert(&self, session: Session) {
        let archived_view = self.archived.get_untracked();
        self.edit_items(|page| {
            let items = &mut page.items;
            items.retain(|item| item.id != session.id);
            if session.archived == archived_view {
                items.push(session);
            }
            items.sort_by_key(|item| std::cmp::Reverse(activity(item)));
        });
    }

    pub fn remove(&self, id: &str) {
        self.edit_items(|page| page.items.retain(|item| item.id != id));
    }

    /// Deletes a session on the server at once. The row goes first; if the server refuses,
    /// it comes back and a notice says why. Once deleted, a notice offers Undo (the server
    /// keeps deleted conversations restorable for a while, so closing the page loses
    /// nothing that was not deleted, and deletes everything that was).
    pub fn delete(&self, session: Session, toasts: Toasts) {
        let store = *self;
        store.remove(&session.id);
        spawn_local(async move {
            match delete_session(session.id.clone()).await {
                Ok(()) => {
                    toasts.push(
                        format!("Deleted “{}”.", session.title),
                        ToastKind::Info,
                        Some(ToastAction::RestoreSession(session.id.clone())),
                        UNDO_NOTICE,
                    );
                }
                Err(error) => {
                    store.upsert(session.clone());
                    toasts.error(format!(
                        "Could not delete “{}”: {}",
                        session.title,
                        error_text(&error)
                    ));
                }
            }
        });
    }

    /// Undo of a delete: the server restores the session, which is listed again as it was.
    pub fn restore(&self, id: String, toasts: Toasts) {
        let store = *self;
        spawn_local(async move {
            match restore_session(id).await {
                Ok(session) => store.upsert(session),
                Err(error) => toasts.error(format!(
                    "Could not bring the conversation back: {}",
                    error_text(&error)
                )),
            }
        });
    }

    /// Reloads one session from the server (after a reply, its count and activity changed).
    pub fn refresh(&self, id: String) {
        let store = *self;
        spawn_local(async move {
            if let Ok(session) = get_session(id).await {
                store.upsert(session);
            }
        });
    }

    pub fn load_more(&self, toasts: Toasts) {
        let cursor = untrack(|| {
            self.list.with(|page| {
                page.and_then(|page| page.as_ref().ok())
                    .and_then(|page| page.next_cursor.clone())
            })
        });
        let Some(cursor) = cursor else {
            return;
        };
        if self.loading_more.get_untracked() {
            return;
        }
        self.loading_more.set(true);
        let store = *self;
        spawn_local(async move {
            match list_sessions(Some(cursor), store.archived.get_untracked()).await {
                Ok(more) => store.edit_items(|page| {
                    for session in more.items {
                        if !page.items.iter().any(|item| item.id == session.id) {
                            page.items.push(session);
                        }
                    }
                    page.next_cursor = more.next_cursor;
                }),
                Err(error) => toasts.error(format!(
                    "Could not load more conversations: {}",
                    error_text(&error)
                )),
            }
            store.loading_more.set(false);
        });
    }
}

pub fn use_sessions() -> SessionsStore {
    expect_context::<SessionsStore>()
}

/// A reply being generated, with the user message that asked for it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LiveReply {
    pub session_id: Option<String>,
    /// The user's new message, shown before the server has saved it.
    pub user_text: Option<String>,
    pub user_type: String,
    pub user_saved: Option<Message>,
    /// Edit and regenerate replace the branch from this message on.
    pub cut_from: Option<String>,
    pub text: String,
    pub model: Option<String>,
    /// The stored reply (from the `reply` event): what Stop names.
    pub reply_id: Option<String>,
}

/// The open conversation as the page shows it: a page of its active branch, and the message
/// to bring into view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub page: SessionView,
    /// The message to scroll to and highlight (a search hit, a version just switched to)
    /// instead of following the conversation to its end.
    pub focus: Option<String>,
}

/// What `/c/{id}` loads: nothing on other pages, else the conversation or why it failed.
pub type Conversation = Option<Result<Opened, AppError>>;

#[derive(Clone, Copy)]
pub struct ChatStore {
    /// The conversation the URL names, loaded again when the URL, the filter or `reload`
    /// changes: the source of truth for the memos below, with pages added on scroll, a
    /// finished reply and optimistic changes laid over it.
    pub conversation: Edited<Conversation>,
    pub session: Memo<Option<Session>>,
    pub messages: Memo<Vec<MessageView>>,
    pub earlier: Memo<Option<String>>,
    /// The cursor of the page below the loaded messages; `None` when they end the branch.
    pub later: Memo<Option<String>>,
    /// See [`Opened::focus`].
    pub focus: Memo<Option<String>>,
    /// Only messages of this type are shown (empty: all).
    pub filter: RwSignal<String>,
    pub live: RwSignal<Option<LiveReply>>,
    /// Bumped to load the open conversation again from the server.
    pub reload: RwSignal<u32>,
    pub draft: RwSignal<String>,
    pub message_type: RwSignal<String>,
    pub model: RwSignal<Option<String>>,
}

/// What `/c/{id}` asks for: the session, the filter, the reload count, and the `?m=`, `?before=`
/// and `?after=` of the URL.
type ConversationQuery = (
    Option<String>,
    String,
    u32,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl ChatStore {
    /// Made inside the router: the conversation follows the URL.
    fn new() -> ChatStore {
        let filter = RwSignal::new(String::new());
        let reload = RwSignal::new(0);
        let id = current_session_id();
        let query = use_query_map();
        // `?m=` (a search hit): open at that message, on whichever page and branch it is.
        // `?before=` and `?after=`: the page above or below a message, as the paging links
        // ask for it when the WASM is not there to add pages to the list.
        let parameter = move |key: &'static str| {
            Memo::new(move |_| query.read().get(key).filter(|value| !value.is_empty()))
        };
        let (target, before, after) = (parameter("m"), parameter("before"), parameter("after"));
        let conversation = Edited::new(
            move || -> ConversationQuery {
                (
                    id.get(),
                    filter.get(),
                    reload.get(),
                    target.get(),
                    before.get(),
                    after.get(),
                )
            },
            |(id, filter, _, target, before, after): ConversationQuery| async move {
                let id = id?;
                let page = match target.clone() {
                    Some(message_id) => open_message(message_id).await,
                    None => {
                        let filter = (!filter.is_empty()).then_some(filter);
                        load_conversation(id, before, after, filter).await
                    }
                };
                Some(page.map(|page| Opened {
                    page,
                    focus: target,
                }))
            },
        );
        let opened = move |read: fn(&Opened) -> Option<String>| {
            Memo::new(move |_| conversation.with(|value| value.and_then(opened_of).and_then(read)))
        };
        ChatStore {
            conversation,
            session: Memo::new(move |_| {
                conversation.with(|value| value.and_then(opened_of).map(|o| o.page.session.clone()))
            }),
            messages: Memo::new(move |_| {
                conversation.with(|value| {
                    value
                        .and_then(opened_of)
                        .map(|opened| opened.page.messages.clone())
                        .unwrap_or_default()
                })
            }),
            earlier: opened(|opened| opened.page.earlier.clone()),
            later: opened(|opened| opened.page.later.clone()),
            focus: opened(|opened| opened.focus.clone()),
            filter,
            live: RwSignal::new(None),
            reload,
            draft: RwSignal::new(String::new()),
            message_type: RwSignal::new(confab_core::model::DEFAULT_MESSAGE_TYPE.to_owned()),
            model: RwSignal::new(None),
        }
    }

    /// Changes the open conversation here, if it is still `session_id` (a reply from the
    /// server may come after the user moved on).
    pub fn edit(&self, session_id: &str, change: impl FnOnce(&mut Opened)) {
        self.conversation.edit(|value| {
            if let Some(Ok(opened)) = value {
                if opened.page.session.id == session_id {
                    change(opened);
                }
            }
        });
    }

    pub fn session_id(&self) -> Option<String> {
        self.session
            .with(|session| session.as_ref().map(|s| s.id.clone()))
    }

    pub fn streaming(&self) -> bool {
        self.live.with(Option::is_some)
    }
}

/// The conversation in a loaded value, if it opened.
fn opened_of(value: &Conversation) -> Option<&Opened> {
    value.as_ref().and_then(|result| result.as_ref().ok())
}

pub fn use_chat() -> ChatStore {
    expect_context::<ChatStore>()
}

/// Provides the shared state. Called inside the `Router`: the open conversation is the one
/// the URL names.
pub fn provide_state(auth: Auth) {
    provide_context(Toasts::new());
    provide_context(SessionsStore::new(auth));
    provide_context(ChatStore::new());
}

/// The shared state, taken from context in a component body (event handlers run outside the
/// component's owner, where `use_context` finds nothing).
#[derive(Clone, Copy)]
pub struct Stores {
    pub chat: ChatStore,
    pub sessions: SessionsStore,
    pub toasts: Toasts,
}

pub fn use_stores() -> Stores {
    Stores {
        chat: use_chat(),
        sessions: use_sessions(),
        toasts: use_toasts(),
    }
}

/// What the user asked for.
pub enum Outgoing {
    Send {
        session_id: Option<String>,
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

/// Sends a message (or an edit, or asks for another reply) and streams the answer into the
/// open conversation. The user's message shows at once; if the server refuses it, it is taken
/// back, the text returns to the composer, and a notice says why.
pub fn start_reply(
    stores: Stores,
    outgoing: Outgoing,
    navigate: impl Fn(&str, NavigateOptions) + 'static,
) {
    let Stores {
        chat,
        sessions,
        toasts,
    } = stores;
    if chat.live.get_untracked().is_some() {
        toasts.error("Wait for the current reply to finish, or stop it.");
        return;
    }
    let model = chat.model.get_untracked();
    let message_type = chat.message_type.get_untracked();
    // One id per composed message: a request resent after a dropped connection follows the
    // reply already stored or running instead of asking the model again.
    let client_id = Some(client::new_client_id());
    let (path, body, live) = match outgoing {
        Outgoing::Send {
            session_id,
            content,
        } => (
            "/api/chat",
            serde_json::to_string(&ChatInput {
                session_id: session_id.clone(),
                content: content.clone(),
                message_type: Some(message_type.clone()),
                model: model.clone(),
                client_id: client_id.clone(),
                ..Default::default()
            }),
            LiveReply {
                session_id,
                user_text: Some(content),
                user_type: message_type,
                model: model.clone(),
                ..Default::default()
            },
        ),
        Outgoing::Edit {
            session_id,
            original,
            content,
        } => (
            "/api/chat",
            serde_json::to_string(&ChatInput {
                session_id: Some(session_id.clone()),
                content: content.clone(),
                message_type: Some(message_type.clone()),
                model: model.clone(),
                edit_of: Some(original.clone()),
                client_id: client_id.clone(),
                ..Default::default()
            }),
            LiveReply {
                session_id: Some(session_id),
                user_text: Some(content),
                user_type: message_type,
                cut_from: Some(original),
                model: model.clone(),
                ..Default::default()
            },
        ),
        Outgoing::Regenerate { session_id, reply } => (
            "/api/chat/regenerate",
            serde_json::to_string(&RegenerateInput {
                message_id: reply.clone(),
                model: model.clone(),
                client_id: client_id.clone(),
            }),
            LiveReply {
                session_id: Some(session_id),
                cut_from: Some(reply),
                model: model.clone(),
                ..Default::default()
            },
        ),
    };
    let Ok(body) = body else {
        toasts.error("Could not prepare the message.");
        return;
    };
    let draft_text = live.user_text.clone();
    // Opened at a message in the middle of the branch (a search hit): the new message goes at
    // the branch's end, so show the end.
    if chat.later.with_untracked(Option::is_some) || chat.focus.with_untracked(Option::is_some) {
        if let Some(session_id) = &live.session_id {
            chat.edit(session_id, |opened| opened.focus = None);
            navigate(&format!("/c/{session_id}"), NavigateOptions::default());
        }
    }
    chat.live.set(Some(live));
    spawn_local(async move {
        let mut finished = false;
        let mut user_saved: Option<Message> = None;
        let mut session_id: Option<String> = chat
            .live
            .with_untracked(|live| live.as_ref().and_then(|l| l.session_id.clone()));
        let result = client::post_event_stream(path, &body, |event| match event {
            ChatEvent::Message { message, session } => {
                session_id = Some(message.session_id.clone());
                chat.live.update(|live| {
                    if let Some(live) = live {
                        live.session_id = Some(message.session_id.clone());
                        if live.user_text.is_some() {
                            live.user_saved = Some(message.clone());
                        }
                    }
                });
                if chat.live.with_untracked(|live| {
                    live.as_ref().is_some_and(|live| live.user_text.is_some())
                }) {
                    user_saved = Some(message);
                }
                if let Some(session) = session {
                    let path = format!("/c/{}", session.id);
                    sessions.upsert(session);
                    navigate(&path, NavigateOptions::default());
                }
            }
            ChatEvent::Reply { message } => {
                chat.live.update(|live| {
                    if let Some(live) = live {
                        live.reply_id = Some(message.id);
                    }
                });
            }
            ChatEvent::Delta { text } => {
                chat.live.update(|live| {
                    if let Some(live) = live {
                        live.text.push_str(&text);
                    }
                });
            }
            ChatEvent::Done { message } => {
                finish(chat, user_saved.clone(), Some(message));
                finished = true;
            }
            ChatEvent::Error {
                error,
                message: partial,
                text,
                unsaved,
            } => {
                let reason = error.message;
                match (text, session_id.clone()) {
                    // The reply streamed but could not be saved: keep its text on offer.
                    (Some(text), Some(session_id)) => {
                        toasts.push(
                            format!("The reply could not be saved: {reason}"),
                            ToastKind::Error,
                            Some(ToastAction::SaveReply {
                                session_id,
                                parent_id: user_saved.as_ref().map(|m| m.id.clone()),
                                text,
                                unsaved,
                            }),
                            Duration::from_secs(600),
                        );
                    }
                    _ => toasts.error(format!("The reply did not complete: {reason}")),
                }
                finish(chat, user_saved.clone(), partial);
                finished = true;
            }
        })
        .await;
        match result {
            Ok(()) if finished => {}
            Ok(()) => finish(chat, user_saved.clone(), None),
            Err(StreamError::Aborted) => {
                finish(chat, user_saved.clone(), None);
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
                finish(chat, user_saved.clone(), None);
                toasts.error(format!("The reply was interrupted: {reason}"));
            }
        }
        if let Some(id) = session_id {
            sessions.refresh(id);
        }
    });
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
            for message in user_saved.into_iter().chain(reply) {
                if !list.iter().any(|view| view.message.id == message.id) {
                    list.push(single_view(message));
                }
            }
        });
    }
    chat.live.set(None);
    chat.reload.update(|n| *n += 1);
}
