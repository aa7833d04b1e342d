//! `/`: the sign-in forms, or the list of conversations once signed in.

use leptos::prelude::*;

use crate::components::auth::{use_auth, AuthPanel};
use crate::components::session_list::SessionList;

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Transition fallback=|| view! { <p class="muted center">"Loading…"</p> }>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(_)) => view! {
                    <div class="workspace">
                        <SessionList/>
                        <section class="conversation placeholder">
                            <h1>"Pick a conversation"</h1>
                            <p class="muted">"Or start one from any client of the API; it appears here at once."</p>
                        </section>
                    </div>
                }.into_any(),
                Ok(None) => view! { <AuthPanel/> }.into_any(),
                Err(error) => view! { <p class="form-error center">{error.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}
