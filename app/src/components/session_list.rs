//! The sessions: a sidebar grouped by recent activity (loading more on scroll), and a
//! `<select>` that replaces it on narrow screens.

use chrono::{Duration, Utc};
use confab_core::model::Session;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};

use super::bulk_bar::BulkBar;
use super::folders::{start_drag, FolderList, FolderPath};
use super::tags::TagFilter;
use crate::state::{
    activity, error_text, use_folders, use_selection, use_sessions, use_toasts, Scope,
};
use crate::words::counted;

/// The id in `/c/{id}`, if the page shows a session.
pub fn current_session_id() -> Memo<Option<String>> {
    let location = use_location();
    Memo::new(move |_| {
        location
            .pathname
            .get()
            .strip_prefix("/c/")
            .map(|id| id.trim_end_matches('/').to_owned())
            .filter(|id| !id.is_empty())
    })
}

fn group_label(session: &Session) -> &'static str {
    if session.pinned {
        return "Pinned";
    }
    // UTC on both sides, so the server's page and the browser's agree.
    let today = Utc::now().date_naive();
    let day = activity(session).date_naive();
    if day >= today {
        "Today"
    } else if day == today - Duration::days(1) {
        "Yesterday"
    } else if day >= today - Duration::days(7) {
        "Previous 7 days"
    } else {
        "Older"
    }
}

const GROUPS: [&str; 5] = ["Pinned", "Today", "Yesterday", "Previous 7 days", "Older"];

/// The ids of `sessions` in the order the sidebar shows them (group by group), which a
/// Shift-click range and "Select all" follow.
pub(crate) fn shown_order(sessions: &[Session]) -> Vec<String> {
    GROUPS
        .iter()
        .flat_map(|label| {
            sessions
                .iter()
                .filter(move |session| group_label(session) == *label)
                .map(|session| session.id.clone())
        })
        .collect()
}

#[component]
pub fn SessionSidebar() -> impl IntoView {
    let store = use_sessions();
    let folders = use_folders();
    let selection = use_selection();
    let toasts = use_toasts();
    let current = current_session_id();
    let navigate = use_navigate();
    // A selection is of the conversations shown: none of them are in another folder's list.
    Effect::new(move |before: Option<Option<String>>| {
        let now = store.folder.get();
        if before.is_some_and(|before| before != now) {
            selection.clear();
        }
        now
    });
    // Started in the folder shown, a conversation goes in it and takes its defaults.
    let new_chat = move |_| {
        let path = match store.folder.get_untracked() {
            Some(folder)
                if !store.archived.get_untracked() && store.tag.with_untracked(Option::is_none) =>
            {
                format!("/new?folder={folder}")
            }
            _ => "/new".to_owned(),
        };
        navigate(&path, Default::default())
    };
    let on_scroll = move |event: leptos::ev::Event| {
        let element: web_sys::Element = event_target(&event);
        if element.scroll_top() + element.client_height() >= element.scroll_height() - 80 {
            store.load_more(toasts);
        }
    };
    view! {
        <nav class="sidebar" aria-label="Conversations" on:scroll=on_scroll
            class:selecting=move || selection.active_in(Scope::Sidebar)>
            <div class="sidebar-top">
                <button type="button" class="primary new-chat" on:click=new_chat
                    title="New chat (Ctrl+Shift+O)">"+ New chat"</button>
            </div>
            <BulkBar scope=Scope::Sidebar/>
            <FolderPath/>
            <h2 class="sidebar-title">
                {move || match (store.archived.get(), store.tag.get()) {
                    (false, None) => store
                        .folder
                        .get()
                        .and_then(|id| folders.get(&id))
                        .map_or_else(|| "Conversations".to_owned(), |folder| folder.name),
                    (true, None) => "Archived".to_owned(),
                    (false, Some(tag)) => format!("Tagged “{tag}”"),
                    (true, Some(tag)) => format!("Archived, tagged “{tag}”"),
                }}
            </h2>
            <TagFilter/>
            <FolderList/>
            <Transition fallback=|| view! { <p class="muted sidebar-note">"Loading…"</p> }>
                // Only whether the first page came or failed decides here; the groups read the
                // list as changed since (so adding a page or renaming does not rebuild this).
                {move || Suspend::new(async move {
                    match store.list.resource.await.value {
                        Err(error) => view! {
                            <p class="form-error sidebar-note" role="alert">{error_text(&error)}</p>
                        }.into_any(),
                        Ok(_) => view! { <SessionGroups current/> }.into_any(),
                    }
                })}
            </Transition>
            <Show when=move || store.has_more()>
                <button type="button" class="ghost load-more" on:click=move |_| store.load_more(toasts)>
                    {move || if store.loading_more.get() { "Loading…" } else { "Load more" }}
                </button>
            </Show>
            <div class="sidebar-foot">
                <button type="button" class="ghost small" aria-pressed=move || store.archived.get().to_string()
                    on:click=move |_| {
                        // A selection is of the conversations shown: none of them are in the
                        // other view.
                        selection.clear();
                        store.archived.update(|archived| *archived = !*archived)
                    }>
                    {move || if store.archived.get() { "Back to conversations" } else { "Show archived" }}
                </button>
                <a class="ghost-link small" href="/api/export" download rel="external">"Download backup"</a>
                <A href="/starred" attr:class="ghost-link small">"Starred"</A>
                <A href="/import" attr:class="ghost-link small">"Import"</A>
            </div>
        </nav>
    }
}

#[component]
fn SessionGroups(current: Memo<Option<String>>) -> impl IntoView {
    let store = use_sessions();
    move || {
        let sessions = store.visible();
        if sessions.is_empty() {
            let text = match (store.archived.get(), store.tag.with(Option::is_some)) {
                (_, true) => "No conversation here has this tag.",
                (true, false) => "No archived conversations.",
                (false, false) if store.folder.with(Option::is_some) => {
                    "No conversations in this folder yet: drag some here, or start a new chat."
                }
                (false, false) => "No conversations yet.",
            };
            return view! { <p class="empty-state">{text}</p> }.into_any();
        }
        GROUPS
            .iter()
            .filter_map(|label| {
                let members: Vec<Session> = sessions
                    .iter()
                    .filter(|session| group_label(session) == *label)
                    .cloned()
                    .collect();
                (!members.is_empty()).then(|| view! {
                    <section class="session-group">
                        <h3 class="group-title">{*label}</h3>
                        <ul class="session-list">
                            {members.into_iter().map(|session| view! { <SessionItem session current/> }).collect_view()}
                        </ul>
                    </section>
                })
            })
            .collect_view()
            .into_any()
    }
}

#[component]
fn SessionItem(session: Session, current: Memo<Option<String>>) -> impl IntoView {
    let id = session.id.clone();
    let is_current = move || current.get().as_deref() == Some(id.as_str());
    let current_id = session.id.clone();
    let aria_current =
        move || (current.get().as_deref() == Some(current_id.as_str())).then_some("page");
    let when = activity(&session).format("%b %e, %H:%M").to_string();
    // A count is never negative; 0 if it ever were.
    let count = counted(
        u64::try_from(session.message_count).unwrap_or(0),
        "message",
        "messages",
    );
    let store = use_sessions();
    let selection = use_selection();
    let (checked_id, clicked_id) = (session.id.clone(), session.id.clone());
    let drag_id = session.id.clone();
    // A click selects or unselects; with Shift, the conversations between it and the one
    // clicked before follow it.
    let on_select = move |event: leptos::ev::MouseEvent| {
        let order = shown_order(&store.visible());
        selection.toggle(Scope::Sidebar, &clicked_id, event.shift_key(), &order);
    };
    view! {
        // Dragged onto a folder, it moves there (with the selection it is part of).
        <li class="session-item" class:current=is_current draggable="true"
            on:dragstart=move |event| start_drag(&event, &drag_id, selection)
            class:selected=move || selection.contains(&checked_id)>
            <input type="checkbox" class="session-check" aria-label=format!("Select “{}”", session.title)
                prop:checked={
                    let id = session.id.clone();
                    move || selection.contains(&id)
                }
                on:click=on_select/>
            <A href=format!("/c/{}", session.id)
                attr:aria-current=aria_current>
                <span class="session-title">
                    {session.pinned.then_some(view! { <span class="pin" aria-label="Pinned">"📌 "</span> })}
                    {session.title.clone()}
                </span>
                <span class="session-meta">{format!("{count} · {when}")}</span>
                {(!session.tags.is_empty()).then(|| view! {
                    <span class="session-tags">
                        <span class="visually-hidden">"Tags: "</span>
                        {session.tags.iter().map(|tag| view! { <span class="tag-chip small-chip">{tag.clone()}</span> }).collect_view()}
                    </span>
                })}
            </A>
        </li>
    }
}

/// The session list as a dropdown, for phones (the sidebar is hidden there).
#[component]
pub fn SessionSelect() -> impl IntoView {
    let store = use_sessions();
    let current = current_session_id();
    let navigate = use_navigate();
    let on_change = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        if value == "new" {
            navigate("/new", Default::default());
        } else if !value.is_empty() {
            navigate(&format!("/c/{value}"), Default::default());
        }
    };
    view! {
        <div class="session-select-row">
            <Transition fallback=|| ()>
                {move || { let on_change = on_change.clone(); Suspend::new(async move {
                    let _ = store.list.resource.await;
                    view! {
                        <select class="session-select" aria-label="Conversation" on:change=on_change.clone()>
                            <option value="" selected=move || current.get().is_none()>"Choose a conversation…"</option>
                            <option value="new">"+ New chat"</option>
                            {move || store.visible().into_iter().map(|session| {
                                let id = session.id.clone();
                                let selected = move || current.get().as_deref() == Some(id.as_str());
                                view! { <option value=session.id.clone() selected=selected>{session.title.clone()}</option> }
                            }).collect_view()}
                        </select>
                    }
                })}}
            </Transition>
        </div>
    }
}
