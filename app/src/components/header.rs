//! The top bar: the menu button (narrow screens), the product name, the search box, and who is
//! signed in.

use leptos::prelude::*;
use leptos_router::components::A;

use super::account_menu::AccountMenu;
use super::auth::use_auth;
use super::drawer::{use_drawer, MenuButton};
use super::search::SearchBox;

/// The top bar of every page.
#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let drawer = use_drawer();
    view! {
        // Out of reach while the drawer is over it: its menu button takes the focus back on closing.
        <header class="topbar" inert=move || drawer.is_open.get()>
            <MenuButton/>
            <A href="/" attr:class="brand">"Confab"</A>
            <Transition fallback=|| ()>
                {move || {
                    // Type-erased: the account menu's view (with its dialogs) is deep enough
                    // that the server crate's future for this page would pass the compiler's
                    // recursion limit.
                    auth.user.get().and_then(Result::ok).flatten().map(|user| view! {
                        <SearchBox/>
                        <AccountMenu user=user/>
                    }.into_any())
                }}
            </Transition>
        </header>
    }
}
