//! The session list of the sidebar: its first page from the server, pages added on scroll,
//! and changes shown before the server confirms them (delete with Undo, restore, refresh).

use chrono::{DateTime, Utc};
use confab_core::api::FolderFilter;
use confab_core::model::{Page, Session};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{error_text, Edited, FoldersStore, Selection, SessionActions, Toasts};
use crate::components::auth::Auth;
use crate::error::AppError;
use crate::server_fns::{get_session, list_sessions, restore_session};

/// When a session last saw activity: what the list is ordered by, as the server orders it
/// (the later of its creation and its last message: a fork is new, its messages are old).
pub fn activity(session: &Session) -> DateTime<Utc> {
    session
        .last_message_at
        .map_or(session.created_at, |last| last.max(session.created_at))
}

/// The sidebar's sessions: the first page from the server (rendered with the page), with the
/// pages added on scroll and the changes made here before the server confirms them.
#[derive(Clone, Copy)]
pub struct SessionsStore {
    /// The list: the resource is its source of truth, the changes made here are laid over it.
    pub list: Edited<Result<Page<Session>, AppError>>,
    /// Showing archived sessions instead of the others.
    pub archived: RwSignal<bool>,
    /// Showing only the sessions with this tag.
    pub tag: RwSignal<Option<String>>,
    /// The folder shown (`None`: the top level): the list holds the sessions directly in it,
    /// unless it shows the archived ones or those with a tag, which come from every folder.
    pub folder: RwSignal<Option<String>>,
    pub loading_more: RwSignal<bool>,
    actions: SessionActions,
    selection: Selection,
    /// Its counts follow the sessions moved, archived, deleted and restored.
    pub folders: FoldersStore,
}

impl SessionsStore {
    pub(super) fn new(
        auth: Auth,
        actions: SessionActions,
        selection: Selection,
        folders: FoldersStore,
    ) -> SessionsStore {
        let archived = RwSignal::new(false);
        let tag = RwSignal::new(None::<String>);
        let folder = RwSignal::new(None::<String>);
        let list = Edited::new(
            super::lasting(move || {
                Some((
                    auth.changes(),
                    archived.try_get()?,
                    tag.try_get()?,
                    folder.try_get()?,
                ))
            }),
            // Asks who is signed in first: signed out, there is nothing to list (and no failed
            // request to log in the console).
            |(_, archived, tag, folder)| async move {
                let folder = folder_filter(archived, tag.as_deref(), folder);
                match crate::server_fns::current_user().await {
                    Ok(Some(_)) => list_sessions(None, archived, tag, folder).await,
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
            tag,
            folder,
            loading_more: RwSignal::new(false),
            actions,
            selection,
            folders,
        }
    }

    /// Whether the first page has arrived (tracked).
    pub fn loaded(&self) -> bool {
        self.list.with(|page| page.is_some())
    }

    /// Whether `session` belongs in the list as it is filtered now (tracked).
    fn shown_here(&self, session: &Session) -> bool {
        let archived = self.archived.get();
        session.archived == archived
            && self.tag.with(|tag| match tag {
                Some(tag) => session.tags.iter().any(|own| own == tag),
                // Only the folder view lists one folder's sessions.
                None => archived || self.folder.with(|folder| *folder == session.folder_id),
            })
    }

    /// The sessions listed (tracked), with the changes pending on the server shown: a
    /// session being deleted is gone, one being archived leaves the list (as one losing the
    /// tag the list is filtered by does), and so do those a bulk action under way takes off
    /// it.
    pub fn visible(&self) -> Vec<Session> {
        let mut items = self.list.with(|page| {
            page.and_then(|page| page.as_ref().ok())
                .map(|page| page.items.clone())
                .unwrap_or_default()
        });
        items.retain(|session| !self.actions.deleting(&session.id));
        self.selection
            .leaving
            .with(|leaving| items.retain(|session| !leaving.contains(&session.id)));
        for session in &mut items {
            self.actions.show_pending(session);
        }
        items.retain(|session| self.shown_here(session));
        items
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
        let shown = untrack(|| self.shown_here(&session));
        self.edit_items(|page| {
            let items = &mut page.items;
            items.retain(|item| item.id != session.id);
            if shown {
                items.push(session);
            }
            items.sort_by_key(|item| std::cmp::Reverse(activity(item)));
        });
    }

    /// Takes a session off the list (deleted).
    pub fn remove(&self, id: &str) {
        self.edit_items(|page| page.items.retain(|item| item.id != id));
    }

    /// Undo of a delete: the server restores the session, which is listed again as it was.
    pub fn restore(&self, id: String, toasts: Toasts) {
        let store = *self;
        spawn_local(async move {
            match restore_session(id).await {
                Ok(session) => {
                    if session.folder_id.is_some() {
                        store.folders.reload();
                    }
                    store.upsert(session)
                }
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

    /// Adds the next page of sessions (scrolling to the end of the sidebar, "Load more").
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
            let (archived, tag) = (store.archived.get_untracked(), store.tag.get_untracked());
            let folder = folder_filter(archived, tag.as_deref(), store.folder.get_untracked());
            match list_sessions(Some(cursor), archived, tag, folder).await {
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

/// The folder filter of the list: the folder shown (or the top level), except in the
/// archived view and a tag's, which list the sessions of every folder.
fn folder_filter(
    archived: bool,
    tag: Option<&str>,
    folder: Option<String>,
) -> Option<FolderFilter> {
    if archived || tag.is_some() {
        return None;
    }
    Some(folder.map_or(FolderFilter::Top, FolderFilter::Folder))
}

/// The session list, from context.
pub fn use_sessions() -> SessionsStore {
    expect_context::<SessionsStore>()
}
