//! `/` opens the last conversation (or the most recent one); `/new` and an empty account show
//! a fresh composer whose first message creates the conversation.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::client;
use crate::components::composer::Composer;
use crate::state::{use_chat, use_folders, use_sessions};

pub const LAST_SESSION_KEY: &str = "confab.lastSession";

#[component]
pub fn HomePage() -> impl IntoView {
    let sessions = use_sessions();
    let navigate = use_navigate();
    // Restores where the user was (browser only: the choice lives in localStorage).
    Effect::new(move |_| {
        if !sessions.loaded() {
            return;
        }
        let visible = sessions.visible();
        let remembered = client::recall(LAST_SESSION_KEY)
            .filter(|id| visible.iter().any(|session| &session.id == id));
        if let Some(id) = remembered.or_else(|| visible.first().map(|session| session.id.clone())) {
            navigate(
                &format!("/c/{id}"),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! { <NewChat/> }
}

/// `/new`, or `/new?folder=ID` to start the conversation in a folder (with its defaults).
#[component]
pub fn NewChatPage() -> impl IntoView {
    let query = use_query_map();
    let folder = Signal::derive(move || {
        query
            .with(|query| query.get("folder"))
            .filter(|id| !id.is_empty())
    });
    view! { <NewChat folder/> }
}

#[component]
fn NewChat(#[prop(optional, into)] folder: Signal<Option<String>>) -> impl IntoView {
    // No conversation is open here: the URL names none, so `chat.conversation` is empty.
    let chat = use_chat();
    let folders = use_folders();
    // The folder's model is the composer's choice for a conversation started in it.
    Effect::new(move |_| {
        if let Some(model) = folder
            .get()
            .and_then(|id| folders.get(&id))
            .and_then(|folder| folder.model)
        {
            chat.model.set(Some(model));
        }
    });
    let folder_name = move || {
        folder
            .get()
            .and_then(|id| folders.get(&id))
            .map(|folder| folder.name)
    };
    view! {
        <div class="scroller">
            <div class="message-column">
                <Show when=move || !chat.streaming() fallback=|| view! { <p class="muted center">"Starting the conversation…"</p> }>
                    <div class="welcome">
                        <h1>{move || match folder_name() {
                            Some(name) => format!("Start a new conversation in “{name}”"),
                            None => "Start a new conversation".to_owned(),
                        }}</h1>
                        <p class="muted">"Ask anything. Every message is saved the moment it is sent, and the reply streams in as it is written."</p>
                        <p class="muted small">"Shortcuts: Ctrl+Shift+O new chat · Ctrl+K or / search · Enter send · Shift+Enter new line"</p>
                    </div>
                </Show>
            </div>
        </div>
        <Composer session_id=Signal::derive(|| None::<String>) folder_id=folder/>
    }
}
