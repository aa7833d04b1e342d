//! The user's folders: the sidebar's tree (folders above the date groups), the "Move to"
//! choices, and creating, renaming, moving, setting the defaults of and deleting a folder.
//! Each change is shown once the server has made it (its answer is the folder as stored);
//! a refusal is a notice and changes nothing.

use confab_core::model::Folder;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{error_text, SessionsStore, Toasts};
use crate::components::auth::Auth;
use crate::error::AppError;
use crate::server_fns::{create_folder, delete_folder, list_folders, update_folder};
use crate::words::counted;
use confab_core::api::FolderPatchInput;

/// The user's folders, loaded again after every change.
#[derive(Clone, Copy)]
pub struct FoldersStore {
    pub list: Resource<Result<Vec<Folder>, AppError>>,
    changed: RwSignal<u64>,
}

impl FoldersStore {
    pub(super) fn new(auth: Auth) -> FoldersStore {
        let changed = RwSignal::new(0_u64);
        FoldersStore {
            list: Resource::new(
                super::lasting(move || Some((auth.changes(), changed.try_get()?))),
                |_| async move {
                    match crate::server_fns::current_user().await {
                        Ok(Some(_)) => list_folders().await,
                        Ok(None) => Ok(Vec::new()),
                        Err(error) => Err(error),
                    }
                },
            ),
            changed,
        }
    }

    /// Every folder (tracked); none while loading or when the list failed.
    pub fn all(&self) -> Vec<Folder> {
        self.list.get().and_then(Result::ok).unwrap_or_default()
    }

    /// The folder `id` (tracked).
    pub fn get(&self, id: &str) -> Option<Folder> {
        self.all().into_iter().find(|folder| folder.id == id)
    }

    /// The folders directly in `parent` (`None`: the top level), by name as people sort
    /// (case aside).
    pub fn children(&self, parent: Option<&str>) -> Vec<Folder> {
        let mut children: Vec<Folder> = self
            .all()
            .into_iter()
            .filter(|folder| folder.parent_id.as_deref() == parent)
            .collect();
        children.sort_by_cached_key(|folder| (folder.name.to_lowercase(), folder.id.clone()));
        children
    }

    /// The folders from the top level down to `id`, `id` last (tracked); empty for an
    /// unknown id. A parent missing from the list ends the path there.
    pub fn path(&self, id: &str) -> Vec<Folder> {
        let all = self.all();
        let mut path = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(id) = next {
            // A cycle cannot come from the server; the bound keeps a bad list from looping.
            if path.len() > all.len() {
                break;
            }
            match all.iter().find(|folder| folder.id == id) {
                Some(folder) => {
                    next = folder.parent_id.clone();
                    path.push(folder.clone());
                }
                None => break,
            }
        }
        path.reverse();
        path
    }

    /// Every folder as `(id, "Parent / Child")`, depth first in `children` order: the
    /// choices of a "Move to" list.
    pub fn choices(&self) -> Vec<(String, String)> {
        fn walk(
            store: &FoldersStore,
            parent: Option<&str>,
            prefix: &str,
            out: &mut Vec<(String, String)>,
        ) {
            for folder in store.children(parent) {
                let label = if prefix.is_empty() {
                    folder.name.clone()
                } else {
                    format!("{prefix} / {}", folder.name)
                };
                out.push((folder.id.clone(), label.clone()));
                walk(store, Some(&folder.id), &label, out);
            }
        }
        let mut out = Vec::new();
        walk(self, None, "", &mut out);
        out
    }

    /// Asks the server for the list again (a count or a folder changed).
    pub fn reload(&self) {
        self.changed.update(|changed| *changed += 1);
    }
}

impl FoldersStore {
    /// Makes folder `name` in `parent` (`None`: the top level); `then` gets the new folder.
    pub fn create(
        &self,
        name: String,
        parent: Option<String>,
        toasts: Toasts,
        then: impl Fn(Folder) + 'static,
    ) {
        let folders = *self;
        spawn_local(async move {
            match create_folder(name.clone(), parent).await {
                Ok(folder) => {
                    folders.reload();
                    then(folder);
                }
                Err(error) => toasts.error(format!(
                    "Could not make the folder “{name}”: {}",
                    error_text(&error)
                )),
            }
        });
    }

    /// Changes folder `id` as `patch` says (its name, its parent, its defaults).
    pub fn update(&self, id: String, patch: FolderPatchInput, toasts: Toasts) {
        let folders = *self;
        spawn_local(async move {
            match update_folder(id, patch).await {
                Ok(_) => folders.reload(),
                Err(error) => toasts.error(format!(
                    "Could not change the folder: {}",
                    error_text(&error)
                )),
            }
        });
    }

    /// Deletes folder `id`: its conversations and folders go to the folder above it, or with
    /// `with_contents` every conversation in it (and in its folders) goes to the trash.
    pub fn delete(
        &self,
        folder: Folder,
        with_contents: bool,
        sessions: SessionsStore,
        toasts: Toasts,
    ) {
        let folders = *self;
        spawn_local(async move {
            match delete_folder(folder.id.clone(), with_contents).await {
                Ok(moved) => {
                    // Out of a folder that is gone, up to the one that held it.
                    let inside = sessions.folder.get_untracked().is_some_and(|open| {
                        open == folder.id
                            || untrack(|| folders.path(&open))
                                .iter()
                                .any(|above| above.id == folder.id)
                    });
                    if inside {
                        sessions.folder.set(folder.parent_id.clone());
                    } else {
                        sessions.list.refetch();
                    }
                    folders.reload();
                    let conversations = counted(moved, "conversation", "conversations");
                    toasts.info(if with_contents {
                        format!(
                            "Deleted the folder “{}” and moved {conversations} to the trash.",
                            folder.name
                        )
                    } else {
                        format!(
                            "Deleted the folder “{}”; its {conversations} moved up.",
                            folder.name
                        )
                    });
                }
                Err(error) => toasts.error(format!(
                    "Could not delete the folder “{}”: {}",
                    folder.name,
                    error_text(&error)
                )),
            }
        });
    }
}

/// The folders, from context.
pub fn use_folders() -> FoldersStore {
    expect_context::<FoldersStore>()
}
