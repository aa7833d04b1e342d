//! Conversations selected in the sidebar or in the search results, and the one action the
//! server applies to all of them at once (`bulk_sessions`): archive, unarchive, delete (with
//! Undo), pin, unpin, tag and untag; or the one file they are exported to
//! (`/api/chat/sessions/export`).
//!
//! Shown before the server answers: conversations that an action takes off the list leave it
//! at once, and come back with a notice when the server refuses.

use confab_core::api::{SessionsBulkAction, SessionsBulkResult, MAX_BULK_SESSIONS};
use confab_core::tags::MAX_TAGS_PER_SESSION;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::session_actions::UNDO_NOTICE;
use super::{error_text, SearchStore, SessionsStore, TagsStore, ToastAction, ToastKind, Toasts};
use crate::client;
use crate::server_fns::bulk_sessions;
use crate::words::counted;

/// Where a selection is made. A selection belongs to one list: choosing in the other starts a
/// new one, so an action never takes conversations the user no longer sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    Sidebar,
    /// The conversations of the search results.
    Search,
}

/// A bulk action with what it takes: the tag of `Tag` and `Untag`, the folder of `Move`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkChange {
    pub action: SessionsBulkAction,
    pub tag: Option<String>,
    /// Where `Move` puts the conversations (`None`: the top level).
    pub folder_id: Option<String>,
}

impl BulkChange {
    /// An action that takes nothing more (archive, pin, delete, ...).
    pub fn plain(action: SessionsBulkAction) -> BulkChange {
        BulkChange {
            action,
            tag: None,
            folder_id: None,
        }
    }

    /// `Tag` or `Untag` with `tag`.
    pub fn tagged(action: SessionsBulkAction, tag: String) -> BulkChange {
        BulkChange {
            tag: Some(tag),
            ..BulkChange::plain(action)
        }
    }

    /// Into folder `folder_id` (`None`: the top level).
    pub fn moved(folder_id: Option<String>) -> BulkChange {
        BulkChange {
            folder_id,
            ..BulkChange::plain(SessionsBulkAction::Move)
        }
    }
}

/// The conversations selected in one list (`scope`).
#[derive(Clone, Copy)]
pub struct Selection {
    /// The list the selection was made in.
    pub scope: RwSignal<Scope>,
    /// The selected ids, in the order they were selected.
    pub ids: RwSignal<Vec<String>>,
    /// The conversation clicked last: a Shift-click selects from it to the one clicked.
    anchor: RwSignal<Option<String>>,
    /// Conversations an action under way takes off the list (`SessionsStore::visible`).
    pub leaving: RwSignal<Vec<String>>,
    /// An action is on the server.
    pub busy: RwSignal<bool>,
}

impl Selection {
    pub(super) fn new() -> Selection {
        Selection {
            scope: RwSignal::new(Scope::Sidebar),
            ids: RwSignal::new(Vec::new()),
            anchor: RwSignal::new(None),
            leaving: RwSignal::new(Vec::new()),
            busy: RwSignal::new(false),
        }
    }

    /// Whether `id` is selected (tracked).
    pub fn contains(&self, id: &str) -> bool {
        self.ids
            .with(|ids| ids.iter().any(|selected| selected == id))
    }

    /// Whether there is a selection in `scope` (tracked).
    pub fn active_in(&self, scope: Scope) -> bool {
        self.scope.get() == scope && self.ids.with(|ids| !ids.is_empty())
    }

    /// Makes `scope` the list selected in, clearing a selection made in the other one.
    fn enter(&self, scope: Scope) {
        if self.scope.get_untracked() != scope {
            self.clear();
            self.scope.set(scope);
        }
    }

    /// Selects or unselects `id` of the list `scope`; with `range`, every conversation of
    /// `order` (the list as shown) between the last one clicked and `id` takes `id`'s new
    /// state.
    pub fn toggle(&self, scope: Scope, id: &str, range: bool, order: &[String]) {
        self.enter(scope);
        let select = !self.contains(id);
        let anchor = self.anchor.get_untracked();
        let span: Vec<String> = match anchor.as_deref().filter(|_| range) {
            Some(anchor) => {
                let at = |wanted: &str| order.iter().position(|id| id == wanted);
                match (at(anchor), at(id)) {
                    (Some(from), Some(to)) => order[from.min(to)..=from.max(to)].to_vec(),
                    _ => vec![id.to_owned()],
                }
            }
            None => vec![id.to_owned()],
        };
        self.ids.update(|ids| {
            ids.retain(|selected| !span.contains(selected));
            if select {
                ids.extend(span);
            }
        });
        self.anchor.set(Some(id.to_owned()));
    }

    /// Selects every conversation in `order` (the list `scope` as shown), at most the
    /// `MAX_BULK_SESSIONS` one action may name (the first of them, with a notice).
    pub fn select_all(&self, scope: Scope, mut order: Vec<String>, toasts: Toasts) {
        self.enter(scope);
        if order.len() > MAX_BULK_SESSIONS {
            order.truncate(MAX_BULK_SESSIONS);
            toasts.info(format!(
                "Selected the first {MAX_BULK_SESSIONS}: one action takes at most that many."
            ));
        }
        self.ids.set(order);
    }

    pub fn clear(&self) {
        self.ids.set(Vec::new());
        self.anchor.set(None);
    }

    /// The selected ids that its list still shows: a conversation that left the list since
    /// it was selected (a delete or archive of its own, another page, another search) is not
    /// acted on unseen.
    fn shown(&self, sessions: SessionsStore, search: SearchStore) -> Vec<String> {
        let shown: Vec<String> = match self.scope.get_untracked() {
            Scope::Sidebar => untrack(|| sessions.visible())
                .into_iter()
                .map(|session| session.id)
                .collect(),
            Scope::Search => search.conversation_ids(),
        };
        self.ids
            .get_untracked()
            .into_iter()
            .filter(|id| shown.contains(id))
            .collect()
    }

    /// Asks the server for the selection as one file (`format`: `json` or `markdown`) and
    /// hands it to the browser as a download; a notice says why when it fails.
    pub fn export(
        &self,
        format: &'static str,
        (sessions, search, toasts): (SessionsStore, SearchStore, Toasts),
    ) {
        let ids = self.shown(sessions, search);
        if ids.is_empty() || self.busy.get_untracked() {
            return;
        }
        let body = serde_json::json!({ "ids": ids, "format": format }).to_string();
        let fallback = if format == "markdown" {
            "confab-conversations.md"
        } else {
            "confab-conversations.json"
        };
        self.busy.set(true);
        let selection = *self;
        spawn_local(async move {
            let answer = client::download("/api/chat/sessions/export", &body, fallback).await;
            selection.busy.set(false);
            match answer {
                Ok(()) => toasts.info(format!(
                    "Exported {}.",
                    counted(ids.len() as u64, "conversation", "conversations")
                )),
                Err(reason) => toasts.error(format!(
                    "Could not export {}: {reason}",
                    counted(ids.len() as u64, "conversation", "conversations")
                )),
            }
        });
    }

    /// Asks the server to apply `change` to the selection, in one request. `leave` is called
    /// with the ids deleted, to leave the page of the open conversation if it is among them.
    pub fn apply(
        &self,
        change: BulkChange,
        stores: (SessionsStore, SearchStore, TagsStore, Toasts),
        leave: impl Fn(&[String]) + 'static,
    ) {
        let ids = self.shown(stores.0, stores.1);
        self.send(ids, change, stores, leave, true);
    }

    /// Moves conversations `ids` (dragged onto a folder: the selection, or one not in it)
    /// into `folder_id` (`None`: the top level), in one request.
    pub fn move_ids(
        &self,
        ids: Vec<String>,
        folder_id: Option<String>,
        stores: (SessionsStore, SearchStore, TagsStore, Toasts),
    ) {
        let selected = self
            .ids
            .with_untracked(|selected| ids.iter().all(|id| selected.contains(id)));
        self.send(ids, BulkChange::moved(folder_id), stores, |_| {}, selected);
    }

    /// Sends `change` of `ids`: conversations it takes off the list leave it at once and come
    /// back, still selected, when the server refuses. `clears`: the selection is done with
    /// once the server has made the change.
    fn send(
        &self,
        ids: Vec<String>,
        change: BulkChange,
        (sessions, search, tags, toasts): (SessionsStore, SearchStore, TagsStore, Toasts),
        leave: impl Fn(&[String]) + 'static,
        clears: bool,
    ) {
        if ids.is_empty() || self.busy.get_untracked() {
            return;
        }
        let action = change.action;
        // The archived view and a tag's list conversations of every folder.
        let folder_view =
            !sessions.archived.get_untracked() && sessions.tag.with_untracked(Option::is_none);
        let leaves_list = match action {
            SessionsBulkAction::Pin | SessionsBulkAction::Unpin | SessionsBulkAction::Tag => false,
            // Untagged, they leave a list filtered by that tag.
            SessionsBulkAction::Untag => sessions.tag.get_untracked() == change.tag,
            // Moved elsewhere, they leave the folder shown.
            SessionsBulkAction::Move => {
                folder_view && sessions.folder.get_untracked() != change.folder_id
            }
            _ => true,
        };
        if leaves_list {
            self.leaving.set(ids.clone());
        }
        self.busy.set(true);
        let selection = *self;
        spawn_local(async move {
            let BulkChange {
                action,
                tag,
                folder_id,
            } = change;
            let answer = bulk_sessions(ids.clone(), action, tag, folder_id).await;
            selection.busy.set(false);
            selection.leaving.set(Vec::new());
            match answer {
                Ok(result) => {
                    if clears {
                        selection.clear();
                    }
                    if matches!(action, SessionsBulkAction::Tag | SessionsBulkAction::Untag) {
                        tags.reload();
                    } else if action != SessionsBulkAction::Pin
                        && action != SessionsBulkAction::Unpin
                    {
                        // Folders count the conversations in them that are not archived.
                        sessions.folders.reload();
                    }
                    if selection.scope.get_untracked() == Scope::Search {
                        // Deleted ones leave the results; the others may now match otherwise.
                        search.refetch();
                    }
                    selection.done(action, result, sessions, toasts, leave);
                }
                // The conversations come back to the list, still selected.
                Err(error) => toasts.error(format!(
                    "Could not {} {}: {}",
                    verb(action),
                    counted(ids.len() as u64, "conversation", "conversations"),
                    error_text(&error)
                )),
            }
        });
    }

    /// Shows what the server did: the list changed as the answer says, a notice of it.
    fn done(
        &self,
        action: SessionsBulkAction,
        result: SessionsBulkResult,
        sessions: SessionsStore,
        toasts: Toasts,
        leave: impl Fn(&[String]),
    ) {
        let applied = counted(result.applied.len() as u64, "conversation", "conversations");
        match action {
            SessionsBulkAction::Delete => {
                for id in &result.applied {
                    sessions.remove(id);
                }
                // As a single delete does: the open conversation is gone, so is its page.
                leave(&result.applied);
                toasts.push(
                    format!("Deleted {applied}."),
                    ToastKind::Info,
                    Some(ToastAction::RestoreSessions(result.applied.clone())),
                    UNDO_NOTICE,
                );
            }
            _ => {
                // Archived ones leave this view, pins reorder it and tags show on it: the
                // server's list is read again.
                sessions.list.refetch();
                toasts.info(format!("{} {applied}.", past(action)));
            }
        }
        if !result.skipped.is_empty() {
            let skipped = counted(result.skipped.len() as u64, "conversation", "conversations");
            toasts.info(match action {
                SessionsBulkAction::Tag => format!(
                    "{skipped} already had the tag or had {MAX_TAGS_PER_SESSION} tags, and were left as they are."
                ),
                SessionsBulkAction::Untag => format!("{skipped} did not have the tag."),
                _ => format!("{skipped} had changed elsewhere and were left as they are."),
            });
        }
    }

    /// Undo of a deleted selection: the server brings all of it back, in one request.
    pub fn restore(&self, ids: Vec<String>, sessions: SessionsStore, toasts: Toasts) {
        spawn_local(async move {
            match bulk_sessions(ids, SessionsBulkAction::Restore, None, None).await {
                Ok(_) => {
                    sessions.folders.reload();
                    sessions.list.refetch()
                }
                Err(error) => toasts.error(format!(
                    "Could not bring the conversations back: {}",
                    error_text(&error)
                )),
            }
        });
    }
}

fn verb(action: SessionsBulkAction) -> &'static str {
    match action {
        SessionsBulkAction::Archive => "archive",
        SessionsBulkAction::Unarchive => "unarchive",
        SessionsBulkAction::Pin => "pin",
        SessionsBulkAction::Unpin => "unpin",
        SessionsBulkAction::Delete => "delete",
        SessionsBulkAction::Restore => "restore",
        SessionsBulkAction::Tag => "tag",
        SessionsBulkAction::Untag => "untag",
        SessionsBulkAction::Move => "move",
    }
}

fn past(action: SessionsBulkAction) -> &'static str {
    match action {
        SessionsBulkAction::Archive => "Archived",
        SessionsBulkAction::Unarchive => "Unarchived",
        SessionsBulkAction::Pin => "Pinned",
        SessionsBulkAction::Unpin => "Unpinned",
        SessionsBulkAction::Delete => "Deleted",
        SessionsBulkAction::Restore => "Restored",
        SessionsBulkAction::Tag => "Tagged",
        SessionsBulkAction::Untag => "Untagged",
        SessionsBulkAction::Move => "Moved",
    }
}

/// The selection, from context.
pub fn use_selection() -> Selection {
    expect_context::<Selection>()
}
