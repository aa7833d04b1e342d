//! Tags on conversations: the open conversation's tags with a field to add one, the sidebar's
//! filter by tag (with renaming or deleting a tag everywhere), and the field the bulk bar tags
//! a selection with. Every tag typed goes through `confab_core::tags::tag`, the server's own
//! rule, so the page says what is wrong before asking the server.

use leptos::prelude::*;

use crate::state::{use_chat, use_session_actions, use_sessions, use_tags, use_toasts, TagChange};

/// A text field for one tag, suggesting the user's tags. `done` is called with the tag made
/// from what was typed when Enter is pressed (or the button pressed); what cannot be a tag is
/// said under the field instead.
#[component]
pub fn TagField(
    /// The field's accessible name ("Add a tag").
    label: &'static str,
    /// The id of the field's list of suggestions (unique on the page).
    list_id: &'static str,
    /// What the button says ("Add").
    button: &'static str,
    done: Callback<String>,
    /// Called when Escape is pressed.
    #[prop(optional)]
    cancel: Option<Callback<()>>,
) -> impl IntoView {
    let tags = use_tags();
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let error_id = format!("{list_id}-error");
    let submit = move || match confab_core::tags::tag(&text.get_untracked()) {
        Ok(tag) => {
            error.set(None);
            text.set(String::new());
            done.run(tag);
        }
        Err(reason) => error.set(Some(reason.to_string())),
    };
    let on_key = move |event: leptos::ev::KeyboardEvent| match event.key().as_str() {
        "Enter" => {
            event.prevent_default();
            submit();
        }
        "Escape" => {
            if let Some(cancel) = cancel {
                cancel.run(());
            }
        }
        _ => {}
    };
    view! {
        <span class="tag-field">
            // No `maxlength`: it counts UTF-16 units where the rule counts characters (an emoji
            // is two), and a longer text cut short without a word would be a different tag.
            <input type="text" class="tag-input" aria-label=label list=list_id
                autocomplete="off" placeholder="Tag"
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=error_id.clone()
                prop:value=move || text.get()
                on:input=move |event| { error.set(None); text.set(event_target_value(&event)) }
                on:keydown=on_key/>
            <datalist id=list_id>
                {move || tags.names().into_iter().map(|tag| view! { <option value=tag/> }).collect_view()}
            </datalist>
            <button type="button" class="small" on:click=move |_| submit()>{button}</button>
            <span class="form-error tag-error" id=error_id role="alert">{move || error.get()}</span>
        </span>
    }
}

/// The open conversation's tags, each with a button taking it off, and "+ Tag" to add one.
/// A change shows at once and is undone with a notice if the server refuses
/// (`SessionActions::tag`).
#[component]
pub fn ConversationTags() -> impl IntoView {
    let chat = use_chat();
    let actions = use_session_actions();
    let adding = RwSignal::new(false);
    let shown = move || {
        chat.session.with(|session| {
            session.as_ref().map_or_else(Vec::new, |session| {
                let mut session = session.clone();
                actions.show_pending(&mut session);
                session.tags
            })
        })
    };
    let change = move |tag: String, add: bool| {
        if let Some(id) = chat.session_id_untracked() {
            actions.tag.dispatch(TagChange { id, tag, add });
        }
    };
    view! {
        <ul class="conversation-tags" aria-label="Tags">
            {move || shown().into_iter().map(|tag| {
                let label = format!("Remove tag “{tag}”");
                let removed = tag.clone();
                view! {
                    <li class="tag-chip">
                        <span>{tag}</span>
                        <button type="button" class="tag-remove" aria-label=label title="Remove tag"
                            on:click=move |_| change(removed.clone(), false)>"×"</button>
                    </li>
                }
            }).collect_view()}
            <li>
                <Show when=move || adding.get() fallback=move || view! {
                    <button type="button" class="ghost small" on:click=move |_| adding.set(true)>"+ Tag"</button>
                }>
                    <TagField label="Add a tag" list_id="conversation-tag-names" button="Add"
                        done=Callback::new(move |tag| { change(tag, true); adding.set(false) })
                        cancel=Callback::new(move |_| adding.set(false))/>
                </Show>
            </li>
        </ul>
    }
}

/// What the sidebar's tag filter is doing: choosing, or renaming the tag chosen.
#[derive(Clone, Copy, PartialEq)]
enum Editing {
    Nothing,
    Rename,
    Delete,
}

/// The sidebar's filter by tag, shown once the user has tags; with a tag chosen, renaming it
/// or deleting it everywhere.
#[component]
pub fn TagFilter() -> impl IntoView {
    let tags = use_tags();
    let sessions = use_sessions();
    let chat = use_chat();
    let toasts = use_toasts();
    let editing = RwSignal::new(Editing::Nothing);
    let choose = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        editing.set(Editing::Nothing);
        sessions.tag.set((!value.is_empty()).then_some(value));
    };
    let chosen = move || sessions.tag.get();
    view! {
        <Show when=move || !tags.names().is_empty() || chosen().is_some()>
            <div class="tag-filter">
                <select aria-label="Filter by tag" on:change=choose
                    prop:value=move || chosen().unwrap_or_default()>
                    <option value="">"All tags"</option>
                    {move || tags.names().into_iter().map(|tag| view! { <option value=tag.clone()>{tag.clone()}</option> }).collect_view()}
                </select>
                {move || chosen().map(|tag| {
                    let (from, name) = (tag.clone(), tag.clone());
                    match editing.get() {
                        Editing::Nothing => view! {
                            <span class="tag-filter-actions">
                                <button type="button" class="ghost small" on:click=move |_| editing.set(Editing::Rename)>"Rename tag"</button>
                                <button type="button" class="ghost small danger-text" on:click=move |_| editing.set(Editing::Delete)>"Delete tag"</button>
                            </span>
                        }.into_any(),
                        Editing::Rename => view! {
                            <TagField label="New name of the tag" list_id="rename-tag-names" button="Rename"
                                done=Callback::new(move |to: String| {
                                    editing.set(Editing::Nothing);
                                    if to != from {
                                        tags.rename(from.clone(), to, (sessions, chat, toasts));
                                    }
                                })
                                cancel=Callback::new(move |_| editing.set(Editing::Nothing))/>
                        }.into_any(),
                        Editing::Delete => view! {
                            <div class="confirm" role="alertdialog" aria-label="Confirm deleting the tag">
                                <span>{format!("Take “{name}” off every conversation?")}</span>
                                <button type="button" class="danger-button small" on:click=move |_| {
                                    editing.set(Editing::Nothing);
                                    tags.delete(tag.clone(), (sessions, chat, toasts));
                                }>"Delete tag"</button>
                                <button type="button" class="small" on:click=move |_| editing.set(Editing::Nothing)>"Cancel"</button>
                            </div>
                        }.into_any(),
                    }
                })}
            </div>
        </Show>
    }
}
