//! Searching every message as you type: results carry the server's highlighted snippet and
//! the conversation's title, and open the conversation at the message. The search itself (a
//! debounced resource) is `state::SearchStore`.

use confab_core::model::KNOWN_MESSAGE_TYPES;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::state::{use_search, Results, SearchInput};

#[component]
pub fn SearchBox() -> impl IntoView {
    let search = use_search();
    let open = RwSignal::new(false);
    let type_in = move |input: SearchInput| {
        if !input.0.trim().is_empty() {
            open.set(true);
        }
        search.type_in(input);
    };
    on_cleanup(move || search.clear());
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Escape" {
            open.set(false);
        }
    };
    view! {
        // "Searching" while there is something to search for: only then does a phone show the
        // type filter, which otherwise stood above the conversation's own "All types" filter.
        <div class="search" role="search" on:keydown=on_keydown
            class:searching=move || search.typed.with(|(text, kind)| !text.is_empty() || !kind.is_empty())>
            <input id="search" type="search" class="search-input" aria-label="Search messages"
                placeholder="Search messages (Ctrl+K)" autocomplete="off"
                prop:value=move || search.typed.with(|(text, _)| text.clone())
                on:input=move |event| type_in((event_target_value(&event), search.typed.with_untracked(|(_, kind)| kind.clone())))
                on:focus=move |_| if !search.typed.with_untracked(|(text, _)| text.is_empty()) { open.set(true) }/>
            <select class="search-type" aria-label="Search in type" on:change=move |event| {
                type_in((search.typed.with_untracked(|(text, _)| text.clone()), event_target_value(&event)));
            }>
                <option value="">"All types"</option>
                {KNOWN_MESSAGE_TYPES.iter().map(|slug| view! { <option value=*slug>{slug.replace('_', " ")}</option> }).collect_view()}
            </select>
            <Show when=move || open.get() && search.results() != Results::Idle>
                <div class="search-results" aria-label="Search results">
                    <div class="search-results-head">
                        <span class="muted">"Results"</span>
                        <button type="button" class="ghost small" on:click=move |_| open.set(false)>"Close"</button>
                    </div>
                    {move || match search.results() {
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
