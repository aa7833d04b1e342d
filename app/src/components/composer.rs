//! Writing a message: Enter sends, Shift+Enter starts a new line; the message type and the
//! model are chosen beside it; Stop ends a streaming reply.

use crate::error::AppError;
use confab_core::model::KNOWN_MESSAGE_TYPES;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::server_fns::list_models;
use crate::state::{error_text, start_reply, use_chat, use_stores, Outgoing};
use confab_core::api::ModelChoices;

#[component]
pub fn Composer(
    #[prop(into)] session_id: Signal<Option<String>>,
    /// The folder a new conversation starts in (the new-chat page's `?folder=`).
    #[prop(optional, into)]
    folder_id: Signal<Option<String>>,
) -> impl IntoView {
    let chat = use_chat();
    let stores = use_stores();
    let navigate = use_navigate();
    // Asked from the browser only, once hydrated: a slow provider never holds the page back.
    // (Not a `LocalResource`: read inside the page's `Suspense`, one makes the server send that
    // Suspense's fallback instead of the page.)
    let models = RwSignal::new(None::<Result<ModelChoices, AppError>>);
    Effect::new(move |_| {
        spawn_local(async move {
            let answer = list_models().await;
            let _ = models.try_set(Some(answer));
        });
    });
    Effect::new(move |_| {
        if let Some(Ok(choices)) = models.get() {
            if chat.model.get_untracked().is_none() {
                let default = choices
                    .models
                    .iter()
                    .find(|model| model.default)
                    .or(choices.models.first())
                    .map(|model| model.id.clone());
                chat.model.set(default);
            }
        }
    });
    let send = move || {
        let content = chat.draft.get_untracked();
        if content.trim().is_empty() || chat.streaming() {
            return;
        }
        chat.draft.set(String::new());
        start_reply(
            stores,
            Outgoing::Send {
                session_id: session_id.get_untracked(),
                folder_id: folder_id.get_untracked(),
                content,
            },
            navigate.clone(),
        );
    };
    let send_on_key = send.clone();
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            send_on_key();
        }
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        send();
    };
    let model_errors = move || match models.get() {
        Some(Ok(choices)) if choices.models.is_empty() => Some(if choices.errors.is_empty() {
            "No model is configured.".to_owned()
        } else {
            format!("No model answered: {}", choices.errors.join("; "))
        }),
        Some(Err(error)) => Some(format!("Could not list the models: {}", error_text(&error))),
        _ => None,
    };
    view! {
        <form class="composer" on:submit=on_submit aria-label="Send a message">
            <textarea id="composer-input" class="composer-input" rows="2" aria-label="Message"
                placeholder="Message Confab — Enter to send, Shift+Enter for a new line"
                prop:value=move || chat.draft.get()
                on:input=move |event| chat.draft.set(event_target_value(&event))
                on:keydown=on_keydown></textarea>
            <div class="composer-bar">
                <label class="field">
                    <span class="visually-hidden">"Message type"</span>
                    <select aria-label="Message type" on:change=move |event| chat.message_type.set(event_target_value(&event))>
                        {KNOWN_MESSAGE_TYPES.iter().map(|slug| {
                            let slug = *slug;
                            view! { <option value=slug selected=move || chat.message_type.get() == slug>{slug.replace('_', " ")}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span class="visually-hidden">"Model"</span>
                    <select aria-label="Model" on:change=move |event| chat.model.set(Some(event_target_value(&event)))>
                        {move || match models.get() {
                            None => view! { <option value="">"Loading models…"</option> }.into_any(),
                            Some(Err(_)) => view! { <option value="">"Default model"</option> }.into_any(),
                            Some(Ok(choices)) => choices.models.into_iter().map(|model| {
                                let id = model.id.clone();
                                let selected = move || chat.model.get().as_deref() == Some(id.as_str());
                                view! { <option value=model.id.clone() selected=selected>{format!("{} · {}", model.id, model.provider)}</option> }
                            }).collect_view().into_any(),
                        }}
                    </select>
                </label>
                <span class="spacer"></span>
                <Show when=move || chat.streaming() fallback=move || view! {
                    <button type="submit" class="primary" disabled=move || chat.draft.with(|d| d.trim().is_empty())>"Send"</button>
                }>
                    <button type="button" class="danger-button" on:click=move |_| crate::state::stop_reply(stores)>"Stop"</button>
                </Show>
            </div>
            {move || model_errors().map(|text| view! { <p class="form-error" role="alert">{text}</p> })}
        </form>
    }
}
