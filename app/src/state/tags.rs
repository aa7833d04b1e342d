//! The user's tags: the sidebar's tag filter and the tag pickers' suggestions, and renaming or
//! deleting a tag everywhere.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{error_text, ChatStore, SessionsStore, Toasts};
use crate::components::auth::Auth;
use crate::error::AppError;
use crate::server_fns::{delete_tag, list_tags, rename_tag};
use crate::words::counted;

/// The user's tags, sorted as the server sorts them, loaded again whenever a change may have
/// added or removed one.
#[derive(Clone, Copy)]
pub struct TagsStore {
    pub list: Resource<Result<Vec<String>, AppError>>,
    changed: RwSignal<u64>,
}

impl TagsStore {
    pub(super) fn new(auth: Auth) -> TagsStore {
        let changed = RwSignal::new(0_u64);
        TagsStore {
            // Signed out there are no tags to ask for (and no refused request to log).
            list: Resource::new(
                super::lasting(move || Some((auth.changes(), changed.try_get()?))),
                |_| async move {
                    match crate::server_fns::current_user().await {
                        Ok(Some(_)) => list_tags().await,
                        Ok(None) => Ok(Vec::new()),
                        Err(error) => Err(error),
                    }
                },
            ),
            changed,
        }
    }

    /// The tags (tracked); none while loading or when the list failed.
    pub fn names(&self) -> Vec<String> {
        self.list.get().and_then(Result::ok).unwrap_or_default()
    }

    /// Asks the server for the list again: a tag was added or taken off somewhere.
    pub fn reload(&self) {
        self.changed.update(|changed| *changed += 1);
    }

    /// Renames tag `from` to `to` on every conversation (merging with `to` where both are).
    pub fn rename(&self, from: String, to: String, stores: (SessionsStore, ChatStore, Toasts)) {
        let (sessions, chat, toasts) = stores;
        let tags = *self;
        spawn_local(async move {
            match rename_tag(from.clone(), to.clone()).await {
                Ok(changed) => {
                    retag(chat, &from, Some(&to));
                    if sessions.tag.get_untracked().as_deref() == Some(from.as_str()) {
                        sessions.tag.set(Some(to.clone()));
                    } else {
                        sessions.list.refetch();
                    }
                    tags.reload();
                    toasts.info(format!(
                        "Renamed “{from}” to “{to}” on {}.",
                        counted(changed, "conversation", "conversations")
                    ));
                }
                Err(error) => toasts.error(format!(
                    "Could not rename the tag “{from}”: {}",
                    error_text(&error)
                )),
            }
        });
    }

    /// Takes tag `name` off every conversation.
    pub fn delete(&self, name: String, stores: (SessionsStore, ChatStore, Toasts)) {
        let (sessions, chat, toasts) = stores;
        let tags = *self;
        spawn_local(async move {
            match delete_tag(name.clone()).await {
                Ok(changed) => {
                    retag(chat, &name, None);
                    if sessions.tag.get_untracked().as_deref() == Some(name.as_str()) {
                        sessions.tag.set(None);
                    } else {
                        sessions.list.refetch();
                    }
                    tags.reload();
                    toasts.info(format!(
                        "Took the tag “{name}” off {}.",
                        counted(changed, "conversation", "conversations")
                    ));
                }
                Err(error) => toasts.error(format!(
                    "Could not delete the tag “{name}”: {}",
                    error_text(&error)
                )),
            }
        });
    }
}

/// The open conversation shows `from` renamed to `to` (or gone), as the server now has it,
/// without loading its messages again.
fn retag(chat: ChatStore, from: &str, to: Option<&str>) {
    let Some(id) = chat.session_id_untracked() else {
        return;
    };
    chat.edit(&id, |opened| {
        let tags = &mut opened.page.session.tags;
        if tags.iter().any(|tag| tag == from) {
            tags.retain(|tag| tag != from);
            if let Some(to) = to {
                if !tags.iter().any(|tag| tag == to) {
                    tags.push(to.to_owned());
                    tags.sort();
                }
            }
        }
    });
}

/// The tags, from context.
pub fn use_tags() -> TagsStore {
    expect_context::<TagsStore>()
}
