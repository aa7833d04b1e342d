//! The open conversation's title and its actions: rename inline, pin, archive, export, clear,
//! delete (with Undo), the message type filter, its tags, and where a forked conversation
//! came from.

use confab_core::model::{ForkedFrom, Session, KNOWN_MESSAGE_TYPES};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::tags::ConversationTags;
use crate::server_fns::get_session;

use crate::state::{use_chat, use_session_actions, use_toasts, Change};

#[derive(Clone, Copy, PartialEq)]
enum Confirm {
    Nothing,
    Clear,
    Delete,
}

#[component]
pub fn ConversationHead(filter: RwSignal<String>) -> impl IntoView {
    let chat = use_chat();
    let actions = use_session_actions();
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
    // A fork names its source; its title is asked from the browser (as the composer's models
    // are, so a slow answer never holds the page back), and the link shows only while the
    // source exists: a deleted one is simply not found.
    let link = Memo::new(move |_| {
        chat.session
            .with(|s| s.as_ref().and_then(|s| s.forked_from.clone()))
    });
    let source = RwSignal::new(None::<(ForkedFrom, String)>);
    // `try_`: the header is disposed when another conversation opens, and a read of its own
    // signals after that must not panic (a panic stops the whole page's WASM).
    Effect::new(move |_| {
        let Some(wanted) = link.try_get().flatten() else {
            let _ = source.try_set(None);
            return;
        };
        if source.with_untracked(|shown| shown.as_ref().is_some_and(|(shown, _)| *shown == wanted))
        {
            return;
        }
        let _ = source.try_set(None);
        spawn_local(async move {
            if let Ok(found) = get_session(wanted.session_id.clone()).await {
                // Only for the conversation still open.
                if link.try_get_untracked().flatten().as_ref() == Some(&wanted) {
                    let _ = source.try_set(Some((wanted, found.title)));
                }
            }
        });
    });
    let close_menu = move || {
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
    };

    // Each change is an action: it shows at once (its input is laid over the session while
    // it is pending), and the store takes the server's answer (`state::session_actions`).
    let change = move |action: Action<Change, _>,
                       title: Option<String>,
                       pinned: Option<bool>,
                       archived: Option<bool>,
                       what: &'static str| {
        let Some(id) = chat.session_id_untracked() else {
            return;
        };
        action.dispatch(Change {
            id,
            title,
            pinned,
            archived,
            what,
        });
    };
    let save_title = move |text: String| {
        renaming.set(false);
        let text = text.trim().to_owned();
        if text.is_empty() || text == title() {
            return;
        }
        change(
            actions.rename,
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
    let shown = move |flag: fn(&Session) -> bool| {
        chat.session
            .with_untracked(|s| s.as_ref().is_some_and(flag))
    };
    let toggle_pin = move |_| {
        close_menu();
        let pinned = !shown(|s| s.pinned);
        let what = if pinned {
            "pin the conversation"
        } else {
            "unpin the conversation"
        };
        change(actions.pin, None, Some(pinned), None, what);
    };
    let toggle_archive = move |_| {
        close_menu();
        let archived = !shown(|s| s.archived);
        change(
            actions.archive,
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
        if let Some(session) = chat.session.get_untracked() {
            actions.clear.dispatch(session);
        }
    };
    let run_delete = {
        let navigate = navigate.clone();
        move || {
            confirm.set(Confirm::Nothing);
            let Some(session) = chat.session.get_untracked() else {
                return;
            };
            actions.delete.dispatch(session);
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
            <ConversationTags/>
            {move || source.try_get().flatten().map(|(link, title)| view! {
                <p class="forked-from">
                    "Forked from "
                    <a href=format!("/c/{}?m={}", link.session_id, link.message_id)>{title}</a>
                </p>
            })}
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
