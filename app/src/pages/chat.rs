//! `/c/{id}`: one conversation, opened at its latest message; `?m={message}` opens it at that
//! message instead (a search hit), switching to its branch and loading the page around it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::client;
use crate::components::composer::Composer;
use crate::components::conversation_head::ConversationHead;
use crate::components::message_list::MessageList;
use crate::pages::home::LAST_SESSION_KEY;
use crate::server_fns::{load_conversation, open_message};
use crate::state::{error_text, use_chat};

#[component]
pub fn ChatPage() -> impl IntoView {
    let chat = use_chat();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let filter = RwSignal::new(String::new());
    let query = use_query_map();
    // `?m=` (a search hit): open at that message, on whichever page and branch it is.
    let target = Memo::new(move |_| query.read().get("m").filter(|m| !m.is_empty()));
    // `?before=` and `?after=`: the page above or below a message, as the paging links ask
    // for it when the WASM is not there to add pages to the list.
    let cursor = move |key: &str| query.read().get(key).filter(|id| !id.is_empty());
    let before = Memo::new(move |_| cursor("before"));
    let after = Memo::new(move |_| cursor("after"));
    let conversation = Resource::new(
        move || {
            (
                id.get(),
                filter.get(),
                chat.reload.get(),
                target.get(),
                before.get(),
                after.get(),
            )
        },
        |(id, filter, _, target, before, after)| async move {
            match target {
                Some(message_id) => open_message(message_id).await,
                None => {
                    let filter = (!filter.is_empty()).then_some(filter);
                    load_conversation(id, before, after, filter).await
                }
            }
        },
    );
    Effect::new(move |_| client::remember(LAST_SESSION_KEY, &id.get()));
    view! {
        <Transition fallback=|| view! { <div class="scroller"><p class="muted center">"Loading messages…"</p></div> }>
            {move || Suspend::new(async move {
                match conversation.await {
                    Ok(data) => {
                        let title = title_text(format!("{} · Confab", data.session.title));
                        chat.session.set(Some(data.session));
                        chat.messages.set(data.messages);
                        chat.earlier.set(data.earlier);
                        chat.later.set(data.later);
                        chat.focus.set(target.get_untracked());
                        view! {
                            <Title text=title/>
                            {view! { <ConversationHead filter/> }.into_any()}
                            {view! { <MessageList filter/> }.into_any()}
                        }.into_any()
                    }
                    Err(error) => view! {
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
