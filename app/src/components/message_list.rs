//! The open conversation's messages, oldest at the top: Markdown, model and usage, copy,
//! edit, regenerate, continue in a new conversation (a fork), and "‹ 1/2 ›" between the
//! alternatives of a message.

use std::time::Duration;

use confab_core::model::{MessageStatus, Role, StatusReason};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::client;
use crate::markdown;
use crate::server_fns::{fork_session, load_conversation, set_star, switch_branch, MessageView};
use crate::state::{error_text, start_reply, use_chat, use_stores, use_toasts, Opened, Outgoing};

/// The scrolling list of messages plus the reply being streamed.
#[component]
pub fn MessageList(filter: RwSignal<String>) -> impl IntoView {
    let chat = use_chat();
    let toasts = use_toasts();
    let scroller = NodeRef::<leptos::html::Div>::new();
    let loading_earlier = RwSignal::new(false);
    let loading_later = RwSignal::new(false);
    let revealed = StoredValue::new(None::<String>);
    // Scrolling loads earlier or later pages only once the list has been placed (at its end,
    // or at a search hit). Opening another page of the same conversation reuses the scroller,
    // and the browser clamping its old position to the new, shorter list fires a scroll event
    // at its bottom, which loaded the page below a search hit.
    let placed = StoredValue::new(false);
    client::after(Duration::from_millis(600), move || {
        let _ = placed.try_set_value(true);
    });
    // Each reload of the conversation (a reply finished, a page opened) renders a new list and
    // disposes this one with its signals: a pass this one scheduled then finds them gone, and
    // reading them would panic.
    let gone = move || loading_earlier.is_disposed();

    // Go to the message in focus (a search hit, a version switched to) once it is shown;
    // otherwise follow the conversation down to its end as it grows, except while a page is
    // being added above or below. After the list has rendered, so that its height is known.
    Effect::new(move |_| {
        let _ = chat.messages.with(Vec::len);
        let _ = chat
            .live
            .with(|live| live.as_ref().map(|live| live.text.len()));
        let focus = chat.focus.get();
        // The scroller is not read here: on hydration it may not be bound yet when this first
        // runs, and nothing would run this again (the conversation opened at its top).
        if loading_earlier.get_untracked() || loading_later.get_untracked() {
            return;
        }
        if let Some(target) = focus {
            if revealed.get_value().as_deref() != Some(target.as_str()) {
                let id = format!("m-{target}");
                client::after(Duration::from_millis(30), move || {
                    if gone() {
                        return;
                    }
                    if client::reveal(&id) {
                        revealed.set_value(Some(target));
                        placed.set_value(true);
                    }
                });
                return;
            }
            if !chat.streaming() {
                return;
            }
        }
        if chat.later.with_untracked(Option::is_some) {
            placed.set_value(true);
            return;
        }
        // Again once the browser has laid the page out: on a busy machine the first pass can
        // run before the messages have their height, and the view then stayed at the top.
        for delay in [0, 100, 400] {
            client::after(Duration::from_millis(delay), move || {
                if gone() {
                    return;
                }
                // Only while the view still follows the end: a search hit opened meanwhile
                // (focus), or a page that is not the last, keeps its place. (Scrolling such a
                // page to its end would also load the page below it.)
                let following = (chat.focus.with_untracked(Option::is_none)
                    || chat.live.with_untracked(Option::is_some))
                    && chat.later.with_untracked(Option::is_none)
                    && !loading_earlier.get_untracked()
                    && !loading_later.get_untracked();
                if !following {
                    return;
                }
                if let Some(element) = scroller.get_untracked() {
                    let from_end =
                        element.scroll_height() - element.scroll_top() - element.client_height();
                    // Still at the top (the first pass came too early) or near the end; not
                    // where the reader has scrolled to meanwhile.
                    if delay == 0 || element.scroll_top() == 0 || from_end < element.client_height()
                    {
                        element.set_scroll_top(element.scroll_height());
                    }
                    placed.set_value(true);
                }
            });
        }
    });

    let load_earlier = move || {
        let Some(before) = chat.earlier.get_untracked() else {
            return;
        };
        let Some(session_id) = chat.session_id() else {
            return;
        };
        if loading_earlier.get_untracked() {
            return;
        }
        loading_earlier.set(true);
        let filter = filter.get_untracked();
        spawn_local(async move {
            let height = scroller
                .get_untracked()
                .map(|element| element.scroll_height());
            match load_conversation(
                session_id,
                Some(before),
                None,
                (!filter.is_empty()).then_some(filter),
            )
            .await
            {
                Ok(page) => {
                    chat.edit(&page.session.id.clone(), |opened| {
                        let list = &mut opened.page.messages;
                        let mut older = page.messages;
                        older.retain(|view| {
                            !list.iter().any(|shown| shown.message.id == view.message.id)
                        });
                        older.append(list);
                        *list = older;
                        opened.page.earlier = page.earlier;
                    });
                    // Keep the message the reader was looking at in place.
                    client::after(Duration::from_millis(0), move || {
                        if gone() {
                            return;
                        }
                        if let (Some(element), Some(height)) = (scroller.get_untracked(), height) {
                            element.set_scroll_top(
                                element.scroll_top() + element.scroll_height() - height,
                            );
                        }
                        loading_earlier.set(false);
                    });
                }
                Err(error) => {
                    toasts.error(format!(
                        "Could not load earlier messages: {}",
                        error_text(&error)
                    ));
                    loading_earlier.set(false);
                }
            }
        });
    };
    let load_later = move || {
        let Some(after) = chat.later.get_untracked() else {
            return;
        };
        let Some(session_id) = chat.session_id() else {
            return;
        };
        if loading_later.get_untracked() {
            return;
        }
        loading_later.set(true);
        let filter = filter.get_untracked();
        spawn_local(async move {
            match load_conversation(
                session_id,
                None,
                Some(after),
                (!filter.is_empty()).then_some(filter),
            )
            .await
            {
                Ok(page) => chat.edit(&page.session.id.clone(), |opened| {
                    let list = &mut opened.page.messages;
                    for view in page.messages {
                        if !list.iter().any(|shown| shown.message.id == view.message.id) {
                            list.push(view);
                        }
                    }
                    opened.page.later = page.later;
                }),
                Err(error) => toasts.error(format!(
                    "Could not load later messages: {}",
                    error_text(&error)
                )),
            }
            loading_later.set(false);
        });
    };
    let on_scroll = move |_| {
        if !placed.get_value() {
            return;
        }
        if let Some(element) = scroller.get_untracked() {
            if element.scroll_top() < 40 && chat.earlier.with_untracked(Option::is_some) {
                load_earlier();
            }
            let below = element.scroll_height() - element.scroll_top() - element.client_height();
            if below < 40 && chat.later.with_untracked(Option::is_some) {
                load_later();
            }
        }
    };
    // Copy buttons inside rendered Markdown are plain HTML: one listener serves them all.
    let on_click = move |event: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(target) = event.target() {
            if let Some(code) = client::code_for_copy_button(&target) {
                client::copy(&code);
                toasts.info("Code copied");
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    let visible = move || {
        let live = chat.live.get();
        let session = chat.session_id();
        let mut list = chat.messages.get();
        if let Some(live) = live.filter(|live| live.session_id == session) {
            if let Some(cut) = live.cut_from {
                if let Some(position) = list.iter().position(|view| view.message.id == cut) {
                    list.truncate(position);
                }
            }
            // The reply being streamed is stored from its start (as `streaming`): a reload
            // meanwhile must not show it twice, once stored and once live. (The user's message
            // is shown once by `LiveMessages`, which skips it when it is listed.)
            list.retain(|view| Some(&view.message.id) != live.reply_id.as_ref());
        }
        list
    };
    // The latest page, with no message to open at: shown from its end.
    let at_end =
        chat.focus.with_untracked(Option::is_none) && chat.later.with_untracked(Option::is_none);
    view! {
        <div class="scroller" node_ref=scroller on:scroll=on_scroll>
            <div class="message-column">
                // Links, so that paging works before the WASM has loaded (and without
                // JavaScript: `/c/{id}?before=…` is the page above); once hydrated, a click
                // adds the page to the list instead.
                <Show when=move || chat.earlier.with(Option::is_some)>
                    <a class="ghost-link load-earlier" href=move || page_link(chat.session_id(), "before", chat.earlier.get())
                        on:click=move |event| { event.prevent_default(); load_earlier(); }>
                        {move || if loading_earlier.get() { "Loading…" } else { "Load earlier messages" }}
                    </a>
                </Show>
                <Show when=move || chat.messages.with(Vec::is_empty) && !chat.streaming()>
                    <div class="empty-conversation">
                        <p class="muted">{move || if filter.with(String::is_empty) {
                            "No messages yet. Say hello below."
                        } else {
                            "No messages of this type."
                        }}</p>
                    </div>
                </Show>
                <ol class="message-list" aria-label="Messages" on:click=on_click>
                    <For
                        each=visible
                        key=|view| (view.message.id.clone(), view.message.content.len(), view.siblings.count, view.message.status.as_str())
                        let:view
                    >
                        <MessageItem view/>
                    </For>
                    <LiveMessages/>
                </ol>
                <Show when=move || chat.later.with(Option::is_some)>
                    <a class="ghost-link load-earlier" href=move || page_link(chat.session_id(), "after", chat.later.get())
                        on:click=move |event| { event.prevent_default(); load_later(); }>
                        {move || if loading_later.get() { "Loading…" } else { "Load later messages" }}
                    </a>
                </Show>
            </div>
        </div>
        // Before the WASM has loaded, the server-rendered page already opens at its end.
        {at_end.then(|| view! { <script src="/scroll-to-end.js"></script> })}
    }
}

/// `/c/{session}?{key}={cursor}`: the page before or after `cursor` as a plain link.
fn page_link(session: Option<String>, key: &str, cursor: Option<String>) -> String {
    match (session, cursor) {
        (Some(session), Some(cursor)) => format!("/c/{session}?{key}={cursor}"),
        (Some(session), None) => format!("/c/{session}"),
        _ => "/".to_owned(),
    }
}

/// Who wrote a message, as the list and the Starred view name them.
pub fn author(role: Role, model: Option<&str>) -> String {
    match role {
        Role::User => "You".to_owned(),
        Role::Assistant => model.unwrap_or("Assistant").to_owned(),
        Role::System => "System".to_owned(),
        Role::Tool => "Tool".to_owned(),
    }
}

#[component]
fn MessageItem(view: MessageView) -> impl IntoView {
    let chat = use_chat();
    let stores = use_stores();
    let toasts = use_toasts();
    let navigate = use_navigate();
    let message = view.message.clone();
    let id = message.id.clone();
    let role = message.role;
    let editing = RwSignal::new(false);
    let edit_text = RwSignal::new(message.content.clone());
    let html = markdown::render(&message.content);
    let usage = match (message.prompt_tokens, message.completion_tokens) {
        (Some(prompt), Some(completion)) => Some(format!("{prompt} → {completion} tokens")),
        _ => None,
    };
    let latency = message
        .latency_ms
        .map(|ms| format!("{:.1} s", ms as f64 / 1000.0));
    let status = status_label(message.status, message.status_reason);
    let position = view.siblings.index;
    let count = view.siblings.count;
    let previous = view.siblings.previous_id.clone();
    let next = view.siblings.next_id.clone();
    let switch_to = move |target: Option<String>| {
        let Some(target) = target else { return };
        let Some(session_id) = chat.session_id() else {
            return;
        };
        spawn_local(async move {
            match switch_branch(session_id, target.clone()).await {
                Ok(page) => chat.edit(&page.session.id.clone(), |opened| {
                    *opened = Opened {
                        page,
                        focus: Some(target),
                    }
                }),
                Err(error) => {
                    toasts.error(format!("Could not switch versions: {}", error_text(&error)))
                }
            }
        });
    };
    // Shown at once (optimistic); put back, with a toast, when the server refuses. One request
    // at a time: a second click while one is on its way only changes what is wanted, which is
    // sent once the first is answered. Two requests sent together (a double click) could
    // arrive in either order and leave stored the state the user clicked away from.
    let starred = RwSignal::new(message.starred);
    // What the server holds, as far as this page knows.
    let saved = RwSignal::new(message.starred);
    let sending = RwSignal::new(false);
    let toggle_star = {
        let id = id.clone();
        move |_| {
            starred.update(|starred| *starred = !*starred);
            if sending.get_untracked() {
                return;
            }
            sending.set(true);
            let id = id.clone();
            // `try_`: the message may leave the page while its star is being saved.
            spawn_local(async move {
                while let (Some(wanted), Some(stored)) =
                    (starred.try_get_untracked(), saved.try_get_untracked())
                {
                    if wanted == stored {
                        break;
                    }
                    if let Err(error) = set_star(id.clone(), wanted).await {
                        let _ = starred.try_set(stored);
                        let what = if wanted { "star" } else { "unstar" };
                        toasts.error(format!(
                            "Could not {what} the message: {}",
                            error_text(&error)
                        ));
                        break;
                    }
                    let _ = saved.try_set(wanted);
                }
                let _ = sending.try_set(false);
            });
        }
    };
    let content = message.content.clone();
    let copy = move |_| {
        client::copy(&content);
        toasts.info("Message copied");
    };
    let regenerate = {
        let id = id.clone();
        let navigate = navigate.clone();
        move |_| {
            if let Some(session_id) = chat.session_id() {
                start_reply(
                    stores,
                    Outgoing::Regenerate {
                        session_id,
                        reply: id.clone(),
                    },
                    navigate.clone(),
                );
            }
        }
    };
    // A fork is a new conversation: it joins the sidebar at once and opens ready to write in.
    let fork = {
        let id = id.clone();
        let navigate = navigate.clone();
        move |_| {
            let Some(session_id) = chat.session_id() else {
                return;
            };
            let message_id = id.clone();
            let navigate = navigate.clone();
            spawn_local(async move {
                match fork_session(session_id, message_id).await {
                    Ok(session) => {
                        let path = format!("/c/{}", session.id);
                        stores.sessions.upsert(session);
                        navigate(&path, Default::default());
                        client::after(Duration::from_millis(150), || {
                            client::focus("composer-input")
                        });
                    }
                    Err(error) => toasts.error(format!(
                        "Could not continue in a new conversation: {}",
                        error_text(&error)
                    )),
                }
            });
        }
    };
    let save_edit = {
        let id = id.clone();
        move || {
            let content = edit_text.get_untracked();
            if content.trim().is_empty() {
                return;
            }
            if let Some(session_id) = chat.session_id() {
                editing.set(false);
                start_reply(
                    stores,
                    Outgoing::Edit {
                        session_id,
                        original: id.clone(),
                        content,
                    },
                    navigate.clone(),
                );
            }
        }
    };
    // A reply still being written cannot be forked from (the server refuses it too).
    let forkable = message.status != MessageStatus::Streaming;
    let save_on_click = save_edit.clone();
    view! {
        <li class=format!("message message-{}", role.as_str()) id=format!("m-{id}") data-type=message.message_type.clone()>
            <div class="message-head">
                <span class="message-author">{author(role, message.model.as_deref())}</span>
                <span class="chip">{message.message_type.clone()}</span>
                <time datetime=message.created_at.to_rfc3339()>{message.created_at.format("%b %e, %H:%M").to_string()}</time>
                {status.map(|status| view! { <span class="chip chip-warn">{status}</span> })}
            </div>
            <Show when=move || editing.get() fallback=move || view! {
                <div class="message-body markdown" inner_html=html.clone()></div>
            }>
                <div class="edit-box">
                    <textarea aria-label="Edit message" rows="3" prop:value=move || edit_text.get()
                        on:input=move |event| edit_text.set(event_target_value(&event))></textarea>
                    <div class="edit-actions">
                        <button type="button" class="primary" on:click={
                            let save = save_on_click.clone();
                            move |_| save()
                        }>"Save and send"</button>
                        <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </div>
            </Show>
            <div class="message-foot">
                {(role == Role::Assistant).then(|| view! {
                    <span class="message-meta">
                        {[message.model.clone(), usage.clone(), latency.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ")}
                    </span>
                })}
                {(count > 1).then(|| {
                    let previous_target = previous.clone();
                    let next_target = next.clone();
                    view! {
                        <span class="versions" aria-label="Versions">
                            <button type="button" class="ghost icon" aria-label="Previous version"
                                disabled=previous.is_none() on:click=move |_| switch_to(previous_target.clone())>"‹"</button>
                            <span class="version-count">{format!("{}/{}", position + 1, count)}</span>
                            <button type="button" class="ghost icon" aria-label="Next version"
                                disabled=next.is_none() on:click=move |_| switch_to(next_target.clone())>"›"</button>
                        </span>
                    }
                })}
                <span class="message-actions">
                    <button type="button" class="ghost small star-toggle" aria-label="Star message"
                        aria-pressed=move || starred.get().to_string()
                        title=move || if starred.get() { "Starred: click to unstar" } else { "Star this message" }
                        on:click=toggle_star>
                        <span aria-hidden="true">{move || if starred.get() { "★" } else { "☆" }}</span>
                    </button>
                    <button type="button" class="ghost small" on:click=copy>"Copy"</button>
                    {(role == Role::User).then(|| view! {
                        <button type="button" class="ghost small" on:click=move |_| editing.set(true)
                            disabled=move || chat.streaming()>"Edit"</button>
                    })}
                    {(role == Role::Assistant).then(|| view! {
                        <button type="button" class="ghost small" on:click=regenerate
                            disabled=move || chat.streaming()>"Regenerate"</button>
                    })}
                    {forkable.then(|| view! {
                        <button type="button" class="ghost small" on:click=fork
                            title="A new conversation holding the messages up to this one">
                            "Continue in a new conversation"
                        </button>
                    })}
                </span>
            </div>
        </li>
    }
}

/// The user's message before the server confirms it, and the reply as it streams in.
#[component]
fn LiveMessages() -> impl IntoView {
    let chat = use_chat();
    move || {
        let live = chat.live.get()?;
        let session = chat.session_id();
        // A first message creates its session: show it on the new page as well.
        if live.session_id.is_some() && live.session_id != session {
            return None;
        }
        let already_listed = live.user_saved.as_ref().is_some_and(|saved| {
            chat.messages
                .with(|list| list.iter().any(|view| view.message.id == saved.id))
        });
        let user = live
            .user_text
            .clone()
            .filter(|_| !already_listed)
            .map(|text| {
                let pending = live.user_saved.is_none();
                view! {
                    <li class="message message-user" class:pending=pending>
                        <div class="message-head">
                            <span class="message-author">"You"</span>
                            <span class="chip">{live.user_type.clone()}</span>
                            {pending.then_some(view! { <span class="muted">"Sending…"</span> })}
                        </div>
                        <div class="message-body markdown" inner_html=markdown::render(&text)></div>
                    </li>
                }
            });
        let reply_html = markdown::render(&live.text);
        Some(view! {
            {user}
            <li class="message message-assistant streaming" aria-busy="true">
                <div class="message-head">
                    <span class="message-author">{live.model.clone().unwrap_or_else(|| "Assistant".into())}</span>
                    <span class="typing" aria-label="Writing">"●●●"</span>
                </div>
                <div class="message-body markdown" inner_html=reply_html></div>
            </li>
        })
    }
}

/// What the chip beside an unfinished reply says: its status and, in words, why.
fn status_label(status: MessageStatus, reason: Option<StatusReason>) -> Option<String> {
    let status = match status {
        MessageStatus::Complete => return None,
        MessageStatus::Error => "failed",
        MessageStatus::Partial => "partial",
        MessageStatus::Streaming => "streaming",
    };
    let why = reason.map(|reason| match reason {
        StatusReason::Stopped => "stopped",
        StatusReason::TooLong => "too long",
        StatusReason::ProviderInterrupted => "connection lost",
        StatusReason::ProviderStalled => "provider stalled",
        StatusReason::ProviderError => "provider error",
        StatusReason::ProviderUnreachable => "provider unreachable",
        StatusReason::Shutdown => "server shut down",
        StatusReason::Interrupted => "server stopped",
    });
    Some(match why {
        Some(why) => format!("{status} · {why}"),
        None => status.to_owned(),
    })
}
