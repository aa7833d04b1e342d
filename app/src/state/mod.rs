//! State shared across pages, provided once inside the router: notices (toasts), the session
//! list, the open conversation with the reply that is streaming into it, and the search. Each lives in
//! its own module; components take them from context with the `use_*` functions.

mod chat;
mod edited;
mod folders;
mod reply;
mod search;
mod selection;
mod session_actions;
mod sessions;
mod stream;
mod tags;
mod toasts;

use leptos::prelude::*;

pub use chat::{use_chat, ChatStore, Conversation, LiveReply, Opened};
pub use edited::{lasting, Edited, Loaded};
pub use folders::{use_folders, FoldersStore};
pub use reply::{save_reply_again, start_reply, stop_reply, Outgoing};
pub use search::{use_search, Results, SearchInput, SearchStore};
pub use selection::{use_selection, BulkChange, Scope, Selection};
pub use session_actions::{Change, SessionActions, TagChange};
pub use sessions::{activity, use_sessions, SessionsStore};
pub use tags::{use_tags, TagsStore};
pub use toasts::{use_toasts, Toast, ToastAction, ToastKind, Toasts};

use crate::components::auth::{Auth, SignInChanges};
use crate::error::AppError;

/// A server function error as a sentence for people, chosen by its code.
pub fn error_text(error: &AppError) -> String {
    error.sentence()
}

/// Provides the shared state. Called inside the `Router`: the open conversation is the one
/// the URL names.
pub fn provide_state(auth: Auth) {
    let toasts = Toasts::new();
    let actions = SessionActions::new();
    let selection = Selection::new();
    let folders = FoldersStore::new(auth);
    let sessions = SessionsStore::new(auth, actions, selection, folders);
    let chat = ChatStore::new(auth, actions);
    let tags = TagsStore::new(auth);
    actions.answer(chat, sessions, tags, folders, toasts);
    forget_on_sign_in_or_out(auth, chat, sessions, toasts, selection);
    provide_context(toasts);
    provide_context(selection);
    provide_context(actions);
    provide_context(sessions);
    provide_context(tags);
    provide_context(folders);
    provide_context(chat);
    provide_context(SearchStore::new());
}

/// Signing out and in again (as someone else, in the same tab) loads no new page: what the
/// one account left here goes when the sign-in changes. Its unsent draft, its notices (an
/// Undo of its delete, a reply kept for "Retry save"), the reply still streaming for it, and
/// its choice of model, type and filter, its selection of conversations, the tag the list
/// was filtered by and the folder it showed. The conversation, the session list and the tags reload by themselves
/// (their sources hold the same versions).
fn forget_on_sign_in_or_out(
    auth: Auth,
    chat: ChatStore,
    sessions: SessionsStore,
    toasts: Toasts,
    selection: Selection,
) {
    Effect::new(move |before: Option<SignInChanges>| {
        let now = auth.changes();
        if before.is_some_and(|before| before != now) {
            crate::client::abort_current();
            chat.live.set(None);
            chat.draft.set(String::new());
            chat.filter.set(String::new());
            chat.message_type
                .set(confab_core::model::DEFAULT_MESSAGE_TYPE.to_owned());
            chat.model.set(None);
            toasts.list.set(Vec::new());
            selection.clear();
            sessions.tag.set(None);
            sessions.folder.set(None);
        }
        now
    });
}

/// The shared state, taken from context in a component body (event handlers run outside the
/// component's owner, where `use_context` finds nothing).
#[derive(Clone, Copy)]
pub struct Stores {
    pub chat: ChatStore,
    pub sessions: SessionsStore,
    pub toasts: Toasts,
}

/// The session actions (rename, pin, archive, clear, delete).
pub fn use_session_actions() -> SessionActions {
    expect_context::<SessionActions>()
}

/// All three stores, from context (see `Stores`).
pub fn use_stores() -> Stores {
    Stores {
        chat: use_chat(),
        sessions: use_sessions(),
        toasts: use_toasts(),
    }
}
