//! `/reset-password?token=...`: the page of a password reset link an administrator made. A
//! new password, typed twice; no sign-in needed. The link works once.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::server_fns::ResetPassword;
use crate::state::error_text;

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let token = use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default();
    let done = move || matches!(action.value().get(), Some(Ok(())));
    let error = move || match action.value().get() {
        Some(Err(error)) => Some(error_text(&error)),
        _ => None,
    };
    let token = StoredValue::new(token);
    view! {
        <section class="auth-panel" aria-labelledby="reset-title">
            <h1 id="reset-title" class="auth-title">"Set a new password"</h1>
            <Show
                when=done
                fallback=move || view! {
                    <p class="auth-lede">"Choose the password you will sign in with from now on. Your other sign-ins end, and your API tokens are deleted."</p>
                    <ActionForm action=action attr:class="auth-form" attr:aria-label="Set a new password">
                        <input type="hidden" name="token" value=token.get_value()/>
                        <label>"New password"<input type="password" name="password" autocomplete="new-password" minlength="8" required/></label>
                        <label>"New password again"<input type="password" name="confirm" autocomplete="new-password" minlength="8" required/></label>
                        <p class="form-error" role="alert">{error}</p>
                        <button type="submit" class="primary" disabled=move || action.pending().get()>"Set the password"</button>
                    </ActionForm>
                }
            >
                <p role="status">"Your password was changed."</p>
                <p><A href="/">"Sign in"</A></p>
            </Show>
        </section>
    }
}
