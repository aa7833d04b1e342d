//! Changes to a session asked of the server: rename, pin, archive, tag, clear and delete. Each is
//! an `Action` calling its server function. While one is pending, its input is laid over what
//! the page shows, so the change shows at once (`show_pending`, `clearing`, `deleting`). Its
//! answer then goes into the resources (kept), or, refused, the overlay simply ends (the
//! session shows as the server has it) and a notice says why. The answer carries its input,
//! so a notice can name the conversation even after the page moved on.

use std::future::Future;
use std::time::Duration;

use confab_core::model::Session;
use leptos::prelude::*;

use super::{
    error_text, ChatStore, FoldersStore, SessionsStore, TagsStore, ToastAction, ToastKind, Toasts,
};
use crate::error::AppError;
use crate::server_fns::{
    clear_session, delete_session, tag_session, untag_session, update_session,
};

/// How long the notice with Undo stays after a delete (the server keeps the conversation
/// restorable for much longer; this is only how long the button is offered).
pub(super) const UNDO_NOTICE: Duration = Duration::from_secs(10);

/// A change of a session's title, pin or archive, as asked (`None`: unchanged).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub id: String,
    pub title: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    /// What was asked, for the notice if the server refuses ("rename the conversation").
    pub what: &'static str,
}

impl Change {
    /// Shows the change on `session` (if it is the one changed).
    fn apply(&self, session: &mut Session) {
        if session.id != self.id {
            return;
        }
        if let Some(title) = &self.title {
            session.title = title.clone();
        }
        if let Some(pinned) = self.pinned {
            session.pinned = pinned;
        }
        if let Some(archived) = self.archived {
            session.archived = archived;
        }
    }
}

/// A tag put on or taken off one session, as asked.
#[derive(Clone, Debug, PartialEq)]
pub struct TagChange {
    pub id: String,
    /// A tag as `confab_core::tags` makes it from what was typed.
    pub tag: String,
    /// Put on (`true`) or taken off.
    pub add: bool,
}

impl TagChange {
    /// Shows the change on `session` (if it is the one changed), its tags kept sorted as the
    /// server keeps them.
    fn apply(&self, session: &mut Session) {
        if session.id != self.id {
            return;
        }
        let tags = &mut session.tags;
        tags.retain(|tag| *tag != self.tag);
        if self.add {
            tags.push(self.tag.clone());
            tags.sort();
        }
    }
}

/// An action on a whole session, answered with the session it was asked for.
type SessionAction = Action<Session, (Session, Result<(), AppError>)>;

/// The session actions, made once with the shared state (never inside a `Suspense`).
#[derive(Clone, Copy)]
pub struct SessionActions {
    pub rename: Action<Change, (Change, Result<Session, AppError>)>,
    pub pin: Action<Change, (Change, Result<Session, AppError>)>,
    pub archive: Action<Change, (Change, Result<Session, AppError>)>,
    pub tag: Action<TagChange, (TagChange, Result<Session, AppError>)>,
    pub clear: SessionAction,
    pub delete: SessionAction,
}

impl SessionActions {
    pub(super) fn new() -> SessionActions {
        // One action for each kind of change: an action shows only its latest input, and two
        // kinds asked for at once (a pin during a rename) must both show.
        SessionActions {
            rename: change_action(),
            pin: change_action(),
            archive: change_action(),
            tag: Action::new(|change: &TagChange| {
                let change = change.clone();
                async move {
                    let (id, tag) = (change.id.clone(), change.tag.clone());
                    let answer = if change.add {
                        tag_session(id, tag).await
                    } else {
                        untag_session(id, tag).await
                    };
                    (change, answer)
                }
            }),
            clear: session_action(clear_session),
            delete: session_action(delete_session),
        }
    }

    /// `session` as it shows while changes to it are pending (tracked).
    pub fn show_pending(&self, session: &mut Session) {
        for action in [self.rename, self.pin, self.archive] {
            action.input().with(|change| {
                if let Some(change) = change {
                    change.apply(session);
                }
            });
        }
        self.tag.input().with(|change| {
            if let Some(change) = change {
                change.apply(session);
            }
        });
    }

    /// Whether the messages of session `id` are being cleared (tracked).
    pub fn clearing(&self, id: &str) -> bool {
        pending_for(self.clear, id)
    }

    /// Whether session `id` is being deleted (tracked).
    pub fn deleting(&self, id: &str) -> bool {
        pending_for(self.delete, id)
    }

    /// Takes the answers: each kept change goes into the resources, each refusal into a
    /// notice. Effects, so only in the browser, and once per answer.
    pub(super) fn answer(
        self,
        chat: ChatStore,
        sessions: SessionsStore,
        tags: TagsStore,
        folders: FoldersStore,
        toasts: Toasts,
    ) {
        let navigate = leptos_router::hooks::use_navigate();
        for action in [self.rename, self.pin, self.archive] {
            Effect::new(move |_| match action.value().get() {
                Some((_, Ok(saved))) => {
                    chat.edit(&saved.id.clone(), |opened| {
                        opened.page.session = saved.clone()
                    });
                    // Its folder counts the conversations not archived.
                    if saved.folder_id.is_some() {
                        folders.reload();
                    }
                    sessions.upsert(saved);
                }
                Some((change, Err(error))) => {
                    toasts.error(format!("Could not {}: {}", change.what, error_text(&error)))
                }
                None => {}
            });
        }
        // A tag put on may be new to the user, and one taken off may have been its last use.
        Effect::new(move |_| match self.tag.value().get() {
            Some((_, Ok(saved))) => {
                chat.edit(&saved.id.clone(), |opened| {
                    opened.page.session = saved.clone()
                });
                sessions.upsert(saved);
                tags.reload();
            }
            Some((change, Err(error))) => toasts.error(format!(
                "Could not {} the tag “{}”: {}",
                if change.add { "add" } else { "remove" },
                change.tag,
                error_text(&error)
            )),
            None => {}
        });
        Effect::new(move |_| match self.clear.value().get() {
            Some((session, Ok(()))) => {
                chat.edit(&session.id, |opened| {
                    opened.page.messages.clear();
                    opened.page.earlier = None;
                });
                // Opened at a message (`?m=`) or a page (`?before=`, `?after=`), the URL names
                // a message that is gone: the conversation is opened plain instead.
                if chat
                    .session
                    .get_untracked()
                    .is_some_and(|open| open.id == session.id)
                {
                    let plain = leptos_router::NavigateOptions {
                        replace: true,
                        ..Default::default()
                    };
                    navigate(&format!("/c/{}", session.id), plain);
                }
                chat.reload.update(|n| *n += 1);
                sessions.refresh(session.id);
            }
            Some((_, Err(error))) => toasts.error(format!(
                "Could not clear the conversation: {}",
                error_text(&error)
            )),
            None => {}
        });
        Effect::new(move |_| match self.delete.value().get() {
            // Deleted on the server at once; the notice offers Undo (the server keeps deleted
            // conversations restorable for a while, so closing the page loses nothing that
            // was not deleted, and deletes everything that was).
            Some((session, Ok(()))) => {
                sessions.remove(&session.id);
                if session.folder_id.is_some() {
                    folders.reload();
                }
                toasts.push(
                    format!("Deleted “{}”.", session.title),
                    ToastKind::Info,
                    Some(ToastAction::RestoreSession(session.id)),
                    UNDO_NOTICE,
                );
            }
            Some((session, Err(error))) => toasts.error(format!(
                "Could not delete “{}”: {}",
                session.title,
                error_text(&error)
            )),
            None => {}
        });
    }
}

fn change_action() -> Action<Change, (Change, Result<Session, AppError>)> {
    Action::new(|change: &Change| {
        let change = change.clone();
        async move {
            let answer = update_session(
                change.id.clone(),
                change.title.clone(),
                change.pinned,
                change.archived,
            )
            .await;
            (change, answer)
        }
    })
}

fn session_action<Call, Answer>(call: Call) -> SessionAction
where
    Call: Fn(String) -> Answer + Send + Sync + 'static,
    Answer: Future<Output = Result<(), AppError>> + Send + 'static,
{
    Action::new(move |session: &Session| {
        let session = session.clone();
        let answer = call(session.id.clone());
        async move { (session, answer.await) }
    })
}

/// Whether `action` is pending for session `id` (tracked).
fn pending_for(action: SessionAction, id: &str) -> bool {
    action
        .input()
        .with(|session| session.as_ref().is_some_and(|session| session.id == id))
}
