//! Searching every message as you type: results carry the server's highlighted snippet and
//! the conversation's title, and open the conversation at the message. The search itself (a
//! debounced resource) is `state::SearchStore`.

use confab_core::model::{SearchHit, KNOWN_MESSAGE_TYPES};
use confab_core::search_syntax::{filter_value, with_filter, Key};
use leptos::prelude::*;
use leptos_router::components::A;

use super::bulk_bar::BulkBar;
use crate::state::{use_search, use_selection, use_tags, Results, Scope, SearchInput};

#[component]
pub fn SearchBox() -> impl IntoView {
    let search = use_search();
    let selection = use_selection();
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
                    <SearchFilters/>
                    {move || match search.results() {
                        Results::Idle => ().into_any(),
                        Results::Loading => view! { <p class="muted search-note">"Searching…"</p> }.into_any(),
                        Results::Failed(reason) => view! { <p class="form-error search-note" role="alert">{reason}</p> }.into_any(),
                        Results::Found(hits) if hits.is_empty() => view! { <p class="muted search-note">"No message matches."</p> }.into_any(),
                        Results::Found(hits) => view! {
                            <BulkBar scope=Scope::Search/>
                            <ul class="search-list">
                                {by_conversation(hits).into_iter().map(|(session_id, title, hits)| view! {
                                    <li class="search-group" class:selected={
                                        let id = session_id.clone();
                                        move || selection.scope.get() == Scope::Search && selection.contains(&id)
                                    }>
                                        <p class="search-group-head">
                                            <SelectConversation session_id=session_id.clone() title=title.clone()/>
                                            <span class="search-hit-title">{title}</span>
                                            <span class="muted">{hit_count(hits.len())}</span>
                                        </p>
                                        <ul class="search-list">
                                            {hits.into_iter().map(|hit| view! { <SearchHitLink hit open/> }).collect_view()}
                                        </ul>
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

/// One hit: its type, role and snippet, opening the conversation at the message.
#[component]
fn SearchHitLink(hit: SearchHit, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <li>
            <A href=format!("/c/{}?m={}", hit.session_id, hit.message_id)
                attr:class="search-hit" on:click=move |_| open.set(false)>
                <span class="search-hit-head">
                    <span class="chip">{hit.message_type.clone()}</span>
                    <span class="muted">{hit.role.as_str()}</span>
                    <span class="muted">{hit.created_at.format("%Y-%m-%d").to_string()}</span>
                </span>
                // The snippet is escaped text with <mark> around the hits: the
                // server made it safe to insert, and nothing else is inserted.
                <span class="search-snippet" inner_html=hit.snippet.clone()></span>
            </A>
        </li>
    }
}

/// The hits of one page grouped by conversation, each group with its conversation's id and title,
/// in the order of each conversation's best hit (the hits come best first). The counts are
/// of the hits on this page, not of every match in the store.
fn by_conversation(hits: Vec<SearchHit>) -> Vec<(String, String, Vec<SearchHit>)> {
    let mut groups: Vec<(String, String, Vec<SearchHit>)> = Vec::new();
    for hit in hits {
        match groups.iter_mut().find(|(id, _, _)| *id == hit.session_id) {
            Some((_, _, group)) => group.push(hit),
            None => groups.push((hit.session_id.clone(), hit.session_title.clone(), vec![hit])),
        }
    }
    groups
}

/// The box that selects a result's conversation for the bulk bar (Shift: the conversations
/// between it and the one clicked before, in the results' order).
#[component]
fn SelectConversation(session_id: String, title: String) -> impl IntoView {
    let selection = use_selection();
    let search = use_search();
    let checked_id = session_id.clone();
    view! {
        <input type="checkbox" class="session-check" aria-label=format!("Select “{title}”")
            prop:checked=move || selection.scope.get() == Scope::Search && selection.contains(&checked_id)
            on:click=move |event: leptos::ev::MouseEvent| {
                selection.toggle(Scope::Search, &session_id, event.shift_key(), &search.conversation_ids());
            }/>
    }
}

fn hit_count(count: usize) -> String {
    match count {
        1 => "1 hit".to_owned(),
        _ => format!("{count} hits"),
    }
}

/// Controls for the filters of the query's syntax (`search_syntax`): each shows the filter
/// the box holds and writes its choice into the box, so the text stays the one truth.
#[component]
fn SearchFilters() -> impl IntoView {
    let search = use_search();
    let tags = use_tags();
    let value = move |key: Key| {
        search
            .typed
            .with(|(text, _)| filter_value(text, key).unwrap_or_default())
    };
    let set = move |key: Key, choice: String| {
        let (text, kind) = search.typed.get_untracked();
        search.type_in((with_filter(&text, key, Some(&choice)), kind));
    };
    view! {
        <div class="search-filters" role="group" aria-label="Search filters">
            <select aria-label="Role" prop:value=move || value(Key::Role)
                on:change=move |event| set(Key::Role, event_target_value(&event))>
                <option value="">"Any role"</option>
                {["user", "assistant", "system", "tool"].map(|role| view! { <option value=role>{role}</option> }).collect_view()}
            </select>
            <label>"After" <input type="date" prop:value=move || value(Key::After)
                on:change=move |event| set(Key::After, event_target_value(&event))/></label>
            <label>"Before" <input type="date" prop:value=move || value(Key::Before)
                on:change=move |event| set(Key::Before, event_target_value(&event))/></label>
            <input type="text" class="search-model" aria-label="Model" placeholder="Model"
                prop:value=move || value(Key::Model)
                on:change=move |event| set(Key::Model, event_target_value(&event))/>
            <Show when=move || !tags.names().is_empty()>
                <select aria-label="Tag" prop:value=move || value(Key::Tag)
                    on:change=move |event| set(Key::Tag, event_target_value(&event))>
                    <option value="">"Any tag"</option>
                    {move || tags.names().into_iter().map(|tag| view! { <option value=tag.clone()>{tag.clone()}</option> }).collect_view()}
                </select>
            </Show>
            <label class="search-starred">
                <input type="checkbox" prop:checked=move || value(Key::Is) == "starred"
                    on:change=move |event| set(Key::Is, if event_target_checked(&event) { "starred".to_owned() } else { String::new() })/>
                "Starred only"
            </label>
        </div>
    }
}
