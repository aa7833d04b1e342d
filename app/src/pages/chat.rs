//! `/c/{id}`: one conversation.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::components::auth::{use_auth, AuthPanel};
use crate::components::message_list::MessageList;
use crate::components::session_list::SessionList;
use crate::server_fns::load_conversation;

#[component]
pub fn ChatPage() -> impl IntoView {
    let auth = use_auth();
    let params = use_params_map();
    let session_id = Signal::derive(move || params.read().get("id"));
    let view_data = Resource::new(
        move || session_id.get(),
        |id| async move {
            match id {
                Some(id) => load_conversation(id, None).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted center">"Loading…"</p> }>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(_)) => view! {
                    <div class="workspace">
                        <SessionList current=session_id/>
                        <section class="conversation">
                            <Transition fallback=|| view! { <p class="muted">"Loading messages…"</p> }>
                                {move || view_data.get().map(|data| match data {
                                    Ok(Some(data)) => view! {
                                        <Title text=format!("{} · Confab", data.detail.session.title)/>
                                        <header class="conversation-head">
                                            <h1>{data.detail.session.title.clone()}</h1>
                                            <p class="muted">{format!("{} messages", data.detail.session.message_count)}</p>
                                        </header>
                                        <MessageList messages=data.messages.items/>
                                    }.into_any(),
                                    Ok(None) => ().into_any(),
                                    Err(error) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
                                })}
                            </Transition>
                        </section>
                    </div>
                }.into_any(),
                Ok(None) => view! { <AuthPanel/> }.into_any(),
                Err(error) => view! { <p class="form-error center">{error.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}
