//! The open conversation's title and its actions: rename inline, pin, archive, export, clear,
//! delete (with Undo), and the message type filter.

use confab_core::model::{Session, KNOWN_MESSAGE_TYPES};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::server_fns::{clear_session, update_session};
use crate::state::{error_text, use_chat, use_sessions, use_toasts};

#[derive(Clone, Copy, PartialEq)]
enum Confirm {
    Nothing,
    Clear,
    Delete,
}

#[component]
pub fn ConversationHead(filter: RwSignal<String>) -> impl IntoView {
    let chat = use_chat();
    let sessions = use_sessions();
    let toasts = use_toasts();
    let navigate = use_navigate();
    let renaming = RwSignal::new(false);
    let confirm = RwSignal::new(Confirm::Nothing);
    let menu = NodeRef::<leptos::html::Details>::new();
    let title = move || {
        chat.session
            .with(|s| s.as_ref().map(|s| s.title.clone()).unwrap_or_default())
    };
    let id = move || chat.session_id().unwrap_or_default();
    let close_menu = move || {
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
    };

    // Shows a session as changed here, in the head and the sidebar.
    let show_session = move |session: Session| {
        chat.edit(&session.id.clone(), |opened| {
            opened.page.session = session.clone()
        });
        sessions.upsert(session);
    };
    // Applies a change at once; keeps what the server stored, or puts the old session back
    // and says why.
    let patch = move |change: Box<dyn Fn(&mut Session) + Send + Sync>,
                      title: Option<String>,
                      pinned: Option<bool>,
                      archived: Option<bool>,
                      what: &'static str| {
        let Some(before) = chat.session.get_untracked() else {
            return;
        };
        let mut after = before.clone();
        change(&mut after);
        show_session(after);
        let id = before.id.clone();
        spawn_local(async move {
            match update_session(id, title, pinned, archived).await {
                Ok(saved) => show_session(saved),
                Err(error) => {
                    show_session(before);
                    toasts.error(format!("Could not {what}: {}", error_text(&error)));
                }
            }
        });
    };

    let save_title = move |text: String| {
        renaming.set(false);
        let text = text.trim().to_owned();
        if text.is_empty() || text == title() {
            return;
        }
        let new_title = text.clone();
        patch(
            Box::new(move |s| s.title = new_title.clone()),
            Some(text),
            None,
            None,
            "rename the conversation",
        );
    };
    let on_rename_key = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Enter" {
            event.prevent_default();
            save_title(event_target_value(&event));
        } else if event.key() == "Escape" {
            renaming.set(false);
        }
    };
    let toggle_pin = move |_| {
        close_menu();
        let pinned = !chat
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.pinned));
        patch(
            Box::new(move |s| s.pinned = pinned),
            None,
            Some(pinned),
            None,
            if pinned {
                "pin the conversation"
            } else {
                "unpin the conversation"
            },
        );
    };
    let toggle_archive = move |_| {
        close_menu();
        let archived = !chat
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.archived));
        patch(
            Box::new(move |s| s.archived = archived),
            None,
            None,
            Some(archived),
            "archive the conversation",
        );
        toasts.info(if archived {
            "Archived. Find it under “Show archived”."
        } else {
            "Back among your conversations."
        });
    };
    let run_clear = move || {
        confirm.set(Confirm::Nothing);
        let Some(session_id) = chat.session_id() else {
            return;
        };
        let before = chat.messages.get_untracked();
        chat.edit(&session_id, |opened| {
            opened.page.messages.clear();
            opened.page.earlier = None;
        });
        spawn_local(async move {
            match clear_session(session_id.clone()).await {
                Ok(()) => {
                    sessions.refresh(session_id);
                    chat.reload.update(|n| *n += 1);
                }
                Err(error) => {
                    chat.edit(&session_id, |opened| opened.page.messages = before);
                    toasts.error(format!(
                        "Could not clear the conversation: {}",
                        error_text(&error)
                    ));
                }
            }
        });
    };
    let run_delete = {
        let navigate = navigate.clone();
        move || {
            confirm.set(Confirm::Nothing);
            let Some(session) = chat.session.get_untracked() else {
                return;
            };
            sessions.delete(session, toasts);
            navigate("/", Default::default());
        }
    };
    let export = move |format: &str| format!("/api/chat/sessions/{}/export?format={format}", id());

    view! {
        <header class="conversation-head">
            <div class="title-row">
                <Show when=move || renaming.get() fallback=move || view! {
                    <h1 class="conversation-title" title=title>{title}</h1>
                    <button type="button" class="ghost small" on:click=move |_| renaming.set(true)
                        aria-label="Rename conversation">"Rename"</button>
                }>
                    <input class="rename-input" aria-label="Conversation title" maxlength="200"
                        prop:value=title autofocus
                        on:keydown=on_rename_key
                        on:blur=move |event| if renaming.get_untracked() { save_title(event_target_value(&event)) }/>
                </Show>
            </div>
            <div class="toolbar" role="toolbar" aria-label="Conversation actions">
                <label class="field">
                    <span class="visually-hidden">"Show"</span>
                    <select aria-label="Filter messages by type" on:change=move |event| filter.set(event_target_value(&event))>
                        <option value="" selected=move || filter.with(String::is_empty)>"All types"</option>
                        {KNOWN_MESSAGE_TYPES.iter().map(|slug| {
                            let slug = *slug;
                            view! { <option value=slug selected=move || filter.get() == slug>{slug.replace('_', " ")}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <details class="menu" node_ref=menu>
                    <summary class="button-like">"More"</summary>
                    <div class="menu-items" role="menu">
                        <button type="button" role="menuitem" on:click=toggle_pin>
                            {move || if chat.session.with(|s| s.as_ref().is_some_and(|s| s.pinned)) { "Unpin" } else { "Pin" }}
                        </button>
                        <button type="button" role="menuitem" on:click=toggle_archive>
                            {move || if chat.session.with(|s| s.as_ref().is_some_and(|s| s.archived)) { "Unarchive" } else { "Archive" }}
                        </button>
                        <a role="menuitem" href=move || export("json") download rel="external" on:click=move |_| close_menu()>"Export JSON"</a>
                        <a role="menuitem" href=move || export("markdown") download rel="external" on:click=move |_| close_menu()>"Export Markdown"</a>
                        <button type="button" role="menuitem" on:click=move |_| { close_menu(); confirm.set(Confirm::Clear) }>"Clear messages"</button>
                        <button type="button" role="menuitem" class="danger-text" on:click=move |_| { close_menu(); confirm.set(Confirm::Delete) }>"Delete"</button>
                    </div>
                </details>
            </div>
            {move || match confirm.get() {
                Confirm::Nothing => ().into_any(),
                Confirm::Clear => view! {
                    <div class="confirm" role="alertdialog" aria-label="Confirm clearing">
                        <span>"Remove every message of this conversation? The conversation stays."</span>
                        <button type="button" class="danger-button" on:click=move |_| run_clear()>"Clear"</button>
                        <button type="button" on:click=move |_| confirm.set(Confirm::Nothing)>"Cancel"</button>
                    </div>
                }.into_any(),
                Confirm::Delete => {
                    let run_delete = run_delete.clone();
                    view! {
                        <div class="confirm" role="alertdialog" aria-label="Confirm deletion">
                            <span>"Delete this conversation and its messages?"</span>
                            <button type="button" class="danger-button" on:click=move |_| run_delete()>"Delete"</button>
                            <button type="button" on:click=move |_| confirm.set(Confirm::Nothing)>"Cancel"</button>
                        </div>
                    }.into_any()
                }
            }}
        </header>
    }
}
