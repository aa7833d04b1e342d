//! Notices in the corner: errors with role="alert", confirmations with an optional action
//! (Undo).

use leptos::prelude::*;

use crate::state::{
    save_reply_again, use_selection, use_sessions, use_stores, use_toasts, ToastAction, ToastKind,
};

#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    let sessions = use_sessions();
    let stores = use_stores();
    let selection = use_selection();
    view! {
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.list.get() key=|toast| toast.id let:toast>
                {
                    let id = toast.id;
                    let error = toast.kind == ToastKind::Error;
                    view! {
                        <div class="toast" class:toast-error=error role=if error { "alert" } else { "status" }>
                            <span class="toast-text">{toast.text.clone()}</span>
                            {toast.action.clone().map(|action| match action {
                                ToastAction::RestoreSession(session_id) => view! {
                                    <button type="button" class="toast-action" on:click=move |_| {
                                        sessions.restore(session_id.clone(), toasts);
                                        toasts.dismiss(id);
                                    }>"Undo"</button>
                                }.into_any(),
                                ToastAction::RestoreSessions(ids) => view! {
                                    <button type="button" class="toast-action" on:click=move |_| {
                                        selection.restore(ids.clone(), sessions, toasts);
                                        toasts.dismiss(id);
                                    }>"Undo"</button>
                                }.into_any(),
                                ToastAction::SaveReply { session_id, parent_id, text, unsaved } => view! {
                                    <button type="button" class="toast-action" on:click=move |_| {
                                        save_reply_again(stores, session_id.clone(), parent_id.clone(), text.clone(), unsaved.clone());
                                        toasts.dismiss(id);
                                    }>"Retry save"</button>
                                }.into_any(),
                            })}
                            <button type="button" class="ghost toast-close" aria-label="Dismiss"
                                on:click=move |_| toasts.dismiss(id)>"×"</button>
                        </div>
                    }
                }
            </For>
        </div>
    }
}
