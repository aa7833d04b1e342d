//! The bar of actions on the selected conversations, shown over the list they were selected
//! in (the sidebar, or the search results) while some are.

use confab_core::api::SessionsBulkAction;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::folders::MoveTo;
use super::session_list::{current_session_id, shown_order};
use super::tags::TagField;
use crate::state::{
    use_search, use_selection, use_sessions, use_tags, use_toasts, BulkChange, Scope,
};

/// Which of the bar's extra fields is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    /// The tag to put on or take off.
    Tag,
    /// The file to export to.
    Export,
    /// The folder to move to.
    Move,
}

/// The actions on the selection made in `scope`: archive, pin, tag, export, delete.
#[component]
pub fn BulkBar(scope: Scope) -> impl IntoView {
    let store = use_sessions();
    let search = use_search();
    let selection = use_selection();
    let toasts = use_toasts();
    let tags = use_tags();
    let current = current_session_id();
    let open = RwSignal::new(Open::None);
    // Set when a bulk delete took the open conversation; an effect (in the browser, where the
    // router's `navigate` lives) then leaves its page. Not a `StoredValue::new_local` holding
    // `navigate`: on the server a local value dropped on another thread than the one that made
    // it panicked, which cut the page's response short (ERR_EMPTY_RESPONSE in the browser).
    let left = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if left.get() {
            left.set(false);
            navigate("/", Default::default());
        }
    });
    let apply_change = move |change: BulkChange| {
        let leave = move |deleted: &[String]| {
            if current
                .get_untracked()
                .is_some_and(|open| deleted.contains(&open))
            {
                let _ = left.try_set(true);
            }
        };
        selection.apply(change, (store, search, tags, toasts), leave)
    };
    let apply = move |action: SessionsBulkAction| apply_change(BulkChange::plain(action));
    // In the sidebar's archived view the selection is of archived conversations.
    let unarchives = move || scope == Scope::Sidebar && store.archived.get();
    let archive = move |_| {
        apply(if unarchives() {
            SessionsBulkAction::Unarchive
        } else {
            SessionsBulkAction::Archive
        })
    };
    let export = move |format: &'static str| {
        open.set(Open::None);
        selection.export(format, (store, search, toasts));
    };
    let toggle = move |which: Open| {
        open.update(|open| *open = if *open == which { Open::None } else { which })
    };
    let select_all = move |_| {
        let order = match scope {
            Scope::Sidebar => shown_order(&store.visible()),
            Scope::Search => search.conversation_ids(),
        };
        selection.select_all(scope, order, toasts)
    };
    let count = move || selection.ids.with(Vec::len);
    let busy = move || selection.busy.get();
    let list_id = match scope {
        Scope::Sidebar => "bulk-tag-names",
        Scope::Search => "search-bulk-tag-names",
    };
    view! {
        <Show when=move || selection.active_in(scope)>
            <div class="bulk-bar" role="toolbar" aria-label="Selected conversations">
                <span class="bulk-count" aria-live="polite">{move || format!("{} selected", count())}</span>
                <button type="button" class="ghost small" on:click=select_all>"Select all"</button>
                <button type="button" class="ghost small" disabled=busy on:click=archive>
                    {move || if unarchives() { "Unarchive" } else { "Archive" }}
                </button>
                <button type="button" class="ghost small" disabled=busy
                    on:click=move |_| apply(SessionsBulkAction::Pin)>"Pin"</button>
                <button type="button" class="ghost small" disabled=busy
                    aria-expanded=move || (open.get() == Open::Tag).to_string()
                    on:click=move |_| toggle(Open::Tag)>"Tag…"</button>
                <button type="button" class="ghost small" disabled=busy
                    aria-expanded=move || (open.get() == Open::Move).to_string()
                    on:click=move |_| toggle(Open::Move)>"Move to…"</button>
                <button type="button" class="ghost small" disabled=busy
                    aria-expanded=move || (open.get() == Open::Export).to_string()
                    on:click=move |_| toggle(Open::Export)>"Export…"</button>
                <button type="button" class="ghost small danger-text" disabled=busy
                    on:click=move |_| apply(SessionsBulkAction::Delete)>"Delete"</button>
                <button type="button" class="ghost small" on:click=move |_| { open.set(Open::None); selection.clear() }>"Cancel"</button>
                <Show when=move || open.get() == Open::Tag>
                    <div class="bulk-tag">
                        <TagField label="Tag for the selected conversations" list_id=list_id button="Add tag"
                            done=Callback::new(move |tag| { open.set(Open::None); apply_change(BulkChange::tagged(SessionsBulkAction::Tag, tag)) })
                            cancel=Callback::new(move |_| open.set(Open::None))/>
                        // Filtered by a tag, the sidebar's selection can lose it.
                        {move || store.tag.get().filter(|_| scope == Scope::Sidebar).map(|tag| {
                            let label = format!("Remove “{tag}”");
                            view! {
                                <button type="button" class="small" disabled=busy
                                    on:click=move |_| { open.set(Open::None); apply_change(BulkChange::tagged(SessionsBulkAction::Untag, tag.clone())) }>
                                    {label}
                                </button>
                            }
                        })}
                    </div>
                </Show>
                <Show when=move || open.get() == Open::Move>
                    <MoveTo busy done=Callback::new(move |folder: Option<String>| {
                        open.set(Open::None);
                        apply_change(BulkChange::moved(folder))
                    })/>
                </Show>
                <Show when=move || open.get() == Open::Export>
                    <div class="bulk-export" role="group" aria-label="Export the selected conversations as">
                        <button type="button" class="small" disabled=busy on:click=move |_| export("json")>"JSON backup"</button>
                        <button type="button" class="small" disabled=busy on:click=move |_| export("markdown")>"Markdown"</button>
                    </div>
                </Show>
            </div>
        </Show>
    }
}
