//! The list of the user's sessions, newest activity first.

use confab_core::model::Session;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::server_fns::list_sessions;

#[component]
pub fn SessionList(#[prop(optional, into)] current: Signal<Option<String>>) -> impl IntoView {
    let sessions = Resource::new(|| (), |_| list_sessions(None));
    view! {
        <nav class="sidebar" aria-label="Conversations">
            <h2 class="sidebar-title">"Conversations"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || sessions.get().map(|result| match result {
                    Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <p class="empty-state">"No conversations yet."</p>
                    }.into_any(),
                    Ok(page) => view! {
                        <ul class="session-list">
                            {page.items.into_iter().map(|session| view! { <SessionItem session current/> }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </nav>
    }
}

#[component]
fn SessionItem(session: Session, current: Signal<Option<String>>) -> impl IntoView {
    let id = session.id.clone();
    let is_current = move || current.get().as_deref() == Some(id.as_str());
    let when = session
        .last_message_at
        .unwrap_or(session.created_at)
        .format("%b %e, %H:%M")
        .to_string();
    view! {
        <li class="session-item" class:current=is_current>
            <A href=format!("/c/{}", session.id)>
                <span class="session-title">{session.title.clone()}</span>
                <span class="session-meta">{format!("{} messages · {when}", session.message_count)}</span>
            </A>
        </li>
    }
}
