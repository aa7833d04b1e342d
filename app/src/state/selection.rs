//! Conversations selected in the sidebar, and the one action the server applies to all of
//! them at once (`bulk_sessions`): archive, unarchive, delete (with Undo), pin, unpin, tag and
//! untag.
//!
//! Shown before the server answers: conversations that an action takes off the list leave it
//! at once, and come back with a notice when the server refuses.

use confab_core::api::{SessionsBulkAction, SessionsBulkResult, MAX_BULK_SESSIONS};
use confab_core::tags::MAX_TAGS_PER_SESSION;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::session_actions::UNDO_NOTICE;
use super::{error_text, SessionsStore, TagsStore, ToastAction, ToastKind, Toasts};
use crate::server_fns::bulk_sessions;
use crate::words::counted;

/// The selection of the sidebar's conversations.
#[derive(Clone, Copy)]
pub struct Selection {
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

    /// Selects or unselects `id`; with `range`, every conversation of `order` (the list as
    /// shown) between the last one clicked and `id` takes `id`'s new state.
    pub fn toggle(&self, id: &str, range: bool, order: &[String]) {
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

    /// Selects every conversation in `order` (the list as shown), at most the
    /// `MAX_BULK_SESSIONS` one action may name (the first of them, with a notice).
    pub fn select_all(&self, mut order: Vec<String>, toasts: Toasts) {
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

    /// Asks the server to apply `action` to the selection, in one request (`tag`: the tag
    /// that `Tag` and `Untag` put on or take off).
    /// `leave` is called with the ids deleted, to leave the page of the open conversation if
    /// it is among them.
    pub fn apply(
        &self,
        (action, tag): (SessionsBulkAction, Option<String>),
        (sessions, tags, toasts): (SessionsStore, TagsStore, Toasts),
        leave: impl Fn(&[String]) + 'static,
    ) {
        // Only what is shown: a conversation that left the list since it was selected (a
        // delete or archive of its own, another page) is not acted on unseen.
        let shown: Vec<String> = untrack(|| sessions.visible())
            .into_iter()
            .map(|session| session.id)
            .collect();
        let ids: Vec<String> = self
            .ids
            .get_untracked()
            .into_iter()
            .filter(|id| shown.contains(id))
            .collect();
        if ids.is_empty() || self.busy.get_untracked() {
            return;
        }
        let leaves_list = match action {
            SessionsBulkAction::Pin | SessionsBulkAction::Unpin | SessionsBulkAction::Tag => false,
            // Untagged, they leave a list filtered by that tag.
            SessionsBulkAction::Untag => sessions.tag.get_untracked() == tag,
            _ => true,
        };
        if leaves_list {
            self.leaving.set(ids.clone());
        }
        self.busy.set(true);
        let selection = *self;
        spawn_local(async move {
            let answer = bulk_sessions(ids.clone(), action, tag, None).await;
            selection.busy.set(false);
            selection.leaving.set(Vec::new());
            match answer {
                Ok(result) => {
                    selection.clear();
                    if matches!(action, SessionsBulkAction::Tag | SessionsBulkAction::Untag) {
                        tags.reload();
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
                Ok(_) => sessions.list.refetch(),
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
