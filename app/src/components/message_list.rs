//! A session's messages, oldest at the top.

use confab_core::model::{Message, Role};
use leptos::prelude::*;

#[component]
pub fn MessageList(messages: Vec<Message>) -> impl IntoView {
    if messages.is_empty() {
        return view! { <p class="empty-state">"No messages in this conversation yet."</p> }
            .into_any();
    }
    view! {
        <ol class="message-list">
            {messages.into_iter().map(|message| view! { <MessageItem message/> }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn MessageItem(message: Message) -> impl IntoView {
    let role_class = format!("message message-{}", message.role.as_str());
    let who = match message.role {
        Role::User => "You".to_owned(),
        Role::Assistant => message.model.clone().unwrap_or_else(|| "Assistant".into()),
        Role::System => "System".to_owned(),
        Role::Tool => "Tool".to_owned(),
    };
    let tokens = match (message.prompt_tokens, message.completion_tokens) {
        (Some(prompt), Some(completion)) => Some(format!("{prompt} → {completion} tokens")),
        _ => None,
    };
    view! {
        <li class=role_class>
            <div class="message-head">
                <span class="message-author">{who}</span>
                <span class="message-type">{message.message_type.clone()}</span>
                <time datetime=message.created_at.to_rfc3339()>{message.created_at.format("%b %e, %H:%M").to_string()}</time>
                {tokens.map(|tokens| view! { <span class="message-tokens">{tokens}</span> })}
            </div>
            // Text, never HTML: whatever a message contains is shown as written.
            <div class="message-body">{message.content.clone()}</div>
        </li>
    }
}
