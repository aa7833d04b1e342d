//! `/starred`: the messages the user starred, across conversations, the most recently starred
//! first; each opens its conversation at the message.

use leptos::prelude::*;
use leptos_router::components::A;

use confab_core::model::StarredMessage;

use crate::components::message_list::author;
use crate::components::paged_list::{PagedList, Rows};
use crate::error::AppError;
use crate::server_fns::list_starred;
use crate::state::error_text;

async fn starred_after(cursor: Option<String>) -> Result<Rows<StarredMessage>, AppError> {
    list_starred(cursor).await.map(|page| Rows {
        rows: page.items,
        next_cursor: page.next_cursor,
    })
}

fn item(starred: StarredMessage) -> impl IntoView {
    let message = starred.message;
    let when = message
        .starred_at
        .unwrap_or(message.created_at)
        .format("%b %e, %Y")
        .to_string();
    view! {
        <li>
            <A href=format!("/c/{}?m={}", starred.session_id, message.id) attr:class="starred-item">
                <span class="starred-head">
                    <span class="starred-title">{starred.session_title}</span>
                    <span class="muted">{author(message.role, message.model.as_deref())}</span>
                    <span class="muted small">{format!("starred {when}")}</span>
                </span>
                // The server function sends the start of the text only (`STARRED_EXCERPT_CHARS`).
                <span class="starred-excerpt">{message.content.clone()}</span>
            </A>
        </li>
    }
}

#[component]
pub fn StarredPage() -> impl IntoView {
    let list = PagedList::new(|| 0, starred_after);
    view! {
        <div class="scroller">
            <div class="message-column starred-page">
                <h1>"Starred"</h1>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || list.get().map(|answer| match answer {
                        Ok(shown) if shown.rows.is_empty() && shown.next_cursor.is_none() => view! {
                            <p class="empty-state">"No starred messages yet. Star a message with ☆ under it to find it here."</p>
                        }.into_any(),
                        Ok(shown) => view! {
                            <ul class="starred-list" aria-label="Starred messages">
                                {shown.rows.into_iter().map(item).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any(),
                    })}
                    {list.show_more("starred messages")}
                </Transition>
            </div>
        </div>
    }
}
