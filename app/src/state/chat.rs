//! The open conversation: the one the URL names, loaded by a resource and shown with the
//! changes made since, and the reply streaming into it. Living above the routes, a reply keeps
//! streaming while the URL changes (a first message creates its session, and the page moves
//! to `/c/{id}` mid-reply).

use confab_core::model::{Message, Session};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{Edited, SessionActions};
use crate::components::auth::Auth;
use crate::components::session_list::current_session_id;
use crate::error::AppError;
use crate::server_fns::{load_conversation, open_message, MessageView, SessionView};

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
    /// The open session, `None` on pages without one.
    pub session: Memo<Option<Session>>,
    /// The loaded messages of its active branch, root side first.
    pub messages: Memo<Vec<MessageView>>,
    /// The cursor of the page above the loaded messages; `None` when they start the branch.
    pub earlier: Memo<Option<String>>,
    /// The cursor of the page below the loaded messages; `None` when they end the branch.
    pub later: Memo<Option<String>>,
    /// See [`Opened::focus`].
    pub focus: Memo<Option<String>>,
    /// Only messages of this type are shown (empty: all).
    pub filter: RwSignal<String>,
    /// The reply being streamed, if any (above the routes: it survives navigation).
    pub live: RwSignal<Option<LiveReply>>,
    /// Bumped to load the open conversation again from the server.
    pub reload: RwSignal<u32>,
    /// The composer's text (kept while moving between pages).
    pub draft: RwSignal<String>,
    /// The type the next message is sent as.
    pub message_type: RwSignal<String>,
    /// The model the next reply is asked of (`None`: not chosen yet, the server's default).
    pub model: RwSignal<Option<String>>,
}

/// What `/c/{id}` asks for: who is signed in (the versions of the sign-in, sign-up and
/// sign-out actions), the session, the filter, the reload count, and the `?m=`, `?before=` and
/// `?after=` of the URL.
type ConversationQuery = (
    crate::components::auth::SignInChanges,
    Option<String>,
    String,
    u32,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl ChatStore {
    /// Made inside the router: the conversation follows the URL.
    pub(super) fn new(auth: Auth, actions: SessionActions) -> ChatStore {
        let filter = RwSignal::new(String::new());
        let reload = RwSignal::new(0);
        let conversation = load_conversation_of_url(auth, filter, reload);
        let opened = move |read: fn(&Opened) -> Option<String>| {
            Memo::new(move |_| conversation.with(|value| value.and_then(opened_of).and_then(read)))
        };
        ChatStore {
            conversation,
            // With the changes pending on the server shown (a rename, a pin, a clear).
            session: Memo::new(move |_| {
                let mut session = conversation
                    .with(|value| value.and_then(opened_of).map(|o| o.page.session.clone()))?;
                actions.show_pending(&mut session);
                Some(session)
            }),
            messages: Memo::new(move |_| {
                conversation.with(|value| match value.and_then(opened_of) {
                    Some(opened) if !actions.clearing(&opened.page.session.id) => {
                        opened.page.messages.clone()
                    }
                    _ => Vec::new(),
                })
            }),
            earlier: Memo::new(move |_| {
                conversation.with(|value| match value.and_then(opened_of) {
                    Some(opened) if !actions.clearing(&opened.page.session.id) => {
                        opened.page.earlier.clone()
                    }
                    _ => None,
                })
            }),
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

    /// The open session's id (tracked).
    pub fn session_id(&self) -> Option<String> {
        self.session
            .with(|session| session.as_ref().map(|s| s.id.clone()))
    }

    /// The open session's id, for event handlers (untracked).
    pub fn session_id_untracked(&self) -> Option<String> {
        untrack(|| self.session_id())
    }

    /// Whether a reply is streaming (tracked): one at a time.
    pub fn streaming(&self) -> bool {
        self.live.with(Option::is_some)
    }
}

/// The resource of the conversation the URL names (`/c/{id}`; nothing on other pages), with
/// the filter and the reload count. Loaded again when someone signs in or out: the page can
/// stay on the same URL while another account signs in, and must never show it the
/// conversation loaded for the one before.
fn load_conversation_of_url(
    auth: Auth,
    filter: RwSignal<String>,
    reload: RwSignal<u32>,
) -> Edited<Conversation> {
    let id = current_session_id();
    let query = use_query_map();
    // `?m=` (a search hit): open at that message, on whichever page and branch it is.
    // `?before=` and `?after=`: the page above or below a message, as the paging links ask
    // for it when the WASM is not there to add pages to the list.
    let parameter = move |key: &'static str| {
        Memo::new(move |_| query.read().get(key).filter(|value| !value.is_empty()))
    };
    let (target, before, after) = (parameter("m"), parameter("before"), parameter("after"));
    Edited::new(
        super::lasting(move || -> Option<ConversationQuery> {
            Some((
                auth.changes(),
                id.try_get()?,
                filter.try_get()?,
                reload.try_get()?,
                target.try_get()?,
                before.try_get()?,
                after.try_get()?,
            ))
        }),
        |(_, id, filter, _, target, before, after): ConversationQuery| async move {
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
    )
}

/// The conversation in a loaded value, if it opened.
fn opened_of(value: &Conversation) -> Option<&Opened> {
    value.as_ref().and_then(|result| result.as_ref().ok())
}

/// The open conversation, from context.
pub fn use_chat() -> ChatStore {
    expect_context::<ChatStore>()
}
