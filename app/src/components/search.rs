//! Searching every message as you type: results carry the server's highlighted snippet and
//! the conversation's title, and open the conversation at the message.

use std::time::Duration;

use confab_core::model::{SearchHit, KNOWN_MESSAGE_TYPES};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::client;
use crate::server_fns::search_messages;
use crate::state::error_text;

#[derive(Clone, PartialEq)]
enum Results {
    Idle,
    Loading,
    Found(Vec<SearchHit>),
    Failed(String),
}

#[component]
pub fn SearchBox() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let message_type = RwSignal::new(String::new());
    let results = RwSignal::new(Results::Idle);
    let open = RwSignal::new(false);
    let generation = StoredValue::new(0u64);

    let run = move || {
        let text = query.get_untracked();
        generation.update_value(|n| *n += 1);
        let mine = generation.get_value();
        if text.trim().is_empty() {
            results.set(Results::Idle);
            return;
        }
        results.set(Results::Loading);
        open.set(true);
        // Debounced: only the last keystroke of a burst asks the server.
        client::after(Duration::from_millis(250), move || {
            if generation.get_value() != mine {
                return;
            }
            let kind = message_type.get_untracked();
            spawn_local(async move {
                let answer = search_messages(text, (!kind.is_empty()).then_some(kind)).await;
                if generation.get_value() != mine {
                    return;
                }
                results.set(match answer {
                    Ok(hits) => Results::Found(hits),
                    Err(error) => Results::Failed(error_text(&error)),
                });
            });
        });
    };
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Escape" {
            open.set(false);
        }
    };
    view! {
        <div class="search" role="search" on:keydown=on_keydown>
            <input id="search" type="search" class="search-input" aria-label="Search messages"
                placeholder="Search messages (Ctrl+K)" autocomplete="off"
                prop:value=move || query.get()
                on:input=move |event| { query.set(event_target_value(&event)); run(); }
                on:focus=move |_| if !query.with_untracked(String::is_empty) { open.set(true) }/>
            <select class="search-type" aria-label="Search in type" on:change=move |event| {
                message_type.set(event_target_value(&event));
                run();
            }>
                <option value="">"All types"</option>
                {KNOWN_MESSAGE_TYPES.iter().map(|slug| view! { <option value=*slug>{slug.replace('_', " ")}</option> }).collect_view()}
            </select>
            <Show when=move || open.get() && results.with(|r| *r != Results::Idle)>
                <div class="search-results" aria-label="Search results">
                    <div class="search-results-head">
                        <span class="muted">"Results"</span>
                        <button type="button" class="ghost small" on:click=move |_| open.set(false)>"Close"</button>
                    </div>
                    {move || match results.get() {
                        Results::Idle => ().into_any(),
                        Results::Loading => view! { <p class="muted search-note">"Searching…"</p> }.into_any(),
                        Results::Failed(reason) => view! { <p class="form-error search-note" role="alert">{reason}</p> }.into_any(),
                        Results::Found(hits) if hits.is_empty() => view! { <p class="muted search-note">"No message matches."</p> }.into_any(),
                        Results::Found(hits) => view! {
                            <ul class="search-list">
                                {hits.into_iter().map(|hit| view! {
                                    <li>
                                        <A href=format!("/c/{}?m={}", hit.session_id, hit.message_id)
                                            attr:class="search-hit" on:click=move |_| open.set(false)>
                                            <span class="search-hit-head">
                                                <span class="search-hit-title">{hit.session_title.clone()}</span>
                                                <span class="chip">{hit.message_type.clone()}</span>
                                                <span class="muted">{hit.role.as_str()}</span>
                                            </span>
                                            // The snippet is escaped text with <mark> around the hits: the
                                            // server made it safe to insert, and nothing else is inserted.
                                            <span class="search-snippet" inner_html=hit.snippet.clone()></span>
                                        </A>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }}
                </div>
            </Show>
        </div>
    }
}
