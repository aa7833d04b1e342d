//! The top bar: the product name, the search box, and who is signed in.

use leptos::prelude::*;
use leptos_router::components::A;

use super::auth::use_auth;
use super::search::SearchBox;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"Confab"</A>
            <Transition fallback=|| ()>
                {move || {
                    auth.user.get().and_then(Result::ok).flatten().map(|user| view! {
                        <SearchBox/>
                        <div class="account">
                            <span class="account-email" title=user.email.clone()>{user.name.clone()}</span>
                            <ActionForm action=auth.sign_out attr:class="inline-form">
                                <button type="submit" class="ghost">"Sign out"</button>
                            </ActionForm>
                        </div>
                    })
                }}
            </Transition>
        </header>
    }
}
