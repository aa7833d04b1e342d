//! `/c/{id}`: one conversation, opened at its latest message; `?m={message}` opens it at that
//! message instead (a search hit), switching to its branch and loading the page around it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::client;
use crate::components::composer::Composer;
use crate::components::conversation_head::ConversationHead;
use crate::components::message_list::MessageList;
use crate::pages::home::LAST_SESSION_KEY;
use crate::state::{error_text, use_chat};

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = use_chat();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    Effect::new(move |_| client::remember(LAST_SESSION_KEY, &id.get()));
    // The filter is the page's: leaving it (for a new chat, the import) ends the filtering,
    // as it did when each page had its own. Moving between conversations keeps it.
    on_cleanup(move || {
        let _ = chat.filter.try_set(String::new());
    });
    let filter = chat.filter;
    view! {
        <Transition fallback=|| view! { <div class="scroller"><p class="muted center">"Loading messages…"</p></div> }>
            // The conversation is `chat.conversation` (made once, with the shared state):
            // here only whether it opened decides what is rendered, and the parts below read
            // it as changed since.
            {move || Suspend::new(async move {
                match chat.conversation.resource.await.value {
                    None => ().into_any(),
                    Some(Ok(opened)) => {
                        let title = title_text(format!("{} · Confab", opened.page.session.title));
                        view! {
                            <Title text=title/>
                            {view! { <ConversationHead filter/> }.into_any()}
                            {view! { <MessageList filter/> }.into_any()}
                        }.into_any()
                    }
                    Some(Err(error)) => view! {
                        <div class="scroller">
                            <div class="load-error" role="alert">
                                <h1>"This conversation could not be opened"</h1>
                                <p class="muted">{error_text(&error)}</p>
                            </div>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
        <Composer session_id=Signal::derive(move || Some(id.get()))/>
    }
}

/// The text for `<Title>`. leptos_meta 0.8 writes the server's `<title>` without escaping it,
/// so a conversation title holding `</title>` (one typed, or one from an imported file) would
/// end the element and put its own markup in the page. The server's copy is escaped (in a
/// title the browser reads `&lt;` as `<`); the browser's, set as `document.title`, is text.
fn title_text(text: String) -> String {
    if cfg!(feature = "ssr") {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    } else {
        text
    }
}
