//! Folders in the sidebar: the folders of the folder shown (the top level at first) above its
//! conversations, the path back up, making, renaming, setting the defaults of and deleting a
//! folder, the "Move to" choice of the bulk bar, and moving conversations by dragging them
//! onto a folder (or onto a folder of the path, the top level included).

use confab_core::api::FolderPatchInput;
use confab_core::model::Folder;
use leptos::prelude::*;

use crate::state::{
    use_folders, use_search, use_selection, use_sessions, use_tags, use_toasts, Selection,
};
use crate::words::counted;

/// The drag data of conversations being dragged: their ids, comma-separated.
pub const DRAGGED_SESSIONS: &str = "application/x-confab-sessions";

/// Whether a drag carries conversations (only then may a folder take the drop).
fn carries_sessions(event: &leptos::ev::DragEvent) -> bool {
    event
        .data_transfer()
        .is_some_and(|data| data.types().includes(&DRAGGED_SESSIONS.into(), 0))
}

/// The ids a drop carries.
fn dropped_ids(event: &leptos::ev::DragEvent) -> Vec<String> {
    event
        .data_transfer()
        .and_then(|data| data.get_data(DRAGGED_SESSIONS).ok())
        .map(|ids| {
            ids.split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Puts conversation `id` on a drag that starts on it: the whole selection when it is part
/// of it, else that one conversation.
pub fn start_drag(event: &leptos::ev::DragEvent, id: &str, selection: Selection) {
    let ids = selection.ids.with_untracked(|ids| {
        if ids.iter().any(|selected| selected == id) {
            ids.join(",")
        } else {
            id.to_owned()
        }
    });
    if let Some(data) = event.data_transfer() {
        let _ = data.set_data(DRAGGED_SESSIONS, &ids);
        data.set_effect_allowed("move");
    }
}

/// A drop target that moves dragged conversations into `folder` (`None`: the top level).
/// `children` is what it shows; it is marked while a drag of conversations is over it.
#[component]
fn DropTarget(folder: Option<String>, class: &'static str, children: Children) -> impl IntoView {
    let over = RwSignal::new(false);
    let selection = use_selection();
    let sessions = use_sessions();
    let search = use_search();
    let tags = use_tags();
    let toasts = use_toasts();
    let on_over = move |event: leptos::ev::DragEvent| {
        if carries_sessions(&event) {
            event.prevent_default();
            over.set(true);
        }
    };
    let on_drop = move |event: leptos::ev::DragEvent| {
        over.set(false);
        let ids = dropped_ids(&event);
        if ids.is_empty() {
            return;
        }
        event.prevent_default();
        selection.move_ids(ids, folder.clone(), (sessions, search, tags, toasts));
    };
    view! {
        <div class=class class:drop-over=move || over.get()
            on:dragover=on_over on:dragenter=on_over
            on:dragleave=move |_| over.set(false) on:drop=on_drop>
            {children()}
        </div>
    }
}

/// The path from the top level to the folder shown, each step opening its folder (and taking
/// dropped conversations), then the folder's own actions. Nothing at the top level.
#[component]
pub fn FolderPath() -> impl IntoView {
    let folders = use_folders();
    let sessions = use_sessions();
    let in_folder = move || {
        !sessions.archived.get()
            && sessions.tag.with(Option::is_none)
            && sessions.folder.with(Option::is_some)
    };
    view! {
        <Show when=in_folder>
            <nav class="folder-path" aria-label="Folder path">
                <DropTarget folder=None class="folder-crumb">
                    <button type="button" class="ghost small" on:click=move |_| sessions.folder.set(None)>"All conversations"</button>
                </DropTarget>
                {move || {
                    let path = sessions.folder.get().map(|id| folders.path(&id)).unwrap_or_default();
                    let last = path.len().saturating_sub(1);
                    path.into_iter().enumerate().map(|(at, folder)| {
                        let id = folder.id.clone();
                        view! {
                            <span class="folder-sep" aria-hidden="true">"›"</span>
                            {if at == last {
                                view! { <span class="folder-crumb current" aria-current="page">{folder.name.clone()}</span> }.into_any()
                            } else {
                                view! {
                                    <DropTarget folder=Some(id.clone()) class="folder-crumb">
                                        <button type="button" class="ghost small" on:click=move |_| sessions.folder.set(Some(id.clone()))>{folder.name.clone()}</button>
                                    </DropTarget>
                                }.into_any()
                            }}
                        }
                    }).collect_view()
                }}
            </nav>
            {move || sessions.folder.get().and_then(|id| folders.get(&id)).map(|folder| view! { <FolderActions folder/> })}
        </Show>
    }
}

/// What can be done to the folder shown: rename it, set its defaults, delete it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Editing {
    Nothing,
    Rename,
    Defaults,
    Delete,
}

#[component]
fn FolderActions(folder: Folder) -> impl IntoView {
    let folders = use_folders();
    let sessions = use_sessions();
    let toasts = use_toasts();
    let editing = RwSignal::new(Editing::Nothing);
    let id = folder.id.clone();
    let name = folder.name.clone();
    let stored = StoredValue::new(folder);
    view! {
        <div class="folder-actions">
            {move || match editing.get() {
                Editing::Nothing => view! {
                    <span class="tag-filter-actions">
                        <button type="button" class="ghost small" on:click=move |_| editing.set(Editing::Rename)>"Rename folder"</button>
                        <button type="button" class="ghost small" on:click=move |_| editing.set(Editing::Defaults)>"Defaults…"</button>
                        <button type="button" class="ghost small danger-text" on:click=move |_| editing.set(Editing::Delete)>"Delete folder"</button>
                    </span>
                }.into_any(),
                Editing::Rename => {
                    let id = id.clone();
                    view! {
                        <NameField label="New name of the folder" button="Rename" initial=name.clone()
                            done=Callback::new(move |name: String| {
                                editing.set(Editing::Nothing);
                                folders.update(id.clone(), FolderPatchInput { name: Some(name), ..Default::default() }, toasts);
                            })
                            cancel=Callback::new(move |_| editing.set(Editing::Nothing))/>
                    }.into_any()
                }
                Editing::Defaults => view! {
                    <FolderDefaults folder=stored.get_value() close=Callback::new(move |_| editing.set(Editing::Nothing))/>
                }.into_any(),
                Editing::Delete => {
                    let folder = stored.get_value();
                    let (keep, with) = (folder.clone(), folder.clone());
                    view! {
                        <div class="confirm" role="alertdialog" aria-label="Confirm deleting the folder">
                            <span>{format!("Delete “{}”?", folder.name)}</span>
                            <button type="button" class="small" on:click=move |_| {
                                editing.set(Editing::Nothing);
                                folders.delete(keep.clone(), false, sessions, toasts);
                            }>"Keep its conversations"</button>
                            <button type="button" class="danger-button small" on:click=move |_| {
                                editing.set(Editing::Nothing);
                                folders.delete(with.clone(), true, sessions, toasts);
                            }>"Delete them too"</button>
                            <button type="button" class="small" on:click=move |_| editing.set(Editing::Nothing)>"Cancel"</button>
                        </div>
                    }.into_any()
                }
            }}
        </div>
    }
}

/// A folder's defaults: the system prompt and the model a conversation started in it uses.
#[component]
fn FolderDefaults(folder: Folder, close: Callback<()>) -> impl IntoView {
    let folders = use_folders();
    let toasts = use_toasts();
    let prompt = RwSignal::new(folder.system_prompt.clone().unwrap_or_default());
    let model = RwSignal::new(folder.model.clone().unwrap_or_default());
    let id = folder.id.clone();
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = |value: String| {
            let value = value.trim().to_owned();
            Some((!value.is_empty()).then_some(value))
        };
        folders.update(
            id.clone(),
            FolderPatchInput {
                system_prompt: text(prompt.get_untracked()),
                model: text(model.get_untracked()),
                ..Default::default()
            },
            toasts,
        );
        close.run(());
    };
    view! {
        <form class="folder-defaults" on:submit=save aria-label="Folder defaults">
            <label>"System prompt for new conversations"
                <textarea rows="4" prop:value=move || prompt.get()
                    on:input=move |event| prompt.set(event_target_value(&event))></textarea>
            </label>
            <label>"Model for new conversations"
                <input type="text" placeholder="The composer's choice" prop:value=move || model.get()
                    on:input=move |event| model.set(event_target_value(&event))/>
            </label>
            <span class="folder-defaults-buttons">
                <button type="submit" class="small primary">"Save"</button>
                <button type="button" class="small" on:click=move |_| close.run(())>"Cancel"</button>
            </span>
        </form>
    }
}

/// A text field for a folder's name: `done` gets what was typed (the server checks the rule
/// and says what is wrong); Escape calls `cancel`.
#[component]
fn NameField(
    label: &'static str,
    button: &'static str,
    #[prop(optional)] initial: String,
    done: Callback<String>,
    cancel: Callback<()>,
) -> impl IntoView {
    let text = RwSignal::new(initial);
    let submit = move || {
        let name = text.get_untracked();
        if !name.trim().is_empty() {
            done.run(name);
        }
    };
    view! {
        <span class="tag-field">
            <input type="text" class="tag-input" aria-label=label autocomplete="off" placeholder="Folder name"
                prop:value=move || text.get()
                on:input=move |event| text.set(event_target_value(&event))
                on:keydown=move |event: leptos::ev::KeyboardEvent| match event.key().as_str() {
                    "Enter" => { event.prevent_default(); submit() }
                    "Escape" => cancel.run(()),
                    _ => {}
                }/>
            <button type="button" class="small" on:click=move |_| submit()>{button}</button>
        </span>
    }
}

/// The folders in the folder shown (the top level at first), each opening its conversations
/// and taking dropped ones, with "New folder". Not in the archived view or a tag's, which
/// list the conversations of every folder.
#[component]
pub fn FolderList() -> impl IntoView {
    let folders = use_folders();
    let sessions = use_sessions();
    let toasts = use_toasts();
    let making = RwSignal::new(false);
    let shown = move || !sessions.archived.get() && sessions.tag.with(Option::is_none);
    view! {
        <Show when=shown>
            <section class="folders" aria-label="Folders">
                <ul class="folder-list">
                    {move || folders.children(sessions.folder.get().as_deref()).into_iter().map(|folder| view! { <FolderRow folder/> }).collect_view()}
                </ul>
                {move || if making.get() {
                    view! {
                        <NameField label="Name of the new folder" button="Create"
                            done=Callback::new(move |name: String| {
                                making.set(false);
                                folders.create(name, sessions.folder.get_untracked(), toasts, |_| {});
                            })
                            cancel=Callback::new(move |_| making.set(false))/>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" class="ghost small new-folder" on:click=move |_| making.set(true)>"+ New folder"</button>
                    }.into_any()
                }}
            </section>
        </Show>
    }
}

#[component]
fn FolderRow(folder: Folder) -> impl IntoView {
    let sessions = use_sessions();
    let id = folder.id.clone();
    let count = u64::try_from(folder.session_count).unwrap_or(0);
    let label = format!(
        "{} ({})",
        folder.name,
        counted(count, "conversation", "conversations")
    );
    view! {
        <li class="folder-item">
            <DropTarget folder=Some(folder.id.clone()) class="folder-drop">
                <button type="button" class="folder-open" aria-label=label
                    on:click=move |_| sessions.folder.set(Some(id.clone()))>
                    // Drawn, not an emoji: a machine without an emoji font showed a blank box.
                    <svg class="folder-icon" viewBox="0 0 16 16" width="15" height="15" aria-hidden="true">
                        <path d="M1.5 3.5h4.2l1.6 1.6h7.2v7.4h-13z" fill="none" stroke="currentColor"
                            stroke-width="1.3" stroke-linejoin="round"/>
                    </svg>
                    <span class="folder-name">{folder.name.clone()}</span>
                    <span class="folder-count" aria-hidden="true">{count}</span>
                </button>
            </DropTarget>
        </li>
    }
}

/// The bulk bar's "Move to": a choice of the top level or any folder (by its path), and the
/// button that moves the selection there.
#[component]
pub fn MoveTo(
    busy: impl Fn() -> bool + Send + Sync + Copy + 'static,
    done: Callback<Option<String>>,
) -> impl IntoView {
    let folders = use_folders();
    let chosen = RwSignal::new(String::new());
    view! {
        <div class="bulk-move">
            <select aria-label="Folder to move to" on:change=move |event| chosen.set(event_target_value(&event))>
                <option value="">"Top level (no folder)"</option>
                {move || folders.choices().into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
            </select>
            <button type="button" class="small" disabled=busy on:click=move |_| {
                let folder = chosen.get_untracked();
                done.run((!folder.is_empty()).then_some(folder));
            }>"Move"</button>
        </div>
    }
}
