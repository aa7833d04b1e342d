//! Who is signed in, with the account's actions: sign out, delete the account for good
//! behind a confirmation that asks for the password, and for an administrator the way to the
//! administration.

use confab_core::model::{User, UserRole};
use leptos::prelude::*;
use leptos_router::components::A;

use super::auth::use_auth;
use crate::client;
use crate::state::error_text;

/// The right end of the top bar for a signed-in user.
#[component]
pub fn AccountMenu(user: User) -> impl IntoView {
    let auth = use_auth();
    let confirming = RwSignal::new(false);
    let menu = NodeRef::<leptos::html::Details>::new();
    let close_menu = move |_| {
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
    };
    let open_dialog = move |_| {
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
        // An earlier attempt's error belongs to that attempt, not to the dialog opened now.
        auth.delete_account.value().set(None);
        confirming.set(true);
    };
    view! {
        <div class="account">
            <span class="account-email" title=user.email.clone()>{user.name.clone()}</span>
            <details class="menu" node_ref=menu>
                <summary class="button-like account-menu-button">"Account"</summary>
                <div class="menu-items" role="menu">
                    {(user.role == UserRole::Admin).then(|| view! {
                        <A href="/admin" attr:role="menuitem" on:click=close_menu>"Administration"</A>
                    })}
                    <button type="button" role="menuitem" class="danger-text" on:click=open_dialog>
                        "Delete my account…"
                    </button>
                </div>
            </details>
            <ActionForm action=auth.sign_out attr:class="inline-form">
                <button type="submit" class="ghost">"Sign out"</button>
            </ActionForm>
        </div>
        <Show when=move || confirming.get()>
            <DeleteAccountDialog on_cancel=move || confirming.set(false)/>
        </Show>
    }
}

/// Asks for the password before the account and everything in it are deleted; after the
/// deletion the browser loads `/`, where a signed-out visitor meets the sign-in page.
#[component]
fn DeleteAccountDialog(on_cancel: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let auth = use_auth();
    let action = auth.delete_account;
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            // A new page, not a route change: the conversations, the last one opened and
            // anything else of the deleted account that this page holds are dropped with it,
            // and `/` renders the sign-in page for the signed-out browser.
            client::load_page("/");
        }
    });
    let error = move || match action.value().get() {
        Some(Err(error)) => Some(error_text(&error)),
        _ => None,
    };
    let cancel = on_cancel.clone();
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="delete-account-title"
                on:keydown=move |event| if event.key() == "Escape" { cancel() }>
                <h2 id="delete-account-title">"Delete your account?"</h2>
                <p>"Every conversation, message and API token of this account is deleted at once and cannot be restored. You are signed out everywhere."</p>
                <ActionForm action=action attr:class="auth-form" attr:aria-label="Delete my account">
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="current-password" autofocus/>
                    </label>
                    <p class="muted small">"Signed up through a provider? Leave it empty; the deletion then needs a sign-in from the last 10 minutes."</p>
                    <p class="form-error" role="alert">{error}</p>
                    <div class="modal-actions">
                        <button type="button" on:click=move |_| on_cancel()>"Cancel"</button>
                        <button type="submit" class="danger-button" disabled=move || action.pending().get()>
                            "Delete my account"
                        </button>
                    </div>
                </ActionForm>
            </div>
        </div>
    }
}
